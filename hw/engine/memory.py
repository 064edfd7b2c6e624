"""On-chip buffers: the operand scratchpad and the accumulator memory.

Both are :class:`~hw.engine.ram.Ram` instances (``amaranth.lib.memory`` in simulation, a module
written once per shape for Verilog export) and read synchronously (data one cycle after the
address); their ports are ``amaranth.lib.memory``'s own port signatures
(:mod:`hw.engine.links`).
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..arith import make_adder
from ..delay import delay
from ..export import written_once
from ..timing import ArrayTiming
from .links import AccumulatorWrite, acc_read, row_layout, spad_read, spad_write
from .passes import gather_parts, part_counter, select_part
from .ram import Ram

__all__ = ["Scratchpad", "AccumulatorMemory"]


class Scratchpad(wiring.Component):
    """Operand scratchpad: buffer A (``cfg.spad_a_lines`` lines of ``rows`` operands) and
    buffer B (``cfg.spad_b_lines`` lines of ``cols`` operands).

    Each buffer has one write port (the loader) and one read port (the array feeder), so the
    array reads a full operand vector from each buffer every cycle while the next tiles are
    written into other lines: double buffering is a matter of which lines a program uses, and
    the controller keeps a load from overwriting lines a tile still reads.

    Members
    -------
    write_a, write_b : ``Out(spad_write(cfg, "a"))``, ``Out(spad_write(cfg, "b"))``
        Write ports.
    read_a, read_b : ``Out(spad_read(cfg, "a"))``, ``Out(spad_read(cfg, "b"))``
        Read ports: ``data`` is valid the cycle after ``addr`` with ``en``, held otherwise.

    Parameters
    ----------
    cfg : hw.config.Config
    modules : hw.export.ModuleSet or None
        Where a Verilog export records the buffers' RAM modules (``None`` for simulation).
    """

    def __init__(self, cfg, *, modules=None):
        self._cfg = cfg
        self._modules = modules
        super().__init__({
            "write_a": Out(spad_write(cfg, "a")), "read_a": Out(spad_read(cfg, "a")),
            "write_b": Out(spad_write(cfg, "b")), "read_b": Out(spad_read(cfg, "b")),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        for name, write, read, depth in (
                ("a", self.write_a, self.read_a, cfg.spad_a_lines),
                ("b", self.write_b, self.read_b, cfg.spad_b_lines)):
            mem = Ram(write.data.shape(), depth, modules=self._modules)
            m.submodules[f"{name}_mem"] = mem
            wiring.connect(m, wiring.flipped(write), mem.write)
            wiring.connect(m, wiring.flipped(read), mem.read[0])
        return m


class AccumulatorMemory(wiring.Component):
    """Accumulator memory: ``cfg.acc_rows`` rows of ``cols`` accumulator values, written with
    accumulate-on-write.

    A row arriving on ``write.row`` is written to ``addr`` as it is, or (``accumulate``) added
    to the row stored there with ``cols`` of the array's own accumulator adders, so a K too
    long for one pass is summed over several passes in the golden model's order (stored +
    new).
    Read-modify-write is pipelined (one row per cycle); a row whose address is still in the
    pipeline waits (``write.row.ready`` low) instead of reading a stale value. ``write.done``
    pulses when the write of a row marked ``last`` lands.

    With fewer adders than columns (``cfg.acc_lanes``, ``P = cfg.acc_passes`` > 1) a row takes
    ``P`` cycles: the memory reads the row's address and ``acc_lanes`` of its columns go
    through the adders in each of them, while ``write.row`` holds the row (``ready`` only in
    the last); the first ``P - 1`` parts' sums wait in a register, and the row is written with
    the last part's. A row is then taken every ``P`` cycles at most.

    Members
    -------
    write : ``In(AccumulatorWrite(cfg))``
        Rows to write (``write.row``) and ``write.done``.
    read : ``Out(acc_read(cfg))``
        The store path's read port (data one cycle after the address).

    Latency from taking ``write.row`` to the write: :attr:`write_latency` = ``READ_LATENCY +
    add_latency`` cycles: the stored row is read (one cycle) into a register (one more, so
    the memory's read data drives no logic), then added; with shared adders one more, a
    register after each part's columns are selected (:data:`SELECT_LATENCY`).

    Parameters
    ----------
    cfg : hw.config.Config
    modules : hw.export.ModuleSet or None
        Where a Verilog export records the RAM module and the adder, written once for all
        ``cfg.acc_lanes`` lanes (``None`` for simulation).
    """

    def __init__(self, cfg, *, modules=None):
        self._cfg = cfg
        self._modules = modules
        super().__init__({
            "write": In(AccumulatorWrite(cfg)),
            "read": Out(acc_read(cfg)),
        })

    #: Cycles from a row's address to its stored row in a register: the synchronous read, then
    #: a register of its own.
    READ_LATENCY = 2

    #: With shared adders: the register after a part's columns are selected, so the selection
    #: is not in the adders' first stage.
    SELECT_LATENCY = 1

    @property
    def select_latency(self):
        return self.SELECT_LATENCY if self._cfg.acc_passes > 1 else 0

    @property
    def write_latency(self):
        return self.READ_LATENCY + self.select_latency + ArrayTiming(self._cfg).add_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        add_lat = ArrayTiming(cfg).add_latency
        # Cycles from accepting a row to writing it, after which a read sees the write.
        window = self.write_latency
        wb = self.write.row
        # Both read ports give the old word when it is written in the same cycle: a row whose
        # address is being written waits a cycle more, which costs no bypass logic.
        mem = Ram(row_layout(cfg), cfg.acc_rows, transparent=(False, False),
                  modules=self._modules)
        m.submodules.mem = mem
        wr, rmw = mem.write, mem.read[0]
        wiring.connect(m, wiring.flipped(self.read), mem.read[1])

        take = Signal()
        # Addresses accepted in the last `window` cycles have not been written yet (the last
        # of them is being written this cycle).
        in_flight = []
        valid, addr = take, wb.payload.addr
        for n in range(window):
            valid = delay(m, valid, 1, name=f"busy_valid{n}")
            addr = delay(m, addr, 1, name=f"busy_addr{n}", reset_less=True)
            in_flight.append(valid & (addr == wb.payload.addr))
        conflict = Signal()
        # A part of a row goes through the adders: every cycle of a row with one adder per
        # column, else each of its `passes` cycles, the last of which takes it.
        passes, lanes = cfg.acc_passes, cfg.acc_lanes
        issue = Signal()
        if passes > 1:
            part, last_part = part_counter(m, passes, issue)
        else:
            last_part = Const(1)
        m.d.comb += [
            conflict.eq(Cat(in_flight).any()),
            issue.eq(wb.valid & ~conflict),
            wb.ready.eq(~conflict & last_part),
            take.eq(wb.valid & wb.ready),
            rmw.addr.eq(wb.payload.addr),
            rmw.en.eq(1),
        ]

        # The stored row out of the read port, then in a register; add or pass. Rows and
        # addresses are data, read only under the valid beside them: no reset (see hw.delay).
        s1_data = delay(m, wb.payload.data, self.READ_LATENCY, name="s_data", reset_less=True)
        s1_addr = delay(m, wb.payload.addr, self.READ_LATENCY, name="s_addr", reset_less=True)
        s1_accumulate = delay(m, wb.payload.accumulate, self.READ_LATENCY, name="s_accumulate")
        s1_last = delay(m, wb.payload.last, self.READ_LATENCY, name="s_last")
        s1_valid = delay(m, take, self.READ_LATENCY, name="s_valid")
        stored = delay(m, rmw.data, self.READ_LATENCY - 1, name="stored", reset_less=True)
        total = Signal(row_layout(cfg))
        adds = []
        for lane in range(lanes):
            add = written_once(m, platform, self._modules, f"add{lane}",
                               lambda: make_adder(cfg), "acc_add")
            adds.append(add)
        if passes == 1:
            for lane, add in enumerate(adds):
                m.d.comb += [add.a.eq(stored[lane]), add.b.eq(s1_data[lane]),
                             total[lane].eq(add.o)]
        else:
            # Part p: columns p·lanes … (p+1)·lanes - 1, selected into registers, through the
            # adders; the sums of the parts before the last wait (only a part's own valid
            # writes them).
            s1_part = delay(m, part, self.READ_LATENCY, name="s_part")
            picked_stored = select_part(m, stored, s1_part, passes, lanes, name="pick_stored")
            picked_new = select_part(m, s1_data, s1_part, passes, lanes, name="pick_new")
            for add, a, b in zip(adds, picked_stored, picked_new, strict=True):
                m.d.comb += [add.a.eq(a), add.b.eq(b)]
            out_part = delay(m, s1_part, self.SELECT_LATENCY + add_lat, name="sum_part")
            out_valid = delay(m, issue, self.write_latency, name="sum_valid")
            sums = gather_parts(m, Cat(add.o for add in adds), out_part, passes,
                                valid=out_valid)
            m.d.comb += total.as_value().eq(Cat(sums))
        later = self.select_latency + add_lat
        overwrite = delay(m, s1_data, later, name="overwrite", reset_less=True)
        accumulate = delay(m, s1_accumulate, later, name="accumulate")
        w_addr = delay(m, s1_addr, later, name="w_addr", reset_less=True)
        w_valid = delay(m, s1_valid, later, name="w_valid")
        w_last = delay(m, s1_last, later, name="w_last")
        m.d.comb += [
            wr.addr.eq(w_addr),
            wr.data.eq(Mux(accumulate, total, overwrite)),
            wr.en.eq(w_valid),
            self.write.done.eq(w_valid & w_last),
        ]
        return m

