"""Random operand matrices for tests and benchmarks, in a configuration's input format."""

import numpy as np

from .golden import from_bits

__all__ = ["random_matrix", "large_int8_matrix", "MIXES", "SPECIAL_EXP_SPAN", "P_FINITE_SPECIAL",
           "P_NONFINITE"]

#: Value mixes :func:`random_matrix` knows.
MIXES = ("normal", "special", "nonfinite", "subnormal")

#: ``"special"``: the ordinary values' binary exponents run from ``-SPECIAL_EXP_SPAN`` to
#: ``SPECIAL_EXP_SPAN``, so products differ by up to 2^40 and FP32 sums round and cancel in
#: ways that depend on the order of the additions.
SPECIAL_EXP_SPAN = 10
#: ``"special"``: per-element probability of a finite special (±0, subnormals).
P_FINITE_SPECIAL = 0.06
#: ``"special"``: per-element probability of a special that makes the outputs it reaches NaN
#: or Inf (±Inf, NaN, ±largest finite). Small, so that most outputs of a K = 33 GEMM (66
#: operands each) stay finite: about (1 - P_NONFINITE)^(2K).
P_NONFINITE = 0.005


def _special_bits(fmt):
    """Bit patterns of ``fmt``'s special values: ``(finite, nonfinite)``; ``nonfinite``
    holds the ones whose products and sums are mostly NaN or Inf (the largest finite value
    overflows once multiplied by anything above 1)."""
    frac_max = (1 << fmt.frac_width) - 1
    finite = np.array([
        0, fmt.sign_mask,                                # +0, -0
        1, fmt.sign_mask | 1,                            # ±smallest subnormal
        frac_max, fmt.sign_mask | frac_max,              # ±largest subnormal
    ], dtype=np.uint64)
    infs = [fmt.inf, fmt.inf | fmt.sign_mask] if fmt.has_inf else []     # ±Inf
    nonfinite = np.array([
        *infs,
        fmt.qnan,                                        # NaN
        fmt.max_finite, fmt.max_finite | fmt.sign_mask,  # ±largest finite
    ], dtype=np.uint64)
    return finite, nonfinite


def random_matrix(cfg, shape, rng, mix="normal"):
    """A random matrix of ``cfg``'s input format.

    ``mix`` (floats only):

    * ``"normal"``: standard normal values.
    * ``"special"``: arithmetic that depends on the order of the additions, with a share of
      special values. Values ``±(1 + u)·2^e`` (``u`` uniform in [0, 1), ``e`` uniform from
      :data:`-SPECIAL_EXP_SPAN <SPECIAL_EXP_SPAN>` to ``SPECIAL_EXP_SPAN``, either sign), so
      partial sums cancel and round; a fraction :data:`P_FINITE_SPECIAL` replaced by ±0 and
      subnormals, and a fraction :data:`P_NONFINITE` by ±Inf, NaN and the largest finite
      values. Most outputs of the tests' GEMMs are finite (``tests/test_operands.py`` checks
      how many, and that the summation order changes their bits).
    * ``"nonfinite"``: standard normal values of which 15 % are replaced by ±0, ±Inf, NaN,
      subnormals and the largest finite values: most outputs are NaN or Inf, so this mix
      tests how specials propagate, not arithmetic.
    * ``"subnormal"``: values so small that products and sums live in and around FP32's
      subnormal range.

    Integers are uniform over the format's whole range whatever the mix. A format without
    infinities (FP8 E4M3) draws no ±Inf among the specials.
    """
    fmt = cfg.in_format
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {', '.join(MIXES)}, not {mix!r}")
    if fmt.kind == "int":
        return fmt.cast(rng.integers(fmt.min, fmt.max + 1, shape))
    if mix == "subnormal":
        # Exponents 60..70 below 1: products land near 2^-130, around FP32's normal minimum.
        values = rng.standard_normal(shape) * np.exp2(-rng.integers(55, 75, shape))
        return fmt.cast(values)
    if mix == "special":
        finite, nonfinite = _special_bits(fmt)
        sign = rng.choice(np.array([-1.0, 1.0]), shape)
        # A narrow format (FP8 E4M3: largest binade 2^8) gets the span its range has.
        top = fmt.exp_max - fmt.bias - (1 if fmt.has_inf else 0)
        span = min(SPECIAL_EXP_SPAN, top - 1)
        exp = rng.integers(-span, span + 1, shape)
        values = fmt.cast(sign * (1 + rng.random(shape)) * np.exp2(exp))
        draw = rng.random(shape)
        for pick, bits in ((draw < P_FINITE_SPECIAL, finite),
                           (draw >= 1 - P_NONFINITE, nonfinite)):
            values[pick] = from_bits(rng.choice(bits, size=int(pick.sum())), fmt)
        return values
    values = fmt.cast(rng.standard_normal(shape))
    if mix == "nonfinite":
        # What "special" was before it became mostly finite: the same draws give the same bits.
        frac_max = (1 << fmt.frac_width) - 1
        infs = [fmt.inf, fmt.inf | fmt.sign_mask] if fmt.has_inf else []  # ±Inf
        specials = np.array([
            0, fmt.sign_mask,                                # +0, -0
            *infs,
            fmt.qnan,                                        # NaN
            1, fmt.sign_mask | frac_max,                     # subnormals
            fmt.max_finite, fmt.max_finite | fmt.sign_mask,  # ±largest finite
        ], dtype=np.uint64)
        pick = rng.random(shape) < 0.15
        values[pick] = from_bits(rng.choice(specials, size=int(pick.sum())), fmt)
    return values


def large_int8_matrix(shape, rng):
    """Random int8 values of magnitude 112 to 127, one in 32 negative: products of about
    1.25·10^4 on average, so FP32 sums of them pass 2^24 after about 1,350 steps.

    Below 2^24 every integer is a float32 and INT8→FP32 accumulation is exact whatever the
    order; above it the sums round, and the order of the additions shows in the bits.
    """
    values = rng.integers(112, 128, shape)
    return np.where(rng.random(shape) < 1 / 32, -values, values).astype(np.int8)
