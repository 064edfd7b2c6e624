"""The MAC engine: controller, scratchpad, systolic array, accumulator memory, post-processing.

::

    cmd ──> Controller ──> Loader ──────> Scratchpad A/B ──> Feeder ──> SystolicArray
    din ───────────────────┘                                              │ result rows
    dout <── Storer (PostProc) <── AccumulatorMemory <── Writeback <── ContextReducer

:class:`Engine` has Amaranth stream ports; :class:`AxiEngine` is the same engine with its
streams named in AXI4-Stream style (``s_axis_cmd_tdata``, ``s_axis_data_tvalid``,
``m_axis_data_tlast``, ...) for the Verilog top level, so off-the-shelf verification IP
drives it.
"""

from amaranth import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..array import SystolicArray
from ..config import Config
from ..isa import COMMAND_WIDTH, ERROR_BITS, command_layout
from .controller import Controller
from .feeder import Feeder
from .loader import Loader, din_layout, din_width
from .memory import AccumulatorMemory, Scratchpad
from .reducer import ContextReducer
from .storer import Storer, dout_layout, dout_width
from .writeback import Writeback

__all__ = ["Engine", "AxiEngine", "status_layout"]

status_layout = data.StructLayout({"idle": 1, "error": ERROR_BITS})


class Engine(wiring.Component):
    """A GEMM engine driven by commands (:mod:`hw.isa`).

    Parameters
    ----------
    cfg : hw.config.Config
    pe_module : str or None
        As for :class:`~hw.array.SystolicArray` (``None`` for simulation; a module name for
        Verilog export with the PE written once).

    Members
    -------
    cmd : ``In(stream.Signature(command_layout))``
    din : ``In(stream.Signature(din_layout(cfg)))`` — scratchpad lines for LOAD
    dout : ``Out(stream.Signature(dout_layout(cfg)))`` — rows from STORE, ``last`` on each
        STORE's final row
    status : ``Out(status_layout)`` — ``idle``; ``error``, sticky :class:`~hw.isa.Error` bits
    """

    def __init__(self, cfg, *, pe_module=None):
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg must be a hw.config.Config, not {cfg!r}")
        self._cfg = cfg
        self._pe_module = pe_module
        super().__init__({
            "cmd": In(stream.Signature(command_layout)),
            "din": In(stream.Signature(din_layout(cfg))),
            "dout": Out(stream.Signature(dout_layout(cfg))),
            "status": Out(status_layout),
        })

    @property
    def cfg(self):
        return self._cfg

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.spad = spad = Scratchpad(cfg)
        m.submodules.array = array = SystolicArray(cfg, pe_module=self._pe_module)
        m.submodules.acc = acc = AccumulatorMemory(cfg)
        m.submodules.loader = loader = Loader(cfg)
        m.submodules.feeder = feeder = Feeder(cfg)
        m.submodules.writeback = writeback = Writeback(cfg)
        m.submodules.storer = storer = Storer(cfg)
        m.submodules.controller = ctrl = Controller(cfg, loader, feeder, writeback, storer)

        wiring.connect(m, wiring.flipped(self.cmd), ctrl.cmd)
        wiring.connect(m, wiring.flipped(self.din), loader.din)
        wiring.connect(m, storer.dout, wiring.flipped(self.dout))
        wiring.connect(m, ctrl.load, loader.cmd)
        wiring.connect(m, ctrl.compute, feeder.cmd)
        wiring.connect(m, ctrl.preload, feeder.pre)
        wiring.connect(m, ctrl.desc, writeback.desc)
        wiring.connect(m, ctrl.store, storer.cmd)
        wiring.connect(m, feeder.beat, array.i)
        m.submodules.reducer = reducer = ContextReducer(cfg)
        wiring.connect(m, array.o, reducer.i)
        wiring.connect(m, reducer.o, writeback.res)
        wiring.connect(m, writeback.wb, acc.wb)

        m.d.comb += [
            spad.a_waddr.eq(loader.waddr), spad.a_wdata.eq(loader.wdata_a),
            spad.a_wen.eq(loader.wen_a),
            spad.b_waddr.eq(loader.waddr), spad.b_wdata.eq(loader.wdata_b),
            spad.b_wen.eq(loader.wen_b),
            spad.a_raddr.eq(feeder.a_raddr), spad.a_ren.eq(feeder.a_ren),
            feeder.a_rdata.eq(spad.a_rdata),
            spad.b_raddr.eq(feeder.b_raddr), spad.b_ren.eq(feeder.b_ren),
            feeder.b_rdata.eq(spad.b_rdata),
            writeback.done.eq(acc.done),
            acc.rd_addr.eq(storer.rd_addr), acc.rd_en.eq(storer.rd_en),
            storer.rd_data.eq(acc.rd_data),
            storer.relu.eq(ctrl.relu), storer.mode.eq(ctrl.mode), storer.scale.eq(ctrl.scale),
            self.status.idle.eq(ctrl.idle),
            self.status.error.eq(ctrl.error),
        ]
        return m


def _axis(direction, width, last):
    """AXI4-Stream port members named ``<prefix>_tdata`` … (flat, so Verilog keeps them)."""
    flow_in, flow_out = (In, Out) if direction == "slave" else (Out, In)
    members = {"tdata": flow_in(width), "tvalid": flow_in(1), "tready": flow_out(1)}
    if last:
        members["tlast"] = flow_in(1)
    return members


class AxiEngine(wiring.Component):
    """:class:`Engine` with AXI4-Stream port names, for the Verilog top level.

    Ports: ``s_axis_cmd_{tdata,tvalid,tready}`` (128-bit commands),
    ``s_axis_data_{tdata,tvalid,tready,tlast}`` (data in; ``tlast`` is ignored),
    ``m_axis_data_{tdata,tvalid,tready,tlast}`` (data out; ``tlast`` ends each STORE),
    ``status_idle``, ``status_error``; ``clk`` and ``rst`` (synchronous, active high).
    """

    def __init__(self, cfg, *, pe_module=None):
        self._engine = Engine(cfg, pe_module=pe_module)
        super().__init__(self.signature_for(cfg))

    @staticmethod
    def signature_for(cfg):
        """The top level's signature (for manifests, without building the engine)."""
        members = {}
        for prefix, direction, width, last in (
                ("s_axis_cmd", "slave", COMMAND_WIDTH, False),
                ("s_axis_data", "slave", din_width(cfg), True),
                ("m_axis_data", "master", dout_width(cfg), True)):
            for name, member in _axis(direction, width, last).items():
                members[f"{prefix}_{name}"] = member
        members["status_idle"] = Out(1)
        members["status_error"] = Out(ERROR_BITS)
        return wiring.Signature(members)

    @property
    def engine(self):
        return self._engine

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self._engine
        m.d.comb += [
            e.cmd.payload.eq(self.s_axis_cmd_tdata),
            e.cmd.valid.eq(self.s_axis_cmd_tvalid),
            self.s_axis_cmd_tready.eq(e.cmd.ready),
            e.din.payload.data.eq(self.s_axis_data_tdata),
            e.din.payload.last.eq(self.s_axis_data_tlast),
            e.din.valid.eq(self.s_axis_data_tvalid),
            self.s_axis_data_tready.eq(e.din.ready),
            self.m_axis_data_tdata.eq(e.dout.payload.data),
            self.m_axis_data_tlast.eq(e.dout.payload.last),
            self.m_axis_data_tvalid.eq(e.dout.valid),
            e.dout.ready.eq(self.m_axis_data_tready),
            self.status_idle.eq(e.status.idle),
            self.status_error.eq(e.status.error),
        ]
        return m
