# amaranth: UnusedElaboratable=no
"""The accumulator memory's accumulate-on-write against ``ref_add``: hundreds of writes with
random idle cycles on ``write.row``, back-to-back writes to one row (a read-modify-write hazard the
memory must wait out), overwrites, and special values (FP32: ±0, ±Inf, NaNs, subnormals, sums
that overflow, exact and near cancellation; INT32: wrap-around at ±2^31). Every row written so
far is read back after each round of writes, once ``done`` says the round's last write
landed."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.config import Config
from hw.engine.memory import AccumulatorMemory
from hw.formats import FP32
from sim.golden import from_bits, ref_add, same_bits, to_bits
from sim.payload import pack_lanes, pack_struct, unpack_lanes
from sim.streams import stream_put

COLS = 3
#: ``p_valid`` on ``write.row`` in each random round: back to back, and with idle cycles.
ROUND_P_VALID = (1.0, 0.7, 0.4, 1.0, 0.6, 0.8)
WRITES_PER_ROUND = 60
#: The first round, directed: repeats straight after each other, overwrites in between.
DIRECTED = [(0, 0), (0, 1), (0, 1), (1, 0), (2, 0), (1, 1), (3, 0), (3, 1), (0, 1), (2, 1)]

FP32_SPECIALS = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,     # ±0, ±Inf
    0x7FC00000, 0xFFC00000, 0x7F800001,                 # NaNs (canonical, negative, signalling)
    0x00000001, 0x807FFFFF, 0x00400000,                 # subnormals
    0x00800000, 0x80800000,                             # ±smallest normal
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F000000,                 # ±largest, 2^127 (twice is Inf)
]
INT32_SPECIALS = [0, 1, -1, 2**31 - 1, -(2**31), -(2**31) + 1, 2**30, -(2**30), 2**31 - 2]


def _read_port(dut):
    """The store path's read port as ``(addr, en, data)``: the one place that names it."""
    return dut.read.addr, dut.read.en, dut.read.data


def _f32(bits):
    """The float32 whose bit pattern is ``bits``."""
    return from_bits(np.array([bits], dtype=np.uint64), FP32)[0]


def _wrap32(x):
    return np.int32(((int(x) + 2**31) % 2**32) - 2**31)


def _value(acc, old, rng):
    """One lane's value to write onto ``old``: a special, ``-old`` (exact cancellation), a
    near cancellation, a huge value (sums overflow or wrap), a moderate one (sums round), or
    a subnormal."""
    kind = rng.integers(6)
    if acc.kind == "int":
        if kind == 0:
            return np.int32(rng.choice(INT32_SPECIALS))
        if kind == 1:
            return _wrap32(-int(old))
        if kind == 2:
            return _wrap32(-int(old) + int(rng.integers(-3, 4)))
        if kind == 3:
            return np.int32(rng.integers(-(2**31), 2**31))
        return np.int32(rng.integers(-(2**20), 2**20))
    if kind == 0:
        return _f32(rng.choice(FP32_SPECIALS))
    if kind == 1:
        return -old
    if kind == 2 and np.isfinite(old) and old != 0:
        return _f32(int(to_bits(-old, FP32)[0]) ^ 1)    # one ulp off: a tiny remainder
    sign = rng.choice([-1.0, 1.0])
    if kind == 3:
        return np.float32(sign * (1 + rng.random()) * 2.0**126)
    if kind == 4:
        return np.float32(sign * (1 + rng.random()) * 2.0 ** rng.integers(-30, 31))
    return _f32(int(rng.integers(1, 1 << 23)) | (FP32.sign_mask if sign < 0 else 0))


def _rounds(cfg, rng):
    """The writes, round by round, each ``(p_valid, [(addr, row, accumulate), ...])``, and
    the rows the model holds after each round. The first write to a row is an overwrite (the
    memory holds nothing defined before it)."""
    acc = cfg.acc_format
    hot = list(range(6))
    rounds = [(1.0, [(a, (rng.standard_normal(COLS) * 100).astype(acc.dtype), bool(c))
                     for a, c in DIRECTED])]
    addr = 0
    for p_valid in ROUND_P_VALID:
        writes = []
        for _ in range(WRITES_PER_ROUND):
            draw = rng.random()
            if draw >= 0.35:  # else the same row again, straight after (the hazard)
                addr = int(rng.choice(hot) if draw < 0.8 else rng.integers(cfg.acc_rows))
            writes.append((addr, None, rng.random() < 0.75))
        rounds.append((p_valid, writes))
    model, after = {}, []
    for _, writes in rounds:
        for n, (a, row, accumulate) in enumerate(writes):
            accumulate = accumulate and a in model
            old = model.get(a, np.zeros(COLS, acc.dtype))
            if row is None:
                row = np.array([_value(acc, old[j], rng) for j in range(COLS)], dtype=acc.dtype)
            writes[n] = (a, row, accumulate)
            model[a] = ref_add(old, row, acc, cfg.ftz) if accumulate else row
        after.append(dict(model))
    return rounds, after


@pytest.mark.parametrize("in_fmt, subnormals, acc_lanes", [
    ("int8", "ieee", COLS), ("bf16", "ieee", COLS), ("bf16", "ftz", COLS),
    # One adder for the three columns (Config.acc_lanes): a row in three passes.
    ("int8", "ieee", 1), ("bf16", "ieee", 1),
])
def test_accumulate_on_write_against_ref_add(in_fmt, subnormals, acc_lanes):
    cfg = Config(rows=2, cols=COLS, in_fmt=in_fmt, subnormals=subnormals, spad_kib=1,
                 acc_kib=1, acc_lanes=acc_lanes)
    acc = cfg.acc_format
    dut = AccumulatorMemory(cfg)
    rng = np.random.default_rng(sum(map(ord, in_fmt + subnormals)))
    rounds, want = _rounds(cfg, rng)
    assert sum(len(w) for _, w in rounds) >= 300
    layout = dut.write.row.payload.shape()
    rd_addr, rd_en, rd_data = _read_port(dut)
    seen = []
    dones = []

    async def bench(ctx):
        for r, (p_valid, writes) in enumerate(rounds):
            words = [pack_struct(layout, addr=a, data=pack_lanes(row, acc, COLS), accumulate=c,
                                 last=n == len(writes) - 1)
                     for n, (a, row, c) in enumerate(writes)]
            await stream_put(ctx, dut.write.row, words, rng=random.Random(r), p_valid=p_valid)
            for _ in range(20):  # until the round's last write lands, and not a cycle more
                _, _, done = await ctx.tick().sample(dut.write.done)
                if done:
                    break
            else:
                raise AssertionError(f"round {r}: no done")
            got = {}
            last_addr = writes[-1][0]  # first: it is the row done vouches for
            for a in [last_addr] + sorted(set(want[r]) - {last_addr}):
                ctx.set(rd_addr, a)
                ctx.set(rd_en, 1)
                await ctx.tick()
                got[a] = unpack_lanes(ctx.get(rd_data.as_value()), acc, COLS)
            ctx.set(rd_en, 0)
            seen.append(got)

    async def count_done(ctx):
        cycle = 0
        async for _, _, done in ctx.tick().sample(dut.write.done):
            cycle += 1
            if done:
                dones.append(cycle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(count_done, background=True)
    sim.run()
    assert len(dones) == len(rounds), dones
    for r, (got, model) in enumerate(zip(seen, want, strict=True)):
        assert got.keys() == model.keys()
        for a, row in model.items():
            assert same_bits(got[a], row, acc).all(), (r, a, got[a], row)
