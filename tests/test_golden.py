"""The golden model against plain numpy, and its summation-order promises."""

import ml_dtypes
import numpy as np
import pytest

from hw.config import Config
from hw.formats import BF16, FP32, INT32
from sim.golden import (
    flush_subnormals,
    from_bits,
    ref_add,
    ref_dot,
    ref_gemm,
    ref_mul,
    same_bits,
    to_bits,
)


def test_bits_round_trip():
    x = np.array([1.0, -0.0, np.inf, 1e-40], dtype=np.float32)
    assert to_bits(x, FP32).tolist() == [0x3F800000, 0x80000000, 0x7F800000, 0x000116C2]
    assert same_bits(from_bits(to_bits(x, FP32), FP32), x, FP32).all()
    assert to_bits(np.array([1.0], ml_dtypes.bfloat16), BF16).tolist() == [0x3F80]


def test_same_bits_any_nan_matches():
    nans = from_bits(np.array([0x7FC00000, 0xFFC00001, 0x7F800001]), FP32)
    assert same_bits(nans, np.full(3, np.nan, np.float32), FP32).all()
    assert not same_bits(np.float32([0.0]), np.float32([-0.0]), FP32).any()


def test_int_accumulation_wraps():
    assert ref_add(np.int32(2**31 - 1), np.int32(1), INT32) == np.int32(-2**31)
    a = np.full((1, 300), -128, np.int8)
    b = np.full((300, 1), -128, np.int8)
    cfg = Config(in_fmt="int8", acc_fmt="int32")
    assert ref_gemm(a, b, cfg)[0, 0] == 300 * 16384
    big = np.full((1, 2**17 + 1), -128, np.int8)
    expect = np.int64(16384) * (2**17 + 1)
    got = ref_dot(big, big.T, INT32)
    assert got == np.int32(((expect + 2**31) % 2**32) - 2**31)


def test_bf16_product_rounds_once():
    a = np.array([3.0e-30], ml_dtypes.bfloat16)
    b = np.array([2.0e-10], ml_dtypes.bfloat16)
    exact = float(a[0]) * float(b[0])  # float64 holds the exact product
    assert ref_mul(a, b, FP32)[0] == np.float32(exact)
    # ftz: the subnormal product flushes to a zero of the right sign.
    assert to_bits(ref_mul(-a, b, FP32, ftz=True), FP32)[0] == 0x80000000


def test_ftz_flushes_inputs():
    tiny = from_bits(np.array([0x00400000]), FP32)
    assert ref_add(tiny, tiny, FP32)[0] == np.float32(2) * tiny[0]
    assert to_bits(ref_add(tiny, tiny, FP32, ftz=True), FP32)[0] == 0
    assert to_bits(flush_subnormals(-tiny), FP32)[0] == 0x80000000


def test_float_sum_is_sequential_from_plus_zero():
    a = np.array([[1.0, 2.0**-30, -1.0, 2.0**-30]], ml_dtypes.bfloat16)
    b = np.ones((4, 1), ml_dtypes.bfloat16)
    cfg = Config(in_fmt="bf16")
    # ((((0 + 1) + 2^-30) + -1) + 2^-30): the first small term is lost, the second is not.
    assert ref_gemm(a, b, cfg)[0, 0] == np.float32(2.0**-30)
    # In two passes of 2 both small terms are lost: (1 + 2^-30) = 1, (-1 + 2^-30) = -1.
    assert ref_gemm(a, b, cfg, k_pass=2)[0, 0] == np.float32(0.0)
    # All products -0: a sum from +0 is +0.
    z = np.array([[-0.0, 0.0]], ml_dtypes.bfloat16)
    assert to_bits(ref_gemm(z, np.ones((2, 1), ml_dtypes.bfloat16), cfg), FP32)[0, 0] == 0


@pytest.mark.parametrize("k_pass", [None, 1, 3, 16])
def test_gemm_matches_float64_on_exact_integers(k_pass):
    rng = np.random.default_rng(0)
    a = rng.integers(-8, 8, (5, 11)).astype(ml_dtypes.bfloat16)
    b = rng.integers(-8, 8, (11, 4)).astype(ml_dtypes.bfloat16)
    got = ref_gemm(a, b, Config(in_fmt="bf16"), k_pass=k_pass)
    assert (got == a.astype(np.float64) @ b.astype(np.float64)).all()


def test_gemm_shape_error():
    with pytest.raises(ValueError, match=r"must be M×K and K×N"):
        ref_gemm(np.zeros((2, 3), np.int8), np.zeros((4, 2), np.int8), Config())


def test_interleaved_partial_sums():
    # Steps 0, 3 / 1, 4 / 2 in three partials: (1 + 2^-30) + (2^-30 + -1) + 0.5 ...
    a = np.array([[1.0, 2.0**-30, 0.5, 2.0**-30, -1.0]], ml_dtypes.bfloat16)
    b = np.ones((5, 1), ml_dtypes.bfloat16)
    cfg = Config(in_fmt="bf16")
    # partial 0 = 1 + 2^-30 = 1; partial 1 = 2^-30 + -1 = -1; partial 2 = 0.5
    assert ref_gemm(a, b, cfg, interleave=3)[0, 0] == np.float32(0.5)
    # The orders differ: sequentially (1 + 2^-30) - 1 = 0; in two partials (1 - 1) + 2^-30.
    c = np.array([[1.0, 2.0**-30, -1.0]], ml_dtypes.bfloat16)
    ones = np.ones((3, 1), ml_dtypes.bfloat16)
    assert ref_gemm(c, ones, cfg)[0, 0] == np.float32(0.0)
    assert ref_gemm(c, ones, cfg, interleave=2)[0, 0] == np.float32(2.0**-30)
    # Integers do not care.
    i = np.arange(-6, 6, dtype=np.int8).reshape(1, 12)
    assert ref_gemm(i, i.T, Config(), interleave=3)[0, 0] == ref_gemm(i, i.T, Config())[0, 0]
