"""The MAC engine: controller, scratchpad, systolic array, accumulator memory, post-processing.

::

    cmd ──> Controller ──> Loader ──────> Scratchpad A/B ──> Feeder ──> SystolicArray
    din ───────────────────┘                                              │ result rows
    dout <── Storer (PostProc) <── AccumulatorMemory <── Writeback <── ContextReducer

Every link between the units is a ``wiring.Signature`` (:mod:`hw.engine.links`), and
:class:`Engine` joins them with ``wiring.connect`` alone. :class:`~hw.engine.top.AxiEngine`
is the same engine with AXI4-Stream port names, for the Verilog top level.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..array import SystolicArray
from ..checked import CheckedComponent
from ..config import check_config
from ..isa import command_layout
from .controller import Controller
from .feeder import Feeder
from .links import Status
from .loader import Loader, din_layout
from .memory import AccumulatorMemory, Scratchpad
from .reducer import ContextReducer
from .storer import Storer, dout_layout
from .writeback import Writeback

__all__ = ["Engine", "engine_signature"]


def engine_signature(cfg):
    """The engine's ports (for the AXI top level and manifests, without building it)."""
    return wiring.Signature({
        "cmd": In(stream.Signature(command_layout)),
        "din": In(stream.Signature(din_layout(cfg))),
        "dout": Out(stream.Signature(dout_layout(cfg))),
        "status": Out(Status()),
    })


class Engine(CheckedComponent):
    """A GEMM engine driven by commands (:mod:`hw.isa`).

    Parameters
    ----------
    cfg : hw.config.Config
    pe_module : str or None
        As for :class:`~hw.array.SystolicArray` (``None`` for simulation; a module name for
        Verilog export with the PE written once).
    modules : hw.export.ModuleSet or None
        Where a Verilog export records the modules written once besides the PE: the buffers'
        RAMs, the post-processing lane, and the adder of the accumulator memory and the context
        reducer (``None`` for simulation).

    Members
    -------
    cmd : ``In(stream.Signature(command_layout))``
    din : ``In(stream.Signature(din_layout(cfg)))`` — scratchpad lines for LOAD
    dout : ``Out(stream.Signature(dout_layout(cfg)))`` — rows from STORE, ``last`` on each
        STORE's final row
    status : ``Out(Status())`` — ``idle``; ``error``, sticky :class:`~hw.isa.Error` bits

    Raises
    ------
    TypeError
        If ``cfg`` is not a :class:`~hw.config.Config`.
    """

    @staticmethod
    def check(cfg, pe_module, modules):
        check_config(cfg)

    def __init__(self, cfg, *, pe_module=None, modules=None):
        self._cfg = cfg
        self._pe_module = pe_module
        self._modules = modules
        super().__init__(engine_signature(cfg))

    @property
    def cfg(self):
        return self._cfg

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.controller = ctrl = Controller(cfg)
        m.submodules.loader = loader = Loader(cfg)
        m.submodules.spad = spad = Scratchpad(cfg, modules=self._modules)
        m.submodules.feeder = feeder = Feeder(cfg)
        m.submodules.array = array = SystolicArray(cfg, pe_module=self._pe_module)
        m.submodules.reducer = reducer = ContextReducer(cfg, modules=self._modules)
        m.submodules.writeback = writeback = Writeback(cfg)
        m.submodules.acc = acc = AccumulatorMemory(cfg, modules=self._modules)
        m.submodules.storer = storer = Storer(cfg, modules=self._modules)

        connect = wiring.connect
        # The outside world.
        connect(m, wiring.flipped(self.cmd), ctrl.cmd)
        connect(m, wiring.flipped(self.din), loader.din)
        connect(m, storer.dout, wiring.flipped(self.dout))
        connect(m, ctrl.status, wiring.flipped(self.status))
        # The controller and its units.
        connect(m, ctrl.loader, loader.ctrl)
        connect(m, ctrl.feeder, feeder.ctrl)
        connect(m, ctrl.writeback, writeback.ctrl)
        connect(m, ctrl.storer, storer.ctrl)
        # The data path.
        connect(m, loader.write_a, spad.write_a)
        connect(m, loader.write_b, spad.write_b)
        connect(m, feeder.read_a, spad.read_a)
        connect(m, feeder.read_b, spad.read_b)
        connect(m, feeder.beat, array.i)
        connect(m, array.o, reducer.i)
        if cfg.is_set:     # the GEMM's operand format, held by the controller (CONFIG)
            m.d.comb += array.fmt.eq(ctrl.fmt)
        connect(m, reducer.o, writeback.res)
        connect(m, writeback.acc, acc.write)
        connect(m, storer.acc, acc.read)
        return m
