"""Writeback: the array's result rows into accumulator rows, and which rows are still pending.

Every COMPUTE pushes a descriptor (first accumulator row, row count, overwrite or
accumulate) when it is dispatched. Result rows leave the array in a fixed order, so the
descriptor at the front says where each goes: row ``r`` of a tile (after the context
reducer, for output-stationary) lands in accumulator row ``acc_row + r``.

A descriptor's rows stay *pending* (``ctrl.pending``, a :class:`~hw.engine.links.LineRange`
with a range per slot) until the accumulator memory reports its last write, so the controller
can hold back a STORE that would read them early.
"""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..array import result_layout
from ..isa import ADDR_WIDTH
from .links import WRITEBACK_SLOTS, AccumulatorWrite, WritebackControl, descriptor_layout

__all__ = ["Writeback"]


class Writeback(wiring.Component):
    """Routes result rows (``res``, from the array) to the accumulator memory (``wb``).

    Members
    -------
    ctrl : ``In(WritebackControl())``
        A descriptor per COMPUTE (``ctrl.desc``, ready while a slot is free); back, the
        pending row ranges (``ctrl.pending``) and ``ctrl.idle``.
    res : ``In(stream.Signature(result_layout(cfg)))``
        Result rows from the array (through the context reducer).
    acc : ``Out(AccumulatorWrite(cfg))``
        Rows to the accumulator memory; ``acc.done`` says a descriptor's last write landed.

    Throughput: one row per cycle.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "ctrl": In(WritebackControl()),
            "res": In(stream.Signature(result_layout(cfg))),
            "acc": Out(AccumulatorWrite(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        slots = WRITEBACK_SLOTS
        ptr = range(slots)

        table = Signal(data.ArrayLayout(descriptor_layout, slots))
        # Each slot's end row, summed as the descriptor arrives, so the controller's hazard
        # checks compare registers rather than sums.
        ends = Signal(data.ArrayLayout(ADDR_WIDTH + 1, slots))
        tail = Signal(ptr)   # next slot to fill
        cur = Signal(ptr)    # slot whose rows are arriving
        head = Signal(ptr)   # oldest slot not yet written
        used = Signal(range(slots + 1))     # slots between head and tail
        routed = Signal(range(slots + 1))   # slots between cur and tail

        ctrl, wb = self.ctrl, self.acc.row
        push = ctrl.desc.valid & ctrl.desc.ready
        free = self.acc.done
        m.d.comb += ctrl.desc.ready.eq(used < slots)
        with m.If(push):
            m.d.sync += [table[tail].eq(ctrl.desc.payload), tail.eq(tail + 1),
                         ends[tail].eq(ctrl.desc.payload.acc_row + ctrl.desc.payload.rows)]
        with m.If(push & ~free):
            m.d.sync += used.eq(used + 1)
        with m.Elif(~push & free):
            m.d.sync += used.eq(used - 1)
        with m.If(free):
            m.d.sync += head.eq(head + 1)

        for n in range(slots):
            entry = table[n]
            age = Signal(ptr, name=f"age{n}")
            # Slot n is live when it lies in [head, head + used); age wraps by truncation.
            m.d.comb += [
                age.eq(n - head),
                ctrl.pending.busy[n].eq(age < used),
                ctrl.pending.lo[n].eq(entry.acc_row),
                ctrl.pending.hi[n].eq(ends[n]),
            ]

        # Row counter within the current descriptor, and the row's address as a register of
        # its own (acc_row + row, counted along), so the memory's hazard check compares
        # registers.
        row = Signal(descriptor_layout["rows"].shape)
        addr = Signal(ADDR_WIDTH)
        desc = table[cur]
        have = Signal()
        m.d.comb += [
            have.eq(routed != 0),
            wb.valid.eq(self.res.valid & have),
            self.res.ready.eq(wb.ready & have),
            wb.payload.data.eq(self.res.payload),
            wb.payload.accumulate.eq(desc.accumulate),
            wb.payload.last.eq(row == desc.rows - 1),
            wb.payload.addr.eq(addr),
            ctrl.idle.eq(used == 0),
        ]

        moved = wb.valid & wb.ready
        done_routing = moved & (row == desc.rows - 1)
        with m.If(push & ~done_routing):
            m.d.sync += routed.eq(routed + 1)
        with m.Elif(~push & done_routing):
            m.d.sync += routed.eq(routed - 1)
        with m.If(moved):
            with m.If(done_routing):
                # The next descriptor's first row, if it is here already.
                after = (cur + 1)[:len(cur)]    # wraps as cur does
                m.d.sync += [row.eq(0), cur.eq(after), addr.eq(table[after].acc_row)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), addr.eq(addr + 1)]
        # A descriptor arriving when no other is left to route is the next one.
        with m.If(push & ((routed == 0) | ((routed == 1) & done_routing))):
            m.d.sync += addr.eq(ctrl.desc.payload.acc_row)
        return m

