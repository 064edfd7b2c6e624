"""The new formats' multipliers on the Amaranth simulator, bit for bit against ``ml_dtypes``:
``FPMul(fmt, FP32)`` for FP16, FP8 E4M3, FP8 E5M2 and TF32 in ``ieee`` and ``ftz`` modes, and
the INT4 → INT32 multiplier.

The reference decodes each operand with ml_dtypes (numpy for FP16; TF32 from its float32
container), flushes subnormal operands of the *input* format in ``ftz`` mode, and multiplies in
float32: every such product is exact in binary32, so that is the correctly rounded one.

Cost (CPU, on the shared 2-core machine): the 8-bit formats in ``ieee`` mode take every pair
``a <= b`` (the multiplier's two operand paths are the same circuit, so this is every product:
32,896 pairs, about 9 s each); in ``ftz`` mode, where only subnormal operands behave
differently, every subnormal or zero times every value (and the other way round).
"""

import ml_dtypes
import numpy as np
import pytest

from hw.arith import make_multiplier
from hw.config import Config
from hw.formats import FP8E4M3, FP8E5M2, FP16, FP32, INT4, TF32
from hw.fp.mul import FPMul
from sim.golden import from_bits, ref_mul, same_bits
from sim.pipeline import rtl_pipeline


def reference(a, b, fmt, ftz):
    """The product of bit patterns ``a``, ``b`` of ``fmt`` as float32, from ml_dtypes; with
    ``ftz``, subnormal operands (of ``fmt``) and products (of FP32) read as zeros."""
    x = fmt.from_bits(a).astype(np.float32)
    y = fmt.from_bits(b).astype(np.float32)
    if ftz:
        tiny = np.float32(ml_dtypes.finfo(fmt.dtype).smallest_normal)
        x = np.where(np.abs(x) < tiny, np.copysign(np.float32(0), x), x)
        y = np.where(np.abs(y) < tiny, np.copysign(np.float32(0), y), y)
    with np.errstate(all="ignore"):
        p = (x * y).astype(np.float32)
    if ftz:     # subnormal products (TF32's reach FP32's subnormals) flush too
        tiny = np.finfo(np.float32).smallest_normal
        p = np.where(np.abs(p) < tiny, np.copysign(np.float32(0), p), p)
    return p


def check(a, b, fmt, ftz):
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    want = reference(a, b, fmt, ftz)
    golden = ref_mul(fmt.from_bits(a), fmt.from_bits(b), FP32, ftz)
    assert same_bits(golden, want, FP32).all(), "the golden model disagrees with ml_dtypes"
    got = rtl_pipeline(FPMul(fmt, FP32, ftz=ftz), {"a": a, "b": b}, len(a))
    bad = np.flatnonzero(~same_bits(from_bits(got, FP32), want, FP32))
    assert bad.size == 0, f"{bad.size} of {a.size} differ, first: " + ", ".join(
        f"{a[i]:x}*{b[i]:x}={got[i]:08x} want {want.view(np.uint32)[i]:08x}" for i in bad[:8])
    nan = np.isnan(want)
    assert (got[nan] == FP32.qnan).all(), "NaN results must be the canonical qNaN"
    return want


@pytest.fixture(params=[False, True], ids=["ieee", "ftz"])
def ftz(request):
    return request.param


def _subnormals_and_zeros(fmt):
    mags = np.arange(1 << fmt.frac_width, dtype=np.uint64)           # exponent field 0
    return np.concatenate([mags, mags | fmt.sign_mask])


@pytest.mark.parametrize("fmt", [FP8E4M3, FP8E5M2], ids=lambda f: f.name)
def test_8_bit_every_product(fmt, ftz):
    every = np.arange(256, dtype=np.uint64)
    if not ftz:
        a, b = np.triu_indices(256)
        a, b = a.astype(np.uint64), b.astype(np.uint64)
    else:
        small = _subnormals_and_zeros(fmt)
        a = np.concatenate([np.repeat(small, 256), np.tile(every, small.size)])
        b = np.concatenate([np.tile(every, small.size), np.repeat(small, 256)])
    want = check(a, b, fmt, ftz)
    if fmt is FP8E4M3:
        # The all-ones exponent is a binade of normals: 448 * 448 is 200704, not Inf or NaN;
        # S.1111.111 is NaN; there is no infinity to make.
        top = (a == 0x7E) & (b == 0x7E)
        assert want[top].tolist() == ([] if ftz else [448.0 * 448.0])
        assert np.isnan(want[(a == 0x7F) | (b == 0x7F)]).all()
        assert not np.isinf(want).any()


#: Magnitudes at every boundary of FP16 and TF32, as (exponent field, fraction) pairs: zero,
#: subnormals, smallest normals, around one, largest normals, Inf, quiet and signalling NaN.
def _edges(fmt):
    fw, top = fmt.frac_width, fmt.exp_max
    frac_max = (1 << fw) - 1
    fields = [(0, 0), (0, 1), (0, 2), (0, 1 << (fw - 1)), (0, frac_max), (1, 0), (1, 1),
              (fmt.bias - 1, frac_max), (fmt.bias, 0), (fmt.bias, 1), (fmt.bias, frac_max),
              (top - 1, 0), (top - 1, frac_max), (top, 0), (top, 1 << (fw - 1)), (top, 1),
              (fmt.bias // 2, 0), (fmt.bias // 2, frac_max), (3 * fmt.bias // 2, frac_max)]
    mags = [(e << fw) | f for e, f in fields]
    return np.array(mags + [m | fmt.sign_mask for m in mags], dtype=np.uint64)


@pytest.mark.parametrize("fmt", [FP16, TF32], ids=lambda f: f.name)
def test_wide_formats_edges_and_random(fmt, ftz):
    edges = _edges(fmt)
    a, b = np.repeat(edges, edges.size), np.tile(edges, edges.size)
    rng = np.random.default_rng([fmt.width, int(ftz)])
    n = 1500
    ra = rng.integers(0, 1 << fmt.width, n, dtype=np.uint64)
    rb = rng.integers(0, 1 << fmt.width, n, dtype=np.uint64)
    check(np.concatenate([a, ra]), np.concatenate([b, rb]), fmt, ftz)


def test_tf32_products_round_at_fp32s_ends():
    # TF32 has FP32's exponent range: products below it round (ties to even) into FP32
    # subnormals or zero, and above it overflow, as BF16's do.
    fw = TF32.frac_width
    lo = [(e << fw) | f for e in range(50, 60) for f in (0, 1, 0x200, 0x3FF)]
    hi = [(e << fw) | f for e in range(188, 193) for f in (0, 1, 0x3FF)]
    a = np.array([x for x in lo for _ in lo] + [x for x in hi for _ in hi], dtype=np.uint64)
    b = np.array([y for _ in lo for y in lo] + [y for _ in hi for y in hi], dtype=np.uint64)
    want = check(a, b, TF32, False)
    assert (want == 0).any() and (np.abs(want[want != 0]) < 2.0 ** -126).any()
    assert np.isinf(want).any()


@pytest.mark.parametrize("kwargs", [{}, {"dsp": "ecp5", "pipeline": {"mul": 2}},
                                    {"dsp_muls": 0}], ids=["infer", "ecp5", "logic"])
def test_int4_every_product(kwargs):
    # INT4 → INT32 on each multiplier the configuration can build: inferred, the ECP5 block's
    # simulation model, and the logic (Booth) one.
    cfg = Config(rows=1, in_fmt="int4", **kwargs)
    assert cfg.acc_fmt == "int32"
    values = np.arange(-8, 8)
    a, b = np.repeat(values, 16), np.tile(values, 16)
    mul = make_multiplier(cfg, logic=cfg.logic_mul(0, 0))
    got = rtl_pipeline(mul, {"a": a, "b": b}, a.size, dtype=np.int64)
    assert got.tolist() == (a * b).tolist()
    assert ref_mul(INT4.cast(a), INT4.cast(b), cfg.acc_format).tolist() == (a * b).tolist()
