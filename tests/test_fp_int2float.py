"""IntToFloat against numpy's integer to float conversion, bit for bit."""

import re

import numpy as np
import pytest
from amaranth.back import verilog

from hw.formats import FP32, INT32, FloatFormat
from hw.fp.int2float import IntToFloat
from sim.golden import same_bits, to_bits
from sim.pipeline import rtl_impulse, rtl_pipeline

# Every 16-bit integer (65,536, exact), and 10,000 random + 23 directed 32-bit integers (rounded).
N_INT16 = 1 << 16
N_INT32_RANDOM = 10_000

#: 32-bit integers that need rounding: ties to even both ways, carries into the next power of 2.
INT32_DIRECTED = [
    0, 1, -1, 2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3, -(2**24 + 1), -(2**24 + 3),
    2**25 + 2, 2**25 + 6, 2**25 + 1, 2**25 + 3, 2**31 - 1, -(2**31), -(2**31 - 1),
    2**31 - 64, 2**31 - 128, 2**31 - 129, 0x00FFFFFF, 0x01FFFFFF, 0x7FFFFFC0, 0x7FFFFFBF,
]


def check(values, int_width):
    values = np.asarray(values, dtype=np.int64)
    got = rtl_pipeline(IntToFloat(int_width, FP32), {"a": values}, len(values))
    # numpy converts with the current rounding mode: to nearest, ties to even.
    want = values.astype(np.float32)
    bad = np.flatnonzero(~same_bits(got.astype(np.uint32).view(np.float32), want, FP32))
    assert bad.size == 0, [(int(values[i]), hex(got[i]), hex(to_bits(want[i], FP32)))
                           for i in bad[:8]]


def test_latency():
    # -3 enters for one cycle between zeros: -3.0 shows after exactly `latency` clock edges.
    dut = IntToFloat(16, FP32)
    seen = rtl_impulse(dut, {"a": -3}, dut.latency + 2)
    assert dut.latency == 1
    assert seen == [0xC0400000 if k == dut.latency else 0 for k in range(dut.latency + 2)]


def test_int16_exhaustive():
    check(np.arange(-(1 << 15), 1 << 15), 16)


def test_int32_rounding():
    rng = np.random.default_rng(3)
    values = rng.integers(-(1 << 31), 1 << 31, N_INT32_RANDOM)
    # Small magnitudes too, so every leading-zero count occurs.
    values >>= rng.integers(0, 32, N_INT32_RANDOM)
    check(np.concatenate([values, INT32_DIRECTED]), 32)


def test_overflow_to_inf():
    # 2**15 - 1 does not fit an FP8 E5M2's range (max 57344) once rounded: it becomes Inf.
    e5m2 = FloatFormat("fp8e5m2", exp_width=5, sig_width=3, numpy_dtype="float8_e5m2")
    got = rtl_pipeline(IntToFloat(17, e5m2), {"a": [57344, 61439, 61440, -65535, 3, -5]}, 6)
    assert [int(x) for x in got] == [0x7B, 0x7B, 0x7C, 0xFC, 0x42, 0xC5]


def test_constructor_errors():
    with pytest.raises(ValueError, match="int_width must be an integer >= 2, not 1"):
        IntToFloat(1, FP32)
    with pytest.raises(TypeError, match="int_width must be an integer, not 16.0"):
        IntToFloat(16.0, FP32)
    with pytest.raises(TypeError, match=re.escape("fmt must be a FloatFormat, not IntFormat(")):
        IntToFloat(16, INT32)


def test_verilog():
    text = verilog.convert(IntToFloat(16, FP32), name="int16_to_fp32", emit_src=False)
    assert "module int16_to_fp32" in text
