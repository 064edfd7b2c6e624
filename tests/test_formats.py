"""The format descriptions: bit layouts and special values against ``ml_dtypes``, TF32's
rounding, INT4's two's complement, OCP E4M3's saturation, and what counts as "holds exactly"."""

import ml_dtypes
import numpy as np
import pytest

from hw.formats import (
    BF16,
    FP8E4M3,
    FP8E5M2,
    FP16,
    FP32,
    INPUT_FORMATS,
    INT4,
    INT8,
    TF32,
)

#: The formats ml_dtypes (or numpy) has a type for, with it.
NATIVE = [(FP16, np.float16), (FP8E4M3, ml_dtypes.float8_e4m3fn),
          (FP8E5M2, ml_dtypes.float8_e5m2), (BF16, ml_dtypes.bfloat16), (INT4, ml_dtypes.int4)]


@pytest.mark.parametrize("fmt, scalar", NATIVE, ids=lambda x: getattr(x, "name", ""))
def test_layout_matches_ml_dtypes(fmt, scalar):
    assert fmt.dtype == np.dtype(scalar)
    if fmt.kind == "float":
        info = ml_dtypes.finfo(scalar)
        assert (fmt.width, fmt.exp_width, fmt.frac_width) == (info.bits, info.nexp, info.nmant)
        top = fmt.from_bits(fmt.max_finite).astype(np.float64)
        assert top == float(info.max)
        assert np.isnan(fmt.from_bits(fmt.qnan).astype(np.float32))
        assert fmt.has_inf == bool(np.isinf(np.float32(np.inf).astype(scalar).astype(np.float32)))
    else:
        assert (fmt.min, fmt.max) == (int(ml_dtypes.iinfo(scalar).min),
                                      int(ml_dtypes.iinfo(scalar).max))


@pytest.mark.parametrize("fmt", list(INPUT_FORMATS.values()), ids=lambda f: f.name)
def test_bits_round_trip(fmt):
    bits = np.arange(1 << min(fmt.width, 16), dtype=np.uint64)
    if fmt.width > 16:        # TF32: every exponent, fractions at the ends and in between
        bits = np.unique(np.concatenate([bits, bits << 3, (bits << 3) | 7, bits ^ 0x7FFFF]))
        bits &= (1 << fmt.width) - 1
    assert (fmt.to_bits(fmt.from_bits(bits)) == bits).all()


def test_e4m3_specials():
    # The all-ones exponent is a normal binade (256 to 448), bar the one NaN per sign.
    values = FP8E4M3.from_bits(np.arange(0x78, 0x80)).astype(np.float32)
    assert values[:7].tolist() == [256, 288, 320, 352, 384, 416, 448] and np.isnan(values[7])
    assert np.isnan(FP8E4M3.from_bits(0xFF).astype(np.float32))
    with pytest.raises(ValueError, match="fp8e4m3 has no infinities"):
        _ = FP8E4M3.inf
    # OCP: without saturation, beyond the range (and Inf) is NaN; with it, ±448. Ties to even.
    x = np.array([448, 464, 465, 1e6, np.inf, -np.inf, np.nan, 17, 18, 19])
    plain = FP8E4M3.cast(x).astype(np.float32)
    assert plain[:2].tolist() == [448, 448] and np.isnan(plain[2:6]).all()   # 464: a tie
    assert plain[7:].tolist() == [16, 18, 20]
    sat = FP8E4M3.cast(x, saturate=True).astype(np.float32)
    assert sat[:6].tolist() == [448, 448, 448, 448, 448, -448] and np.isnan(sat[6])
    assert FP8E5M2.cast([1e6, -np.inf], saturate=True).astype(np.float32).tolist() == \
        [57344, -57344]


def test_tf32_rounds_to_nearest_even_at_its_last_fraction_bit():
    ulp = 2.0 ** -10
    x = np.float32([1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp / 2 + 2 ** -23, -(1 + ulp / 2),
                    np.inf, 3.4028235e38, 2.0 ** -136, 2.0 ** -137, 1.5 * 2.0 ** -136])
    got = TF32.cast(x)
    assert got.dtype == np.float32
    assert got[:4].tolist() == [1, 1 + 2 * ulp, 1 + ulp, -1]
    assert np.isinf(got[4]) and np.isinf(got[5])                # overflow to infinity
    assert got[6:].tolist() == [2.0 ** -136, 0, 2.0 ** -135]   # TF32's least subnormal, ties
    assert TF32.to_bits(np.float32([1.0])).tolist() == [127 << 10]
    assert TF32.to_bits(np.float32([-1 - ulp])).tolist() == [1 << 18 | 127 << 10 | 1]
    nan = TF32.from_bits(np.array([0x3FC01]))                    # a payload low in the fraction
    assert np.isnan(nan) and TF32.to_bits(np.float32([np.nan]))[0] >> 10 == 0xFF


def test_int4_two_to_a_byte_bits():
    values = np.array([-8, -1, 0, 7], dtype=ml_dtypes.int4)
    assert INT4.to_bits(values).tolist() == [8, 15, 0, 7]
    assert INT4.from_bits([8, 15, 0, 7]).astype(int).tolist() == [-8, -1, 0, 7]


# What counts as holding a value exactly.
ACCEPTED = [
    (INT8, np.array([[-128, 127]], dtype=np.int32)),
    (INT8, np.array([1, 2], dtype=np.uint8)),
    (INT4, np.array([-8, 7])),
    (BF16, np.float32([1.5, -0.0, np.inf, np.nan, 2.0 ** -133])),   # exact in BF16
    (BF16, np.array([3, -256])),
    (FP16, np.float32([65504, 2.0 ** -24, -np.inf])),
    (FP8E4M3, np.float32([448, -2.0 ** -9, np.nan])),
    (FP8E5M2, np.float64([57344, np.inf, 2.0 ** -16])),
    (TF32, np.float32([1 + 2.0 ** -10, -np.inf])),
    (FP32, np.float64([0.1]).astype(np.float32)),
]
REFUSED = [
    (INT8, np.float64([1.0]), r"its dtype is float64"),
    (INT8, np.array([300], dtype=np.int32), r"300 at index \(0,\) is outside -128 to 127"),
    (INT8, np.array([1], dtype=ml_dtypes.bfloat16), r"its dtype is bfloat16"),
    (INT4, np.array([0, 8]), r"8 at index \(1,\) is outside -8 to 7"),
    (BF16, np.float32([1, 0.1]), r"0.10000000149011612 at index \(1,\) is not one of"),
    (BF16, np.array([257]), r"257.0 at index"),
    (FP16, np.float32([65520]), r"65520.0"),
    (FP16, np.float32([2.0 ** -25]), r"index \(0,\)"),
    (FP8E4M3, np.float32([np.inf]), r"inf at index"),
    (FP8E4M3, np.float32([464]), r"464.0 at index"),
    (FP8E5M2, np.float32([1.125]), r"1.125 at index"),
    (TF32, np.float32([1 + 2.0 ** -11]), r"1.00048828125 at index"),
    (BF16, np.array([True]), r"its dtype is bool"),
]


@pytest.mark.parametrize("fmt, values", ACCEPTED, ids=lambda x: getattr(x, "name", ""))
def test_exact_accepts(fmt, values):
    got = fmt.exact("a", values)
    assert got.dtype == fmt.dtype
    wide, back = values.astype(np.float64), got.astype(np.float64)
    assert ((wide == back) | (np.isnan(wide) & np.isnan(back))).all()


@pytest.mark.parametrize("fmt, values, why", REFUSED, ids=lambda x: getattr(x, "name", ""))
def test_exact_refuses_naming_operand_and_format(fmt, values, why):
    with pytest.raises(ValueError, match=rf"^b must hold values that {fmt.name} represents "
                                         rf"exactly, but .*{why}"):
        fmt.exact("b", values)
