"""The loader: moves data-in beats into scratchpad lines (the LOAD command)."""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In

from ..isa import ADDR_WIDTH, Buffer
from .links import LoaderControl, spad_write

__all__ = ["Loader", "din_layout", "din_width"]


def din_width(cfg):
    """Width of a data-in beat: one scratchpad line of the wider buffer (lane 0 lowest),
    rounded up to whole bytes as AXI4-Stream's ``TDATA`` must be (TF32's 19-bit lanes, an
    odd number of INT4 lanes); the bits above the line are ignored."""
    return -(-max(cfg.rows, cfg.cols) * cfg.lane_width // 8) * 8


def din_layout(cfg):
    return data.StructLayout({"data": din_width(cfg), "last": 1})


class Loader(wiring.Component):
    """Executes LOAD commands: ``count`` beats from ``din`` into consecutive lines of buffer A
    or B, one line per beat.

    While busy it reports the lines it may still write (``ctrl.lines_a`` or ``ctrl.lines_b``)
    so the controller keeps computes from reading them early and keeps it from overwriting
    lines a tile still reads. The range is clamped to the buffer's lines (which changes only a
    dropped LOAD's, and no comparison with a legal range), so the controller compares ranges
    in the buffer's address width rather than the ISA's.

    Members
    -------
    ctrl : ``In(LoaderControl())``
        LOAD commands from the controller; the lines in use back.
    din : ``In(stream.Signature(din_layout(cfg)))``
        Data-in beats; ``last`` is ignored (a LOAD's ``count`` says where it ends).
    write_a, write_b : ``In(spad_write(cfg, "a"))``, ``In(spad_write(cfg, "b"))``
        The scratchpad buffers' write ports.

    Throughput: one line per cycle.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "ctrl": In(LoaderControl()),
            "din": In(stream.Signature(din_layout(cfg))),
            "write_a": In(spad_write(cfg, "a")),
            "write_b": In(spad_write(cfg, "b")),
        })

    def elaborate(self, platform):
        m = Module()
        cmd = self.ctrl.cmd
        busy = Signal()
        buffer = Signal(Buffer)
        addr = Signal(ADDR_WIDTH)
        remaining = Signal(ADDR_WIDTH)
        drop = Signal()
        lo = Signal(ADDR_WIDTH)
        hi = Signal(ADDR_WIDTH + 1)

        beat = self.din.valid & self.din.ready
        m.d.comb += [
            cmd.ready.eq(~busy),
            self.din.ready.eq(busy),
        ]
        for name, write, lines in ((Buffer.A, self.write_a, self.ctrl.lines_a),
                                   (Buffer.B, self.write_b, self.ctrl.lines_b)):
            ours = buffer == name
            m.d.comb += [
                write.addr.eq(addr),
                write.data.eq(self.din.payload.data),
                write.en.eq(beat & ~drop & ours),
                lines.busy.eq(busy & ours), lines.lo.eq(lo), lines.hi.eq(hi),
            ]
        with m.If(cmd.valid & cmd.ready):
            p = cmd.payload
            limit = Mux(p.buffer == Buffer.B, self._cfg.spad_b_lines, self._cfg.spad_a_lines)
            end = p.addr + p.count
            m.d.sync += [
                busy.eq(1), buffer.eq(p.buffer), drop.eq(p.drop),
                addr.eq(p.addr), remaining.eq(p.count),
                lo.eq(Mux(p.addr > limit, limit, p.addr)), hi.eq(Mux(end > limit, limit, end)),
            ]
        with m.If(beat):
            m.d.sync += [addr.eq(addr + 1), remaining.eq(remaining - 1)]
            with m.If(remaining == 1):
                m.d.sync += busy.eq(0)
        return m
