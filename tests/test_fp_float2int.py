# amaranth: UnusedElaboratable=no
"""FloatToInt against the golden model (numpy rint, clip, NaN to 0), bit for bit."""

import re

import numpy as np
import pytest
from amaranth.back import verilog

from hw.formats import BF16, FP32, INT8
from hw.fp.float2int import FloatToInt
from sim.golden import from_bits, ref_float_to_int, to_bits
from sim.pipeline import rtl_impulse, rtl_pipeline

# Per integer width (8, 32): 50 directed values, 10,000 uniformly random bit patterns and
# 10,000 values with exponents around the integer's range (half of them exact half-integers);
# and every BF16 pattern (65,536) to int8.
N_RANDOM = 10_000

#: FP32 values at every boundary of the conversion; both widths use them all.
DIRECTED = [
    0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 0.50000006, -0.50000006,
    0.99999994, 1.0, -1.0, 3.5, 126.5, 127.5, 127.49, 127.0, 128.0, -127.5, -128.5, -128.49,
    -128.0, -129.0, 255.5, 8388607.5, 8388608.0, 16777215.0,
    2147483520.0, 2147483648.0, -2147483648.0, -2147483904.0, 1e10, -1e10,
    3.4028235e38, -3.4028235e38, 1e-30, -1e-30, 1e-40, -1e-40, 1.4e-45,
    np.inf, -np.inf, np.nan,
]
#: NaNs of both signs and several payloads, as bit patterns.
NAN_BITS = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF]


def check(bits, int_width, fmt=FP32, latency=FloatToInt.LEAST_LATENCY):
    bits = np.asarray(bits, dtype=np.uint64)
    got = rtl_pipeline(FloatToInt(fmt, int_width, latency=latency), {"a": bits}, len(bits),
                       dtype=np.int64)
    want = ref_float_to_int(from_bits(bits, fmt), int_width)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(hex(bits[i]), int(got[i]), int(want[i])) for i in bad[:8]]


def random_bits(int_width, seed):
    rng = np.random.default_rng(seed)
    uniform = rng.integers(0, 1 << 32, N_RANDOM, dtype=np.uint64)
    # Exponents from 2**-3 to 2**(w + 1): every shift, the rounding and the saturation edge.
    exp = rng.integers(FP32.bias - 3, FP32.bias + int_width + 2, N_RANDOM, dtype=np.uint64)
    frac = rng.integers(0, 1 << FP32.frac_width, N_RANDOM, dtype=np.uint64)
    sign = rng.integers(0, 2, N_RANDOM, dtype=np.uint64)
    near = sign << 31 | exp << FP32.frac_width | frac
    # Exact half-integers (ties) and their neighbours one ulp away.
    halves = (rng.integers(-(1 << 20), 1 << 20, N_RANDOM // 2) + 0.5).astype(np.float32)
    halves = to_bits(halves, FP32).astype(np.uint64)
    halves += rng.integers(-1, 2, halves.size).astype(np.uint64)   # wraps for -1: fine
    halves &= 0xFFFFFFFF
    near[:halves.size] = halves
    return np.concatenate([uniform, near])


def test_latency():
    dut = FloatToInt(FP32, 8)
    seen = rtl_impulse(dut, {"a": 0xC0400000}, dut.latency + 2)
    assert dut.latency == FloatToInt.LEAST_LATENCY == 1
    assert seen == [-3 if k == dut.latency else 0 for k in range(dut.latency + 2)]


@pytest.mark.parametrize("int_width", [8, 32])
def test_directed(int_width):
    bits = to_bits(np.array(DIRECTED, dtype=np.float32), FP32).astype(np.uint64)
    check(np.concatenate([bits, NAN_BITS]), int_width)


def test_directed_values():
    # The rules spelled out, independent of the golden model.
    bits = to_bits(np.array(DIRECTED, dtype=np.float32), FP32)
    got = dict(zip(DIRECTED, rtl_pipeline(FloatToInt(FP32, 8), {"a": bits}, len(bits),
                                          dtype=np.int64),
                   strict=True))
    assert [got[v] for v in (0.5, 1.5, 2.5, -0.5, -1.5, -2.5)] == [0, 2, 2, 0, -2, -2]
    assert [got[v] for v in (126.5, 127.5, 127.49, -128.5, -128.49)] == [126, 127, 127, -128,
                                                                         -128]
    assert [got[v] for v in (3.4028235e38, -3.4028235e38, np.inf, -np.inf)] == [127, -128,
                                                                               127, -128]
    assert [got[v] for v in (1e-40, -1e-40, 1e-30, -0.0)] == [0, 0, 0, 0]
    assert got[DIRECTED[-1]] == 0   # NaN


@pytest.mark.parametrize("int_width", [8, 32])
def test_random(int_width):
    check(random_bits(int_width, seed=int_width), int_width)


@pytest.mark.parametrize("int_width", [8, 32])
def test_amount_cut(int_width):
    # The "amount" cut registers the shift amount, the significand and the flags between the
    # exponent's compares and the shift: every shift, both bounds, NaNs, at the least depth
    # that has it.
    latency = FloatToInt.LEAST_LATENCY + FloatToInt.CUTS.index("amount") + 1
    assert "amount" in FloatToInt(FP32, int_width, latency=latency).cuts
    directed = to_bits(np.array(DIRECTED, dtype=np.float32), FP32).astype(np.uint64)
    bits = np.concatenate([directed, NAN_BITS, random_bits(int_width, seed=int_width + 7)[::4]])
    check(bits, int_width, latency=latency)


def test_bf16_exhaustive():
    # Every BF16 pattern, subnormals and NaN payloads included, to int8.
    check(np.arange(1 << 16), INT8.width, fmt=BF16)


def test_constructor_errors():
    with pytest.raises(TypeError, match=re.escape("fmt must be a FloatFormat, not IntFormat(")):
        FloatToInt(INT8, 8)
    with pytest.raises(ValueError, match="int_width must be an integer >= 2, not 1"):
        FloatToInt(FP32, 1)
    with pytest.raises(TypeError, match="int_width must be an integer, not '8'"):
        FloatToInt(FP32, "8")


def test_verilog():
    text = verilog.convert(FloatToInt(FP32, 8), name="fp32_to_int8", emit_src=False)
    assert "module fp32_to_int8" in text
