# amaranth: UnusedElaboratable=no
"""Pipeline depth as a parameter: every unit at deeper latencies is still bit-exact and
exactly ``latency`` cycles deep; a configuration's depths reach its timing facts, its
post-processing and its manifest, and arrays and engines built with them stay bit-exact
and cycle-exact."""

import json

import numpy as np
import pytest

from hw.array import SystolicArray
from hw.config import POST_DEFAULTS, Config, ConfigError, Pipeline
from hw.engine.postproc import PostProc, postproc_latency
from hw.formats import BF16, FP32
from hw.fp.add import FPAdd
from hw.fp.float2int import FloatToInt
from hw.fp.int2float import IntToFloat
from hw.fp.mul import FPMul
from hw.fp.narrow import FloatNarrow
from hw.gen import main, module_name, option_name
from hw.intarith import IntAdd, IntMul
from hw.timing import ArrayTiming
from sim.array_program import array_k_pass, array_program, due_cycles
from sim.backends.amaranth_array import rtl_array_gemm, rtl_array_schedule
from sim.golden import (
    from_bits,
    ref_add,
    ref_float_to_int,
    ref_gemm,
    ref_mul,
    ref_narrow,
    same_bits,
    to_bits,
)
from sim.host import ref_program, run_gemm
from sim.operands import random_matrix
from sim.pipeline import rtl_impulse, rtl_pipeline


def _fp32_bits(rng, n):
    """FP32 patterns: uniform bits and moderate values, where rounding matters."""
    uniform = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    moderate = to_bits(rng.standard_normal(n).astype(np.float32) * 1e3, FP32)
    return np.where(rng.random(n) < 0.5, uniform, moderate).astype(np.uint64)


def _depths(unit):
    """Every depth of ``unit`` (a class) that places its registers differently: each of its
    cuts in turn, then one at the output."""
    return range(unit.LEAST_LATENCY + 1, unit.LEAST_LATENCY + len(unit.CUTS) + 2)


@pytest.mark.parametrize("latency", _depths(FPMul))
def test_fp_mul_deeper(latency):
    # Each depth registers one more of FPMul.CUTS; the last also one at the output.
    rng = np.random.default_rng(latency)
    a, b = _fp32_bits(rng, 3000), _fp32_bits(rng, 3000)
    dut = FPMul(FP32, FP32, latency=latency)
    assert dut.latency == latency and dut.extra_latency == latency - 2
    assert dut.cuts == FPMul.CUTS[:latency - 2]
    got = rtl_pipeline(dut, {"a": a, "b": b})
    want = ref_mul(from_bits(a, FP32), from_bits(b, FP32), FP32)
    assert same_bits(from_bits(got, FP32), want, FP32).all()
    seen = rtl_impulse(FPMul(BF16, FP32, latency=latency), {"a": 0x4000, "b": 0x4040},
                       latency + 2)
    assert seen == [0x40C00000 if k == latency else 0 for k in range(latency + 2)]


@pytest.mark.parametrize("extra", [0, 1])
def test_fp_mul_ftz_through_the_rounded_cut(extra):
    # The "rounded" cut also registers each carry's flush flag, which only ftz uses: the
    # least depth that registers it, and one more (at the output).
    latency = FPMul.LEAST_LATENCY + FPMul.CUTS.index("rounded") + 1 + extra
    rng = np.random.default_rng(latency + 100)
    a, b = _fp32_bits(rng, 3000), _fp32_bits(rng, 3000)
    dut = FPMul(FP32, FP32, ftz=True, latency=latency)
    assert "rounded" in dut.cuts
    got = rtl_pipeline(dut, {"a": a, "b": b})
    want = ref_mul(from_bits(a, FP32), from_bits(b, FP32), FP32, ftz=True)
    assert same_bits(from_bits(got, FP32), want, FP32).all()


@pytest.mark.parametrize("latency", _depths(IntToFloat))
def test_int_to_float_deeper(latency):
    rng = np.random.default_rng(latency)
    a = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 3000),
                        rng.integers(-70000, 70000, 1000), [0, 1, -1, -(1 << 31),
                                                            (1 << 31) - 1, (1 << 24) + 1]])
    dut = IntToFloat(32, FP32, latency=latency)
    got = rtl_pipeline(dut, {"a": a})
    assert same_bits(from_bits(got, FP32), a.astype(np.float32), FP32).all()


@pytest.mark.parametrize("latency", _depths(FloatToInt))
def test_float_to_int_deeper(latency):
    rng = np.random.default_rng(latency)
    halves = to_bits((rng.integers(-300, 300, 1000) / 2).astype(np.float32), FP32)
    a = np.concatenate([_fp32_bits(rng, 2000), halves.astype(np.uint64)])
    dut = FloatToInt(FP32, 8, latency=latency)
    got = rtl_pipeline(dut, {"a": a}, dtype=np.int64)
    assert (got == ref_float_to_int(from_bits(a, FP32), 8)).all()


@pytest.mark.parametrize("ftz", [False, True])
@pytest.mark.parametrize("latency", _depths(FloatNarrow))
def test_float_narrow_deeper(latency, ftz):
    rng = np.random.default_rng(latency)
    subnormal = rng.integers(0, 1 << 24, 1000, dtype=np.uint64)
    a = np.concatenate([_fp32_bits(rng, 2000), subnormal])
    dut = FloatNarrow(FP32, BF16, ftz=ftz, latency=latency)
    got = rtl_pipeline(dut, {"a": a})
    want = ref_narrow(from_bits(a, FP32), BF16, ftz=ftz)
    assert same_bits(from_bits(got, BF16), want, BF16).all()


@pytest.mark.parametrize("latency", [4, 5, 6, 7])
def test_fp_add_deeper(latency):
    # 4 to 6 cut normalisation from rounding, ordering from alignment, the addition from the
    # leading-zero count; 7 adds a register at the output.
    rng = np.random.default_rng(latency)
    a, b = _fp32_bits(rng, 3000), _fp32_bits(rng, 3000)
    dut = FPAdd(FP32, latency=latency)
    got = rtl_pipeline(dut, {"a": a, "b": b})
    want = ref_add(from_bits(a, FP32), from_bits(b, FP32), FP32)
    assert same_bits(from_bits(got, FP32), want, FP32).all()


@pytest.mark.parametrize("make, inputs", [
    (lambda: IntMul(8, 16, latency=3), {"a": 7, "b": -3}),
    (lambda: IntAdd(32, latency=2), {"a": 5, "b": 6}),
    (lambda: IntToFloat(32, FP32, latency=2), {"a": 3}),
    (lambda: IntToFloat(32, FP32, latency=4), {"a": -3}),
    (lambda: IntToFloat(32, FP32, latency=6), {"a": 3}),
    (lambda: FloatToInt(FP32, 8, latency=3), {"a": 0x40400000}),
    (lambda: FloatToInt(FP32, 8, latency=4), {"a": 0xC0400000}),
    (lambda: FloatToInt(FP32, 8, latency=6), {"a": 0x40400000}),
    (lambda: FloatNarrow(FP32, BF16, latency=2), {"a": 0x40400000}),
    (lambda: FloatNarrow(FP32, BF16, latency=4), {"a": 0x40400000}),
])
def test_units_are_exactly_latency_deep(make, inputs):
    dut = make()
    seen = rtl_impulse(dut, inputs, dut.latency + 2)
    assert [k for k, value in enumerate(seen) if value] == [dut.latency]


@pytest.mark.parametrize("make, pattern", [
    (lambda: FPMul(FP32, FP32, latency=1), r"^latency must be an integer from 2 to 16, not 1$"),
    (lambda: FPAdd(FP32, latency=17), r"^latency must be an integer from 3 to 16, not 17$"),
    (lambda: IntAdd(32, latency=True), r"^latency must be an integer from 1 to 16, not True$"),
    (lambda: IntMul(8, 16, latency="2"), r"^latency must be an integer from 1 to 16, not '2'$"),
])
def test_latency_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_config_defaults():
    # The array's units: the least; post-processing's: every cut of each unit registered.
    assert Config(rows=2).pipeline == Pipeline(mul=1, add=1)
    assert Config(rows=2, acc_fmt="fp32").pipeline == Pipeline(mul=2, add=3)
    assert Config(rows=2, in_fmt="bf16").pipeline == Pipeline(mul=2, add=3)
    assert Config(rows=2, in_fmt="bf16").name == "os_2x2_bf16_fp32"
    for name, unit in [("post_convert", IntToFloat), ("post_mul", FPMul),
                       ("post_round", FloatToInt), ("post_narrow", FloatNarrow)]:
        assert POST_DEFAULTS[name] == unit.LEAST_LATENCY + len(unit.CUTS), name
        assert getattr(Pipeline(), name) == POST_DEFAULTS[name]
    # Names carry the depths that are not the default, shallower ones too.
    assert Config(rows=2).engine_name == "os_2x2_int8_int32_s128k_a64k"
    assert Config(rows=2, pipeline={"post_mul": 2}).engine_name == \
        "os_2x2_int8_int32_s128k_a64k_postmul2"


def test_config_depths_reach_timing_postproc_and_names():
    cfg = Config(rows=3, cols=2, in_fmt="bf16", dataflow="ws",
                 pipeline={"mul": 3, "add": 4, "post_mul": 3, "post_round": 2})
    timing = ArrayTiming(cfg)
    assert (timing.mul_latency, timing.add_latency, timing.pe_latency) == (3, 4, 7)
    assert timing.load_holdoff == 2 * 4 + 2
    assert postproc_latency(cfg) == PostProc(cfg).latency == 3 + 2
    assert cfg.name == "ws_3x2_bf16_fp32_mul3_add4"
    assert cfg.engine_name == "ws_3x2_bf16_fp32_mul3_add4_s128k_a64k_postmul3_postround2"
    assert Config(rows=3, cols=2, in_fmt="bf16", pipeline={"post_narrow": 14}).pipeline \
        .post_narrow == 14
    # The slowest path sets the latency: by default the INT8 path's 9 + 4.
    assert postproc_latency(Config(rows=2, in_fmt="bf16", pipeline={"post_narrow": 14})) == 14
    assert postproc_latency(Config(rows=2, in_fmt="bf16")) == 9 + 4
    assert postproc_latency(Config(rows=2)) == 4 + 9 + 4
    # The array's OS contexts follow the adder's depth.
    assert ArrayTiming(Config(rows=2, pipeline={"add": 2})).contexts == 2


@pytest.mark.parametrize("kwargs, pattern", [
    ({"pipeline": {"add": 2}, "acc_fmt": "fp32"},
     r"^pipeline\.add must be an integer from 3 to 16 when in_fmt is 'int8' and acc_fmt is "
     r"'fp32', not 2$"),
    ({"pipeline": {"mul": 17}}, r"^pipeline\.mul must be an integer from 1 to 16"),
    ({"pipeline": {"post_mul": 1}}, r"^pipeline\.post_mul must be an integer from 2 to 16"),
    ({"pipeline": {"depth": 1}}, r"^pipeline must be a dict with keys from mul, add, .*, "
                                 r"not 'depth'$"),
    ({"pipeline": 3}, r"^pipeline must be a Pipeline, a dict or None, not 3$"),
])
def test_config_pipeline_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Config(rows=2, **kwargs)


def test_gen_pipeline_option(tmp_path, capsys):
    assert main(["--rows", "2", "--array", "--pipeline", "add=2,mul=2",
                 "--out", str(tmp_path)]) == 0
    cfg = Config(rows=2, pipeline={"add": 2, "mul": 2})
    manifest = json.loads((tmp_path / f"{module_name(cfg, 'array')}.json").read_text())
    assert manifest["config"]["pipeline"]["add"] == 2
    assert manifest["timing"]["contexts"] == 2 and manifest["timing"]["pe_latency"] == 4
    for args, message in [
        (["--pipeline", "add=0"], "--pipeline add must be an integer from 1 to 16 when "
                                  "--in-fmt is 'int8' and --acc-fmt is 'int32', not 0"),
        (["--pipeline", "add"], "--pipeline must be NAME=N[,NAME=N...]"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(args + ["--out", str(tmp_path / "bad")])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    assert option_name("spad_kib") == "--spad-kib"
    assert option_name("pipeline.post_mul") == "--pipeline post_mul"


DEEP = [
    ("os", "int8", "int32", {"mul": 2, "add": 2}, {}),
    ("ws", "int8", "int32", {"mul": 3, "add": 2}, {}),
    ("os", "bf16", "fp32", {"mul": 3, "add": 4}, {}),
    ("ws", "bf16", "fp32", {"mul": 4, "add": 5}, {}),
    # The ECP5 block's registers (their simulation model) stall with the grid, and PEs with
    # logic multipliers mix with DSP ones.
    ("os", "int8", "int32", {"mul": 2}, {"dsp": "ecp5", "dsp_muls": 4}),
    ("ws", "int8", "int32", {"mul": 3, "add": 2}, {"dsp": "ecp5", "dsp_muls": 2}),
    ("os", "int8", "fp32", {"mul": 3}, {"dsp": "ecp5", "dsp_muls": 3}),
    ("ws", "int8", "int32", {}, {"dsp_muls": 0}),
    # The stall enable through a register tree, the beat delayed beside it.
    ("os", "int8", "int32", {"mul": 2, "enable": 3}, {"dsp": "ecp5"}),
    ("ws", "int8", "int32", {"enable": 1}, {}),
    ("os", "bf16", "fp32", {"enable": 2}, {}),
    ("ws", "bf16", "fp32", {"add": 4, "enable": 3}, {}),
]


@pytest.mark.parametrize("dataflow, in_fmt, acc_fmt, depths, dsp", DEEP)
def test_deeper_array_is_bit_exact_and_on_schedule(dataflow, in_fmt, acc_fmt, depths, dsp):
    cfg = Config(rows=3, cols=2, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow,
                 pipeline=depths, **dsp)
    rng = np.random.default_rng(len(cfg.name))
    a, b = random_matrix(cfg, (8, 7), rng), random_matrix(cfg, (7, 5), rng)
    got, _ = rtl_array_gemm(cfg, a, b, seed=2, p_valid=0.7, p_ready=0.6)
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    assert same_bits(got, want, cfg.acc_format).all()
    dut = SystolicArray(cfg)
    prog = array_program(cfg, a, b)
    accepted, results = rtl_array_schedule(dut, prog.beats, prog.result_rows)
    assert results == due_cycles(dut, prog, accepted)


@pytest.mark.parametrize("dataflow, in_fmt, acc_fmt, depths, dsp", [
    ("os", "int8", "int32", {"add": 2, "post_convert": 2, "post_mul": 3, "post_round": 2}, {}),
    ("ws", "bf16", "fp32", {"mul": 3, "add": 4, "post_mul": 4, "post_narrow": 2}, {}),
    ("os", "bf16", "fp32", {"add": 4, "post_narrow": 6}, {}),
    ("os", "int8", "int32", {"mul": 2, "enable": 2}, {"dsp": "ecp5", "dsp_muls": 3}),
    ("ws", "int8", "int32", {"enable": 3}, {}),
])
def test_deeper_engine_is_bit_exact(dataflow, in_fmt, acc_fmt, depths, dsp):
    cfg = Config(rows=3, cols=2, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow,
                 spad_kib=1, acc_kib=1, pipeline=depths, **dsp)
    rng = np.random.default_rng(7)
    a, b = random_matrix(cfg, (7, 40), rng), random_matrix(cfg, (40, 5), rng)
    for mode in ("int8", "bf16" if cfg.is_float else "raw"):
        got = run_gemm(a, b, cfg, backend="amaranth", mode=mode, relu=True, scale=0.01,
                       seed=1, p_valid=0.8, p_ready=0.7)
        want = ref_program(got.program, a, b)
        assert same_bits(got.c, want, got.program.out_format).all(), mode
    # An OS engine deals K to as many partial sums as the adder has stages.
    assert got.program.interleave == (cfg.pipeline.add if dataflow == "os" else 1)


def test_array_program_contexts_must_be_the_arrays():
    cfg = Config(rows=2, in_fmt="bf16")
    a = np.zeros((2, 2), dtype=BF16.dtype)
    assert array_program(cfg, a, a).beats == array_program(cfg, a, a, contexts=3).beats
    with pytest.raises(ValueError, match=r"^contexts must be 3 for a os_2x2_bf16_fp32 array "
                                         r"\(its ArrayTiming\.contexts\), not 1$"):
        array_program(cfg, a, a, contexts=1)
