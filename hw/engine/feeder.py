"""The array feeder: turns COMPUTE (and PRELOAD) commands into operand beats for the array,
reading the operand lines from the scratchpad.

Output-stationary, ``L = contexts``: a tile of ``K = count`` steps reads A lines
``a_addr … a_addr + K - 1`` (column ``k`` of the tile's ``rows`` rows of A) and B lines
``b_addr …`` (row ``k`` of B's column block), one pair per beat; step ``k`` goes to context
``k mod L``, so all ``L`` contexts work on the same tile (see :mod:`hw.engine.reducer`). K is padded
with zero steps to a multiple of ``L``. The array emits ``L`` partial rows per tile row.

Weight-stationary: PRELOAD reads B lines ``b_addr + rows - 1`` down to ``b_addr`` into the
standby weight bank (B line ``b_addr + r`` becomes weight row ``r``); COMPUTE reads A lines
``a_addr`` … ``a_addr + count - 1`` as activation rows, switching to the preloaded bank on its
first, and the array emits one result row per activation row. A PRELOAD may run during the
previous COMPUTE once that has issued its first beat: its weight beats ride on the same array
beats as the activations, so weight loading costs no array cycles.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..array import operand_layout
from ..isa import ADDR_WIDTH
from ..timing import ArrayTiming
from .links import FeederControl, spad_read

__all__ = ["Feeder"]


class Feeder(wiring.Component):
    """Reads scratchpad lines and streams operand beats into the array (``beat``).

    Members
    -------
    ctrl : ``In(FeederControl())``
        COMPUTE (``ctrl.compute``) and PRELOAD (``ctrl.preload``, weight-stationary only)
        commands; back, the lines it still reads from each buffer while a command runs
        (``ctrl.lines_a``, ``ctrl.lines_b``), so the controller keeps loads off them, and
        ``ctrl.idle``.
    read_a, read_b : ``In(spad_read(cfg, "a"))``, ``In(spad_read(cfg, "b"))``
        The scratchpad buffers' read ports.
    beat : ``Out(stream.Signature(operand_layout(cfg)))``
        Operand beats to the array's ``i``.

    Latency: a line read at cycle ``t`` is on ``beat`` from ``t + 2`` (the scratchpad's
    synchronous read, then a register, so the read data drives no logic) while the array
    accepts beats. Throughput: one beat per cycle while the array accepts them.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "ctrl": In(FeederControl()),
            "read_a": In(spad_read(cfg, "a")),
            "read_b": In(spad_read(cfg, "b")),
            "beat": Out(stream.Signature(operand_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        contexts = ArrayTiming(cfg).contexts

        # A read's data goes into a register of its own, which is the beat's payload, so the
        # scratchpad's read data drives a flip-flop and no logic: two cycles from a read to
        # its beat. Both stages move together, when the beat is free or leaving.
        advance = Signal()
        flags = Signal(data.StructLayout({"first": 1, "last": 1, "load": 1, "compute": 1}))
        issued = Signal()
        pad = Signal()
        read_valid = Signal()
        read_flags = Signal.like(flags)
        read_pad = Signal()
        beat_pad = Signal()
        # The operands are data (the beat's valid qualifies them): no reset (see hw.delay).
        a = Signal.like(self.read_a.data, reset_less=True)
        b = Signal.like(self.read_b.data, reset_less=True)
        m.d.comb += [
            advance.eq(~self.beat.valid | self.beat.ready),
            self.read_a.en.eq(advance),
            self.read_b.en.eq(advance),
        ]
        with m.If(advance):
            m.d.sync += [read_valid.eq(issued), read_flags.eq(flags), read_pad.eq(pad),
                         a.eq(self.read_a.data), b.eq(self.read_b.data), beat_pad.eq(read_pad),
                         self.beat.valid.eq(read_valid)]
            m.d.sync += self.beat.payload.first.eq(read_flags.first)
            if cfg.dataflow == "os":
                m.d.sync += self.beat.payload.last.eq(read_flags.last)
            else:
                m.d.sync += [self.beat.payload.load.eq(read_flags.load),
                             self.beat.payload.compute.eq(read_flags.compute)]
        # Steps past K (when K is not a multiple of contexts) multiply zeros: +0 partials.
        m.d.comb += [self.beat.payload.a.eq(Mux(beat_pad, 0, a)),
                     self.beat.payload.b.eq(Mux(beat_pad, 0, b))]

        if cfg.dataflow == "os":
            self._os(m, advance, flags, issued, pad, read_valid, contexts)
        else:
            self._ws(m, advance, flags, issued, read_valid)
        return m

    def _os(self, m, advance, flags, issued, pad, read_valid, contexts):
        ctrl = self.ctrl
        active = Signal()
        base = Signal(ADDR_WIDTH + 1)    # first step of the current round of contexts
        c = Signal(range(max(contexts, 2)))
        a_addr = Signal(ADDR_WIDTH)
        b_addr = Signal(ADDR_WIDTH)
        count = Signal(ADDR_WIDTH)
        # Steps of K after the current one, ``count - 1 - (base + c)``, counted down: negative
        # on a pad step. Its sign and zero say what comparing the sum ``base + c`` with
        # ``count`` would, without an adder in front of the address registers' enable.
        left = Signal(signed(ADDR_WIDTH + 2), reset_less=True)    # read only while active
        last_round = Signal()
        m.d.comb += [
            ctrl.compute.ready.eq(~active),
            ctrl.preload.ready.eq(1),  # no PRELOAD on an OS engine (the controller rejects it)
            ctrl.lines_a.busy.eq(active), ctrl.lines_b.busy.eq(active),
            ctrl.idle.eq(~active & ~read_valid & ~self.beat.valid),
            self.read_a.addr.eq(a_addr), self.read_b.addr.eq(b_addr),
            issued.eq(active),
            pad.eq(active & left[-1]),
            last_round.eq(base + contexts >= count),
            flags.first.eq(base == 0),
            flags.last.eq(last_round),
        ]
        with m.If(ctrl.compute.valid & ctrl.compute.ready):
            p = ctrl.compute.payload
            m.d.sync += [
                active.eq(1), base.eq(0), c.eq(0), count.eq(p.count), left.eq(p.count - 1),
                a_addr.eq(p.a_addr), b_addr.eq(p.b_addr),
                ctrl.lines_a.lo.eq(p.a_addr), ctrl.lines_a.hi.eq(p.a_addr + p.count),
                ctrl.lines_b.lo.eq(p.b_addr), ctrl.lines_b.hi.eq(p.b_addr + p.count),
            ]
        with m.If(active & advance):
            m.d.sync += left.eq(left - 1)
            with m.If((left != 0) & ~left[-1]):                 # base + c + 1 < count
                m.d.sync += [a_addr.eq(a_addr + 1), b_addr.eq(b_addr + 1)]
            with m.If(c == contexts - 1):
                m.d.sync += [c.eq(0), base.eq(base + contexts)]
                with m.If(last_round):
                    m.d.sync += active.eq(0)
            with m.Else():
                m.d.sync += c.eq(c + 1)

    def _ws(self, m, advance, flags, issued, read_valid):
        ctrl = self.ctrl
        rows = self._cfg.rows
        holdoff = ArrayTiming(self._cfg).load_holdoff
        # Weight beats for the next tile go to the bank the previous tile used until just
        # before this one started; the array holds such a beat (and the activation riding on
        # it) until ``holdoff`` cycles after that tile's last activation. So issue them only
        # once this tile has run that long, and the activations never wait.
        since = Signal(range(holdoff + 1), init=holdoff)
        act = Signal()
        act_first = Signal()
        a_addr = Signal(ADDR_WIDTH)
        remaining = Signal(ADDR_WIDTH)
        pre = Signal()
        b_addr = Signal(ADDR_WIDTH)
        pre_left = Signal(range(rows + 1))
        pre_go = Signal()

        m.d.comb += [
            ctrl.compute.ready.eq(~act & ~pre),
            ctrl.preload.ready.eq(~pre & (~act | ~act_first)),
            ctrl.lines_a.busy.eq(act), ctrl.lines_b.busy.eq(pre),
            ctrl.idle.eq(~act & ~pre & ~read_valid & ~self.beat.valid),
            self.read_a.addr.eq(a_addr), self.read_b.addr.eq(b_addr),
            pre_go.eq(pre & (~act | (since == holdoff))),
            issued.eq(act | pre_go),
            flags.compute.eq(act),
            flags.first.eq(act & act_first),
            flags.load.eq(pre_go),
        ]
        with m.If(ctrl.compute.valid & ctrl.compute.ready):
            p = ctrl.compute.payload
            m.d.sync += [
                act.eq(1), act_first.eq(1), a_addr.eq(p.a_addr), remaining.eq(p.count),
                ctrl.lines_a.lo.eq(p.a_addr), ctrl.lines_a.hi.eq(p.a_addr + p.count),
            ]
        with m.If(ctrl.preload.valid & ctrl.preload.ready):
            p = ctrl.preload.payload
            m.d.sync += [
                pre.eq(1), b_addr.eq(p.b_addr + rows - 1), pre_left.eq(rows),
                ctrl.lines_b.lo.eq(p.b_addr), ctrl.lines_b.hi.eq(p.b_addr + rows),
            ]
        with m.If(act & advance):
            m.d.sync += [act_first.eq(0), a_addr.eq(a_addr + 1), remaining.eq(remaining - 1)]
            with m.If(act_first):
                m.d.sync += since.eq(0)
            with m.Elif(since != holdoff):
                m.d.sync += since.eq(since + 1)
            with m.If(remaining == 1):
                m.d.sync += act.eq(0)
        with m.Elif(advance & (since != holdoff)):
            m.d.sync += since.eq(since + 1)
        with m.If(pre_go & advance):
            m.d.sync += [b_addr.eq(b_addr - 1), pre_left.eq(pre_left - 1)]
            with m.If(pre_left == 1):
                m.d.sync += pre.eq(0)
