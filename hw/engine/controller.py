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
* CONFIG waits until the storer is idle, so every STORE uses the CONFIG before it;
* FENCE waits until every unit is idle and data-out is drained.

So a program needs no explicit synchronisation for correctness; it overlaps work by using
different lines (double buffering) for consecutive tiles.

An illegal command is not executed: it sets its :class:`~hw.isa.Error` bit in ``error``
(sticky until reset) and the controller moves on. An illegal LOAD still consumes its data
beats.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..isa import ERROR_BITS, Opcode, OutMode, command_layout
from .feeder import compute_command_layout, preload_command_layout
from .loader import load_command_layout
from .postproc import allowed_modes
from .storer import store_command_layout
from .writeback import WRITEBACK_SLOTS, descriptor_layout

__all__ = ["Controller"]


def _overlap(lo1, hi1, lo2, hi2):
    return (lo1 < hi2) & (lo2 < hi1)


class Controller(wiring.Component):
    """Decode, check and in-order dispatch (see the module docstring).

    Parameters
    ----------
    cfg : hw.config.Config
    loader, feeder, writeback, storer :
        The units, whose busy ranges and idle flags the hazard checks read.

    Ports: ``cmd`` in; ``load``, ``compute``, ``desc``, ``preload``, ``store`` out (to the
    units); ``relu``, ``mode``, ``scale`` (the CONFIG state); ``error`` (sticky
    :class:`~hw.isa.Error` bits), ``idle`` (no command held and every unit idle).
    """

    def __init__(self, cfg, loader, feeder, writeback, storer):
        self._cfg = cfg
        self._units = (loader, feeder, writeback, storer)
        super().__init__({
            "cmd": In(stream.Signature(command_layout)),
            "load": Out(stream.Signature(load_command_layout)),
            "compute": Out(stream.Signature(compute_command_layout)),
            "desc": Out(stream.Signature(descriptor_layout)),
            "preload": Out(stream.Signature(preload_command_layout)),
            "store": Out(stream.Signature(store_command_layout)),
            "relu": Out(1), "mode": Out(OutMode), "scale": Out(32, init=0x3F800000),
            "error": Out(ERROR_BITS), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        loader, feeder, writeback, storer = self._units
        tile_rows = cfg.rows  # OS tile rows (the context reducer folds the contexts)

        cur = Signal(command_layout)
        held = Signal()
        consume = Signal()
        m.d.comb += self.cmd.ready.eq(~held | consume)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [cur.eq(self.cmd.payload), held.eq(1)]
        with m.Elif(consume):
            m.d.sync += held.eq(0)

        op, flags = cur.opcode, cur.flags
        a0, a1, a2, a3 = cur.arg0, cur.arg1, cur.arg2, cur.arg3
        is_os = cfg.dataflow == "os"

        # Checks. Sums are taken 18 bits wide so an address plus a count cannot wrap.
        def past(start, count, limit):
            return (start + count) > limit

        load_lines = Mux(flags[0], cfg.spad_b_lines, cfg.spad_a_lines)
        known = Signal()
        m.d.comb += known.eq((op == Opcode.NOP) | (op == Opcode.CONFIG) | (op == Opcode.LOAD)
                             | (op == Opcode.PRELOAD) | (op == Opcode.COMPUTE)
                             | (op == Opcode.STORE) | (op == Opcode.FENCE))
        bad_opcode = ~known | (cur.reserved != 0)
        bad_address = Signal()
        bad_count = Signal()
        bad_mode = Signal()
        mode_ok = Signal()
        m.d.comb += mode_ok.eq(0)
        for mode in allowed_modes(cfg):
            with m.If(flags[1:3] == mode.value):
                m.d.comb += mode_ok.eq(1)
        with m.Switch(op):
            with m.Case(Opcode.CONFIG):
                m.d.comb += bad_mode.eq(~mode_ok)
            with m.Case(Opcode.LOAD):
                m.d.comb += [bad_count.eq(a1 == 0), bad_address.eq(past(a0, a1, load_lines))]
            with m.Case(Opcode.PRELOAD):
                m.d.comb += bad_mode.eq(is_os)
                m.d.comb += bad_address.eq(past(a0, cfg.rows, cfg.spad_b_lines))
            with m.Case(Opcode.COMPUTE):
                m.d.comb += bad_count.eq(a3 == 0)
                if is_os:
                    m.d.comb += bad_address.eq(
                        past(a0, a3, cfg.spad_a_lines)
                        | past(a1, a3, cfg.spad_b_lines)
                        | past(a2, tile_rows, cfg.acc_rows))
                else:
                    m.d.comb += bad_address.eq(past(a0, a3, cfg.spad_a_lines)
                                               | past(a2, a3, cfg.acc_rows))
            with m.Case(Opcode.STORE):
                m.d.comb += [bad_count.eq(a1 == 0), bad_address.eq(past(a0, a1, cfg.acc_rows))]
        illegal = Signal()
        m.d.comb += illegal.eq(bad_opcode | bad_address | bad_count | bad_mode)

        # Hazards against what the units are still doing.
        load_hi = a0 + a1
        load_war = Mux(flags[0],
                       feeder.b_busy & _overlap(a0, load_hi, feeder.b_lo, feeder.b_hi),
                       feeder.a_busy & _overlap(a0, load_hi, feeder.a_lo, feeder.a_hi))
        loading_a = loader.busy & ~loader.busy_buf
        loading_b = loader.busy & loader.busy_buf
        if is_os:
            compute_raw = ((loading_a & _overlap(a0, a0 + a3, loader.lo, loader.hi))
                           | (loading_b & _overlap(a1, a1 + a3, loader.lo, loader.hi)))
            acc_hi = a2 + tile_rows
        else:
            compute_raw = loading_a & _overlap(a0, a0 + a3, loader.lo, loader.hi)
            acc_hi = a2 + a3
        compute_war = storer.busy & _overlap(a2, acc_hi, storer.lo, storer.hi)
        preload_raw = loading_b & _overlap(a0, a0 + cfg.rows, loader.lo, loader.hi)
        store_raw = Signal()
        m.d.comb += store_raw.eq(0)
        for n in range(WRITEBACK_SLOTS):
            with m.If(writeback.pend_valid[n]
                      & _overlap(a0, a0 + a1, writeback.pend_lo[n], writeback.pend_hi[n])):
                m.d.comb += store_raw.eq(1)
        all_idle = Signal()
        m.d.comb += [
            all_idle.eq(~loader.busy & feeder.idle & writeback.idle & storer.drained),
            self.idle.eq(~held & all_idle),
        ]

        # Payloads are steered from the held command; valids say which unit takes it.
        m.d.comb += [
            self.load.payload.buf.eq(flags[0]), self.load.payload.addr.eq(a0),
            self.load.payload.count.eq(a1), self.load.payload.drop.eq(illegal),
            self.compute.payload.a_addr.eq(a0), self.compute.payload.b_addr.eq(a1),
            self.compute.payload.count.eq(a3),
            self.desc.payload.acc_row.eq(a2),
            self.desc.payload.rows.eq(tile_rows if is_os else a3),
            self.desc.payload.accumulate.eq(flags[0]),
            self.preload.payload.b_addr.eq(a0),
            self.store.payload.acc_row.eq(a0), self.store.payload.count.eq(a1),
        ]
        with m.If(held):
            with m.If(illegal & ~((op == Opcode.LOAD) & (a1 != 0) & ~bad_opcode)):
                m.d.comb += consume.eq(1)
                m.d.sync += self.error.eq(self.error | Cat(bad_opcode, bad_address, bad_count,
                                                           bad_mode))
            with m.Else():
                with m.Switch(op):
                    with m.Case(Opcode.NOP):
                        m.d.comb += consume.eq(1)
                    with m.Case(Opcode.CONFIG):
                        with m.If(storer.idle):
                            m.d.comb += consume.eq(1)
                            m.d.sync += [self.relu.eq(flags[0]), self.mode.eq(flags[1:3]),
                                         self.scale.eq(Cat(a1, a2))]
                    with m.Case(Opcode.LOAD):
                        with m.If(illegal):
                            m.d.sync += self.error.eq(self.error | Cat(0, bad_address, 0, 0))
                            m.d.comb += [self.load.valid.eq(1), consume.eq(self.load.ready)]
                        with m.Elif(~load_war):
                            m.d.comb += [self.load.valid.eq(1), consume.eq(self.load.ready)]
                    with m.Case(Opcode.PRELOAD):
                        with m.If(~preload_raw):
                            m.d.comb += [self.preload.valid.eq(1),
                                         consume.eq(self.preload.ready)]
                    with m.Case(Opcode.COMPUTE):
                        ready = self.compute.ready & self.desc.ready
                        with m.If(~compute_raw & ~compute_war & ready):
                            m.d.comb += [self.compute.valid.eq(1), self.desc.valid.eq(1),
                                         consume.eq(1)]
                    with m.Case(Opcode.STORE):
                        with m.If(~store_raw):
                            m.d.comb += [self.store.valid.eq(1), consume.eq(self.store.ready)]
                    with m.Case(Opcode.FENCE):
                        m.d.comb += consume.eq(all_idle)
        return m
