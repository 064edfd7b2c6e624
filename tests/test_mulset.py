# amaranth: UnusedElaboratable=no
"""Engines with a set of operand formats (``hw.mulset``): the one multiplier against each
member's single-format multiplier, and set arrays against the golden model of each member's
single-format engine, bit for bit.

Small on purpose (a few seconds each): a few hundred random bit patterns plus each member's
special values per member, and 2×2 GEMMs.
"""

import numpy as np
import pytest

from hw.arith import make_multiplier
from hw.config import Config, ConfigError
from hw.engine import Engine
from hw.isa import Error, encode_config
from hw.mulset import FPMulSet, IntMulSet, common_format
from sim.array_program import array_k_pass
from sim.backends.amaranth_array import rtl_array_gemm
from sim.backends.amaranth_engine import run_engine
from sim.golden import ref_gemm, same_bits
from sim.host import ref_program, run_gemm
from sim.operands import random_matrix
from sim.pipeline import rtl_pipeline
from sim.program import ProgramError, gemm_program

FLOAT_SET = "int8,bf16,fp8e4m3,fp16,tf32"


def _patterns(fmt, rng, n):
    """``n`` random bit patterns of ``fmt`` and then its zeros, extremes and specials."""
    bits = rng.integers(0, 1 << fmt.width, n, dtype=np.uint64)
    if fmt.kind == "int":
        edges = [0, 1, fmt.max, -1, fmt.min]
        edges = [e & ((1 << fmt.width) - 1) for e in edges]
    else:
        edges = [0, fmt.sign_mask, 1, fmt.sign_mask | 1, fmt.frac_max, fmt.qnan, fmt.max_finite,
                 fmt.max_finite | fmt.sign_mask, 1 << fmt.frac_width]
        if fmt.has_inf:
            edges += [fmt.inf, fmt.inf | fmt.sign_mask]
    edges = np.array(edges, dtype=np.uint64)
    return np.concatenate([bits, np.repeat(edges, edges.size)]), \
        np.concatenate([rng.permutation(bits), np.tile(edges, edges.size)])


@pytest.mark.parametrize("subnormals", ["ieee", "ftz"])
def test_one_multiplier_serves_every_member(subnormals):
    cfg = Config(rows=1, in_fmt=FLOAT_SET, acc_fmt="fp32", subnormals=subnormals)
    rng = np.random.default_rng(len(subnormals))
    for index, fmt in enumerate(cfg.in_formats):
        a, b = _patterns(fmt, rng, 300)
        single = cfg.for_format(fmt)
        assert single.in_fmt == fmt.name and single.pipeline == cfg.pipeline
        if fmt.kind == "int":    # the single-format multiplier takes signed lanes
            sa, sb = fmt.from_bits(a).astype(np.int64), fmt.from_bits(b).astype(np.int64)
        else:
            sa, sb = a, b
        want = rtl_pipeline(make_multiplier(single), {"a": sa, "b": sb})
        got = rtl_pipeline(make_multiplier(cfg), {"a": a, "b": b, "fmt": [index] * a.size})
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{fmt.name}: {bad.size} differ, first " + ", ".join(
            f"{a[i]:x}*{b[i]:x}={got[i]:08x} want {want[i]:08x}" for i in bad[:4])


def test_integer_set_multiplier():
    cfg = Config(rows=1, in_fmt="int8,int4")
    assert cfg.acc_fmt == "int32" and cfg.lane_width == 8
    for index, fmt in enumerate(cfg.in_formats):
        values = np.arange(fmt.min, fmt.max + 1)[:: 1 if fmt.width == 4 else 7]
        a, b = np.repeat(values, values.size), np.tile(values, values.size)
        # The lane's bits above a narrow member's are not read: fill them with noise.
        noise = np.random.default_rng(index).integers(0, 256, a.size) & ~((1 << fmt.width) - 1)
        lanes = [((x & ((1 << fmt.width) - 1)) | n) for x, n in zip(a, noise, strict=True)]
        lanes = [v - 256 if v >= 128 else v for v in lanes]
        mul = make_multiplier(cfg)
        assert isinstance(mul, IntMulSet)
        got = rtl_pipeline(mul, {"a": lanes, "b": b, "fmt": [index] * a.size}, dtype=np.int64)
        assert got.tolist() == (a * b).tolist()


def test_common_format():
    fmt = common_format(Config(in_fmt=FLOAT_SET, acc_fmt="fp32").in_formats)
    assert (fmt.exp_width, fmt.sig_width) == (8, 11)
    fmt = common_format(Config(in_fmt="fp8e4m3,int8", acc_fmt="fp32").in_formats)
    assert (fmt.exp_width, fmt.sig_width) == (4, 8)


@pytest.mark.parametrize("in_fmt, dataflow, members", [
    ("int8,bf16,fp8e4m3", "os", ("bf16", "int8")),
    ("int8,bf16,fp8e4m3", "ws", ("fp8e4m3",)),
    ("int8,int4", "os", ("int4",)),
])
def test_set_array_gemm(in_fmt, dataflow, members):
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, dataflow=dataflow,
                 acc_fmt="fp32" if "bf16" in in_fmt else None)
    for n, name in enumerate(members):
        single = cfg.for_format(name)
        rng = np.random.default_rng(n)
        mix = "normal" if single.in_format.kind == "int" else "special"
        a = random_matrix(single, (3, 5), rng, mix)
        b = random_matrix(single, (5, 3), rng, mix)
        got, _ = rtl_array_gemm(cfg, a, b, seed=n, p_valid=0.7, p_ready=0.6, fmt=name)
        want = ref_gemm(a, b, single, k_pass=array_k_pass(cfg))
        bad = ~same_bits(got, want, cfg.acc_format)
        assert not bad.any(), f"{name}: {bad.sum()} of {bad.size} differ"


@pytest.mark.parametrize("kwargs, message", [
    ({"in_fmt": "int8,int8"}, r"^in_fmt must be one of .*, or several of them joined by "
                              r"commas, each at most once, not 'int8,int8'$"),
    ({"in_fmt": "int8,fp9"}, r"not 'int8,fp9'$"),
    ({"in_fmt": "int8,bf16", "acc_fmt": "int32"},
     r"^acc_fmt must be one of 'fp32' when in_fmt is 'bf16', not 'int32'$"),
    ({"in_fmt": "int4,bf16"},
     r"^acc_fmt must be one of 'fp32' when in_fmt is 'bf16', not 'int32'$"),
    ({"in_fmt": "int8,bf16", "dsp": "ecp5"},
     r"^dsp must be 'infer' when in_fmt is 'int8,bf16', not 'ecp5'$"),
])
def test_bad_sets(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Config(**kwargs)


def test_set_config():
    cfg = Config(in_fmt=("int8", "bf16", "fp8e4m3"))
    assert cfg.in_fmt == "int8,bf16,fp8e4m3" and cfg.acc_fmt == "fp32"
    assert cfg.in_format.name == "int8" and cfg.lane_width == 16 and cfg.is_set
    assert cfg.name == "os_4x4_int8_bf16_fp8e4m3_fp32"
    assert cfg.fmt_index("fp8e4m3") == 2 and cfg.fmt_index(None) == 0
    with pytest.raises(ConfigError, match=r"^fmt must be one of 'int8', 'bf16', 'fp8e4m3' "
                                          r"when in_fmt is 'int8,bf16,fp8e4m3', not 'fp16'$"):
        cfg.fmt_index("fp16")
    single = Config(in_fmt="bf16")
    assert not single.is_set and single.for_format("bf16") is single


def test_constructor_errors():
    from hw.formats import BF16, FP32, INT8
    with pytest.raises(TypeError, match="in_fmts must be a tuple of at least two"):
        FPMulSet((BF16,), FP32)
    with pytest.raises(TypeError, match="in_fmts must be a tuple of at least two"):
        IntMulSet((INT8, BF16), 32)


def _gemm_operands(cfg, name, seed, shape=(5, 7, 3)):
    single = cfg.for_format(name)
    rng = np.random.default_rng(seed)
    mix = "normal" if single.in_format.kind == "int" else "special"
    m, k, n = shape
    return single, random_matrix(single, (m, k), rng, mix), random_matrix(single, (k, n), rng, mix)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_set_golden_is_each_members_golden(dataflow):
    # The golden result of member f on a set engine is, bit for bit, that of the
    # single-format (f, acc_fmt) engine: same tiling, same summation order.
    cfg = Config(rows=2, cols=2, in_fmt="int8,bf16,fp8e4m3,fp16", acc_fmt="fp32",
                 dataflow=dataflow, spad_kib=1, acc_kib=1)
    for n, name in enumerate(cfg.in_fmts):
        single, a, b = _gemm_operands(cfg, name, n, (9, 11, 5))
        got = run_gemm(a, b, cfg, fmt=name, mode="bf16", relu=True)
        want = run_gemm(a, b, single, mode="bf16", relu=True)
        assert got.program.fmt == name
        # Only CONFIG's in_fmt differs: 0 on the single-format engine, n on the set.
        assert (got.program.cmds[0] != want.program.cmds[0]) == (n > 0)
        assert same_bits(got.c, want.c, got.program.out_format).all()


def test_set_program_checks_the_gemms_format():
    cfg = Config(rows=2, in_fmt="int8,bf16", spad_kib=1, acc_kib=1)
    a = np.full((2, 2), 0.5, dtype=np.float32)
    with pytest.raises(ProgramError, match=r"^a must hold values that int8 represents exactly"):
        run_gemm(a, a, cfg)
    assert run_gemm(a, a, cfg, fmt="bf16").c.tolist() == [[0.5, 0.5], [0.5, 0.5]]
    with pytest.raises(ProgramError, match=r"^b must hold values that fp8e4m3 represents "
                                           r"exactly, but 1000\.0"):
        run_gemm(np.ones((2, 2)), np.full((2, 2), 1000.0),
                 Config(rows=2, in_fmt="bf16,fp8e4m3", spad_kib=1, acc_kib=1), fmt="fp8e4m3")
    with pytest.raises(ProgramError, match=r"^fmt must be one of 'int8', 'bf16' when in_fmt "
                                           r"is 'int8,bf16', not 'fp16'$"):
        gemm_program(cfg, a, a, fmt="fp16")


@pytest.mark.parametrize("in_fmt, dataflow, members", [
    ("int8,bf16,fp8e4m3", "os", ("fp8e4m3", "int8")),
    ("bf16,int8", "ws", ("int8", "bf16")),
])
def test_set_engine_gemm(in_fmt, dataflow, members):
    """One simulated engine runs a GEMM in each member, one after the other, each CONFIG
    selecting its format; each bit-exact against the golden model."""
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, acc_fmt="fp32", dataflow=dataflow,
                 spad_kib=1, acc_kib=1)
    progs, ops = [], []
    for n, name in enumerate(members):
        single, a, b = _gemm_operands(cfg, name, n, (3, 5, 3))
        prog = gemm_program(cfg, a, b, mode="raw", fmt=name)
        progs.append(prog)
        ops.append((a, b))
    # Both GEMMs as one command stream (the second's CONFIG waits for the first's tiles),
    # after an illegal CONFIG naming a format the engine lacks: skipped, with BAD_MODE.
    cmds = [encode_config(in_fmt=len(cfg.in_fmts))] + [c for p in progs for c in p.cmds]
    din = [d for p in progs for d in p.din]
    rows = sum(p.dout_rows for p in progs)
    run = run_engine(Engine(cfg), cmds, din, rows, seed=3, p_valid=0.7, p_ready=0.6)
    assert run.error == Error.BAD_MODE and not run.extra
    out = run.rows
    start = 0
    for prog, (a, b) in zip(progs, ops, strict=True):
        got = prog.assemble(out[start:start + prog.dout_rows])
        start += prog.dout_rows
        want = ref_program(prog, a, b)
        bad = ~same_bits(got, want, prog.out_format)
        assert not bad.any(), f"{prog.fmt}: {bad.sum()} of {bad.size} differ"


def test_set_manifest():
    from hw.manifest import engine_manifest

    cfg = Config(rows=2, in_fmt="int8,bf16,fp8e4m3", spad_kib=1, acc_kib=1)
    manifest = engine_manifest(cfg, "engine")
    assert manifest["isa"]["in_fmts"] == {"int8": 0, "bf16": 1, "fp8e4m3": 2}
    assert manifest["isa"]["fields"]["CONFIG"]["in_fmt"] == {"offset": 16, "width": 3}
    assert manifest["streams"]["s_axis_data"]["lane_width"] == 16
    assert manifest["config"]["in_fmt"] == "int8,bf16,fp8e4m3"
    assert manifest["buffers"]["spad_a"]["line_bytes"] == 4


@pytest.mark.slow
def test_verilator_set_engine_gemm(require_tool):
    """The exported Verilog of a set engine (black-box PEs and tiles with the shared ``fmt``
    input) on the compiled Verilator harness, a GEMM in each member."""
    from sim.backends.verilator_engine import missing_verilator

    require_tool(missing_verilator())
    cfg = Config(rows=2, cols=2, in_fmt="int8,bf16,fp8e4m3", acc_fmt="fp32", spad_kib=1,
                 acc_kib=1)
    for n, name in enumerate(("fp8e4m3", "int8", "bf16")):
        _, a, b = _gemm_operands(cfg, name, n, (5, 7, 3))
        got = run_gemm(a, b, cfg, backend="verilator", fmt=name, seed=n, p_valid=0.7,
                       p_ready=0.6)
        want = run_gemm(a, b, cfg, fmt=name)
        assert same_bits(got.c, want.c, got.program.out_format).all(), name
