"""Writeback: the array's result rows into accumulator rows, and which rows are still pending.

Every COMPUTE pushes a descriptor (first accumulator row, row count, overwrite or
accumulate) when it is dispatched. Result rows leave the array in a fixed order, so the
descriptor at the front says where each goes: row ``r`` of a tile (after the context
reducer, for output-stationary) lands in accumulator row ``acc_row + r``.

A descriptor's rows stay *pending* (``pend_valid``/``pend_lo``/``pend_hi``, one entry per
slot) until the accumulator memory reports its last write, so the controller can hold back a
STORE that would read them early.
"""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..array import result_layout
from .memory import writeback_layout

__all__ = ["Writeback", "descriptor_layout", "WRITEBACK_SLOTS"]

#: COMPUTE commands that may be in flight between dispatch and their last accumulator write
#: (a power of two: the slot pointers wrap by truncation).
WRITEBACK_SLOTS = 4

descriptor_layout = data.StructLayout({"acc_row": 16, "rows": 17, "accumulate": 1})


class Writeback(wiring.Component):
    """Routes result rows (``res``, from the array) to the accumulator memory (``wb``).

    Ports: ``desc`` (descriptor per COMPUTE, ready while a slot is free), ``res``, ``wb``,
    ``done`` (from the accumulator memory: a descriptor's last write landed), ``pend_*`` (the
    pending row ranges), ``idle``. Throughput: one row per cycle.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "desc": In(stream.Signature(descriptor_layout)),
            "res": In(stream.Signature(result_layout(cfg))),
            "wb": Out(stream.Signature(writeback_layout(cfg))),
            "done": In(1),
            "pend_valid": Out(WRITEBACK_SLOTS),
            "pend_lo": Out(data.ArrayLayout(16, WRITEBACK_SLOTS)),
            "pend_hi": Out(data.ArrayLayout(17, WRITEBACK_SLOTS)),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        slots = WRITEBACK_SLOTS
        ptr = range(slots)

        table = Signal(data.ArrayLayout(descriptor_layout, slots))
        tail = Signal(ptr)   # next slot to fill
        cur = Signal(ptr)    # slot whose rows are arriving
        head = Signal(ptr)   # oldest slot not yet written
        used = Signal(range(slots + 1))     # slots between head and tail
        routed = Signal(range(slots + 1))   # slots between cur and tail

        push = self.desc.valid & self.desc.ready
        free = self.done
        m.d.comb += self.desc.ready.eq(used < slots)
        with m.If(push):
            m.d.sync += [table[tail].eq(self.desc.payload), tail.eq(tail + 1)]
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
                self.pend_valid[n].eq(age < used),
                self.pend_lo[n].eq(entry.acc_row),
                self.pend_hi[n].eq(entry.acc_row + entry.rows),
            ]

        # Row counter within the current descriptor.
        row = Signal(17)
        desc = table[cur]
        have = Signal()
        m.d.comb += [
            have.eq(routed != 0),
            self.wb.valid.eq(self.res.valid & have),
            self.res.ready.eq(self.wb.ready & have),
            self.wb.payload.data.eq(self.res.payload),
            self.wb.payload.accumulate.eq(desc.accumulate),
            self.wb.payload.last.eq(row == desc.rows - 1),
            self.idle.eq(used == 0),
        ]
        m.d.comb += self.wb.payload.addr.eq(desc.acc_row + row)

        moved = self.wb.valid & self.wb.ready
        done_routing = moved & (row == desc.rows - 1)
        with m.If(push & ~done_routing):
            m.d.sync += routed.eq(routed + 1)
        with m.Elif(~push & done_routing):
            m.d.sync += routed.eq(routed - 1)
        with m.If(moved):
            with m.If(done_routing):
                m.d.sync += [row.eq(0), cur.eq(cur + 1)]
            with m.Else():
                m.d.sync += row.eq(row + 1)
        return m

