"""The systolic array: ``rows × cols`` PEs, edge skew and de-skew, and stream ports.

The user feeds plain operand vectors on one stream (``i``) and reads plain result rows from
another (``o``); skewing them into the diagonal wavefront and back is the array's business.

Stalls. Every register of the grid (skew chains, PEs, drain chains, de-skew chains) advances on
one enable, ``en``, so the grid moves in lock step and the timing below holds in *enabled*
cycles. ``en`` drops when the result FIFO could overflow, and, output-stationary only, while a
tile is open and no operand beat is offered (a bubble inside a tile would shift the
interleaved accumulator contexts). Results leave through a small FIFO outside the enable, so
backpressure on ``o`` never loses or repeats a row.

Beat protocols
--------------
Output-stationary (``cfg.dataflow == "os"``), ``L = contexts``. A tile computes an
``(L·rows) × cols`` block of C over ``K`` steps in ``K·L`` beats; beat ``k·L + c`` carries
``a = A[c·rows:(c+1)·rows, k]`` and ``b = B[k, :]``, with ``first`` set on the beats of
``k = 0`` and ``last`` on those of ``k = K-1``. The tile's rows come out as
``i = 0 .. rows-1`` and, within each, ``c = 0 .. L-1`` (row ``c·rows + i`` of the block). A new
tile may begin straight after the previous one's last beat; the array holds its first beat
back if the drain chains are still busy (``tile_spacing``).

Weight-stationary (``cfg.dataflow == "ws"``). A beat with ``load`` shifts ``b`` into the top of
the standby weight bank (after ``rows`` such beats, row ``r`` holds the ``rows-1-r``-th loaded
vector: load ``B[rows-1]`` first). A beat with ``compute`` multiplies activation ``a``
(``a[r]`` pairs with weight row ``r``) and yields one result row ``sum_r a[r]·w[r, :]`` summed
from +0 in the order ``r = 0, 1, ...``. ``first`` (with ``compute``) switches to the standby
bank before this row. One beat may both load and compute; a load is held back while rows that
still use the bank it overwrites are in flight (``load_holdoff``).
"""

from amaranth import Const, Module, Mux, Signal
from amaranth.hdl import EnableInserter
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, operand_shape
from ..checked import CheckedComponent
from ..config import check_config
from ..delay import delay
from ..fifo import StreamFIFO
from ..timing import ArrayTiming
from .blackbox import BlackBox
from .pe import OSPE, WSPE

__all__ = ["SystolicArray", "array_signature", "operand_layout", "result_layout",
           "pe_module_name", "RESULT_FIFO_DEPTH"]

#: Depth of the result FIFO between the grid and the ``o`` stream.
RESULT_FIFO_DEPTH = 4


def pe_module_name(pe_module, logic_mul):
    """The Verilog module of a black-box PE: ``pe_module``, or ``<pe_module>_logic`` for PEs
    whose multiplier is built from logic (``Config.dsp_muls``)."""
    return f"{pe_module}_logic" if logic_mul else pe_module


def operand_layout(cfg):
    """Payload of one operand beat (see the module docstring for the fields' meaning)."""
    fields = {
        "a": data.ArrayLayout(operand_shape(cfg), cfg.rows),
        "b": data.ArrayLayout(operand_shape(cfg), cfg.cols),
        "first": 1,
    }
    if cfg.dataflow == "os":
        fields["last"] = 1
    else:
        fields["load"] = 1
        fields["compute"] = 1
    return data.StructLayout(fields)


def result_layout(cfg):
    """Payload of one result beat: a row of ``cols`` accumulator values."""
    return data.ArrayLayout(acc_shape(cfg), cfg.cols)


def array_signature(cfg):
    """The array's ports: operand stream ``i`` in, result stream ``o`` out."""
    return wiring.Signature({
        "i": In(stream.Signature(operand_layout(cfg))),
        "o": Out(stream.Signature(result_layout(cfg))),
    })


class _Grid(wiring.Component):
    """The PEs and their edge registers; every register here is stalled by the array's ``en``
    (an ``EnableInserter``, and the ``en`` port for black-box PEs, which it cannot reach)."""

    def __init__(self, cfg, pe_class, pe_module, extra):
        self._cfg = cfg
        self._pe_class = pe_class
        self._pe_module = pe_module
        self.timing = ArrayTiming(cfg)
        super().__init__({
            "beat": In(operand_layout(cfg)), "take": In(1), "en": In(1), **extra,
            "res": Out(result_layout(cfg)), "res_valid": Out(1),
        })

    def _make_pes(self, m):
        cfg = self._cfg
        pes = []
        for r in range(cfg.rows):
            pes.append([])
            for c in range(cfg.cols):
                logic = cfg.logic_mul(r, c)
                if self._pe_module is None:
                    pe = self._pe_class(cfg, logic_mul=logic)
                else:
                    pe = BlackBox(self._pe_class.members(cfg),
                                  pe_module_name(self._pe_module, logic))
                if "en" in pe.signature.members:
                    m.d.comb += pe.en.eq(self.en)
                m.submodules[f"pe_{r}_{c}"] = pe
                pes[-1].append(pe)
        return pes


class _OSGrid(_Grid):
    def __init__(self, cfg, pe_module=None):
        super().__init__(cfg, OSPE, pe_module, {})

    def elaborate(self, platform):
        m = Module()
        cfg, timing = self._cfg, self.timing
        rows, cols = cfg.rows, cfg.cols
        pes = self._make_pes(m)

        # One input register stage; a beat not taken enters as a bubble of zeros.
        beat = Signal(operand_layout(cfg))
        m.d.sync += beat.eq(Mux(self.take, self.beat, 0))

        for r in range(rows):
            for c in range(cols):
                pe = pes[r][c]
                if c == 0:
                    m.d.comb += [
                        pe.a_in.eq(delay(m, beat.a[r], r, name=f"skew_a{r}")),
                        pe.first_in.eq(delay(m, beat.first, r, name=f"skew_first{r}")),
                        pe.last_in.eq(delay(m, beat.last, r, name=f"skew_last{r}")),
                    ]
                else:
                    left = pes[r][c - 1]
                    m.d.comb += [
                        pe.a_in.eq(left.a_out),
                        pe.first_in.eq(left.first_out),
                        pe.last_in.eq(left.last_out),
                    ]
                if r == 0:
                    m.d.comb += pe.b_in.eq(delay(m, beat.b[c], c, name=f"skew_b{c}"))
                else:
                    m.d.comb += pe.b_in.eq(pes[r - 1][c].b_out)
                m.d.comb += pe.chain_in.eq(pes[r + 1][c].chain_out if r + 1 < rows else 0)

        # A one-bit copy of column 0's drain chain says when a result leaves the top.
        contexts = timing.contexts
        tag_in = Const(0)
        for r in reversed(range(rows)):
            done = delay(m, pes[r][0].last_in, timing.pe_latency, name=f"tag_done{r}")
            slots = [Signal(name=f"tag_{r}_{n}") for n in range(contexts)]
            m.d.sync += slots[0].eq(done | tag_in)
            m.d.sync += [slots[n].eq(slots[n - 1]) for n in range(1, contexts)]
            tag_in = slots[-1]

        for c in range(cols):
            m.d.comb += self.res[c].eq(
                delay(m, pes[0][c].chain_out, cols - 1 - c, name=f"deskew{c}"))
        m.d.comb += self.res_valid.eq(delay(m, tag_in, cols - 1, name="res_valid"))
        return m


class _WSGrid(_Grid):
    def __init__(self, cfg, pe_module=None):
        super().__init__(cfg, WSPE, pe_module, {"bank": In(1), "load_bank": In(1)})

    def elaborate(self, platform):
        m = Module()
        cfg, timing = self._cfg, self.timing
        rows, cols = cfg.rows, cfg.cols
        pes = self._make_pes(m)
        skew = timing.add_latency

        beat = Signal(operand_layout(cfg))
        bank = Signal()
        load_bank = Signal()
        m.d.sync += [
            beat.eq(Mux(self.take, self.beat, 0)),
            bank.eq(self.bank),
            load_bank.eq(self.load_bank),
        ]

        for r in range(rows):
            for c in range(cols):
                pe = pes[r][c]
                if c == 0:
                    m.d.comb += [
                        pe.a_in.eq(delay(m, beat.a[r], r * skew, name=f"skew_a{r}")),
                        pe.bank_in.eq(delay(m, bank, r * skew, name=f"skew_bank{r}")),
                    ]
                else:
                    m.d.comb += [
                        pe.a_in.eq(pes[r][c - 1].a_out),
                        pe.bank_in.eq(pes[r][c - 1].bank_out),
                    ]
                m.d.comb += [
                    pe.w_in.eq(beat.b[c] if r == 0 else pes[r - 1][c].w_out),
                    pe.load.eq(beat.load),
                    pe.load_bank.eq(load_bank),
                    pe.psum_in.eq(pes[r - 1][c].psum_out if r > 0 else 0),
                ]

        for c in range(cols):
            m.d.comb += self.res[c].eq(
                delay(m, pes[rows - 1][c].psum_out, cols - 1 - c, name=f"deskew{c}"))
        m.d.comb += self.res_valid.eq(
            delay(m, beat.compute, timing.ws_result_delay, name="res_valid"))
        return m


class SystolicArray(CheckedComponent):
    """A ``rows × cols`` systolic array of multiply-accumulate PEs with stream ports.

    Parameters
    ----------
    cfg : hw.config.Config
        Shape, formats, dataflow and subnormal handling.

    Members
    -------
    i : ``In(stream.Signature(operand_layout(cfg)))``
        Operand beats (protocol in the module docstring).
    o : ``Out(stream.Signature(result_layout(cfg)))``
        Result rows, with backpressure.

    Throughput: one beat per cycle (one multiply-add per PE per cycle). Timing facts (in cycles,
    with ``o`` always ready) are the properties below; the golden model's schedule reads them.
    """

    @staticmethod
    def check(cfg, pe_module):
        check_config(cfg)

    def __init__(self, cfg, *, pe_module=None):
        self._cfg = cfg
        self._pe_module = pe_module
        self.timing = ArrayTiming(cfg)
        super().__init__(array_signature(cfg))

    @property
    def cfg(self):
        return self._cfg

    @property
    def pe_module(self):
        """``None``: PEs are elaborated in place. A name: PEs are instances of that Verilog
        module, which the exporter writes once (see :mod:`hw.array.blackbox`), and of
        :func:`pe_module_name`'s ``<name>_logic`` for PEs with a logic multiplier."""
        return self._pe_module

    def __getattr__(self, name):
        # The timing facts (latency, contexts, row_interval, ...) are the configuration's:
        # ArrayTiming.FACTS names them once.
        if name in ArrayTiming.FACTS:
            return getattr(self.timing, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        en = Signal()
        grid_class = _OSGrid if cfg.dataflow == "os" else _WSGrid
        m.submodules.grid = grid = EnableInserter(en)(grid_class(cfg, self._pe_module))
        m.submodules.out_fifo = out_fifo = StreamFIFO(result_layout(cfg), RESULT_FIFO_DEPTH)

        take = Signal()
        m.d.comb += [
            take.eq(self.i.valid & self.i.ready),
            grid.beat.eq(self.i.payload),
            grid.take.eq(take),
            grid.en.eq(en),
            out_fifo.w.payload.eq(grid.res),
            out_fifo.w.valid.eq(en & grid.res_valid),
        ]
        wiring.connect(m, out_fifo.r, wiring.flipped(self.o))

        if cfg.dataflow == "os":
            self._os_control(m, en, take, out_fifo)
        else:
            self._ws_control(m, en, take, out_fifo, grid)
        return m

    def _os_control(self, m, en, take, out_fifo):
        contexts, spacing = self.contexts, self.tile_spacing
        tile_open = Signal()
        ctx = Signal(range(max(contexts, 2)))
        gap = Signal(range(spacing + 1), init=spacing)
        this_ctx = Signal.like(ctx)

        # Inside a tile the grid waits for operands rather than take a bubble.
        m.d.comb += [
            en.eq(out_fifo.w.ready & (self.i.valid | ~tile_open)),
            self.i.ready.eq(en & (tile_open | (gap >= spacing))),
            this_ctx.eq(Mux(tile_open, ctx, 0)),
        ]
        with m.If(en):
            with m.If(take & ~tile_open):
                m.d.sync += gap.eq(1)
            with m.Elif(gap < spacing):
                m.d.sync += gap.eq(gap + 1)
            with m.If(take):
                m.d.sync += [
                    ctx.eq(Mux(this_ctx == contexts - 1, 0, this_ctx + 1)),
                    tile_open.eq(~(self.i.payload.last & (this_ctx == contexts - 1))),
                ]

    def _ws_control(self, m, en, take, out_fifo, grid):
        holdoff = self.load_holdoff
        bank = Signal()
        busy = [Signal(range(holdoff + 1), name=f"busy{n}") for n in range(2)]
        bank_now = Signal()
        target = Signal()
        beat = self.i.payload

        m.d.comb += [
            en.eq(out_fifo.w.ready),
            bank_now.eq(bank ^ beat.first),
            target.eq(~bank_now),
            self.i.ready.eq(en & ~(beat.load & (Mux(target, busy[1], busy[0]) != 0))),
            grid.bank.eq(bank_now),
            grid.load_bank.eq(target),
        ]
        with m.If(en):
            with m.If(take):
                m.d.sync += bank.eq(bank_now)
            for n in range(2):
                with m.If(take & beat.compute & (bank_now == n)):
                    m.d.sync += busy[n].eq(holdoff)
                with m.Elif(busy[n] != 0):
                    m.d.sync += busy[n].eq(busy[n] - 1)
