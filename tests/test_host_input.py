"""The host API refuses what the configured format cannot hold exactly, and non-finite scales,
with an error naming the operand and the format (issue 9, "Bad input to the host API")."""

import ml_dtypes
import numpy as np
import pytest

from hw.config import Config
from sim.host import run_gemm
from sim.program import ProgramError

INT8 = Config(rows=2, in_fmt="int8")
BF16 = Config(rows=2, in_fmt="bf16")
ONES = np.ones((2, 2), np.int8)


@pytest.mark.parametrize("cfg, a, why", [
    (INT8, np.full((2, 2), 1.5), r"^a must hold values that int8 represents exactly, but its "
                                 r"dtype is float64"),
    (INT8, np.ones((2, 2)), r"^a must hold values that int8 .* dtype is float64"),
    (INT8, np.array([[300, 1], [1, 1]], np.int32), r"^a .* int8 .* 300 at index \(0, 0\) is "
                                                    r"outside -128 to 127"),
    (INT8, np.ones((2, 2), ml_dtypes.bfloat16), r"^a .* int8 .* dtype is bfloat16"),
    (BF16, np.full((2, 2), 0.1, np.float32), r"^a must hold values that bf16 represents "
                                             r"exactly, but 0.10000000149011612 at index"),
    (Config(rows=2, in_fmt="int4"), np.array([[8, 0], [0, 0]]), r"^a .* int4 .* 8 at index"),
    (Config(rows=2, in_fmt="fp8e4m3"), np.full((2, 2), np.inf, np.float32),
     r"^a .* fp8e4m3 .* inf at index \(0, 0\)"),
])
def test_inexact_operands_are_refused(cfg, a, why):
    with pytest.raises(ProgramError, match=why):
        run_gemm(a, ONES if cfg is INT8 else np.ones((2, 2), np.int8), cfg)


def test_b_is_named_too():
    with pytest.raises(ProgramError, match=r"^b must hold values that int8"):
        run_gemm(ONES, np.full((2, 2), -129), INT8)


@pytest.mark.parametrize("scale", [np.nan, np.inf, -np.inf, 1e39, "x", [0.5, np.nan]])
def test_non_finite_scale_is_refused(scale):
    with pytest.raises(ProgramError, match=r"^scale must be a finite number \(float32 after "
                                           r"rounding\), or one per column of C, not "):
        run_gemm(ONES, ONES, INT8, mode="int8", scale=scale)


@pytest.mark.parametrize("scale, what", [([0.5, 0.5, 0.5], "3"), ([[0.5, 0.5]], r"\(1, 2\)")])
def test_one_scale_per_column_of_c(scale, what):
    with pytest.raises(ProgramError, match=rf"^scale must be one number or one per column of C "
                                           rf"\(2\), not {what}$"):
        run_gemm(ONES, ONES, INT8, mode="int8", scale=scale)


def test_exact_values_of_other_dtypes_are_accepted():
    # Integers in range of any integer dtype; floats exact in the format, of any float dtype.
    c = run_gemm(np.array([[1, -2], [3, 4]], np.int64), ONES, INT8).c
    assert c.tolist() == [[-1, -1], [7, 7]]
    a = np.float32([[1.5, -2], [2.0 ** -130, 3]])                 # exact in BF16
    c = run_gemm(a, np.ones((2, 2), np.float64), BF16).c
    assert c.dtype == np.float32 and c[0].tolist() == [-0.5, -0.5]
    scale = run_gemm(ONES, ONES, INT8, mode="int8", scale=0.1).program.scale
    assert scale == float(np.float32(0.1))                       # scales round to FP32
