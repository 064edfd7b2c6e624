"""The controller: decodes commands, checks them, and dispatches them in order to the units.

Commands (:mod:`hw.isa`) are dispatched one per cycle at most, in program order, each to its
unit (loader, feeder, writeback, storer), which then runs on its own: a LOAD of the next tiles,
the COMPUTE of this one and the STORE of the last one proceed at the same time. A command
waits at the head of the queue only while its unit is busy or while it would touch lines or
rows an earlier, still-running command uses:

* LOAD waits while the feeder still reads the lines it overwrites (write after read);
* PRELOAD and COMPUTE wait while a LOAD still writes lines they read (read after write), and
  COMPUTE while the storer still reads accumulator rows it writes (write after read);
* STORE waits while any dispatched COMPUTE still has to write rows it reads (read after
  write);
* CONFIG and SCALE wait until the storer is idle, so every STORE uses the CONFIG and SCALEs
  before it, and post-processing's settings never change under a row in flight; on an
  engine with a set of operand formats CONFIG also waits until the feeder and the writeback
  are idle (no operand left in the array), so the format select ``fmt`` changes only between
  GEMMs;
* FENCE waits until every unit is idle and data-out is drained.

So a program needs no explicit synchronisation for correctness; it overlaps work by using
different lines (double buffering) for consecutive tiles.

An illegal command is not executed: it sets its :class:`~hw.isa.Error` bit in ``error``
(sticky until reset) and the controller moves on. An illegal LOAD still consumes its data
beats.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..array.systolic import fmt_member
from ..isa import ADDR_WIDTH, Buffer, Opcode, allowed_modes, command_layout, error_layout
from .links import (
    FeederControl,
    LoaderControl,
    Status,
    StorerControl,
    WritebackControl,
    ranges,
)

__all__ = ["Controller"]

#: The ways a held command may go (:meth:`Controller._route`), one register bit each.
_ROUTES = ("illegal", "retire", "load", "config", "preload", "compute", "store", "fence",
           "scale")
#: The waits that compare the held command's ranges with the units' (:meth:`_hazards`): the
#: ones ``Config.dispatch == "registered"`` takes from registers.
_RANGE_WAITS = ("load_war", "compute_raw", "compute_war", "preload_raw", "store_raw")


def _overlap(lo1, hi1, lo2, hi2):
    return (lo1 < hi2) & (lo2 < hi1)


def _hits(lines, lo, hi, limit):
    """A unit's :class:`~hw.engine.links.LineRange` ``lines`` (or one slot of it, as a
    ``(busy, lo, hi)`` tuple) is busy and overlaps ``lo … hi-1``, in a buffer of ``limit``
    lines.

    Every value is compared in the bits that hold ``limit`` alone, not the ISA's 17: the held
    command is legal whenever the answer is used (an illegal one is retired, or an illegal
    LOAD handed to the loader, without looking), so ``lo < limit`` and ``hi <= limit``; and
    every busy range a unit reports lies within ``limit`` too (the loader clamps a dropped
    LOAD's range to it, which leaves every comparison with a legal range as it was).
    """
    busy, start, end = lines if isinstance(lines, tuple) else (lines.busy, lines.lo, lines.hi)
    width = limit.bit_length()
    return busy & _overlap(lo[:width], hi[:width], start[:width], end[:width])


def _past(end, limit):
    """A range ending at ``end`` (the first line past it, one bit wider than an address, so
    it cannot wrap) runs past a buffer of ``limit`` lines."""
    return end > limit


def _steer(m, payload, fields):
    """Drive every field of a unit's command ``payload`` from the command field of the same
    name in ``fields`` (one opcode's view of the held command)."""
    theirs = {name for name, _ in fields.shape()}
    for name, _ in payload.shape():
        if name in theirs:
            m.d.comb += payload[name].eq(fields[name])


class Controller(wiring.Component):
    """Decode, check and in-order dispatch (see the module docstring).

    Parameters
    ----------
    cfg : hw.config.Config

    Members
    -------
    cmd : ``In(stream.Signature(command_layout))``
        Commands, decoded by field name (:data:`hw.isa.LAYOUTS`).
    loader, feeder, writeback, storer : ``Out(LoaderControl())``, ``Out(FeederControl())``,
        ``Out(WritebackControl())``, ``Out(StorerControl(cfg))``
        One link per unit (:mod:`hw.engine.links`): its commands out, the lines or rows it
        still uses and whether it is idle back. ``storer.post`` carries the CONFIG state and
        the lanes' scales (CONFIG sets them all, SCALE one).
    status : ``Out(Status())``
        ``idle`` (no command held and every unit idle) and ``error`` (sticky
        :class:`~hw.isa.Error` bits).
    fmt : ``Out(range(len(cfg.in_fmts)))``
        Only with a set of formats: the last CONFIG's ``in_fmt`` (0 after reset), the
        array's format select.

    Throughput: one command per cycle at most; with ``cfg.dispatch == "registered"`` a
    LOAD, PRELOAD, COMPUTE or STORE goes from the second cycle it is held at the earliest
    (its range checks registered, :meth:`_registered`), so those go every second cycle at
    most.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "cmd": In(stream.Signature(command_layout)),
            "loader": Out(LoaderControl()),
            "feeder": Out(FeederControl()),
            "writeback": Out(WritebackControl()),
            "storer": Out(StorerControl(cfg)),
            "status": Out(Status()),
            **fmt_member(cfg, Out),
        })

    @property
    def tile_rows(self):
        """Accumulator rows an output-stationary COMPUTE writes (the context reducer folds
        the contexts, so a tile is ``rows`` tall)."""
        return self._cfg.rows

    def _ends(self, cmd):
        """The end (first line or row past it) of each range a command ``cmd`` may name, by
        name: summed as the command is taken, so the checks compare registers."""
        cfg = self._cfg
        c = cmd.compute
        return {
            "load": cmd.load.addr + cmd.load.count,
            "a": c.a_addr + c.count,
            "b": c.b_addr + c.count,
            "acc": c.acc_row + (self.tile_rows if cfg.dataflow == "os" else c.count),
            "preload": cmd.preload.b_addr + cfg.rows,
            "store": cmd.store.acc_row + cmd.store.count,
        }

    def elaborate(self, platform):
        m = Module()
        cur = Signal(command_layout)
        ends = Signal(data.StructLayout({name: ADDR_WIDTH + 1
                                         for name in self._ends(self.cmd.payload)}))
        # Read only while ``held`` (a flag, reset): data, so no reset (the rule in hw.delay).
        errors = Signal(error_layout, reset_less=True)
        held = Signal()
        consume = Signal()
        m.d.comb += self.cmd.ready.eq(~held | consume)
        sums = self._ends(self.cmd.payload)
        # Checked as the command is taken, so the dispatch decision starts from registers.
        checked = self._check(m, self.cmd.payload, sums)
        # And routed: which way it goes, one bit each, so dispatch decodes no opcode.
        route = Signal(data.StructLayout({name: 1 for name in _ROUTES}), reset_less=True)
        routed = self._route(self.cmd.payload, checked)
        take = self.cmd.valid & self.cmd.ready
        with m.If(take):
            m.d.sync += [cur.eq(self.cmd.payload), held.eq(1), errors.eq(checked)]
            m.d.sync += [route[name].eq(way) for name, way in routed.items()]
            m.d.sync += [ends[name].eq(end) for name, end in sums.items()]
        with m.Elif(consume):
            m.d.sync += held.eq(0)

        waits = self._hazards(m, cur, ends)
        if self._cfg.dispatch == "registered":
            waits = self._registered(m, waits, took=take)
        m.d.comb += self.status.idle.eq(~held & waits["all_idle"])

        # Payloads are steered from the held command; valids say which unit takes it.
        _steer(m, self.loader.cmd.payload, cur.load)
        m.d.comb += self.loader.cmd.payload.drop.eq(route.illegal)
        _steer(m, self.feeder.compute.payload, cur.compute)
        _steer(m, self.feeder.preload.payload, cur.preload)
        _steer(m, self.writeback.desc.payload, cur.compute)
        m.d.comb += self.writeback.desc.payload.rows.eq(
            self.tile_rows if self._cfg.dataflow == "os" else cur.compute.count)
        _steer(m, self.storer.cmd.payload, cur.store)

        self._dispatch(m, cur, held, route, consume, errors, waits)
        return m

    def _route(self, cmd, errors):
        """Which way a command ``cmd`` with :class:`~hw.isa.Error` bits ``errors`` goes, by
        name (:data:`_ROUTES`; exactly one of them other than ``illegal`` is set): ``retire``
        (an illegal command, unless a LOAD with data beats to drain, or a NOP), ``load`` (a
        legal LOAD, or an illegal one that drains its beats), or the legal command's opcode."""
        op = cmd.opcode
        illegal = errors.as_value().any()
        drains_beats = (op == Opcode.LOAD) & (cmd.load.count != 0) & ~errors.bad_opcode
        legal = {o: ~illegal & (op == o) for o in Opcode}
        return {
            "illegal": illegal,
            "retire": (illegal & ~drains_beats) | legal[Opcode.NOP],
            "load": drains_beats | legal[Opcode.LOAD],
            **{o.name.lower(): legal[o] for o in Opcode if o not in (Opcode.NOP, Opcode.LOAD)},
        }

    def _check(self, m, cur, ends):
        """The :class:`~hw.isa.Error` bits, by name (all clear: legal), of a command ``cur``
        whose ranges end at ``ends`` (:meth:`_ends`, full width)."""
        cfg = self._cfg
        errors = Signal(error_layout, name="checked")
        op = cur.opcode
        m.d.comb += errors.bad_opcode.eq(~Cat(op == o for o in Opcode).any()
                                         | (cur.reserved != 0))
        with m.Switch(op):
            with m.Case(Opcode.CONFIG):
                m.d.comb += errors.bad_mode.eq(
                    ~Cat(cur.config.out_mode == mode for mode in allowed_modes(cfg)).any()
                    | (cur.config.in_fmt >= len(cfg.in_fmts)))
            with m.Case(Opcode.LOAD):
                load = cur.load
                lines = Mux(load.buffer == Buffer.B, cfg.spad_b_lines, cfg.spad_a_lines)
                m.d.comb += [errors.bad_count.eq(load.count == 0),
                             errors.bad_address.eq(_past(ends["load"], lines))]
            with m.Case(Opcode.PRELOAD):
                m.d.comb += [
                    errors.bad_mode.eq(cfg.dataflow == "os"),
                    errors.bad_address.eq(_past(ends["preload"], cfg.spad_b_lines)),
                ]
            with m.Case(Opcode.COMPUTE):
                c = cur.compute
                m.d.comb += errors.bad_count.eq(c.count == 0)
                if cfg.dataflow == "os":
                    m.d.comb += errors.bad_address.eq(
                        _past(ends["a"], cfg.spad_a_lines) | _past(ends["b"], cfg.spad_b_lines)
                        | _past(ends["acc"], cfg.acc_rows))
                else:
                    m.d.comb += errors.bad_address.eq(
                        _past(ends["a"], cfg.spad_a_lines) | _past(ends["acc"], cfg.acc_rows))
            with m.Case(Opcode.STORE):
                s = cur.store
                m.d.comb += [errors.bad_count.eq(s.count == 0),
                             errors.bad_address.eq(_past(ends["store"], cfg.acc_rows))]
            with m.Case(Opcode.SCALE):
                m.d.comb += errors.bad_address.eq(cur.scale.lane >= cfg.cols)
        return errors

    def _hazards(self, m, cur, ends):
        """What the held command must wait for, by name, against what the units still do."""
        cfg = self._cfg
        loader, feeder, writeback, storer = self.loader, self.feeder, self.writeback, self.storer
        load, c, s = cur.load, cur.compute, cur.store
        waits = {name: Signal(name=name) for name in (
            "load_war", "compute_raw", "compute_war", "preload_raw", "store_raw", "all_idle")}
        reads_a = _hits(loader.lines_a, c.a_addr, ends.a, cfg.spad_a_lines)
        if cfg.dataflow == "os":
            compute_raw = reads_a | _hits(loader.lines_b, c.b_addr, ends.b, cfg.spad_b_lines)
        else:
            compute_raw = reads_a
        m.d.comb += [
            # A LOAD must not overwrite lines a running tile still reads.
            waits["load_war"].eq(Mux(
                load.buffer == Buffer.B,
                _hits(feeder.lines_b, load.addr, ends.load, cfg.spad_b_lines),
                _hits(feeder.lines_a, load.addr, ends.load, cfg.spad_a_lines))),
            # A tile must not read lines a LOAD still writes, nor overwrite rows a STORE reads.
            waits["compute_raw"].eq(compute_raw),
            waits["compute_war"].eq(_hits(storer.lines, c.acc_row, ends.acc, cfg.acc_rows)),
            waits["preload_raw"].eq(_hits(loader.lines_b, cur.preload.b_addr, ends.preload,
                                             cfg.spad_b_lines)),
            # A STORE must not read rows a dispatched COMPUTE has still to write.
            waits["store_raw"].eq(Cat(_hits(pending, s.acc_row, ends.store, cfg.acc_rows)
                                      for pending in ranges(writeback.pending)).any()),
            waits["all_idle"].eq(~loader.lines_a.busy & ~loader.lines_b.busy & feeder.idle
                                 & writeback.idle & storer.drained),
        ]
        return waits

    @staticmethod
    def _registered(m, waits, *, took):
        """``waits`` with the range checks (:data:`_RANGE_WAITS`) made a cycle earlier and
        registered, so the dispatch decision starts from registers and the units' readies
        alone (``Config.dispatch == "registered"``); a command that needs one waits until the
        cycle after it is taken (``took``), when the registers hold its own checks.

        A check a cycle old is safe: a unit's busy ranges grow only when it takes a command,
        and it takes only the held one, which then leaves; so while the same command is held
        the ranges only shrink or end, and a range clear a cycle ago is clear now. A range
        that ends costs the held command one cycle more."""
        settled = Signal()      # the held command was held in the cycle before too
        m.d.sync += settled.eq(~took)
        registered = dict(waits)
        for name in _RANGE_WAITS:
            # Read only while ``settled`` (a flag, reset): data, so no reset (hw.delay).
            checked = Signal(name=f"{name}_r", reset_less=True)
            m.d.sync += checked.eq(waits[name])
            registered[name] = checked | ~settled
        return registered

    def _dispatch(self, m, cur, held, route, consume, errors, waits):
        """Retire an illegal command (a LOAD after taking its beats), or hand a legal one to
        its unit once nothing it must wait for is in the way: a sum of products of the
        ``route`` bits, the waits and the units' readies."""
        cfg, status = self._cfg, self.status
        loader, feeder, writeback, storer = self.loader, self.feeder, self.writeback, self.storer
        config_ready = storer.idle
        if cfg.is_set:
            config_ready &= feeder.idle & writeback.idle
        go = {
            "config": route.config & config_ready,
            "scale": route.scale & storer.idle,
            # An illegal LOAD with a count still takes its beats (dropped) to keep data-in in
            # step; a legal one waits for the lines it overwrites.
            "load": route.load & (route.illegal | ~waits["load_war"]),
            "preload": route.preload & ~waits["preload_raw"],
            "compute": (route.compute & ~waits["compute_raw"] & ~waits["compute_war"]
                        & feeder.compute.ready & writeback.desc.ready),
            "store": route.store & ~waits["store_raw"],
        }
        m.d.comb += [
            loader.cmd.valid.eq(held & go["load"]),
            feeder.preload.valid.eq(held & go["preload"]),
            feeder.compute.valid.eq(held & go["compute"]),
            writeback.desc.valid.eq(held & go["compute"]),
            storer.cmd.valid.eq(held & go["store"]),
            consume.eq(held & (
                route.retire | go["config"] | go["scale"] | go["load"] & loader.cmd.ready
                | go["preload"] & feeder.preload.ready | go["compute"]
                | go["store"] & storer.cmd.ready | route.fence & waits["all_idle"])),
        ]
        with m.If(held & route.illegal):
            m.d.sync += status.error.eq(status.error | errors.as_value())
        if cfg.is_set:
            with m.If(held & go["config"]):
                m.d.sync += self.fmt.eq(cur.config.in_fmt)
        self._write_post(m, cur, route, config=held & go["config"], scale=held & go["scale"])

    def _write_post(self, m, cur, route, *, config, scale):
        """CONFIG and SCALE write post-processing's state (``storer.post``: 32 bits a lane)
        the cycle after their dispatch (``config``, ``scale``), from a copy of the held
        command taken every cycle, so the dispatch decision enables two flags rather than
        every lane's scale. In time: a STORE taken the cycle after a CONFIG reads the state
        two cycles after its dispatch at the earliest (:class:`~hw.engine.storer.Storer`),
        and CONFIG and SCALE wait for the storer to be idle."""
        post = self.storer.post
        # Read only under the flags (which take the reset): data, so no reset (hw.delay).
        staged = Signal(data.StructLayout({
            "relu": 1, "mode": post.mode.shape(), "scale": 32, "lane": len(cur.scale.lane),
        }), reset_less=True)
        apply = Signal(data.StructLayout({"config": 1, "scale": 1}))
        m.d.sync += [
            staged.relu.eq(cur.config.relu), staged.mode.eq(cur.config.out_mode),
            staged.scale.eq(Mux(route.config, cur.config.scale, cur.scale.scale)),
            staged.lane.eq(cur.scale.lane),
            apply.config.eq(config), apply.scale.eq(scale),
        ]
        with m.If(apply.config):
            m.d.sync += [post.relu.eq(staged.relu), post.mode.eq(staged.mode)]
            m.d.sync += [lane.eq(staged.scale) for lane in post.scale]
        with m.If(apply.scale):
            m.d.sync += post.scale[staged.lane].eq(staged.scale)
