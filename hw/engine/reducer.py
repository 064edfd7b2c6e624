"""The context reducer: adds an output-stationary tile's interleaved partial sums.

With FP32 accumulation the OS array's PEs hold ``L = contexts`` accumulators in their adder
pipelines (:class:`~hw.array.pe.OSPE`). The engine gives all ``L`` contexts the *same* output tile
and deals the steps of K out round-robin (step ``k`` to context ``k mod L``), so a tile is
``rows`` rows tall and no array rows are spent on padding when M is not a multiple of
``L·rows``. The array then emits, for each tile row ``i``, the ``L`` partial sums
``p_0 … p_{L-1}``; this unit returns ``((p_0 + p_1) + p_2) …`` with ``L - 1`` ranks of the
array's own adder, one rank per partial, fully pipelined: one tile row in every ``L`` input
rows, no stalls. The golden model's ``ref_gemm(..., interleave=L)`` sums in this order.

With one context (INT32) it is a wire.
"""

from amaranth import Module, Mux, Signal
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
    """``L - 1`` ranks of adders: ``s_0 = p_0``, ``s_j = s_{j-1} + p_j``; a plain pipeline,
    stalled by an ``EnableInserter`` around it whose enable is also ``en``: the adders written
    once for Verilog export (:mod:`hw.export`) are instances, which it does not reach."""

    def __init__(self, cfg, contexts, modules):
        self._cfg = cfg
        self._contexts = contexts
        self._modules = modules
        row = data.ArrayLayout(acc_shape(cfg), cfg.cols)
        super().__init__({
            "en": In(1), "valid_in": In(1), "parts": In(data.ArrayLayout(row, contexts)),
            "valid_out": Out(1), "total": Out(row),
        })

    @property
    def latency(self):
        return (self._contexts - 1) * ArrayTiming(self._cfg).add_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        add_lat = ArrayTiming(cfg).add_latency
        running = self.parts[0]
        for j in range(1, self._contexts):
            part = delay(m, self.parts[j], (j - 1) * add_lat, name=f"part{j}", reset_less=True)
            summed = Signal.like(running, name=f"sum{j}")
            for lane in range(cfg.cols):
                add = written_once(m, platform, self._modules, f"add{j}_{lane}",
                                   lambda: make_adder(cfg), "acc_add", en=self.en)
                m.d.comb += [add.a.eq(running[lane]), add.b.eq(part[lane]),
                             summed[lane].eq(add.o)]
            running = summed
        m.d.comb += [
            self.total.eq(running),
            self.valid_out.eq(delay(m, self.valid_in, self.latency, name="valid")),
        ]
        return m


class ContextReducer(wiring.Component):
    """Adds each group of ``contexts`` consecutive rows of ``i`` into one row of ``o``.

    Rows ``0 … L-2`` of a group wait in registers; the group enters the adder ranks with its
    last row. Results leave through a small FIFO, and the ranks stall (rather than drop) when
    it is full. Latency ``(L - 1) · add_latency`` plus the FIFO; throughput one input row a
    cycle.

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
            self.i.ready.eq(~last | en),
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
