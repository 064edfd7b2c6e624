"""The loader: moves data-in beats into scratchpad lines (the LOAD command)."""

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Loader", "load_command_layout", "din_layout", "din_width"]


def din_width(cfg):
    """Width of a data-in beat: one scratchpad line of the wider buffer (lane 0 lowest)."""
    return max(cfg.rows, cfg.cols) * cfg.in_format.width


def din_layout(cfg):
    return data.StructLayout({"data": din_width(cfg), "last": 1})


load_command_layout = data.StructLayout({
    "buf": 1,        # 0: scratchpad A, 1: scratchpad B
    "addr": 16,
    "count": 16,
    "drop": 1,       # an illegal LOAD: consume the beats, write nothing
})


class Loader(wiring.Component):
    """Executes LOAD commands: ``count`` beats from ``din`` into consecutive lines of buffer A
    or B, one line per beat. While busy it reports the lines it may still write (``busy``,
    ``busy_buf``, ``lo``, ``hi``: lines ``lo`` … ``hi - 1``) so the controller keeps computes
    from reading them early and keeps it from overwriting lines a tile still reads.

    Throughput: one line per cycle. ``tlast`` on data-in is ignored (a LOAD's ``count`` says
    where it ends).
    """

    def __init__(self, cfg):
        self._cfg = cfg
        w = cfg.in_format.width
        super().__init__({
            "cmd": In(stream.Signature(load_command_layout)),
            "din": In(stream.Signature(din_layout(cfg))),
            "waddr": Out(16), "wdata_a": Out(cfg.rows * w), "wdata_b": Out(cfg.cols * w),
            "wen_a": Out(1), "wen_b": Out(1),
            "busy": Out(1), "busy_buf": Out(1), "lo": Out(16), "hi": Out(unsigned(17)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        w = cfg.in_format.width
        addr = Signal(16)
        remaining = Signal(16)
        drop = Signal()

        m.d.comb += [
            self.cmd.ready.eq(~self.busy),
            self.din.ready.eq(self.busy),
            self.waddr.eq(addr),
            self.wdata_a.eq(self.din.payload.data[:cfg.rows * w]),
            self.wdata_b.eq(self.din.payload.data[:cfg.cols * w]),
        ]
        beat = self.din.valid & self.din.ready
        m.d.comb += [
            self.wen_a.eq(beat & ~drop & ~self.busy_buf),
            self.wen_b.eq(beat & ~drop & self.busy_buf),
        ]
        with m.If(self.cmd.valid & self.cmd.ready):
            p = self.cmd.payload
            m.d.sync += [
                self.busy.eq(1), self.busy_buf.eq(p.buf), drop.eq(p.drop),
                addr.eq(p.addr), remaining.eq(p.count),
                self.lo.eq(p.addr), self.hi.eq(p.addr + p.count),
            ]
        with m.If(beat):
            m.d.sync += [addr.eq(addr + 1), remaining.eq(remaining - 1)]
            with m.If(remaining == 1):
                m.d.sync += self.busy.eq(0)
        return m
