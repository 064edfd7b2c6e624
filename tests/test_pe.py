# amaranth: UnusedElaboratable=no
"""Processing elements on their own: the OS PE's interleaved contexts and drain chain, the WS
PE's two weight banks and partial-sum pass, for every format, against the golden model."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.arith import make_adder
from hw.array.pe import OSPE, WSPE
from hw.config import Config
from sim.golden import from_bits, ref_add, ref_dot, ref_mul, same_bits, to_bits
from sim.operands import random_matrix

FORMATS = [("int8", "int32", "ieee"), ("int8", "fp32", "ieee"), ("bf16", "fp32", "ieee"),
           ("bf16", "fp32", "ftz")]


def _cfg(in_fmt, acc_fmt, subnormals, dataflow, restart=None):
    return Config(rows=1, in_fmt=in_fmt, acc_fmt=acc_fmt, subnormals=subnormals,
                  dataflow=dataflow, restart=restart)


def _bits(values, fmt):
    return [int(v) for v in to_bits(values, fmt)] if fmt.kind == "float" else \
        [int(v) for v in values]


@pytest.mark.parametrize("in_fmt, acc_fmt, subnormals, restart",
                         [(*f, None) for f in FORMATS] + [("bf16", "fp32", "ieee", "mux"),
                                                           ("int8", "fp32", "ieee", "mux")])
def test_os_pe_accumulates_each_context_in_order(in_fmt, acc_fmt, subnormals, restart):
    # Both ways a float accumulator restarts (Config.restart): the same bits, the same cycles.
    cfg = _cfg(in_fmt, acc_fmt, subnormals, "os", restart)
    dut = OSPE(cfg)
    contexts, k = dut.contexts, 13
    rng = np.random.default_rng(5)
    tiles = 3
    a = random_matrix(cfg, (tiles, contexts, k), rng, "special")
    b = random_matrix(cfg, (tiles, contexts, k), rng, "special")
    in_fmt_, acc = cfg.in_format, cfg.acc_format
    want = [ref_dot(a[t, c], b[t, c], acc, cfg.ftz) for t in range(tiles) for c in range(contexts)]
    # Tile t's last step of context c enters at t·K·L + (K-1)·L + c; its sum leaves the drain
    # chain latency + contexts cycles later.
    due = [t * k * contexts + (k - 1) * contexts + c + dut.latency + contexts
           for t in range(tiles) for c in range(contexts)]
    seen = {}

    async def bench(ctx):
        ctx.set(dut.chain_in, 0)
        for cycle in range(due[-1] + 1):
            t, rest = divmod(cycle, k * contexts)
            if t < tiles:
                kk, c = divmod(rest, contexts)
                ctx.set(dut.a_in, _bits(a[t, c, kk:kk + 1], in_fmt_)[0])
                ctx.set(dut.b_in, _bits(b[t, c, kk:kk + 1], in_fmt_)[0])
                ctx.set(dut.first_in, kk == 0)
                ctx.set(dut.last_in, kk == k - 1)
            else:
                ctx.set(dut.first_in, 0)
                ctx.set(dut.last_in, 0)
            await ctx.tick()
            seen[cycle + 1] = ctx.get(dut.chain_out)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    got = [seen[d] for d in due]
    got = from_bits(np.array(got) & ((1 << acc.width) - 1), acc)
    assert same_bits(got, np.array(want, dtype=acc.dtype), acc).all()


@pytest.mark.parametrize("int_adder", ["full", "split"])
@pytest.mark.parametrize("mul", [1, 2])
def test_os_pe_on_a_drain_bus(int_adder, mul):
    # Config.drain "bus": chain_out is the finished sum in the cycle it is finished (no
    # register), chain_in passed through (ORed) in every other cycle, so the column's gates
    # carry one sum at a time; tiles back to back, and with a gap between them.
    cfg = Config(rows=1, drain="bus", int_adder=int_adder, pipeline={"mul": mul})
    dut = OSPE(cfg)
    rng = np.random.default_rng(8)
    ks = [5, 1, 3, 2, 7]
    starts = [0, 5, 6, 12, 14]           # a gap of 3 after the third tile
    a = [random_matrix(cfg, (k,), rng, "special") for k in ks]
    b = [random_matrix(cfg, (k,), rng, "special") for k in ks]
    tiles = list(enumerate(zip(starts, ks, strict=True)))
    due = {s + k - 1 + dut.latency: ref_dot(a[t], b[t], cfg.acc_format) for t, (s, k) in tiles}
    steps = {s + kk: (t, kk) for t, (s, k) in tiles for kk in range(k)}
    passed = rng.integers(-2**31, 2**31, max(due) + 2)
    wrong = []

    async def bench(ctx):
        for cycle in range(max(due) + 2):
            t, kk = steps.get(cycle, (None, None))
            ctx.set(dut.first_in, kk == 0)
            ctx.set(dut.last_in, t is not None and kk == ks[t] - 1)
            if t is not None:
                ctx.set(dut.a_in, int(a[t][kk]))
                ctx.set(dut.b_in, int(b[t][kk]))
            ctx.set(dut.chain_in, 0 if cycle in due else int(passed[cycle]))
            want = int(due[cycle]) if cycle in due else int(passed[cycle])
            if ctx.get(dut.chain_out) != want:
                wrong.append((cycle, ctx.get(dut.chain_out), want))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert wrong == []


def test_restart_choice_builds_the_adder():
    # "reset": the float adder's feedback register with its restart input; "mux": a plain
    # adder (the PE's multiplexer), as an integer one always is.
    def ports(**kwargs):
        return set(make_adder(Config(rows=1, **kwargs), restart=True).signature.members)
    assert {"restart", "fb"} <= ports(in_fmt="bf16")
    assert not {"restart", "fb"} & ports(in_fmt="bf16", restart="mux")
    assert not {"restart", "fb"} & ports(in_fmt="int8")


@pytest.mark.parametrize("in_fmt, acc_fmt, subnormals", FORMATS)
def test_ws_pe_banks_and_partial_sums(in_fmt, acc_fmt, subnormals):
    cfg = _cfg(in_fmt, acc_fmt, subnormals, "ws")
    dut = WSPE(cfg)
    in_fmt_, acc = cfg.in_format, cfg.acc_format
    rng = np.random.default_rng(6)
    n = 40
    w = random_matrix(cfg, (2,), rng, "normal")
    a = random_matrix(cfg, (n,), rng, "special")
    bank = rng.integers(0, 2, n)
    psum = ref_mul(random_matrix(cfg, (n,), rng), random_matrix(cfg, (n,), rng), acc)
    want = ref_add(psum, ref_mul(a, w[bank], acc, cfg.ftz), acc, cfg.ftz)
    got = {}

    async def bench(ctx):
        # Load bank 0 then bank 1 through w_in; w_out shows the bank being loaded.
        for nb in range(2):
            ctx.set(dut.load, 1)
            ctx.set(dut.load_bank, nb)
            ctx.set(dut.w_in, _bits(w[nb:nb + 1], in_fmt_)[0])
            await ctx.tick()
        ctx.set(dut.load, 0)
        for nb in range(2):
            ctx.set(dut.load_bank, nb)
            mask = (1 << in_fmt_.width) - 1
            assert ctx.get(dut.w_out) & mask == _bits(w[nb:nb + 1], in_fmt_)[0] & mask
        for cycle in range(n + dut.latency):
            if cycle < n:
                ctx.set(dut.a_in, _bits(a[cycle:cycle + 1], in_fmt_)[0])
                ctx.set(dut.bank_in, int(bank[cycle]))
            j = cycle - dut.mul_latency
            if 0 <= j < n:  # the partial sum arrives mul_latency after its activation
                ctx.set(dut.psum_in, _bits(psum[j:j + 1], acc)[0])
            await ctx.tick()
            done = cycle + 1 - dut.latency
            if 0 <= done < n:
                got[done] = ctx.get(dut.psum_out)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    out = from_bits(np.array([got[i] for i in range(n)]) & ((1 << acc.width) - 1), acc)
    assert same_bits(out, want, acc).all()


def test_latencies():
    for df, cls in (("os", OSPE), ("ws", WSPE)):
        int_pe = cls(Config(rows=1, dataflow=df))
        assert (int_pe.mul_latency, int_pe.add_latency) == (1, 1)
        fp_pe = cls(Config(rows=1, in_fmt="bf16", dataflow=df))
        assert fp_pe.latency == fp_pe.mul_latency + fp_pe.add_latency
    assert OSPE(Config(rows=1, in_fmt="bf16")).contexts == \
        OSPE(Config(rows=1, in_fmt="bf16")).add_latency
