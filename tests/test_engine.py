# amaranth: UnusedElaboratable=no
"""The engine on the Amaranth simulator: GEMMs of awkward sizes for both formats, both
dataflows and every post-processing mode, bit-exact against the golden model, with random
idle cycles on cmd and data-in and backpressure on data-out; reset in the middle of a GEMM;
illegal commands and addresses."""

import numpy as np
import pytest
from amaranth import Signal
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

from hw import isa
from hw.config import Config
from hw.engine import Engine
from hw.formats import INT8
from sim.golden import same_bits
from sim.host import ref_program, run_gemm, run_program
from sim.operands import random_matrix
from sim.program import gemm_program

FORMATS = [("int8", "int32"), ("int8", "fp32"), ("bf16", "fp32")]
SMALL = {"spad_kib": 2, "acc_kib": 1}


def _check(cfg, m, k, n, *, mode="raw", relu=False, scale=0.01, seed=0, mix="special",
           p_valid=0.7, p_ready=0.6):
    rng = np.random.default_rng(seed)
    a = random_matrix(cfg, (m, k), rng, mix)
    b = random_matrix(cfg, (k, n), rng, mix)
    got = run_gemm(a, b, cfg, backend="amaranth", mode=mode, relu=relu, scale=scale,
                   seed=seed, p_valid=p_valid, p_ready=p_ready)
    want = run_gemm(a, b, cfg, backend="golden", mode=mode, relu=relu, scale=scale)
    bad = ~same_bits(got.c, want.c, got.program.out_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"
    return got


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt", FORMATS)
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (17, 33, 5), (100, 7, 64)])
def test_gemm_awkward_sizes(m, k, n, in_fmt, acc_fmt, dataflow):
    cfg = Config(rows=4, cols=3, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow, **SMALL)
    _check(cfg, m, k, n, seed=m + k + n)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt, mode, relu", [
    ("int8", "int32", "raw", True), ("int8", "int32", "int8", False),
    ("int8", "int32", "int8", True),
    ("int8", "fp32", "int8", False), ("int8", "fp32", "bf16", True),
    ("bf16", "fp32", "raw", True), ("bf16", "fp32", "int8", False),
    ("bf16", "fp32", "int8", True), ("bf16", "fp32", "bf16", False),
    ("bf16", "fp32", "bf16", True),
])
def test_post_processing(in_fmt, acc_fmt, mode, relu, dataflow):
    cfg = Config(rows=3, cols=4, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow, **SMALL)
    scale = 0.003 if in_fmt == "int8" else 7.5
    _check(cfg, 13, 21, 9, mode=mode, relu=relu, scale=scale, seed=5, mix="normal")


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt", ["int8", "bf16"])
def test_k_split_over_several_passes(in_fmt, dataflow):
    # A 1 KiB scratchpad holds a few dozen steps: K = 150 takes several accumulating passes.
    cfg = Config(rows=4, cols=4, in_fmt=in_fmt, dataflow=dataflow, spad_kib=1, acc_kib=1)
    rng = np.random.default_rng(9)
    a, b = random_matrix(cfg, (6, 150), rng), random_matrix(cfg, (150, 5), rng)
    prog = gemm_program(cfg, a, b)
    assert prog.k_pass < 150
    got = run_program(prog, a, b, "amaranth", seed=1, p_valid=0.8, p_ready=0.7)
    assert same_bits(got.c, ref_program(prog, a, b), cfg.acc_format).all()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_double_buffered_operands(dataflow):
    # Operand blocks that do not all fit alternate between two regions of each buffer.
    cfg = Config(rows=4, cols=4, dataflow=dataflow, spad_kib=1, acc_kib=1)
    rng = np.random.default_rng(4)
    a, b = random_matrix(cfg, (40, 60), rng), random_matrix(cfg, (60, 30), rng)
    prog = gemm_program(cfg, a, b)
    got = run_program(prog, a, b, "amaranth", seed=2, p_valid=0.6, p_ready=0.5)
    assert same_bits(got.c, ref_program(prog, a, b), cfg.acc_format).all()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_16x16_engine_smoke(dataflow):
    cfg = Config(rows=16, cols=16, in_fmt="bf16", dataflow=dataflow, spad_kib=16, acc_kib=16)
    _check(cfg, 20, 40, 18, mode="bf16", relu=True, seed=16, mix="normal",
           p_valid=0.9, p_ready=0.9)


class _Driver:
    """Drives an engine's three streams from one testbench, cycle by cycle, so a test can
    stop in the middle of a program and reset."""

    def __init__(self, dut, rst):
        self.dut, self.rst = dut, rst

    async def run(self, ctx, cmds, din, rows=None, cycles=None):
        """Offer ``cmds`` and ``din`` until ``rows`` data-out rows arrived (or for ``cycles``
        cycles); returns the rows."""
        dut = self.dut
        cmds, din, got = list(cmds), list(din), []
        n = 0
        ctx.set(dut.dout.ready, 1)
        while (rows is None or len(got) < rows) and (cycles is None or n < cycles):
            for port, queue in ((dut.cmd, cmds), (dut.din, din)):
                if queue:
                    ctx.set(port.payload.as_value(), queue[0])
                ctx.set(port.valid, bool(queue))
            _, _, c_rdy, d_rdy, o_vld, o_data = await ctx.tick().sample(
                dut.cmd.ready, dut.din.ready, dut.dout.valid, dut.dout.payload.data)
            if cmds and c_rdy:
                cmds.pop(0)
            if din and d_rdy:
                din.pop(0)
            if o_vld:
                got.append(o_data)
            n += 1
            assert n < 100_000, "engine hung"
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.din.valid, 0)
        return got

    async def reset(self, ctx, cycles=3):
        ctx.set(self.rst, 1)
        await ctx.tick().repeat(cycles)
        ctx.set(self.rst, 0)


def _simulate(cfg, bench):
    engine = Engine(cfg)
    rst = Signal()
    sim = Simulator(ResetInserter(rst)(engine))
    sim.add_clock(1e-8)

    async def testbench(ctx):
        await bench(ctx, _Driver(engine, rst), engine)

    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_reset_mid_gemm_then_correct_gemm(dataflow):
    cfg = Config(rows=3, cols=3, in_fmt="bf16", dataflow=dataflow, **SMALL)
    rng = np.random.default_rng(11)
    a1, b1 = random_matrix(cfg, (20, 30), rng), random_matrix(cfg, (30, 10), rng)
    a2, b2 = random_matrix(cfg, (7, 11), rng), random_matrix(cfg, (11, 5), rng)
    first = gemm_program(cfg, a1, b1, mode="bf16")
    second = gemm_program(cfg, a2, b2, relu=True)
    out = {}

    async def bench(ctx, drv, dut):
        await drv.run(ctx, first.cmds, first.din, cycles=150)  # well inside the GEMM
        assert not ctx.get(dut.status.idle)
        await drv.reset(ctx)
        assert ctx.get(dut.status.idle) and ctx.get(dut.status.error) == 0
        out["rows"] = await drv.run(ctx, second.cmds, second.din, rows=second.dout_rows)

    _simulate(cfg, bench)
    assert same_bits(second.assemble(out["rows"]), ref_program(second, a2, b2),
                     cfg.acc_format).all()


def test_illegal_commands_set_sticky_errors_and_never_hang():
    cfg = Config(rows=2, cols=3, dataflow="os", **SMALL)
    E = isa.Error
    bad = [
        (1 << 8 | 0x7F, E.BAD_OPCODE),                                  # unknown opcode
        (isa.encode_nop() | 1 << 100, E.BAD_OPCODE),                    # reserved bits
        (isa.encode_load("a", cfg.spad_a_lines - 1, 3), E.BAD_ADDRESS),  # past buffer A
        (isa.encode_load("b", 0, 0), E.BAD_COUNT),
        (isa.encode_preload(0), E.BAD_MODE),                            # WS only
        (isa.encode_compute(0, 0, cfg.acc_rows - 1, 4), E.BAD_ADDRESS),  # tile past the end
        (isa.encode_compute(cfg.spad_a_lines, 0, 0, 1), E.BAD_ADDRESS),
        (isa.encode_compute(0, 0, 0, 0), E.BAD_COUNT),
        (isa.encode_store(0, 0), E.BAD_COUNT),
        (isa.encode_store(cfg.acc_rows - 2, 5), E.BAD_ADDRESS),
        (isa.encode_config(out_mode=isa.OutMode.BF16), E.BAD_MODE),    # int32 has no bf16
    ]
    rng = np.random.default_rng(3)
    a, b = random_matrix(cfg, (5, 6), rng), random_matrix(cfg, (6, 4), rng)
    prog = gemm_program(cfg, a, b, mode="int8", scale=0.05)
    junk = [0x5A5A, 0xA5A5, 0xFFFF]  # what the illegal LOAD of 3 lines consumes
    out = {}

    async def bench(ctx, drv, dut):
        # Each illegal command alone sets exactly its bit.
        for word, bit in bad:
            await drv.reset(ctx)
            extra = junk if word == bad[2][0] else []
            await drv.run(ctx, [word, isa.encode_fence()], extra, cycles=40)
            assert ctx.get(dut.status.error) == bit, isa.decode(word)
            assert ctx.get(dut.status.idle)
        # All of them, then a real GEMM: the errors pile up and the GEMM is still right.
        await drv.reset(ctx)
        out["rows"] = await drv.run(ctx, [w for w, _ in bad] + prog.cmds, junk + prog.din,
                                    rows=prog.dout_rows)
        await ctx.tick().repeat(10)
        out["error"] = ctx.get(dut.status.error)

    _simulate(cfg, bench)
    assert out["error"] == int(E.BAD_OPCODE | E.BAD_ADDRESS | E.BAD_COUNT | E.BAD_MODE)
    assert same_bits(prog.assemble(out["rows"]), ref_program(prog, a, b), INT8).all()


def test_fence_waits_for_stores_and_status_goes_idle():
    cfg = Config(rows=2, cols=2, dataflow="ws", **SMALL)
    rng = np.random.default_rng(8)
    a, b = random_matrix(cfg, (6, 5), rng), random_matrix(cfg, (5, 3), rng)
    prog = gemm_program(cfg, a, b)
    out = {}

    async def bench(ctx, drv, dut):
        out["rows"] = await drv.run(ctx, prog.cmds + [isa.encode_fence()], prog.din,
                                    rows=prog.dout_rows)
        await ctx.tick().repeat(5)
        out["idle"] = ctx.get(dut.status.idle)

    _simulate(cfg, bench)
    assert out["idle"]
    assert same_bits(prog.assemble(out["rows"]), ref_program(prog, a, b),
                     cfg.acc_format).all()


def test_loads_compute_and_stores_overlap():
    # Resident operands, INT8, K long enough: the array is busy nearly every cycle.
    cfg = Config(rows=4, cols=4, dataflow="os", spad_kib=16, acc_kib=1)
    got = _check(cfg, 32, 128, 32, seed=1, mix="normal", p_valid=1.0, p_ready=1.0)
    assert got.utilization > 0.85, got.utilization


def test_engine_constructor_error():
    with pytest.raises(TypeError, match=r"^cfg must be a hw\.config\.Config, not 4$"):
        Engine(4)
