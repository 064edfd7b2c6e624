"""The systolic array: ``rows × cols`` PEs, edge skew and de-skew, and stream ports.

The user feeds plain operand vectors on one stream (``i``) and reads plain result rows from
another (``o``); skewing them into the diagonal wavefront and back is the array's business.

Stalls. Every register of the grid (skew chains, PEs, drain chains, de-skew chains) advances on
one enable, so the grid moves in lock step and the timing below holds in *enabled* cycles. The
enable drops when the result FIFO could overflow, and, output-stationary only, while a tile is
open and no operand beat is offered (a bubble inside a tile would shift the interleaved
accumulator contexts). Results leave through a small FIFO outside the enable, so backpressure
on ``o`` never loses or repeats a row. The enable reaches the thousands of registers through
``cfg.pipeline.enable`` register stages (a tree of copies, :class:`EnableCopy`) with the beat
delayed beside it, which adds that many cycles to the latency (``ArrayTiming.enable_delay``);
without them, the fan-out of one combinational decision to every register of the grid is the
longest path of a fast array.

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

from amaranth import Cat, ClockSignal, Const, Instance, Module, Mux, ResetSignal, Signal, Value
from amaranth.hdl import EnableInserter
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, operand_shape
from ..checked import CheckedComponent
from ..config import check_config
from ..delay import delay
from ..dsp import VERILOG_EXPORT
from ..fifo import StreamFIFO
from ..timing import ArrayTiming
from .blackbox import Gated
from .delayline import DelayLine, delay_kinds, delay_module_name, edge_delay
from .pe import OSPE, WSPE
from .tile import TileGrid, pe_module_name, tile_module_name

__all__ = ["SystolicArray", "array_signature", "operand_layout", "result_layout",
           "pe_module_name", "tile_module_name", "enable_module_name", "shared_modules",
           "EnableCopy", "RESULT_FIFO_DEPTH", "fmt_member"]

#: Depth of the result FIFO between the grid and the ``o`` stream.
RESULT_FIFO_DEPTH = 4


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


def fmt_member(cfg, direction=In):
    """``{"fmt": direction(range(n))}`` for an engine with ``n > 1`` operand formats (the
    GEMM's, an index into ``cfg.in_fmts``, changed only while no operand is in the array),
    else ``{}``."""
    return {"fmt": direction(range(len(cfg.in_fmts)))} if cfg.is_set else {}


def array_signature(cfg):
    """The array's ports: operand stream ``i`` in, result stream ``o`` out, and the format
    select ``fmt`` of a set engine (:func:`fmt_member`)."""
    return wiring.Signature({
        "i": In(stream.Signature(operand_layout(cfg))),
        "o": Out(stream.Signature(result_layout(cfg))),
        **fmt_member(cfg),
    })


class EnableCopy(wiring.Component):
    """One register of the stall enable's tree: ``o`` is ``i`` one cycle later.

    Verilog export writes it once as its own module (:func:`enable_module_name`) and
    instantiates it with ``keep_hierarchy``: copies of one register with one input are
    otherwise merged back into one by synthesis, and the tree with them.
    """

    i: In(1)
    o: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(self.i)
        return m


def enable_module_name(pe_module):
    """The Verilog module of the enable tree's copies (:class:`EnableCopy`) in an array whose
    PEs are ``pe_module``."""
    return f"{pe_module}_enable"


def shared_modules(cfg, pe_module):
    """``[(module name, component), ...]``: the Verilog modules an array with
    ``pe_module=pe_module`` instantiates and the exporter writes once each, in a fixed order:
    every kind of tile (:func:`~hw.array.tile.tile_module_name`), every kind of PE in them
    (:class:`~hw.array.blackbox.Gated`, :func:`pe_module_name`), every shared delay line of
    the edges (:mod:`hw.array.delayline`), and the stall enable's register copy
    (:class:`EnableCopy`) when the tree has copies."""
    pe_class = OSPE if cfg.dataflow == "os" else WSPE
    pe_kinds = sorted({cfg.logic_mul(r, c) for r in range(cfg.rows) for c in range(cfg.cols)})
    modules = TileGrid.kinds(cfg, pe_class, pe_module)
    modules += [(pe_module_name(pe_module, logic), Gated(pe_class(cfg, logic_mul=logic)))
                for logic in pe_kinds]
    grid_class = _OSGrid if cfg.dataflow == "os" else _WSGrid
    modules += [(delay_module_name(pe_module, width, depth, reset_less),
                 Gated(DelayLine(width, depth, reset_less)))
                for width, depth, reset_less in delay_kinds(grid_class.edge_delays(cfg))]
    if cfg.pipeline.enable >= 2:
        modules.append((enable_module_name(pe_module), EnableCopy()))
    return modules


#: The fields of an operand beat that are data (reset-less registers, see :mod:`hw.delay`);
#: the others are flags.
_DATA_FIELDS = ("a", "b")


def _beat_delay(m, beat, cycles):
    """``beat`` (an operand beat) ``cycles`` registers later: its operands through reset-less
    registers, its flags through registers that reset."""
    out = Signal(beat.shape(), name="beat_dly")
    for name, _ in beat.shape():
        m.d.comb += out[name].eq(delay(m, beat[name], cycles, name=f"beat_{name}_dly",
                                       reset_less=name in _DATA_FIELDS))
    return out


def _edge_register(edge, beat_in, take):
    """The grid's input register of the beat, in the ``edge`` lane (:func:`_beat_delay`,
    one cycle): a beat not taken enters as zeros."""
    taken = Signal(beat_in.shape(), name="beat_taken")
    edge.d.comb += taken.eq(Mux(take, beat_in, 0))
    return _beat_delay(edge, taken, 1)


def _plain(m, value, name):
    """``value`` as a plain signal of ``m``: a lane reading it then takes only these bits as
    its port, not a whole ``data`` view, whose every field Amaranth would name in every
    lane's module."""
    plain = Signal(len(Value.cast(value)), name=name)
    m.d.comb += plain.eq(value)
    return plain


class _Lane:
    """A module of the grid's own registers and its enable leaf ``en``: ``d`` is the module's
    (so :func:`~hw.delay.delay` takes a lane), and :meth:`long_delay` builds a long delay
    from the exporter's shared delay lines (:func:`~hw.array.delayline.edge_delay`)."""

    def __init__(self, en, pe_module, kinds):
        self.module = Module()
        self.en = en
        self._pe_module = pe_module
        self._kinds = kinds

    @property
    def d(self):
        return self.module.d

    def long_delay(self, value, cycles, name, *, reset_less=False):
        return edge_delay(self.module, value, cycles, en=self.en, pe_module=self._pe_module,
                          name=name, kinds=self._kinds, reset_less=reset_less)


class _Grid(wiring.Component):
    """The PEs and their edge registers. ``en`` is the array's stall decision: it reaches
    every register here through ``enable_delay`` stages of a register tree (one leaf per PE
    row, per column and for the edge), and the beat (``take``, ``beat`` and the extra
    inputs) travels beside it through as many plain registers, so the grid runs as the
    decision said, ``enable_delay`` cycles later. ``res_valid`` is a result row leaving in an
    enabled cycle. The leaves reach the PEs through the tiles' ``en`` port, one bit per PE
    row (:class:`~hw.array.tile.PETile`), which also reaches black-box PEs (that an
    ``EnableInserter`` cannot)."""

    def __init__(self, cfg, pe_class, pe_module, extra):
        self._cfg = cfg
        self._pe_class = pe_class
        self._pe_module = pe_module
        self._extra = extra
        self.timing = ArrayTiming(cfg)
        super().__init__({
            "beat": In(operand_layout(cfg)), "take": In(1), "en": In(1), **extra,
            **fmt_member(cfg),
            "res": Out(result_layout(cfg)), "res_valid": Out(1),
        })

    def _copy(self, m, platform, parent, name):
        out = Signal(name=name)
        if platform is VERILOG_EXPORT and self._pe_module is not None:
            m.submodules[name] = Instance(
                enable_module_name(self._pe_module), a_keep_hierarchy=1,
                i_clk=ClockSignal(), i_rst=ResetSignal(), i_i=parent, o_o=out)
        else:
            m.d.sync += out.eq(parent)
        return out

    def _enable_tree(self, m, platform, count):
        """``count`` leaf enables, ``enable_delay`` registers after ``en``: one root register,
        then levels of copies, each fanning out to at most ``ceil(count ** (1 / levels))``."""
        depth = self.timing.enable_delay
        if depth == 0:
            return [self.en] * count
        root = Signal(name="en_root")
        m.d.sync += root.eq(self.en)
        levels = depth - 1
        if levels == 0:
            return [root] * count
        fan = 2
        while fan ** levels < count:
            fan += 1
        level = [root]
        for k in range(1, levels + 1):
            width = -(-count // fan ** (levels - k))
            level = [self._copy(m, platform, level[j // fan], f"en_{k}_{j}")
                     for j in range(width)]
        return level

    def _lanes(self, m, platform):
        """``(rows, cols, edge)``: the modules that hold the grid's own registers of each PE
        row, each column and the edge, each stalled by its own enable leaf, and those leaves;
        and the beat with its extra inputs, delayed beside the enable."""
        cfg = self._cfg
        leaves = self._enable_tree(m, platform, cfg.rows + cfg.cols + 1)
        kinds = delay_kinds(self.edge_delays(cfg))
        lanes = []
        for n, leaf in enumerate(leaves):
            lane = _Lane(leaf, self._pe_module, kinds)
            m.submodules[f"lane{n}"] = EnableInserter(leaf)(lane.module)
            lanes.append(lane)
        depth = self.timing.enable_delay
        beat = _beat_delay(m, self.beat, depth)
        take = delay(m, self.take, depth, name="take_dly")
        extra = {name: delay(m, getattr(self, name), depth, name=f"{name}_dly")
                 for name in self._extra}
        rows, cols = lanes[:cfg.rows], lanes[cfg.rows:cfg.rows + cfg.cols]
        row_en = leaves[:cfg.rows]
        return rows, cols, lanes[-1], row_en, leaves[-1], beat, take, extra

    def _make_tiles(self, m, row_en):
        """The PEs as a :class:`~hw.array.tile.TileGrid`, PE row ``r`` on enable leaf
        ``row_en[r]``: tiles elaborated here, or black-box instances of the tile modules the
        exporter writes once."""
        pes = TileGrid(m, self._cfg, self._pe_class, row_en, pe_module=self._pe_module)
        if self._cfg.is_set:
            pes.share(m, "fmt", self.fmt)
        return pes


class _OSGrid(_Grid):
    def __init__(self, cfg, pe_module=None):
        super().__init__(cfg, OSPE, pe_module, {})

    @staticmethod
    def edge_delays(cfg):
        """``(width, cycles, reset_less)`` of every long delay (``_Lane.long_delay``) of the
        grid: operands and results reset-less, the flags not."""
        op, acc = operand_shape(cfg).width, acc_shape(cfg).width
        top = _OSGrid.top_registers(cfg)
        return [*((op, r, True) for r in range(cfg.rows)),
                *((2, r, False) for r in range(cfg.rows)),
                *((op, c, True) for c in range(cfg.cols)),
                *((acc, c + top, True) for c in range(cfg.cols)), (1, cfg.cols - 1, False)]

    @staticmethod
    def top_registers(cfg):
        """Registers at the top of each column before the de-skew: the drain bus's one
        (``cfg.drain``), none after a drain chain (its row-0 slot is the register)."""
        return 1 if cfg.drain == "bus" else 0

    def elaborate(self, platform):
        m = Module()
        cfg, timing = self._cfg, self.timing
        rows, cols = cfg.rows, cfg.cols
        row_lanes, col_lanes, edge, row_en, edge_en, beat_in, take, _ = self._lanes(m, platform)
        pes = self._make_tiles(m, row_en)

        # One input register stage; a beat not taken enters as a bubble of zeros.
        beat = _edge_register(edge, beat_in, take)

        # Row r's operands wait r cycles, as one data line, and its flags (first, last) beside
        # them, as a line that resets.
        skewed = [row_lanes[r].long_delay(_plain(m, beat.a[r], f"row_in{r}"), r,
                                          name=f"skew_row{r}", reset_less=True)
                  for r in range(rows)]
        flags = [row_lanes[r].long_delay(_plain(m, Cat(beat.first, beat.last), f"flags_in{r}"),
                                         r, name=f"skew_flags{r}")
                 for r in range(rows)]
        last_in = [row[1] for row in flags]
        pes.drive(m, "a", skewed)
        pes.drive(m, "first", [row[0] for row in flags])
        pes.drive(m, "last", last_in)
        pes.drive(m, "b", [col_lanes[c].long_delay(_plain(m, beat.b[c], f"col_in{c}"), c,
                                                   name=f"skew_b{c}", reset_less=True)
                           for c in range(cols)])
        pes.drive(m, "chain", 0)

        # A one-bit copy of column 0's drain says when a result leaves the top: a chain of
        # slots, or on a bus (cfg.drain) any row finishing, into the register at the top.
        contexts, top = timing.contexts, self.top_registers(cfg)
        tag_in = Const(0)
        for r in reversed(range(rows)):
            lane = row_lanes[r]
            done = delay(lane, last_in[r], timing.pe_latency, name=f"tag_done{r}")
            if top:
                tag_in = done | tag_in
                continue
            slots = [Signal(name=f"tag_{r}_{n}") for n in range(contexts)]
            lane.d.sync += slots[0].eq(done | tag_in)
            lane.d.sync += [slots[n].eq(slots[n - 1]) for n in range(1, contexts)]
            tag_in = slots[-1]
        if top:
            tag_in = delay(row_lanes[0], tag_in, top, name="tag_top")

        chain_out = pes.edge_out("chain")
        m.d.comb += self.res.eq(Cat(
            col_lanes[c].long_delay(chain_out[c], cols - 1 - c + top, name=f"deskew{c}",
                                    reset_less=True)
            for c in range(cols)))
        m.d.comb += self.res_valid.eq(
            edge.long_delay(tag_in, cols - 1, name="res_valid") & edge_en)
        return m


class _WSGrid(_Grid):
    def __init__(self, cfg, pe_module=None):
        super().__init__(cfg, WSPE, pe_module, {"bank": In(1), "load_bank": In(1)})

    @staticmethod
    def edge_delays(cfg):
        """``(width, cycles, reset_less)`` of every long delay (``_Lane.long_delay``) of the
        grid: operands and results reset-less, the flags not."""
        op, acc = operand_shape(cfg).width, acc_shape(cfg).width
        skew = ArrayTiming(cfg).add_latency
        return [*((op, r * skew, True) for r in range(cfg.rows)),
                *((1, r * skew, False) for r in range(cfg.rows)),
                *((acc, c, True) for c in range(cfg.cols)),
                (1, ArrayTiming(cfg).ws_result_delay, False)]

    def elaborate(self, platform):
        m = Module()
        cfg, timing = self._cfg, self.timing
        rows, cols = cfg.rows, cfg.cols
        row_lanes, col_lanes, edge, row_en, edge_en, beat_in, take, extra = \
            self._lanes(m, platform)
        pes = self._make_tiles(m, row_en)
        skew = timing.add_latency

        beat = _edge_register(edge, beat_in, take)
        bank = Signal()
        load_bank = Signal()
        edge.d.sync += [
            bank.eq(extra["bank"]),
            load_bank.eq(extra["load_bank"]),
        ]

        # Row r's operands wait r * skew cycles, as one data line, and its bank flag beside
        # them, as a line that resets.
        pes.drive(m, "a", [row_lanes[r].long_delay(_plain(m, beat.a[r], f"row_in{r}"),
                                                   r * skew, name=f"skew_row{r}",
                                                   reset_less=True)
                           for r in range(rows)])
        pes.drive(m, "bank", [row_lanes[r].long_delay(_plain(m, bank, f"bank_in{r}"),
                                                      r * skew, name=f"skew_bank{r}")
                              for r in range(rows)])
        pes.drive(m, "w", [beat.b[c] for c in range(cols)])
        pes.drive(m, "psum", 0)
        pes.share(m, "load", beat.load)
        pes.share(m, "load_bank", load_bank)

        psum_out = pes.edge_out("psum")
        m.d.comb += self.res.eq(Cat(
            col_lanes[c].long_delay(psum_out[c], cols - 1 - c, name=f"deskew{c}",
                                    reset_less=True)
            for c in range(cols)))
        m.d.comb += self.res_valid.eq(
            edge.long_delay(beat.compute, timing.ws_result_delay, name="res_valid") & edge_en)
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
        depth = self.enable_delay
        grid_class = _OSGrid if cfg.dataflow == "os" else _WSGrid
        m.submodules.grid = grid = grid_class(cfg, self._pe_module)
        m.submodules.out_fifo = out_fifo = StreamFIFO(result_layout(cfg),
                                                      RESULT_FIFO_DEPTH + depth)

        take = Signal()
        m.d.comb += [
            take.eq(self.i.valid & self.i.ready),
            grid.beat.eq(self.i.payload),
            grid.take.eq(take),
            grid.en.eq(en),
            *([grid.fmt.eq(self.fmt)] if cfg.is_set else []),
            out_fifo.w.payload.eq(grid.res),
            out_fifo.w.valid.eq(grid.res_valid),
        ]
        wiring.connect(m, out_fifo.r, wiring.flipped(self.o))

        # Room in the result FIFO for a row pushed ``depth`` cycles after the decision: at
        # most one row a cycle is pushed by the decisions already on their way.
        room = Signal()
        if depth == 0:
            m.d.comb += room.eq(out_fifo.w.ready)
        else:
            level = Signal(range(out_fifo.depth + 1))
            push = out_fifo.w.valid & out_fifo.w.ready
            pop = out_fifo.r.valid & out_fifo.r.ready
            m.d.sync += level.eq(level + push - pop)
            m.d.comb += room.eq(level <= out_fifo.depth - 1 - depth)

        if cfg.dataflow == "os":
            self._os_control(m, en, take, room)
        else:
            self._ws_control(m, en, take, room, grid)
        return m

    def _os_control(self, m, en, take, room):
        contexts, spacing = self.contexts, self.tile_spacing
        tile_open = Signal()
        ctx = Signal(range(max(contexts, 2)))
        gap = Signal(range(spacing + 1), init=spacing)
        this_ctx = Signal.like(ctx)

        # Inside a tile the grid waits for operands rather than take a bubble.
        m.d.comb += [
            en.eq(room & (self.i.valid | ~tile_open)),
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

    def _ws_control(self, m, en, take, room, grid):
        holdoff = self.load_holdoff
        bank = Signal()
        busy = [Signal(range(holdoff + 1), name=f"busy{n}") for n in range(2)]
        bank_now = Signal()
        target = Signal()
        beat = self.i.payload

        m.d.comb += [
            en.eq(room),
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
