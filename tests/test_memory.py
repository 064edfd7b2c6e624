# amaranth: UnusedElaboratable=no
"""The accumulator memory's accumulate-on-write, including back-to-back writes to one row."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.config import Config
from hw.engine.memory import AccumulatorMemory
from sim.golden import from_bits, ref_add, same_bits
from sim.payload import pack_lanes, pack_struct
from sim.streams import stream_put


@pytest.mark.parametrize("in_fmt", ["int8", "bf16"])
def test_accumulate_on_write_back_to_back(in_fmt):
    cfg = Config(rows=2, cols=3, in_fmt=in_fmt, spad_kib=1, acc_kib=1)
    acc = cfg.acc_format
    dut = AccumulatorMemory(cfg)
    rng = np.random.default_rng(0)
    # Rows to addresses 0..3 with repeats straight after each other (a read-modify-write
    # hazard the memory must wait out) and overwrites in between.
    addrs = [0, 0, 0, 1, 2, 1, 3, 3, 0, 2]
    accum = [0, 1, 1, 0, 0, 1, 0, 1, 1, 1]
    values = (rng.standard_normal((len(addrs), 3)) * 100)
    values = values.astype(np.int32) if acc.kind == "int" else values.astype(np.float32)
    layout = dut.write.row.payload.shape()
    words = [pack_struct(layout, addr=a, data=pack_lanes(v, acc, 3), accumulate=c,
                         last=n == len(addrs) - 1)
             for n, (a, v, c) in enumerate(zip(addrs, values, accum, strict=True))]
    model = {}
    for a, v, c in zip(addrs, values, accum, strict=True):
        model[a] = ref_add(model[a], v, acc) if c else v
    got = {}

    async def bench(ctx):
        await stream_put(ctx, dut.write.row, words)
        for _ in range(10):
            await ctx.tick()
        for a in sorted(model):
            ctx.set(dut.read.addr, a)
            ctx.set(dut.read.en, 1)
            await ctx.tick()
            got[a] = ctx.get(dut.read.data.as_value())

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    mask = (1 << acc.width) - 1
    for a, want in model.items():
        row = from_bits(np.array([(got[a] >> (acc.width * j)) & mask for j in range(3)]), acc)
        assert same_bits(row, want, acc).all(), (a, row, want)
