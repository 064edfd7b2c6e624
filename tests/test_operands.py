"""The operand mixes measure up to what the tests that use them claim: the ``"special"`` GEMMs
of the array and engine tests mostly have finite outputs whose bits depend on the summation
order (so an order bug shows), and still meet every special value."""

import numpy as np
import pytest

from hw.config import Config
from hw.formats import BF16, FP32
from sim.golden import ref_gemm, to_bits
from sim.operands import MIXES, random_matrix

BF16_CFG = Config(in_fmt="bf16")
SEEDS = range(20)

#: (M, K, N) of the GEMMs run with mix "special": tests/test_array.py (test_gemm_with_stalls
#: on 1x1, 2x3, 4x4 and 8x8 arrays; test_bf16_subnormals_and_specials), tests/test_engine.py
#: (test_gemm_awkward_sizes) and tests/test_cocotb_engine.py (the BF16 cases).
SPECIAL_SHAPES = [(3, 5, 2), (5, 7, 4), (9, 11, 5), (17, 19, 9), (7, 9, 5),
                  (1, 1, 1), (17, 33, 5), (100, 7, 64), (9, 20, 11), (5, 9, 4)]


def _gemms(shape, mix="special"):
    """``(a, b, sequential C)`` for each seed."""
    m, k, n = shape
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        a = random_matrix(BF16_CFG, (m, k), rng, mix)
        b = random_matrix(BF16_CFG, (k, n), rng, mix)
        yield a, b, ref_gemm(a, b, BF16_CFG)


def _bits(c):
    return to_bits(c, FP32)


@pytest.mark.parametrize("shape", SPECIAL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_special_mix_is_mostly_finite_and_order_sensitive(shape):
    k = shape[1]
    finite = order_matters = total = 0
    for a, b, c in _gemms(shape):
        ok = np.isfinite(c)
        # Other orders the hardware might wrongly use: interleaved partial sums, K in two
        # passes, K backwards.
        differs = np.zeros(c.shape, dtype=bool)
        for other in (ref_gemm(a, b, BF16_CFG, interleave=3),
                      ref_gemm(a, b, BF16_CFG, k_pass=-(-k // 2)),
                      ref_gemm(a[:, ::-1], b[::-1, :], BF16_CFG)):
            differs |= _bits(other) != _bits(c)
        finite += ok.sum()
        order_matters += (ok & differs).sum()
        total += c.size
    assert finite / total >= 0.6, f"only {finite / total:.0%} of outputs are finite"
    if k >= 5:  # K = 1 has one order only
        share = order_matters / finite
        assert share >= 0.2, f"the order changes the bits of only {share:.0%} of finite outputs"


def test_special_mix_still_meets_every_special():
    # Every special input appears, rarely enough; NaN and Inf outputs remain for the hardware
    # to propagate.
    a = random_matrix(BF16_CFG, (400, 400), np.random.default_rng(0), "special")
    bits = to_bits(a, BF16)
    frac_max = (1 << BF16.frac_width) - 1
    for special in (0, BF16.sign_mask, 1, BF16.sign_mask | 1, frac_max,
                    BF16.sign_mask | frac_max, BF16.inf, BF16.inf | BF16.sign_mask,
                    BF16.qnan, BF16.inf - 1, (BF16.inf - 1) | BF16.sign_mask):
        assert (bits == special).any(), hex(special)
    nonfinite = ~np.isfinite(a.astype(np.float32)) | (np.abs(a.astype(np.float32)) > 1e38)
    assert 0.002 < nonfinite.mean() < 0.01
    outputs = np.concatenate([c.ravel() for shape in SPECIAL_SHAPES for _, _, c in _gemms(shape)])
    assert np.isnan(outputs).mean() > 0.01 and np.isinf(outputs).mean() > 0.01


def test_nonfinite_mix_is_mostly_nonfinite():
    outputs = np.concatenate([c.ravel() for _, _, c in _gemms((17, 33, 5), "nonfinite")])
    assert np.isfinite(outputs).mean() < 0.1


@pytest.mark.parametrize("mix", MIXES)
def test_integers_ignore_the_mix(mix):
    cfg = Config(in_fmt="int8")
    a = random_matrix(cfg, (50, 60), np.random.default_rng(1), mix)
    assert a.dtype == np.int8
    assert (a == random_matrix(cfg, (50, 60), np.random.default_rng(1))).all()


def test_unknown_mix():
    with pytest.raises(ValueError, match=r"^mix must be one of normal, special, nonfinite, "
                                         r"subnormal, not 'weird'$"):
        random_matrix(BF16_CFG, (2, 2), np.random.default_rng(0), "weird")
