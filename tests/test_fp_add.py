"""FPAdd against the golden model, bit for bit, in IEEE and flush-to-zero modes."""

import re

import ml_dtypes
import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hw.formats import FP32, INT32, FloatFormat
from hw.fp.add import FPAdd
from sim.golden import from_bits, ref_add, same_bits
from sim.pipeline import rtl_impulse, rtl_pipeline

# Per mode (ieee, ftz): 3,878 directed pairs, 50,000 random pairs; plus 65,536 FP8 E5M2 pairs.
N_RANDOM = 20_000       # uniform random bit patterns
N_SUBNORMAL = 10_000    # exponent fields concentrated near 0
N_CANCEL = 10_000       # near-equal magnitudes with opposite signs
N_ALIGN = 10_000        # exponent differences 0..40 and 100..254

#: Magnitudes at every boundary of the format, paired with both signs.
EDGE_MAGNITUDES = [
    0x00000000,                                 # zero
    0x00000001, 0x00000002, 0x00000003,         # smallest subnormals
    0x00400000, 0x007FFFFE, 0x007FFFFF,         # largest subnormals
    0x00800000, 0x00800001, 0x00FFFFFF,         # smallest normals
    0x01000000,
    0x33000000, 0x33800000, 0x33800001,         # 2**-25, 2**-24: half an ulp of 1.0 and below
    0x34000000,
    0x3F7FFFFF, 0x3F800000, 0x3F800001,         # around 1.0
    0x4B7FFFFF, 0x4B800000,                     # around 2**24
    0x7F000000, 0x7F7FFFFE, 0x7F7FFFFF,         # largest normals
    0x7F800000,                                 # infinity
    0x7FC00000, 0x7FC00001, 0x7FFFFFFF,         # quiet NaNs
    0x7F800001, 0x7FBFFFFF, 0x7FA00000,         # signalling NaNs
    0x40490FDB,                                 # pi
]
EDGE_VALUES = EDGE_MAGNITUDES + [x | FP32.sign_mask for x in EDGE_MAGNITUDES]

#: Ties to even in both directions, overflow, cancellation and long alignments.
SPECIAL_PAIRS = [
    (0x3F800000, 0x33800000),   # 1 + 2**-24: tie, stays at even 1.0
    (0x3F800001, 0x33800000),   # (1 + 2**-23) + 2**-24: tie, rounds up to even
    (0x3F800000, 0xB3000000),   # 1 - 2**-25: tie between 1 - 2**-24 and 1, to even 1.0
    (0x3F800001, 0xB3800000),   # (1 + 2**-23) - 2**-24: tie, down to even 1.0
    (0x4B800001, 0x3F800000),   # (2**24 + 2) + 1: tie, up to 2**24 + 4
    (0x4B800000, 0x3F800000),   # 2**24 + 1: tie, stays at 2**24
    (0x7F7FFFFF, 0x73000000),   # max + half an ulp: tie, max is odd, overflows to Inf
    (0x7F7FFFFF, 0x72FFFFFF),   # max + just under half an ulp: stays max
    (0xFF7FFFFF, 0xF3000000),   # the same, negative
    (0x7F7FFFFF, 0x7F7FFFFF),   # max + max: Inf
    (0x3F800000, 0xBF7FFFFF),   # 1 - nextbelow(1): catastrophic cancellation to 2**-24
    (0x00800000, 0x807FFFFF),   # min normal - max subnormal: min subnormal
    (0x007FFFFF, 0x00000001),   # max subnormal + min subnormal: min normal
    (0x00400000, 0x00400000),   # subnormal + subnormal: min normal
    (0x3F800000, 0x0C800000),   # exponent difference 100
    (0x7F7FFFFF, 0x00000001),   # exponent difference 254, subnormal: max
    (0x3F800000, 0xB2800001),   # 1 - (2**-26 + tiny): just under 1
]

#: Directed pairs per mode: every pair of edge values, and the special pairs in both orders.
N_DIRECTED = len(EDGE_VALUES) ** 2 + 2 * len(SPECIAL_PAIRS)

#: The random sets, each seeded by its position and the mode, so every run checks the same.
KINDS = ["uniform", "subnormal", "cancel", "align"]


def rtl_add(a, b, ftz, fmt=FP32):
    """Bit patterns of ``a + b`` as :class:`FPAdd` computes them."""
    return rtl_pipeline(FPAdd(fmt, ftz=ftz), {"a": a, "b": b}, len(a))


def check(a, b, ftz):
    """Compare the hardware with :func:`ref_add` on bit patterns ``a``, ``b``."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    got = rtl_add(a, b, ftz)
    want = ref_add(from_bits(a, FP32), from_bits(b, FP32), FP32, ftz)
    bad = np.flatnonzero(~same_bits(from_bits(got, FP32), want, FP32))
    want_bits = want.view(np.uint32)
    assert bad.size == 0, f"{bad.size} mismatches, first: " + ", ".join(
        f"{a[i]:08x}+{b[i]:08x}={got[i]:08x} want {want_bits[i]:08x}" for i in bad[:8])
    assert np.all(got[np.isnan(want)] == FP32.qnan), "NaN results must be the canonical qNaN"


def _bits(rng, n, exp):
    """Random signs and fractions with the given exponent fields."""
    sign = rng.integers(0, 2, n, dtype=np.uint64) << 31
    frac = rng.integers(0, 1 << 23, n, dtype=np.uint64)
    return sign | (np.asarray(exp, dtype=np.uint64) << 23) | frac


def random_set(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        a = rng.integers(0, 1 << 32, N_RANDOM, dtype=np.uint64)
        b = rng.integers(0, 1 << 32, N_RANDOM, dtype=np.uint64)
    elif kind == "subnormal":
        # Mostly subnormals, with normals just above them, where ftz and carries into the
        # smallest normal matter.
        n = N_SUBNORMAL
        a = _bits(rng, n, rng.choice([0, 0, 0, 1, 2, 24], n))
        b = _bits(rng, n, rng.choice([0, 0, 0, 1, 2, 24], n))
    elif kind == "cancel":
        # b is -a nudged by a few ulps, or -a with its exponent one off: the sum loses most of
        # its leading bits and the normalising shift is long.
        n = N_CANCEL
        a = rng.integers(0, 0x7F800000, n, dtype=np.uint64)
        nudge = rng.integers(-3, 4, n).astype(np.int64)
        b = (a.astype(np.int64) + nudge).clip(0, 0x7F7FFFFF).astype(np.uint64)
        half = rng.random(n) < 0.3
        b[half] = _bits(rng, half.sum(), (a[half] >> 23).clip(1, 254) - 1) & 0x7FFFFFFF
        a |= rng.integers(0, 2, n, dtype=np.uint64) << 31
        b |= (a & FP32.sign_mask) ^ FP32.sign_mask
    elif kind == "align":
        # Exponent differences around the significand width, where guard, round and sticky
        # bits decide, and very long ones.
        n = N_ALIGN
        ea = rng.integers(0, 255, n)
        diff = np.where(rng.random(n) < 0.8, rng.integers(0, 41, n), rng.integers(100, 255, n))
        eb = (ea - diff * rng.choice([-1, 1], n)).clip(0, 254)
        a = _bits(rng, n, ea)
        b = _bits(rng, n, eb)
    else:
        raise ValueError(kind)
    return a, b


@pytest.fixture(params=[False, True], ids=["ieee", "ftz"])
def ftz(request):
    return request.param


def test_latency():
    # 1 + 2 enters for one cycle between zeros: 3.0 shows after exactly `latency` clock edges.
    dut = FPAdd(FP32)
    seen = rtl_impulse(dut, {"a": 0x3F800000, "b": 0x40000000}, dut.latency + 2)
    assert dut.latency == 3
    assert seen == [0x40400000 if k == dut.latency else 0 for k in range(dut.latency + 2)]


def test_restart_feedback():
    # ``fb`` is ``o`` from a second register, +0 in each cycle after one with ``restart``.
    dut = FPAdd(FP32, restart=True)
    rng = np.random.default_rng(7)
    a = rng.integers(0, 1 << 32, 64, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, 64, dtype=np.uint64)
    restart = rng.random(64) < 0.3
    seen = []

    async def testbench(ctx):
        for k in range(len(a)):
            ctx.set(dut.a, int(a[k]))
            ctx.set(dut.b, int(b[k]))
            ctx.set(dut.restart, int(restart[k]))
            seen.append((ctx.get(dut.o), ctx.get(dut.fb)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    for k in range(1, len(a)):
        o, fb = seen[k]
        assert fb == (0 if restart[k - 1] else o), k


def test_directed(ftz):
    pairs = np.array([(x, y) for x in EDGE_VALUES for y in EDGE_VALUES] + SPECIAL_PAIRS,
                     dtype=np.uint64)
    # Both operand orders for the hand-picked pairs: the swap must not matter.
    pairs = np.concatenate([pairs, pairs[-len(SPECIAL_PAIRS):, ::-1]])
    check(pairs[:, 0], pairs[:, 1], ftz)


@pytest.mark.parametrize("kind", KINDS)
def test_random(kind, ftz):
    a, b = random_set(kind, seed=(KINDS.index(kind), int(ftz)))
    check(a, b, ftz)


def test_fp8_e5m2_exhaustive():
    # A narrow format through the same unpack/align/round modules, every pair of values;
    # ml_dtypes adds in float32 and rounds once more, which is exact for a 3-bit significand.
    e5m2 = FloatFormat("fp8e5m2", exp_width=5, sig_width=3, numpy_dtype="float8_e5m2")
    a, b = (x.ravel().astype(np.uint64) for x in np.meshgrid(np.arange(256), np.arange(256)))
    got = rtl_add(a, b, False, fmt=e5m2)
    va, vb = from_bits(a, e5m2), from_bits(b, e5m2)
    with np.errstate(invalid="ignore"):
        want = (va.astype(np.float32) + vb.astype(np.float32)).astype(ml_dtypes.float8_e5m2)
    bad = np.flatnonzero(~same_bits(from_bits(got, e5m2), want, e5m2))
    assert bad.size == 0, [(hex(a[i]), hex(b[i]), hex(got[i])) for i in bad[:8]]
    assert np.all(got[np.isnan(want.astype(np.float32))] == e5m2.qnan)


def test_constructor_errors():
    with pytest.raises(TypeError, match=re.escape("fmt must be a FloatFormat, not 'fp32'")):
        FPAdd("fp32")
    with pytest.raises(TypeError, match=r"fmt must be a FloatFormat, not IntFormat\("):
        FPAdd(INT32)
    with pytest.raises(TypeError, match="ftz must be a bool, not 1"):
        FPAdd(FP32, ftz=1)
    with pytest.raises(TypeError, match="restart must be a bool, not 1"):
        FPAdd(FP32, restart=1)


def test_verilog():
    text = verilog.convert(FPAdd(FP32), name="fpadd", emit_src=False)
    assert "module fpadd" in text
