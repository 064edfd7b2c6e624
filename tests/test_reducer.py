# amaranth: UnusedElaboratable=no
"""The context reducer: groups of ``contexts`` partial rows summed in order, under stalls."""

import random

import numpy as np
import pytest
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from hw.config import Config, Pipeline
from hw.engine.reducer import ContextReducer
from sim.golden import ref_add, same_bits
from sim.operands import random_matrix
from sim.payload import pack_lanes, unpack_lanes
from sim.streams import stream_get, stream_put


@pytest.mark.parametrize("in_fmt, dataflow, subnormals, add", [
    ("bf16", "os", "ieee", None), ("bf16", "os", "ftz", None), ("int8", "os", "ieee", None),
    ("bf16", "ws", "ieee", None),
    # Five contexts: groups whose entries are 5 or 10 cycles apart would share the adder.
    ("bf16", "os", "ieee", 5),
])
def test_partials_summed_in_order_under_stalls(in_fmt, dataflow, subnormals, add):
    cfg = Config(rows=2, cols=3, in_fmt=in_fmt, dataflow=dataflow, subnormals=subnormals,
                 spad_kib=1, acc_kib=1, pipeline=Pipeline(add=add))
    acc = cfg.acc_format
    dut = ContextReducer(cfg)
    groups, ctx = 40, dut.contexts
    rng = np.random.default_rng(2)
    # Products of random operands: the values partial sums really take, specials included.
    if acc.kind == "float":
        with np.errstate(all="ignore"):
            parts = (random_matrix(cfg, (groups * ctx, 3), rng, "special").astype(np.float32)
                     * random_matrix(cfg, (groups * ctx, 3), rng, "normal").astype(np.float32))
    else:
        parts = rng.integers(-2**31, 2**31, (groups * ctx, 3)).astype(np.int32)
    want = []
    for g in range(groups):
        total = parts[g * ctx]
        for c in range(1, ctx):
            total = ref_add(total, parts[g * ctx + c], acc, cfg.ftz)
        want.append(total)
    out = {}

    async def put(ctx_):
        await stream_put(ctx_, dut.i, [pack_lanes(p, acc, 3) for p in parts],
                         rng=random.Random(1), p_valid=0.7)

    async def get(ctx_):
        out["rows"], _ = await stream_get(ctx_, dut.o, groups, rng=random.Random(2),
                                          p_ready=0.4, limit=10_000)

    top = Module()
    top.domains.sync = ClockDomain()  # with one context the reducer is a wire and has none
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(put, background=True)
    sim.add_testbench(get)
    with np.errstate(all="ignore"):
        sim.run()
    got = np.array([unpack_lanes(r, acc, 3) for r in out["rows"]])
    assert same_bits(got, np.array(want), acc).all()
    assert dut.contexts == ((add or 3) if (dataflow, in_fmt) == ("os", "bf16") else 1)


@pytest.mark.parametrize("add", [3, 4, 5])
def test_no_wait_at_the_arrays_pace(add):
    # Groups of L rows back to back, a group every L + 1 cycles (the array's row interval),
    # output always ready: the ranks' shared adder never holds a row back.
    cfg = Config(rows=2, cols=2, in_fmt="bf16", spad_kib=1, acc_kib=1,
                 pipeline=Pipeline(add=add))
    dut = ContextReducer(cfg)
    ctx = dut.contexts
    waits = []

    async def testbench(sim):
        sim.set(dut.o.ready, 1)
        for cycle in range(12 * (ctx + 1)):
            sim.set(dut.i.valid, cycle % (ctx + 1) != ctx)
            waits.append(sim.get(dut.i.valid) and not sim.get(dut.i.ready))
            await sim.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert not any(waits)
