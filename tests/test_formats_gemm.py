# amaranth: UnusedElaboratable=no
"""GEMMs of every new input format (FP16, FP8 E4M3, FP8 E5M2, TF32, INT4) bit-exact against
the golden model: on the Amaranth-simulated array in ``ieee`` and ``ftz`` modes (both
dataflows), on the Amaranth-simulated engine with post-processing, and once each for FP8 E4M3
and INT4 on the compiled Verilator harness (``run_gemm(backend="verilator")``).

Small shapes on 2×2 arrays, with random stalls: the suite's time is tight (these tests take
well under 90 s of CPU together with ``test_formats*.py``'s others, bar the two Verilator
builds, which the build cache keeps to one per configuration).
"""

import numpy as np
import pytest

from hw.config import Config
from sim.array_program import array_k_pass
from sim.backends.amaranth_array import rtl_array_gemm
from sim.backends.verilator_engine import missing_verilator
from sim.golden import ref_gemm, same_bits
from sim.host import run_gemm
from sim.operands import random_matrix

NEW = ["fp16", "fp8e4m3", "fp8e5m2", "tf32", "int4"]
FLOATS = [f for f in NEW if f != "int4"]


def _operands(cfg, m, k, n, seed, mix):
    rng = np.random.default_rng(seed)
    return random_matrix(cfg, (m, k), rng, mix), random_matrix(cfg, (k, n), rng, mix)


@pytest.mark.parametrize("subnormals, dataflow", [("ieee", "os"), ("ftz", "ws")])
@pytest.mark.parametrize("in_fmt", NEW)
def test_array_gemm(in_fmt, subnormals, dataflow):
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, subnormals=subnormals, dataflow=dataflow)
    a, b = _operands(cfg, 3, 5, 3, seed=NEW.index(in_fmt), mix="special")
    got, _ = rtl_array_gemm(cfg, a, b, seed=1, p_valid=0.7, p_ready=0.6)
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    bad = ~same_bits(got, want, cfg.acc_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("in_fmt", FLOATS)
def test_array_gemm_subnormal_operands(in_fmt):
    """Operands around the format's own subnormals, where ``ftz`` changes the products."""
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, subnormals="ftz")
    fmt = cfg.in_format
    rng = np.random.default_rng(5)
    # Exponent fields 0 to 3, with every row holding subnormals (field 0, fraction not 0).
    bits = rng.integers(0, 4 << fmt.frac_width, (3, 4))
    bits[:, :2] = rng.integers(1, 1 << fmt.frac_width, (3, 2))
    a = fmt.from_bits(bits | (rng.integers(0, 2, (3, 4)) << (fmt.width - 1)))
    b = random_matrix(cfg, (4, 2), rng, "normal")
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    assert not same_bits(want, ref_gemm(a, b, Config(rows=2, cols=2, in_fmt=in_fmt),
                                        k_pass=array_k_pass(cfg)), cfg.acc_format).all()
    got, _ = rtl_array_gemm(cfg, a, b, seed=2, p_valid=0.8, p_ready=0.8)
    assert same_bits(got, want, cfg.acc_format).all()


def _engine_check(cfg, backend, seed, *, mode, relu, scale):
    mix = "normal" if cfg.in_format.kind == "int" else "special"
    a, b = _operands(cfg, 5, 7, 3, seed=seed, mix=mix)
    got = run_gemm(a, b, cfg, backend=backend, mode=mode, relu=relu, scale=scale, seed=seed,
                   p_valid=0.7, p_ready=0.6)
    want = run_gemm(a, b, cfg, backend="golden", mode=mode, relu=relu, scale=scale)
    bad = ~same_bits(got.c, want.c, got.program.out_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("in_fmt, dataflow, mode", [
    ("fp16", "os", "raw"), ("fp8e4m3", "ws", "int8"), ("fp8e5m2", "os", "bf16"),
    ("tf32", "ws", "raw"), ("int4", "os", "int8"),
])
def test_engine_gemm(in_fmt, dataflow, mode):
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, dataflow=dataflow, spad_kib=1, acc_kib=1)
    _engine_check(cfg, "amaranth", NEW.index(in_fmt), mode=mode, relu=True, scale=0.25)


@pytest.mark.slow
@pytest.mark.parametrize("in_fmt, dataflow", [("fp8e4m3", "os"), ("int4", "ws")])
def test_verilator_engine_gemm(in_fmt, dataflow, require_tool):
    require_tool(missing_verilator())
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, dataflow=dataflow, spad_kib=1, acc_kib=1)
    _engine_check(cfg, "verilator", 9, mode="int8", relu=False, scale=0.5)


@pytest.mark.parametrize("in_fmt, rows, cols", [("tf32", 3, 2), ("int4", 3, 3)])
def test_data_beats_are_whole_bytes(in_fmt, rows, cols):
    """AXI4-Stream's TDATA is whole bytes: a line of TF32's 19-bit lanes or an odd number of
    INT4 lanes is padded (the cocotb bench sends ``width // 8`` bytes a beat)."""
    from hw.engine.loader import din_width

    cfg = Config(rows=rows, cols=cols, in_fmt=in_fmt, spad_kib=1, acc_kib=1)
    assert din_width(cfg) % 8 == 0 and din_width(cfg) - 8 < max(rows, cols) * \
        cfg.in_format.width <= din_width(cfg)


@pytest.mark.slow
def test_icarus_engine_gemm_tf32(require_tool):
    """TF32's 57-bit lines through the cocotb bench, whose beats are whole bytes."""
    from sim.backends.cocotb_runner import missing_simulator

    require_tool(missing_simulator("icarus"))
    cfg = Config(rows=3, cols=2, in_fmt="tf32", spad_kib=1, acc_kib=1)
    _engine_check(cfg, "icarus", 4, mode="raw", relu=False, scale=1.0)
