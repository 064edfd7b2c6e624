"""FPMul against the golden model, bit for bit, in IEEE and flush-to-zero modes."""

import re

import numpy as np
import pytest
from amaranth.back import verilog

from hw.dsp import VERILOG_EXPORT
from hw.formats import BF16, FP32, INT8
from hw.fp.mul import FPMul
from sim.golden import from_bits, ref_mul, same_bits
from sim.pipeline import rtl_impulse, rtl_pipeline

# Per mode (ieee, ftz): 8,800 directed BF16 pairs, 35,000 random BF16 pairs, and 5,028 FP32
# pairs around FP32's smallest normal.
N_RANDOM = 20_000       # uniform random bit patterns
N_UNDERFLOW = 10_000    # products around FP32's subnormal range, 2**-155 .. 2**-118
N_OVERFLOW = 5_000      # products around FP32's largest normal, 2**120 .. 2**130
N_FP32 = 5_000          # FP32 x FP32 products just above and below 2**-126

#: BF16 magnitudes at every boundary, paired with both signs.
EDGE_MAGNITUDES = [
    0x0000,                                     # zero
    0x0001, 0x0002, 0x0003, 0x0040, 0x007F,     # subnormals, smallest to largest
    0x0080, 0x0081, 0x00FF,                     # smallest normals
    0x1F80, 0x1FFF, 0x2000, 0x2080,             # around 2**-63: squares near 2**-126
    0x1A00, 0x1A40,                             # 2**-75, 1.5 * 2**-75: squares near 2**-150
    0x3F80, 0x3FC0, 0x3FFF, 0x4000,             # around 1.0
    0x5F00, 0x5F80, 0x5FFF,                     # around 2**64: squares near 2**128
    0x7F00, 0x7F7F,                             # largest normals
    0x7F80,                                     # infinity
    0x7FC0, 0x7FC1, 0x7FFF,                     # quiet NaNs
    0x7F81, 0x7FBF,                             # signalling NaNs
]
EDGE_VALUES = EDGE_MAGNITUDES + [x | BF16.sign_mask for x in EDGE_MAGNITUDES]


def _grid(exponents):
    """Every BF16 with one of ``exponents`` and a fraction at its ends or middle."""
    return [(e << 7) | f for e in exponents for f in (0x00, 0x01, 0x40, 0x7F)]


#: Products from 2**-155 to 2**-121: exactly at the smallest normal, ties at half the
#: smallest subnormal (to zero) and at odd multiples of half of it (to even), underflow to 0.
UNDERFLOW_GRID = _grid(range(50, 67))
#: Products from 2**121 to 2**131: just below and at the overflow threshold.
OVERFLOW_GRID = _grid(range(187, 193))

#: FP32 pairs whose exact products straddle the smallest normal 2**-126.
FP32_BOUNDARY = [
    (0x3F7FFFFF, 0x00800000),   # (1 - 2**-24) * 2**-126: tie, rounds up into the min normal
    (0x3F7FFFFF, 0x00800001),   # just above the min normal
    (0x3F7FFFFE, 0x00800000),   # (1 - 2**-23) * 2**-126: max subnormal + 0.5 ulp tie, to even
    (0x3F7FFFFD, 0x00800000),   # below the tie: rounds down to the max subnormal
    (0x3FFFFFFF, 0x00400000),   # (2 - 2**-23) * 2**-127: tie, up into the min normal
    (0x3F000000, 0x00800001),   # 2**-127 * (1 + 2**-23): tie, to even
    (0x3F000000, 0x00800003),   # tie, to even (upwards)
    (0x34000000, 0x00800000),   # 2**-149: the min subnormal exactly
    (0x33800000, 0x00800000),   # 2**-150: tie, to zero
    (0x33C00000, 0x00800000),   # 1.5 * 2**-150: rounds up to the min subnormal
    (0x3F800000, 0x00800000),   # 1 * min normal
    (0x3F800001, 0x007FFFFF),   # subnormal times a little over one
    (0x7F7FFFFF, 0x3F800001),   # overflow from FP32 operands
    (0x7F7FFFFF, 0x00000001),   # max * min subnormal: normal
]

#: Directed BF16 pairs per mode: edge values, the underflow grid and the overflow grid.
N_DIRECTED = len(EDGE_VALUES) ** 2 + len(UNDERFLOW_GRID) ** 2 + len(OVERFLOW_GRID) ** 2

#: The random sets, each seeded by its position and the mode, so every run checks the same.
KINDS = ["uniform", "underflow", "overflow"]


def check(a, b, ftz, in_fmt=BF16, **options):
    """Compare ``FPMul(in_fmt, FP32, **options)`` with :func:`ref_mul` on bit patterns ``a``,
    ``b``."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    got = rtl_pipeline(FPMul(in_fmt, FP32, ftz=ftz, **options), {"a": a, "b": b}, len(a))
    want = ref_mul(from_bits(a, in_fmt), from_bits(b, in_fmt), FP32, ftz)
    bad = np.flatnonzero(~same_bits(from_bits(got, FP32), want, FP32))
    want_bits = want.view(np.uint32)
    assert bad.size == 0, f"{bad.size} mismatches, first: " + ", ".join(
        f"{a[i]:x}*{b[i]:x}={got[i]:08x} want {want_bits[i]:08x}" for i in bad[:8])
    assert np.all(got[np.isnan(want)] == FP32.qnan), "NaN results must be the canonical qNaN"


def _bits(rng, exp, sig_width=BF16.sig_width, width=BF16.width):
    """Random signs and fractions with the given exponent fields."""
    exp = np.asarray(exp, dtype=np.uint64)
    fw = sig_width - 1
    sign = rng.integers(0, 2, exp.size, dtype=np.uint64) << (width - 1)
    return sign | (exp << fw) | rng.integers(0, 1 << fw, exp.size, dtype=np.uint64)


def _exponent_pairs(rng, n, lo, hi):
    """Biased BF16 exponent fields whose product's unbiased exponent lies in [lo, hi]."""
    ea = rng.integers(0, 255, 4 * n)
    eb = rng.integers(lo, hi + 1, 4 * n) + 2 * BF16.bias - ea
    keep = (eb >= 0) & (eb <= 254)
    return ea[keep][:n], eb[keep][:n]


@pytest.fixture(params=[False, True], ids=["ieee", "ftz"])
def ftz(request):
    return request.param


def test_latency():
    # 1.5 * 2 enters for one cycle between zeros: 3.0 shows after exactly `latency` clock edges.
    dut = FPMul(BF16, FP32)
    seen = rtl_impulse(dut, {"a": 0x3FC0, "b": 0x4000}, dut.latency + 2)
    assert dut.latency == 2
    assert seen == [0x40400000 if k == dut.latency else 0 for k in range(dut.latency + 2)]


def test_directed(ftz):
    pairs = [(x, y) for x in EDGE_VALUES for y in EDGE_VALUES]
    pairs += [(x, y) for x in UNDERFLOW_GRID for y in UNDERFLOW_GRID]
    pairs += [(x, y ^ BF16.sign_mask) for x in OVERFLOW_GRID for y in OVERFLOW_GRID]
    pairs = np.array(pairs, dtype=np.uint64)
    check(pairs[:, 0], pairs[:, 1], ftz)


@pytest.mark.parametrize("kind", KINDS)
def test_random(kind, ftz):
    rng = np.random.default_rng((KINDS.index(kind), int(ftz)))
    if kind == "uniform":
        a = rng.integers(0, 1 << 16, N_RANDOM, dtype=np.uint64)
        b = rng.integers(0, 1 << 16, N_RANDOM, dtype=np.uint64)
    else:
        lo, hi = (-155, -118) if kind == "underflow" else (120, 130)
        ea, eb = _exponent_pairs(rng, N_UNDERFLOW if kind == "underflow" else N_OVERFLOW, lo, hi)
        a, b = _bits(rng, ea), _bits(rng, eb)
    check(a, b, ftz)


def _fp32_pairs(ftz, n):
    """FP32 pairs whose products straddle the smallest normal, and :data:`FP32_BOUNDARY`."""
    rng = np.random.default_rng(7 + ftz)
    a = _bits(rng, rng.integers(125, 130, n), FP32.sig_width, FP32.width)
    # A fraction of all ones in a makes the exact product graze a power of two.
    a[: n // 4] |= 0x007FFF00
    b = _bits(rng, rng.integers(0, 3, n), FP32.sig_width, FP32.width)
    pairs = np.array(FP32_BOUNDARY, dtype=np.uint64)
    return (np.concatenate([a, pairs[:, 0], pairs[:, 1]]),
            np.concatenate([b, pairs[:, 1], pairs[:, 0]]))


def test_fp32_operands(ftz):
    # FP32 x FP32 does not fit FP32, so this exercises sticky rounding and rounding up into the
    # smallest normal, which BF16 products (16 significant bits) never reach.
    check(*_fp32_pairs(ftz, N_FP32), ftz, in_fmt=FP32)


@pytest.mark.parametrize("latency", [5, 6, 7, 9])
def test_fp32_on_ecp5_blocks(latency):
    # Post-processing's FP32 multiplier with dsp="ecp5": the same bits and latency, the
    # significand multiplier's cuts held by the blocks (a model of their registers here).
    dut = FPMul(FP32, FP32, latency=latency, dsp="ecp5")
    seen = rtl_impulse(dut, {"a": 0x3FC00000, "b": 0x40000000}, latency + 2)
    assert seen == [0x40400000 if k == latency else 0 for k in range(latency + 2)]
    check(*_fp32_pairs(False, 1_000), False, in_fmt=FP32, latency=latency, dsp="ecp5")


@pytest.mark.parametrize("latency, blocks, input_clock", [
    (5, 0, None),         # no cut in the significand multiplier: left to synthesis
    (6, 4, "NONE"),       # the "product" cut: the blocks' output registers
    (7, 4, "CLK0"),       # and the "operands" cut: their input registers
])
def test_fp32_verilog_on_ecp5_blocks(latency, blocks, input_clock):
    # One MULT18X18D per 12 x 12 partial product, whose own registers hold the cuts.
    text = verilog.convert(FPMul(FP32, FP32, latency=latency, dsp="ecp5"), name="m",
                           emit_src=False, platform=VERILOG_EXPORT)
    assert text.count("MULT18X18D #(") == blocks
    assert text.count(f'.REG_INPUTA_CLK("{input_clock}")') == blocks
    assert text.count('.REG_OUTPUT_CLK("CLK0")') == blocks
    plain = verilog.convert(FPMul(FP32, FP32, latency=latency), name="m", emit_src=False,
                            platform=VERILOG_EXPORT)
    assert "MULT18X18D" not in plain


def test_constructor_errors():
    with pytest.raises(TypeError, match=re.escape("in_fmt must be a FloatFormat, not 'bf16'")):
        FPMul("bf16", FP32)
    with pytest.raises(TypeError, match=re.escape("out_fmt must be a FloatFormat, not None")):
        FPMul(BF16, None)
    with pytest.raises(TypeError, match=r"in_fmt must be a FloatFormat, not IntFormat\("):
        FPMul(INT8, FP32)
    with pytest.raises(TypeError, match="ftz must be a bool, not 'ftz'"):
        FPMul(BF16, FP32, ftz="ftz")
    with pytest.raises(ValueError, match="^dsp must be one of 'infer', 'ecp5', not 'gowin'$"):
        FPMul(BF16, FP32, dsp="gowin")


def test_verilog():
    text = verilog.convert(FPMul(BF16, FP32), name="fpmul_bf16_fp32", emit_src=False)
    assert "module fpmul_bf16_fp32" in text
