"""The storer: accumulator rows through post-processing to the data-out stream (STORE)."""

from amaranth import Module, Signal, unsigned
from amaranth.hdl import EnableInserter
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape
from ..delay import delay
from ..isa import OutMode
from .postproc import PostProc

__all__ = ["Storer", "store_command_layout", "dout_layout", "dout_width", "STORE_FIFO_DEPTH"]

store_command_layout = data.StructLayout({"acc_row": 16, "count": 16})
#: Rows the data-out FIFO holds; the store pipeline stalls, never drops, when it is full.
STORE_FIFO_DEPTH = 4


def dout_width(cfg):
    """Width of a data-out beat: ``cols`` lanes of 32 bits (narrower outputs pack densely
    from bit 0, see :mod:`hw.engine.postproc`)."""
    return cfg.cols * 32


def dout_layout(cfg):
    return data.StructLayout({"data": dout_width(cfg), "last": 1})


class _StorePipe(wiring.Component):
    """Read data → post-processing, with valid/last riding alongside. A plain pipeline: the
    storer stalls it as a whole with an ``EnableInserter``."""

    def __init__(self, cfg):
        self._cfg = cfg
        self._post = PostProc(cfg)
        super().__init__({
            "valid_in": In(1), "last_in": In(1),
            "row": In(data.ArrayLayout(acc_shape(cfg), cfg.cols)),
            "relu": In(1), "mode": In(OutMode), "scale": In(32),
            "valid_out": Out(1), "last_out": Out(1), "out": Out(dout_width(cfg)),
        })

    @property
    def latency(self):
        """From a read request to the post-processed row: the memory's 1 + post-processing."""
        return 1 + self._post.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.post = post = self._post
        m.d.comb += [
            post.i.eq(self.row), post.relu.eq(self.relu), post.mode.eq(self.mode),
            post.scale.eq(self.scale),
            self.out.eq(post.o),
            self.valid_out.eq(delay(m, self.valid_in, self.latency, name="valid")),
            self.last_out.eq(delay(m, self.last_in, self.latency, name="last")),
        ]
        return m


class Storer(wiring.Component):
    """Executes STORE commands: reads ``count`` accumulator rows from ``acc_row`` on, passes
    them through :class:`~hw.engine.postproc.PostProc` with the CONFIG state (``relu``, ``mode``,
    ``scale``), and sends them on ``dout`` with ``last`` on the final row.

    While it runs it reports the rows it still reads (``busy``, ``lo``, ``hi``) so no COMPUTE
    overwrites them first. ``idle``: nothing in the pipeline (the FIFO may still hold rows).
    Throughput: one row per cycle while ``dout`` accepts them.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "cmd": In(stream.Signature(store_command_layout)),
            "relu": In(1), "mode": In(OutMode), "scale": In(32),
            "rd_addr": Out(16), "rd_en": Out(1),
            "rd_data": In(data.ArrayLayout(acc_shape(cfg), cfg.cols)),
            "dout": Out(stream.Signature(dout_layout(cfg))),
            "busy": Out(1), "lo": Out(16), "hi": Out(unsigned(17)),
            "idle": Out(1), "drained": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        en = Signal()
        pipe = _StorePipe(cfg)
        m.submodules.pipe = EnableInserter(en)(pipe)
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=dout_layout(cfg).size, depth=STORE_FIFO_DEPTH)

        addr = Signal(16)
        remaining = Signal(16)
        in_flight = Signal(range(pipe.latency + 2))
        issue = Signal()
        m.d.comb += [
            en.eq(out_fifo.w_rdy),
            self.cmd.ready.eq(~self.busy),
            issue.eq(self.busy & en),
            self.rd_addr.eq(addr),
            self.rd_en.eq(en),
            pipe.valid_in.eq(issue),
            pipe.last_in.eq(remaining == 1),
            pipe.row.eq(self.rd_data),
            pipe.relu.eq(self.relu), pipe.mode.eq(self.mode), pipe.scale.eq(self.scale),
            out_fifo.w_en.eq(en & pipe.valid_out),
            out_fifo.w_data.eq(pipe.out | (pipe.last_out << dout_width(cfg))),
            self.dout.payload.eq(out_fifo.r_data),
            self.dout.valid.eq(out_fifo.r_rdy),
            out_fifo.r_en.eq(self.dout.ready),
        ]
        with m.If(self.cmd.valid & self.cmd.ready):
            p = self.cmd.payload
            m.d.sync += [
                self.busy.eq(1), addr.eq(p.acc_row), remaining.eq(p.count),
                self.lo.eq(p.acc_row), self.hi.eq(p.acc_row + p.count),
            ]
        with m.If(issue):
            m.d.sync += [addr.eq(addr + 1), remaining.eq(remaining - 1)]
            with m.If(remaining == 1):
                m.d.sync += self.busy.eq(0)

        # Rows issued but not yet in the FIFO.
        landed = en & pipe.valid_out
        with m.If(issue & ~landed):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(~issue & landed):
            m.d.sync += in_flight.eq(in_flight - 1)
        m.d.comb += [
            self.idle.eq(~self.busy & (in_flight == 0)),
            self.drained.eq(~self.busy & (in_flight == 0) & ~out_fifo.r_rdy),
        ]
        return m
