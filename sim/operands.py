"""Random operand matrices for tests and benchmarks, in a configuration's input format."""

import numpy as np

from .golden import from_bits

__all__ = ["random_matrix", "MIXES"]

#: Value mixes :func:`random_matrix` knows.
MIXES = ("normal", "special", "subnormal")


def random_matrix(cfg, shape, rng, mix="normal"):
    """A random matrix of ``cfg``'s input format.

    ``mix`` (floats only): ``"normal"``, standard normal values; ``"special"``, normal values
    sprinkled with ±0, ±Inf, NaN, subnormals and the largest finite values; ``"subnormal"``,
    values so small that products and sums live in and around FP32's subnormal range.
    Integers are uniform over the whole int8 range whatever the mix.
    """
    fmt = cfg.in_format
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {', '.join(MIXES)}, not {mix!r}")
    if fmt.kind == "int":
        return rng.integers(fmt.min, fmt.max + 1, shape).astype(fmt.dtype)
    if mix == "subnormal":
        # Exponents 60..70 below 1: products land near 2^-130, around FP32's normal minimum.
        values = rng.standard_normal(shape) * np.exp2(-rng.integers(55, 75, shape))
        return values.astype(fmt.dtype)
    values = rng.standard_normal(shape).astype(fmt.dtype)
    if mix == "special":
        frac_max = (1 << fmt.frac_width) - 1
        specials = np.array([
            0, fmt.sign_mask,                                # +0, -0
            fmt.inf, fmt.inf | fmt.sign_mask,                # ±Inf
            fmt.qnan,                                        # NaN
            1, fmt.sign_mask | frac_max,                     # subnormals
            (fmt.inf - 1), (fmt.inf - 1) | fmt.sign_mask,   # ±largest finite
        ], dtype=np.uint64)
        pick = rng.random(shape) < 0.15
        values[pick] = from_bits(rng.choice(specials, size=int(pick.sum())), fmt)
    return values
