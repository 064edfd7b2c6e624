"""The storer: accumulator rows through post-processing to the data-out stream (STORE)."""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..delay import delay
from ..fifo import StreamFIFO
from ..isa import ADDR_WIDTH, OutMode, out_width
from .links import StorerControl, acc_read, post_layout, row_layout
from .passes import gather_parts, part_counter, select_part
from .postproc import PostProc, postproc_latency

__all__ = ["Storer", "dout_layout", "dout_width", "store_latency", "store_fifo_depth",
           "READ_LATENCY", "SELECT_LATENCY", "STORE_FIFO_DEPTH"]

#: Rows the data-out FIFO holds beyond those the store pipeline may have in flight
#: (:func:`store_fifo_depth`).
STORE_FIFO_DEPTH = 4
#: Cycles from a read request to the row in the store pipeline's first register: the
#: memory's synchronous read, then a register of the storer's own, so the memory's read data
#: drives one flip-flop and no logic (a block RAM's read is slow: 5.8 ns on ECP5).
READ_LATENCY = 2
#: With shared post-processing lanes: the register after a pass's columns and scales are
#: selected from the row, so the selection is not in the lanes' first stage.
SELECT_LATENCY = 1


def store_fifo_depth(cfg):
    """Rows the data-out FIFO holds: room for every row the store pipeline may have in flight
    (:func:`store_latency`) and :data:`STORE_FIFO_DEPTH` more, so a STORE runs at its full pace
    (a row every ``cfg.post_passes`` cycles) while ``dout`` accepts them."""
    return store_latency(cfg) + STORE_FIFO_DEPTH


def store_latency(cfg):
    """Cycles from an accumulator row's (first) read request to its post-processed row at the
    data-out FIFO's input (the pipeline never stalls): :data:`READ_LATENCY` plus
    :func:`~hw.engine.postproc.postproc_latency`; with shared lanes
    (:attr:`~hw.config.Config.post_lanes`) ``cfg.post_passes`` more, the row's other passes
    and a register after each pass's selection (:data:`SELECT_LATENCY`)."""
    passes = cfg.post_passes
    more = passes - 1 + SELECT_LATENCY if passes > 1 else 0
    return READ_LATENCY + postproc_latency(cfg) + more


def dout_width(cfg):
    """Width of a data-out beat: ``cols`` lanes of the widest output mode's 32 bits (narrower
    outputs pack densely from bit 0, see :mod:`hw.engine.postproc`)."""
    return cfg.cols * max(out_width(mode) for mode in OutMode)


def dout_layout(cfg):
    return data.StructLayout({"data": dout_width(cfg), "last": 1})


class _StorePipe(wiring.Component):
    """Read data → post-processing, with valid/last riding alongside. A plain pipeline that
    never stalls: the storer issues a row only when the FIFO after it has room for it.

    With shared lanes (``cfg.post_passes`` = ``P`` > 1) the storer reads each row ``P`` cycles
    running (``valid_in`` each cycle, ``part_in`` 0 to ``P - 1``); pass ``p`` takes columns
    ``p·lanes`` to ``(p+1)·lanes - 1`` and their scales, selected into a register
    (:data:`SELECT_LATENCY`), through the lanes; the first ``P - 1`` passes' outputs wait in a
    register, and the row goes out with the last pass's."""

    def __init__(self, cfg, modules=None):
        self._cfg = cfg
        self._post = PostProc(cfg, modules=modules)
        members = {
            "valid_in": In(1), "last_in": In(1),
            "row": In(row_layout(cfg)), "post": In(post_layout(cfg)),
            "valid_out": Out(1), "last_out": Out(1), "out": Out(dout_width(cfg)),
        }
        if cfg.post_passes > 1:
            members["part_in"] = In(range(cfg.post_passes))
        super().__init__(members)

    @property
    def latency(self):
        """From a row's first read request to the post-processed row (:func:`store_latency`)."""
        return store_latency(self._cfg)

    @property
    def depth(self):
        """Register stages from a read request to the post-processed values of that pass: the
        latency less the row's other passes."""
        return self.latency - (self._cfg.post_passes - 1)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.post = post = self._post
        # The read data and the CONFIG state of its cycle, one register on; the row is data
        # (no reset, see hw.delay), the flags (relu, mode) reset, and with shared lanes both
        # a register further, past the pass's selection. The scales hold while rows are in
        # flight (CONFIG and SCALE wait for the storer to be idle): wired to a lane per
        # column, selected with the pass's columns for shared lanes.
        passes, lanes = cfg.post_passes, cfg.post_lanes
        lag = self.depth - self._post.latency - 1
        row = delay(m, self.row, READ_LATENCY - 1, name="read", reset_less=True)
        mode = delay(m, self.post.mode, lag, name="read_mode")
        m.d.comb += [
            post.relu.eq(delay(m, self.post.relu, lag, name="read_relu")),
            post.mode.eq(mode),
            self.last_out.eq(delay(m, self.last_in, self.depth, name="last")),
        ]
        if passes == 1:
            m.d.comb += [
                post.i.eq(row), post.scale.eq(self.post.scale), self.out.eq(post.o),
                self.valid_out.eq(delay(m, self.valid_in, self.depth, name="valid")),
            ]
            return m

        # The pass's columns and scales, selected into registers.
        part = delay(m, self.part_in, READ_LATENCY, name="read_part")
        values = select_part(m, row, part, passes, lanes, name="select_value")
        scales = select_part(m, self.post.scale, part, passes, lanes, name="select_scale")
        m.d.comb += [post.i[n].eq(values[n]) for n in range(lanes)]
        m.d.comb += [post.scale[n].eq(scales[n]) for n in range(lanes)]
        last_pass = self.valid_in & (self.part_in == passes - 1)
        m.d.comb += self.valid_out.eq(delay(m, last_pass, self.depth, name="valid"))
        # The first passes' outputs wait for the last one; the row packs each pass's values
        # as the mode packs them.
        out_part = delay(m, part, SELECT_LATENCY + post.latency, name="out_part")
        out_mode = delay(m, mode, post.latency, name="out_mode")
        outs = gather_parts(m, post.o, out_part, passes)
        with m.Switch(out_mode):
            for out in post.modes:
                with m.Case(out):
                    width = lanes * out_width(out)
                    m.d.comb += self.out.eq(Cat(o[:width] for o in outs))
        return m


class Storer(wiring.Component):
    """Executes STORE commands: reads ``count`` accumulator rows from ``acc_row`` on, passes
    them through :class:`~hw.engine.postproc.PostProc` with the CONFIG state
    (``ctrl.post``: ``relu``, ``mode``, and a ``scale`` per lane), and sends them on ``dout``
    with ``last`` on the final row.

    Members
    -------
    ctrl : ``In(StorerControl(cfg))``
        STORE commands and the CONFIG state (which changes only while the storer is idle,
        ``ctrl.idle``); back, the rows it still reads
        (``ctrl.lines``, so no COMPUTE overwrites them first), ``ctrl.idle`` (nothing in the
        pipeline; the FIFO may still hold rows) and ``ctrl.drained`` (nor in the FIFO).
    acc : ``In(acc_read(cfg))``
        The accumulator memory's read port.
    dout : ``Out(stream.Signature(dout_layout(cfg)))``
        Post-processed rows.

    Latency: a row read (first) at cycle ``t`` reaches the data-out FIFO at ``t +``
    :attr:`latency` (:func:`store_latency`), and ``dout`` two cycles later if ``dout`` has
    accepted the rows before it; rows are read only while the FIFO has room for them.
    Throughput: one row per cycle while ``dout`` accepts them, or with shared lanes one every
    ``cfg.post_passes`` cycles (each row is read that many cycles running, a part of it
    post-processed in each).

    Parameters
    ----------
    cfg : hw.config.Config
    modules : hw.export.ModuleSet or None
        As for :class:`~hw.engine.postproc.PostProc` (``None`` for simulation).
    """

    def __init__(self, cfg, *, modules=None):
        self._cfg = cfg
        self._modules = modules
        super().__init__({
            "ctrl": In(StorerControl(cfg)),
            "acc": In(acc_read(cfg)),
            "dout": Out(stream.Signature(dout_layout(cfg))),
        })

    @property
    def latency(self):
        """Cycles from a row's read request to the data-out FIFO (:func:`store_latency`)."""
        return store_latency(self._cfg)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.pipe = pipe = _StorePipe(cfg, self._modules)
        depth = store_fifo_depth(cfg)
        m.submodules.out_fifo = out_fifo = StreamFIFO(dout_layout(cfg), depth)

        ctrl = self.ctrl
        busy = ctrl.lines.busy
        addr = Signal(ADDR_WIDTH)
        remaining = Signal(ADDR_WIDTH)
        in_flight = Signal(range(pipe.latency + 2))
        # Rows issued and not yet taken from dout: in_flight + out_fifo.level, as a register
        # of its own, so the issue decision compares a register with a constant.
        held = Signal(range(pipe.latency + depth + 2))
        room = Signal()
        issue = Signal()
        # The pass through the post-processing lanes; a row is issued (takes its room in the
        # FIFO) at its first, and its address moves on after its last.
        passes = cfg.post_passes
        if passes > 1:
            part, last_part = part_counter(m, passes, issue)
            first = part == 0
            m.d.comb += pipe.part_in.eq(part)
        else:
            first = last_part = Const(1)
        new_row = Signal()
        # A row is issued only if the FIFO will have room for it when it lands, whatever
        # dout does meanwhile, so the pipeline runs freely: no enable fans out to its
        # registers. The FIFO's writes are ready while fewer than depth - 1 words are held
        # (its output register may take one cycle to refill), hence the one word of margin.
        m.d.comb += [
            room.eq(held < depth - 1),
            ctrl.cmd.ready.eq(~busy),
            issue.eq(busy & (room | ~first)),
            new_row.eq(issue & first),
            self.acc.addr.eq(addr),
            self.acc.en.eq(1),
            pipe.valid_in.eq(issue),
            pipe.last_in.eq(remaining == 1),
            pipe.row.eq(self.acc.data),
            pipe.post.eq(ctrl.post),
            out_fifo.w.valid.eq(pipe.valid_out),
            out_fifo.w.payload.data.eq(pipe.out),
            out_fifo.w.payload.last.eq(pipe.last_out),
        ]
        wiring.connect(m, out_fifo.r, wiring.flipped(self.dout))
        with m.If(ctrl.cmd.valid & ctrl.cmd.ready):
            p = ctrl.cmd.payload
            m.d.sync += [
                busy.eq(1), addr.eq(p.acc_row), remaining.eq(p.count),
                ctrl.lines.lo.eq(p.acc_row), ctrl.lines.hi.eq(p.acc_row + p.count),
            ]
        with m.If(issue & last_part):
            m.d.sync += [addr.eq(addr + 1), remaining.eq(remaining - 1)]
            with m.If(remaining == 1):
                m.d.sync += busy.eq(0)

        # Rows issued but not yet in the FIFO.
        landed = out_fifo.w.valid
        with m.If(new_row & ~landed):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(~new_row & landed):
            m.d.sync += in_flight.eq(in_flight - 1)
        taken = self.dout.valid & self.dout.ready
        with m.If(new_row & ~taken):
            m.d.sync += held.eq(held + 1)
        with m.Elif(~new_row & taken):
            m.d.sync += held.eq(held - 1)
        m.d.comb += [
            ctrl.idle.eq(~busy & (in_flight == 0)),
            ctrl.drained.eq(~busy & (in_flight == 0) & ~self.dout.valid),
        ]
        return m
