"""On-chip buffers: the operand scratchpad and the accumulator memory.

Both are built on ``amaranth.lib.memory`` and read synchronously (data one cycle after the
address).
"""

from amaranth import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, make_adder, operand_shape
from ..delay import delay
from ..timing import ArrayTiming

__all__ = ["Scratchpad", "AccumulatorMemory", "writeback_layout"]


def _addr(depth):
    return unsigned(max(1, (depth - 1).bit_length()))


class Scratchpad(wiring.Component):
    """Operand scratchpad: buffer A (``cfg.spad_a_lines`` lines of ``rows`` operands) and
    buffer B (``cfg.spad_b_lines`` lines of ``cols`` operands).

    Each buffer has one write port (the loader) and one read port (the array feeder), so the
    array reads a full operand vector from each buffer every cycle while the next tiles are
    written into other lines: double buffering is a matter of which lines a program uses, and
    the controller keeps a load from overwriting lines a running tile still reads.

    Ports, for ``x`` in ``a``, ``b``: ``x_waddr``, ``x_wdata``, ``x_wen``; ``x_raddr``,
    ``x_ren``, ``x_rdata`` (valid the cycle after ``x_raddr`` with ``x_ren``; held otherwise).
    """

    def __init__(self, cfg):
        self._cfg = cfg
        members = {}
        for name, lanes, depth in (("a", cfg.rows, cfg.spad_a_lines),
                                   ("b", cfg.cols, cfg.spad_b_lines)):
            shape = data.ArrayLayout(operand_shape(cfg), lanes)
            members.update({
                f"{name}_waddr": In(_addr(depth)), f"{name}_wdata": In(shape),
                f"{name}_wen": In(1),
                f"{name}_raddr": In(_addr(depth)), f"{name}_ren": In(1),
                f"{name}_rdata": Out(shape),
            })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        for name, lanes, depth in (("a", cfg.rows, cfg.spad_a_lines),
                                   ("b", cfg.cols, cfg.spad_b_lines)):
            mem = memory.Memory(shape=data.ArrayLayout(operand_shape(cfg), lanes), depth=depth,
                                init=[])
            m.submodules[f"{name}_mem"] = mem
            wr = mem.write_port()
            rd = mem.read_port()
            m.d.comb += [
                wr.addr.eq(getattr(self, f"{name}_waddr")),
                wr.data.eq(getattr(self, f"{name}_wdata")),
                wr.en.eq(getattr(self, f"{name}_wen")),
                rd.addr.eq(getattr(self, f"{name}_raddr")),
                rd.en.eq(getattr(self, f"{name}_ren")),
                getattr(self, f"{name}_rdata").eq(rd.data),
            ]
        return m


def writeback_layout(cfg):
    """One result row on its way into the accumulator memory."""
    return data.StructLayout({
        "addr": _addr(cfg.acc_rows),
        "data": data.ArrayLayout(acc_shape(cfg), cfg.cols),
        "accumulate": 1,
        "last": 1,
    })


class AccumulatorMemory(wiring.Component):
    """Accumulator memory: ``cfg.acc_rows`` rows of ``cols`` accumulator values, written with
    accumulate-on-write.

    A row arriving on ``wb`` is written to ``addr`` as it is, or (``accumulate``) added to the
    row stored there with ``cols`` of the array's own accumulator adders, so a K too long for
    one pass is summed over several passes in the golden model's order (stored + new).
    Read-modify-write is pipelined (one row per cycle); a row whose address is still in the
    pipeline waits (``wb.ready`` low) instead of reading a stale value. ``done`` pulses when
    the write of a row marked ``last`` lands.

    ``rd_addr``/``rd_en``/``rd_data``: the store path's read port (data one cycle later).

    Latency from ``wb`` to the write: ``1 + add_latency`` cycles.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        row = data.ArrayLayout(acc_shape(cfg), cfg.cols)
        super().__init__({
            "wb": In(stream.Signature(writeback_layout(cfg))),
            "done": Out(1),
            "rd_addr": In(_addr(cfg.acc_rows)), "rd_en": In(1), "rd_data": Out(row),
        })

    @property
    def write_latency(self):
        return 1 + ArrayTiming(self._cfg).add_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        add_lat = ArrayTiming(cfg).add_latency
        mem = memory.Memory(shape=data.ArrayLayout(acc_shape(cfg), cfg.cols),
                            depth=cfg.acc_rows, init=[])
        m.submodules.mem = mem
        wr = mem.write_port()
        # The read-modify-write read sees a write landing in the same cycle.
        rmw = mem.read_port(transparent_for=(wr,))
        store = mem.read_port()
        m.d.comb += [
            store.addr.eq(self.rd_addr), store.en.eq(self.rd_en), self.rd_data.eq(store.data),
        ]

        take = Signal()
        # Addresses accepted in the last add_latency cycles have not been written yet.
        in_flight = []
        valid, addr = take, self.wb.payload.addr
        for n in range(add_lat):
            valid = delay(m, valid, 1, name=f"busy_valid{n}")
            addr = delay(m, addr, 1, name=f"busy_addr{n}")
            in_flight.append(valid & (addr == self.wb.payload.addr))
        conflict = Signal()
        m.d.comb += [
            conflict.eq(Const(0) if not in_flight else _any(in_flight)),
            self.wb.ready.eq(~conflict),
            take.eq(self.wb.valid & self.wb.ready),
            rmw.addr.eq(self.wb.payload.addr),
            rmw.en.eq(1),
        ]

        # Stage 1: the stored row is out of the read port; add or pass.
        s1 = Signal(writeback_layout(cfg))
        s1_valid = Signal()
        m.d.sync += [s1.eq(self.wb.payload), s1_valid.eq(take)]
        total = Signal(data.ArrayLayout(acc_shape(cfg), cfg.cols))
        for lane in range(cfg.cols):
            add = make_adder(cfg)
            m.submodules[f"add{lane}"] = add
            m.d.comb += [
                add.a.eq(rmw.data[lane]),
                add.b.eq(s1.data[lane]),
                total[lane].eq(add.o),
            ]
        overwrite = delay(m, s1.data, add_lat, name="overwrite")
        accumulate = delay(m, s1.accumulate, add_lat, name="accumulate")
        w_addr = delay(m, s1.addr, add_lat, name="w_addr")
        w_valid = delay(m, s1_valid, add_lat, name="w_valid")
        w_last = delay(m, s1.last, add_lat, name="w_last")
        m.d.comb += [
            wr.addr.eq(w_addr),
            wr.data.eq(Mux(accumulate, total, overwrite)),
            wr.en.eq(w_valid),
            self.done.eq(w_valid & w_last),
        ]
        return m


def _any(terms):
    result = terms[0]
    for t in terms[1:]:
        result = result | t
    return result
