# amaranth: UnusedElaboratable=no
"""The engine on the Amaranth simulator: GEMMs of awkward sizes for both formats, both
dataflows and every post-processing mode, bit-exact against the golden model, with random
idle cycles on cmd and data-in and backpressure on data-out; reset in the middle of a GEMM;
illegal commands and addresses. The largest awkward GEMM (100x7x64, hundreds of tiles) with
FP32 accumulators runs the same engine's Verilog in the compiled Verilator harness
(``backend="verilator"``, the same random stalls, the same checks of bits and of the run),
where the Amaranth simulator took 35 to 55 s a case."""

import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from amaranth import Signal
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

from hw import isa
from hw.config import Config
from hw.engine import Engine
from hw.formats import FP32, INT8
from sim.backends.verilator_engine import missing_verilator
from sim.golden import ref_gemm, ref_postproc, same_bits, to_bits
from sim.host import ref_program, run_gemm, run_program
from sim.operands import large_int8_matrix, random_matrix
from sim.payload import pack_lanes, unpack_lanes
from sim.program import gemm_program

FORMATS = [("int8", "int32"), ("int8", "fp32"), ("bf16", "fp32")]
SMALL = {"spad_kib": 2, "acc_kib": 1}


def _check(cfg, m, k, n, *, mode="raw", relu=False, scale=0.01, seed=0, mix="special",
           p_valid=0.7, p_ready=0.6, backend="amaranth"):
    rng = np.random.default_rng(seed)
    a = random_matrix(cfg, (m, k), rng, mix)
    b = random_matrix(cfg, (k, n), rng, mix)
    got = run_gemm(a, b, cfg, backend=backend, mode=mode, relu=relu, scale=scale,
                   seed=seed, p_valid=p_valid, p_ready=p_ready)
    want = run_gemm(a, b, cfg, backend="golden", mode=mode, relu=relu, scale=scale)
    bad = ~same_bits(got.c, want.c, got.program.out_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"
    return got


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt", FORMATS)
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (17, 33, 5), (100, 7, 64)])
def test_gemm_awkward_sizes(m, k, n, in_fmt, acc_fmt, dataflow, require_tool):
    # The Amaranth simulator takes minutes over the FP32 accumulators of the largest GEMM; the
    # harness builds the engine in less (INT32 accumulators simulate faster than they build).
    backend = "verilator" if m * n > 1000 and acc_fmt == "fp32" else "amaranth"
    if backend == "verilator":
        require_tool(missing_verilator())
    cfg = Config(rows=4, cols=3, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow, **SMALL)
    _check(cfg, m, k, n, seed=m + k + n, backend=backend)


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


@pytest.mark.parametrize("in_fmt, acc_fmt, mode", [("int8", "int32", "raw"),
                                                ("bf16", "fp32", "bf16")])
def test_post_delay_ram_same_bits_and_cycles(in_fmt, acc_fmt, mode):
    # Config.post_delay: the RAW (and BF16) delay lines in RAMs give the same C in the same
    # cycles as the registers (the same random stalls), at the iCEBreaker's depths.
    cfgs = [Config(rows=2, cols=1, in_fmt=in_fmt, acc_fmt=acc_fmt, post_delay=where,
                   pipeline={"post_convert": 2, "post_mul": 4, "post_round": 1}, **SMALL)
            for where in ("ff", "ram")]
    ff, ram = (_check(cfg, 9, 5, 3, mode=mode, relu=True, seed=3, mix="normal")
               for cfg in cfgs)
    assert ff.cycles == ram.cycles


@pytest.mark.parametrize("acc_fmt", ["int32", "fp32"])
def test_dsp_blocks_same_bits_and_cycles(acc_fmt):
    # Config.dsp="ecp5": the PEs' products and post-processing's FP32 multiplier (its operand
    # and product cuts) on the registered DSP blocks' model give the same C in the same cycles
    # as the multipliers left to synthesis (the same random stalls).
    cfgs = [Config(rows=2, cols=2, acc_fmt=acc_fmt, dsp=dsp, pipeline={"mul": 2}, **SMALL)
            for dsp in ("infer", "ecp5")]
    infer, ecp5 = (_check(cfg, 9, 6, 5, mode="int8", relu=True, seed=4, mix="normal")
                   for cfg in cfgs)
    assert infer.cycles == ecp5.cycles


def test_drain_bus_and_split_adder_same_bits_fewer_cycles():
    # The ASIC flow's defaults (Config.drain "bus", Config.int_adder "split"): the same C as
    # the drain chain and full adder under the same random stalls; tiles of K < 2·rows - 1
    # steps wait less for the drain, so the GEMM takes fewer cycles.
    cfgs = [Config(rows=3, cols=2, drain=drain, int_adder=adder, **SMALL)
            for drain, adder in (("chain", "full"), ("bus", "split"))]
    chain, bus = (_check(cfg, 13, 3, 5, mode="int8", relu=True, seed=6, mix="normal")
                  for cfg in cfgs)
    assert bus.cycles < chain.cycles


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt", [("int8", "int32"), ("bf16", "fp32")])
def test_per_channel_scales(in_fmt, acc_fmt, dataflow):
    # One requantization scale per column of C (per output channel): three column blocks of
    # a 4-column engine, each lane's scale set by SCALE before its block's STOREs; the scales
    # span tiny to saturating, one negative.
    cfg = Config(rows=3, cols=4, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow, **SMALL)
    rng = np.random.default_rng(99)
    scale = (rng.uniform(0.5, 2.0, 11) * 10.0 ** rng.integers(-4, 1, 11)).astype(np.float32)
    scale[3] = -scale[3]
    relu = dataflow == "ws"
    got = _check(cfg, 7, 10, 11, mode="int8", relu=relu, scale=scale, seed=12, mix="normal")
    assert isa.Opcode.SCALE in [isa.decode(w)["opcode"] for w in got.program.cmds]
    # The scales matter: with column 0's scale for every column, C would differ.
    rng = np.random.default_rng(12)
    a, b = random_matrix(cfg, (7, 10), rng, "normal"), random_matrix(cfg, (10, 11), rng, "normal")
    assert (got.c != run_gemm(a, b, cfg, mode="int8", relu=relu, scale=scale[0]).c).any()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt", ["int8", "bf16"])
def test_k_split_over_several_passes(in_fmt, dataflow):
    # A 1 KiB scratchpad holds a few dozen steps: K = 150 takes several accumulating passes.
    cfg = Config(rows=4, cols=4, in_fmt=in_fmt, dataflow=dataflow, spad_kib=1, acc_kib=1)
    _check_k_split(cfg, 6, 5, seed=1, data_seed=9)


def _check_k_split(cfg, m, n, *, seed, data_seed):
    """An ``m × 150 × n`` GEMM in several accumulating passes, under random stalls, against
    the golden model's program."""
    rng = np.random.default_rng(data_seed)
    a, b = random_matrix(cfg, (m, 150), rng), random_matrix(cfg, (150, n), rng)
    prog = gemm_program(cfg, a, b)
    assert prog.k_pass < 150
    got = run_program(prog, a, b, "amaranth", seed=seed, p_valid=0.8, p_ready=0.7)
    assert same_bits(got.c, ref_program(prog, a, b), cfg.acc_format).all()


@pytest.mark.parametrize("in_fmt, acc_fmt, mode, lanes, dataflow", [
    ("int8", "int32", "int8", 1, "os"), ("int8", "int32", "raw", 2, "ws"),
    ("bf16", "fp32", "bf16", 1, "ws"), ("bf16", "fp32", "int8", 2, "os"),
])
def test_shared_post_lanes_same_bits_a_row_every_passes(in_fmt, acc_fmt, mode, lanes,
                                                        dataflow):
    # Config.post_lanes: a 4-column engine's rows through 1 or 2 post-processing lanes in 4 or
    # 2 passes, each column with its own scale, under random stalls: the same C as the golden
    # model. A STORE row takes that many cycles, so the GEMM (77 rows of C) takes more cycles
    # than with a lane per column (without stalls).
    rng = np.random.default_rng(5)
    scale = (rng.uniform(0.5, 2.0, 9) * 10.0 ** rng.integers(-3, 1, 9)).astype(np.float32)
    cfgs = [Config(rows=3, cols=4, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow,
                   post_lanes=n, **SMALL) for n in (4, lanes)]
    assert cfgs[1].post_passes == 4 // lanes
    for p in (0.7, 1):
        wide, shared = (_check(cfg, 77, 4, 9, mode=mode, relu=True, scale=scale, seed=8,
                               mix="normal", p_valid=p, p_ready=p) for cfg in cfgs)
    assert shared.cycles > wide.cycles


@pytest.mark.parametrize("in_fmt, acc_lanes, dataflow", [
    ("int8", 1, "os"), ("bf16", 1, "os"), ("bf16", 2, "ws"), ("int8", 2, "ws"),
])
def test_shared_accumulate_adders_same_bits(in_fmt, acc_lanes, dataflow):
    # Config.acc_lanes: the accumulator memory adds a row's columns through 1 or 2 adders in
    # 4 or 2 passes. K = 150 in a 1 KiB scratchpad is several accumulating passes; the WS
    # array's rows come a cycle apart, so it waits for the memory. The same C as the golden
    # model under random stalls, with post-processing shared too.
    cfg = Config(rows=4, cols=4, in_fmt=in_fmt, dataflow=dataflow, spad_kib=1, acc_kib=1,
                 acc_lanes=acc_lanes, post_lanes=2)
    assert cfg.acc_passes == 4 // acc_lanes
    _check_k_split(cfg, 9, 7, seed=2, data_seed=10)


#: K for INT8→FP32 sums past 2^24 (:func:`~sim.operands.large_int8_matrix`): below that every
#: sum is exact and no summation order shows.
BIG_K = 1800


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_int8_fp32_sums_past_2_to_the_24(dataflow):
    # K in passes added in the accumulator memory (OS: double-buffered chunks of 85 steps,
    # each summed as interleaved partials; WS: passes of `rows`), the sums past 2^24 for the
    # last third of them or so.
    cfg = Config(rows=3, cols=2, in_fmt="int8", acc_fmt="fp32", dataflow=dataflow,
                 spad_kib=1, acc_kib=1)
    rng = np.random.default_rng(24)
    a, b = large_int8_matrix((3, BIG_K), rng), large_int8_matrix((BIG_K, 2), rng)
    assert (a.astype(np.int64) @ b.astype(np.int64) > 2**24).all()
    prog = gemm_program(cfg, a, b)
    assert prog.k_pass < BIG_K
    want = ref_program(prog, a, b)
    # The order matters for these operands: K in one sequential pass, or the passes backwards,
    # gives other bits.
    for other in (ref_gemm(a, b, cfg),
                  ref_gemm(a[:, ::-1], b[::-1, :], cfg, k_pass=prog.k_pass,
                           interleave=prog.interleave)):
        assert not same_bits(other, want, FP32).all()
    got = run_program(prog, a, b, "amaranth", seed=24, p_valid=0.9, p_ready=0.8)
    bad = ~same_bits(got.c, want, FP32)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("dispatch", ["direct", "registered"])
@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_double_buffered_operands(dataflow, dispatch):
    # Operand blocks that do not all fit alternate between two regions of each buffer, so
    # every LOAD, COMPUTE and STORE waits on the hazard checks (Config.dispatch: made in the
    # cycle a command goes, or a cycle earlier and registered).
    cfg = Config(rows=4, cols=4, dataflow=dataflow, spad_kib=1, acc_kib=1, dispatch=dispatch)
    rng = np.random.default_rng(4)
    a, b = random_matrix(cfg, (40, 60), rng), random_matrix(cfg, (60, 30), rng)
    prog = gemm_program(cfg, a, b)
    got = run_program(prog, a, b, "amaranth", seed=2, p_valid=0.6, p_ready=0.5)
    assert same_bits(got.c, ref_program(prog, a, b), cfg.acc_format).all()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_registered_dispatch_same_bits(dataflow):
    # Config.dispatch="registered" (the FPGA flows' default): the same C as "direct" under the
    # same random stalls, in at least as many cycles (a ranged command goes a cycle later).
    cfgs = [Config(rows=3, cols=2, dataflow=dataflow, dispatch=d, **SMALL)
            for d in ("direct", "registered")]
    direct, registered = (_check(cfg, 11, 9, 7, mode="int8", relu=True, seed=8, mix="normal")
                          for cfg in cfgs)
    assert registered.cycles >= direct.cycles


@pytest.mark.parametrize("dispatch, spacing", [("direct", 1), ("registered", 2)])
def test_registered_dispatch_goes_from_the_second_cycle(dispatch, spacing):
    # Three commands for three idle units, none touching another's lines or rows: with the
    # checks made as a command goes, each goes the cycle after it is taken and the next is
    # taken then; registered, each goes from the second cycle it is held.
    cfg = Config(rows=2, cols=2, dataflow="os", dispatch=dispatch, **SMALL)
    cmds = [isa.encode_load("a", 0, 1), isa.encode_compute(4, 4, 0, 1),
            isa.encode_store(4, 1), isa.encode_fence()]
    out = {}

    async def bench(ctx, drv, dut):
        out["t"] = await drv.trace(ctx, cmds, [0x1234], rows=1, ready=lambda *_: True)

    _simulate(cfg, bench)
    at = out["t"].cmd_at
    assert [later - sooner for sooner, later in zip(at[:-1], at[1:], strict=True)] == \
        [spacing] * 3, at


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_16x16_engine_smoke(dataflow):
    cfg = Config(rows=16, cols=16, in_fmt="bf16", dataflow=dataflow, spad_kib=16, acc_kib=16)
    _check(cfg, 20, 40, 18, mode="bf16", relu=True, seed=16, mix="normal",
           p_valid=0.9, p_ready=0.9)


@dataclass
class _Trace:
    """What :meth:`_Driver.trace` saw, cycles counted from 0.

    Members
    -------
    cmd_at, din_at, row_at : list of int
        The cycle each command, data-in beat and data-out row was taken on.
    rows, lasts : list of int
        Each data-out row's ``data`` and ``last``.
    cmd_ready, idle : list of int
        ``cmd.ready`` and ``status.idle`` on every cycle.
    """
    cmd_at: list = field(default_factory=list)
    din_at: list = field(default_factory=list)
    row_at: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    lasts: list = field(default_factory=list)
    cmd_ready: list = field(default_factory=list)
    idle: list = field(default_factory=list)

    def idle_from(self, cycle):
        """``status.idle`` held on every cycle from ``cycle`` to the end of the trace."""
        return cycle < len(self.idle) and all(self.idle[cycle:])


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

    async def trace(self, ctx, cmds, din, *, rows, ready, settle=10):
        """Offer ``cmds`` and ``din`` back to back and take data-out on the cycles where
        ``ready(cycle, cmd_at)`` is true (``cmd_at``: the cycles the commands so far were taken
        on), until every command is taken, ``rows`` rows came and ``settle`` more cycles
        passed. Returns a :class:`_Trace` of every cycle."""
        dut = self.dut
        t = _Trace()
        cmds, din = list(cmds), list(din)
        cycle = quiet = 0
        while quiet < settle:
            for port, queue in ((dut.cmd, cmds), (dut.din, din)):
                if queue:
                    ctx.set(port.payload.as_value(), queue[0])
                ctx.set(port.valid, bool(queue))
            take = bool(ready(cycle, t.cmd_at))
            ctx.set(dut.dout.ready, take)
            _, _, c_rdy, d_rdy, o_vld, o_data, o_last, idle = await ctx.tick().sample(
                dut.cmd.ready, dut.din.ready, dut.dout.valid, dut.dout.payload.data,
                dut.dout.payload.last, dut.status.idle)
            t.cmd_ready.append(c_rdy)
            t.idle.append(idle)
            if cmds and c_rdy:
                cmds.pop(0)
                t.cmd_at.append(cycle)
            if din and d_rdy:
                din.pop(0)
                t.din_at.append(cycle)
            if o_vld and take:
                t.row_at.append(cycle)
                t.rows.append(o_data)
                t.lasts.append(o_last)
            quiet = quiet + 1 if not cmds and len(t.rows) >= rows else 0
            cycle += 1
            assert cycle < 100_000, "engine hung"
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.din.valid, 0)
        ctx.set(dut.dout.ready, 0)
        return t

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
        (isa.encode_scale(cfg.cols, 0x3F800000), E.BAD_ADDRESS),         # no such lane
        (isa.encode_config(in_fmt=1), E.BAD_MODE),                      # one format: 0 only
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


@pytest.mark.parametrize("dispatch", ["direct", "registered"])
@pytest.mark.parametrize("a_addr, waits", [(0, False), ("last", True)])
def test_compute_waits_for_a_dropped_load_past_the_buffer(a_addr, waits, dispatch):
    # An illegal LOAD into A from its last line, running past the end by more than the
    # buffer again (its end wraps in A's address width), is dropped: its beats (none offered)
    # are still due, and a COMPUTE reading that last line waits for them as for a legal LOAD's
    # (the loader clamps the range it reports to the buffer); one reading line 0 does not.
    cfg = Config(rows=1, cols=1, dataflow="os", dispatch=dispatch, **SMALL)
    last = cfg.spad_a_lines - 1
    a_addr = last if a_addr == "last" else a_addr
    cmds = [isa.encode_load("a", last, cfg.spad_a_lines + 2), isa.encode_compute(a_addr, 0, 0, 1),
            isa.encode_nop()]
    taken = []

    async def bench(ctx, drv, dut):
        queue = list(cmds)
        for _ in range(40):
            ctx.set(dut.cmd.valid, bool(queue))
            if queue:
                ctx.set(dut.cmd.payload.as_value(), queue[0])
            _, _, ready = await ctx.tick().sample(dut.cmd.ready)
            if queue and ready:
                taken.append(queue.pop(0))

    _simulate(cfg, bench)
    assert len(taken) == (2 if waits else 3)


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


#: Cycles data-out is held back (``ready`` low) once the FENCE is taken.
FENCE_HOLD = 40
#: Cycles after the command behind a FENCE is taken by which the engine must be idle: the
#: controller holds that command (a NOP) a cycle and retires it, and nothing else may run.
IDLE_AFTER = 3


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_fence_holds_the_next_command_until_data_out_drains(dataflow):
    # A GEMM, a FENCE, a NOP; data-out randomly stalled, then held back for FENCE_HOLD cycles
    # once the FENCE is in. The NOP must not be taken until the last row is.
    cfg = Config(rows=2, cols=2, dataflow=dataflow, **SMALL)
    rng = np.random.default_rng(8)
    a, b = random_matrix(cfg, (6, 5), rng), random_matrix(cfg, (5, 3), rng)
    prog = gemm_program(cfg, a, b)
    fence = len(prog.cmds)
    stalls = random.Random(1)
    out = {}

    def ready(cycle, cmd_at):
        if len(cmd_at) > fence and cycle <= cmd_at[fence] + FENCE_HOLD:
            return False
        return stalls.random() < 0.5

    async def bench(ctx, drv, dut):
        out["t"] = await drv.trace(ctx, prog.cmds + [isa.encode_fence(), isa.encode_nop()],
                                   prog.din, rows=prog.dout_rows, ready=ready)

    _simulate(cfg, bench)
    t = out["t"]
    fence_at, next_at, last_row_at = t.cmd_at[fence], t.cmd_at[fence + 1], t.row_at[-1]
    assert last_row_at > fence_at + FENCE_HOLD, "no row was left to hold back at the FENCE"
    # Cycle by cycle: from the FENCE's arrival until the last row is taken, cmd.ready is low.
    held = t.cmd_ready[fence_at + 1:last_row_at + 1]
    assert not any(held), f"cmd.ready high {held.index(1) + 1} cycles after the FENCE came"
    assert next_at > last_row_at
    assert t.idle_from(next_at + IDLE_AFTER), "something still ran when the NOP was taken"
    ends = np.cumsum([len(s.rows) for s in prog.stores]) - 1
    assert [n for n, last in enumerate(t.lasts) if last] == ends.tolist()
    assert same_bits(prog.assemble(t.rows), ref_program(prog, a, b), cfg.acc_format).all()


def test_fence_waits_for_a_compute_with_nothing_to_store():
    # Tiler-free: LOAD, LOAD, COMPUTE, FENCE, NOP. No data-out to wait for, so only the FENCE
    # keeps the NOP out until the COMPUTE has written its rows; then a STORE reads them.
    cfg = Config(rows=2, cols=2, dataflow="os", **SMALL)
    k = 40
    rng = np.random.default_rng(12)
    a, b = random_matrix(cfg, (2, k), rng), random_matrix(cfg, (k, 2), rng)
    fmt = cfg.in_format
    din = ([pack_lanes(a[:, kk], fmt, 2) for kk in range(k)]
           + [pack_lanes(b[kk, :], fmt, 2) for kk in range(k)])
    cmds = [isa.encode_load("a", 0, k), isa.encode_load("b", 0, k),
            isa.encode_compute(0, 0, 0, k), isa.encode_fence(), isa.encode_nop()]
    out = {}

    async def bench(ctx, drv, dut):
        out["t"] = await drv.trace(ctx, cmds, din, rows=0, ready=lambda *_: True)
        out["rows"] = await drv.run(ctx, [isa.encode_store(0, 2)], [], rows=2)

    _simulate(cfg, bench)
    t = out["t"]
    # The COMPUTE cannot start before its last operand line is in, and feeds K steps.
    next_at = t.cmd_at[4]
    assert next_at >= t.din_at[-1] + k, "the NOP went in before the COMPUTE could have finished"
    assert t.idle_from(next_at + IDLE_AFTER), "the COMPUTE still ran when the NOP was taken"
    got = np.array([unpack_lanes(r, cfg.acc_format, 2) for r in out["rows"]])
    assert same_bits(got, ref_gemm(a, b, cfg), cfg.acc_format).all()


def test_config_and_scale_apply_to_the_store_right_behind():
    # CONFIG and SCALE write post-processing's state the cycle after their dispatch (the
    # controller's staged write): a STORE dispatched the next cycle must already read it.
    cfg = Config(rows=2, cols=2, dataflow="os", **SMALL)
    k = 6
    rng = np.random.default_rng(21)
    a, b = random_matrix(cfg, (2, k), rng, "normal"), random_matrix(cfg, (k, 2), rng, "normal")
    fmt = cfg.in_format
    din = ([pack_lanes(a[:, kk], fmt, 2) for kk in range(k)]
           + [pack_lanes(b[kk, :], fmt, 2) for kk in range(k)])
    s1, s2 = np.float32(0.02), np.float32(-0.05)
    bits = [int(b) for b in to_bits(np.array([s1, s2]), FP32)]
    cmds = [isa.encode_load("a", 0, k), isa.encode_load("b", 0, k),
            isa.encode_compute(0, 0, 0, k), isa.encode_fence()]
    stores = [(isa.encode_config(relu=True), "raw", True, 1.0),
              (isa.encode_config(out_mode=isa.OutMode.INT8, scale_bits=bits[0]), "int8",
               False, s1),
              (isa.encode_scale(1, bits[1]), "int8", False, np.array([s1, s2])),
              (isa.encode_config(), "raw", False, 1.0)]
    out = {}

    async def bench(ctx, drv, dut):
        await drv.trace(ctx, cmds, din, rows=0, ready=lambda *_: True)
        out["t"] = await drv.trace(ctx, [w for cmd, *_ in stores
                                         for w in (cmd, isa.encode_store(0, 2))],
                                   [], rows=2 * len(stores), ready=lambda *_: True)

    _simulate(cfg, bench)
    t = out["t"]
    c = ref_gemm(a, b, cfg)
    # Each STORE is taken as the command before it is dispatched, and nothing holds it up: its
    # first row comes the same number of cycles after it as every other STORE's.
    assert len({t.row_at[2 * n] - t.cmd_at[2 * n + 1] for n in range(len(stores))}) == 1
    for n, (_, mode, relu, scale) in enumerate(stores):
        want = ref_postproc(c, cfg, relu=relu, mode=mode, scale=scale)
        out_fmt = INT8 if mode == "int8" else cfg.acc_format
        got = np.array([unpack_lanes(r, out_fmt, 2) for r in t.rows[2 * n:2 * n + 2]])
        assert same_bits(got, want, out_fmt).all(), (n, got, want)


def test_loads_compute_and_stores_overlap():
    # Resident operands, INT8, K long enough: the array is busy nearly every cycle.
    cfg = Config(rows=4, cols=4, dataflow="os", spad_kib=16, acc_kib=1)
    got = _check(cfg, 32, 128, 32, seed=1, mix="normal", p_valid=1.0, p_ready=1.0)
    assert got.utilization > 0.85, got.utilization


def test_engine_constructor_error():
    with pytest.raises(TypeError, match=r"^cfg must be a hw\.config\.Config, not 4$"):
        Engine(4)
