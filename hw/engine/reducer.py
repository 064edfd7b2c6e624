"""The context reducer: adds an output-stationary tile's interleaved partial sums.

With FP32 accumulation the OS array's PEs hold ``L = contexts`` accumulators in their adder
pipelines (:class:`~hw.array.pe.OSPE`). The engine gives all ``L`` contexts the *same* output tile
and deals the steps of K out round-robin (step ``k`` to context ``k mod L``), so a tile is
``rows`` rows tall and no array rows are spent on padding when M is not a multiple of
``L·rows``. The array then emits, for each tile row ``i``, the ``L`` partial sums
``p_0 … p_{L-1}``; this unit returns ``((p_0 + p_1) + p_2) …`` in ``L - 1`` ranks that share
one of the array's own adders per lane: one tile row in every ``L`` input rows, without a
stall at the array's pace (``L + 1`` cycles a tile row). The golden model's
``ref_gemm(..., interleave=L)`` sums in this order.

With one context (INT32) it is a wire.
"""

import operator
from functools import reduce

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.hdl import EnableInserter
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, make_adder
from ..array import result_layout
from ..delay import delay
from ..export import written_once
from ..fifo import StreamFIFO
from ..timing import ArrayTiming

__all__ = ["ContextReducer"]

_FIFO_DEPTH = 4


class _Ranks(wiring.Component):
    """``L - 1`` ranks ``s_1 = p_0 + p_1``, ``s_j = s_{j-1} + p_j`` on one adder per lane; a
    plain pipeline, stalled by an ``EnableInserter`` around it whose enable is also ``en``:
    the adders written once for Verilog export (:mod:`hw.export`) are instances, which it does
    not reach.

    A group entering at cycle ``t`` (``valid_in``, its ``L`` partials on ``parts``) is in rank
    ``j`` at ``t + (j - 1)·A`` (``A`` the adder's latency): rank 1 adds ``p_0 + p_1``, rank
    ``j`` the sum just out of the adder and ``p_j``, delayed to meet it. Its total leaves the
    adder at ``t + (L - 1)·A``. One adder serves every rank while no two groups are in ranks
    at once: groups entering ``d`` cycles apart meet only if ``d`` is a multiple of ``A``
    from ``A`` to ``(L - 2)·A``, and ``free`` is low while entering would make them meet:
    never for groups every ``L + 1`` cycles (the array's pace, a tile row every ``contexts +
    1`` cycles); with ``L = 3``, rows bunched by a stall enter at that pace, 3 rows in 4
    cycles; with ``L >= 4`` a group may also wait a cycle after a gap of ``2·A`` or more.
    ``L - 1`` adders per lane, one per rank, would need no ``free``: sharing one costs that
    for ``L - 2`` fewer adders per lane.
    """

    def __init__(self, cfg, contexts, modules):
        self._cfg = cfg
        self._contexts = contexts
        self._modules = modules
        row = data.ArrayLayout(acc_shape(cfg), cfg.cols)
        super().__init__({
            "en": In(1), "valid_in": In(1), "parts": In(data.ArrayLayout(row, contexts)),
            "free": Out(1), "valid_out": Out(1), "total": Out(row),
        })

    @property
    def latency(self):
        return (self._contexts - 1) * ArrayTiming(self._cfg).add_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        add_lat = ArrayTiming(cfg).add_latency
        ranks = self._contexts - 1
        # entered[k - 1]: a group entered k cycles ago (a flag: it takes the reset).
        entered = Signal(self.latency, name="entered")
        m.d.sync += entered.eq(Cat(self.valid_in, entered[:-1]))

        def entered_ago(k):
            return self.valid_in if k == 0 else entered[k - 1]

        # Rank j (2 and up) is in the adder while a group entered (j - 1)·add_lat cycles ago;
        # ``later``, any of them, is a register of its own, set from the history a cycle early
        # (rank 1's ``valid_in`` is the handshake's and would put it in front of every adder's
        # first stage), and the adder is free for a new group when it is low.
        active_next = {j: entered_ago((j - 1) * add_lat - 1) for j in range(2, ranks + 1)}
        later = Signal()
        later_next = Cat(*active_next.values()).any()
        m.d.sync += later.eq(later_next)
        m.d.comb += [
            self.free.eq(~later),
            self.valid_out.eq(entered_ago(self.latency)),
        ]
        # The operand selects below read ``later`` for every bit of every lane (32 loads a
        # lane; on an ECP5 the routing of those fan-outs was two thirds of the engine's
        # critical path). It is kept twice, as itself for the first half of the lanes and as
        # its complement for the others: Yosys merges registers that take the same input, not
        # complementary ones, so each copy drives half the loads from where it is placed.
        later_n = Signal(name="later_n", init=1)
        m.d.sync += later_n.eq(~later_next)
        selects = (later, ~later_n)

        # Rank j's part (2 and up) is picked a cycle early, from the parts delayed a cycle
        # less under the next cycle's flags (at most one set: one group in the ranks), into a
        # register: the adder's second operand is that register or rank 1's p_1, one
        # multiplexer, and the pick is off the adder's path (on an FPGA a chain of
        # multiplexers there took wide-LUT muxes, 8 LUT4 a bit, and the critical path).
        picked = None
        if ranks >= 2:
            row = data.ArrayLayout(acc_shape(cfg), cfg.cols)
            picked = Signal(row, name="picked", reset_less=True)
            early = {j: delay(m, self.parts[j], (j - 1) * add_lat - 1, name=f"part{j}",
                              reset_less=True) for j in active_next}
            for lane in range(cfg.cols):
                m.d.sync += picked[lane].eq(reduce(operator.or_, (
                    Value.cast(early[j][lane]) & flag.replicate(len(picked[lane]))
                    for j, flag in active_next.items())))
        for lane in range(cfg.cols):
            later_here = selects[lane * 2 // cfg.cols]
            add = written_once(m, platform, self._modules, f"add_{lane}",
                               lambda: make_adder(cfg), "acc_add", en=self.en)
            part = self.parts[1][lane] if picked is None else \
                Mux(later_here, picked[lane], self.parts[1][lane])
            m.d.comb += [add.a.eq(Mux(later_here, add.o, self.parts[0][lane])),
                         add.b.eq(part), self.total[lane].eq(add.o)]
        return m


class ContextReducer(wiring.Component):
    """Adds each group of ``contexts`` consecutive rows of ``i`` into one row of ``o``.

    Rows ``0 … L-2`` of a group wait in registers; the group enters the adder ranks with its
    last row. Results leave through a small FIFO, and the ranks stall (rather than drop) when
    it is full. Latency ``(L - 1) · add_latency`` plus the FIFO; throughput one input row a
    cycle, except that a group's last row waits while the ranks' shared adder is not free
    for it (:class:`_Ranks`: never at the array's pace).

    Parameters
    ----------
    cfg : hw.config.Config
    modules : hw.export.ModuleSet or None
        Where a Verilog export records the adder, written once for every rank and lane (the
        accumulator memory's module, :class:`~hw.engine.memory.AccumulatorMemory`; ``None``
        for simulation).
    """

    def __init__(self, cfg, *, modules=None):
        self._cfg = cfg
        self._modules = modules
        super().__init__({
            "i": In(stream.Signature(result_layout(cfg))),
            "o": Out(stream.Signature(result_layout(cfg))),
        })

    @property
    def contexts(self):
        return ArrayTiming(self._cfg).contexts if self._cfg.dataflow == "os" else 1

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        contexts = self.contexts
        if contexts == 1:
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
            return m

        en = Signal()
        ranks = _Ranks(cfg, contexts, self._modules)
        m.submodules.ranks = EnableInserter(en)(ranks)
        m.submodules.out_fifo = out_fifo = StreamFIFO(result_layout(cfg), _FIFO_DEPTH)

        # Partial rows are data, read only under the valid beside them: no reset (hw.delay).
        held = Signal(data.ArrayLayout(result_layout(cfg), contexts - 1), reset_less=True)
        c = Signal(range(contexts))
        last = c == contexts - 1
        take = self.i.valid & self.i.ready
        m.d.comb += [
            en.eq(out_fifo.w.ready),
            ranks.en.eq(en),
            # A group's last row waits while the ranks' adder is not free for it.
            self.i.ready.eq(~last | (en & ranks.free)),
            ranks.valid_in.eq(take & last),
            out_fifo.w.valid.eq(en & ranks.valid_out),
            out_fifo.w.payload.eq(ranks.total),
        ]
        wiring.connect(m, out_fifo.r, wiring.flipped(self.o))
        for j in range(contexts - 1):
            m.d.comb += ranks.parts[j].eq(held[j])
        m.d.comb += ranks.parts[contexts - 1].eq(self.i.payload)
        with m.If(take):
            m.d.sync += c.eq(Mux(last, 0, c + 1))
            for j in range(contexts - 1):
                with m.If(c == j):
                    m.d.sync += held[j].eq(self.i.payload)
        return m
