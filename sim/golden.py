"""The golden model: numpy functions computing exactly what the hardware computes.

Conventions
-----------
* Values are passed as numpy arrays of the format's dtype (``np.int8``, ``ml_dtypes.bfloat16``,
  ``np.float32``, ``np.int32``). :func:`to_bits` / :func:`from_bits` convert to and from the
  bit patterns the hardware sees.
* Float arithmetic is numpy float32 arithmetic (IEEE binary32, round to nearest even), done in
  the hardware's order. ``ftz=True`` emulates flush-to-zero: subnormal inputs read as zero of
  the same sign, subnormal results become zero of the same sign.
* A BF16 product is exact in binary32 except where the exponent leaves its range, so
  ``float32(a) * float32(b)`` *is* the hardware's single rounding of the exact product.
* Integer accumulation wraps in two's complement at 32 bits, as the hardware does.
* A dot product starts from +0 and adds the products in the order ``k = 0, 1, ...``; a GEMM
  whose K is split into passes sums each pass that way and then adds the passes in order.
* NaN results are compared as "any NaN"; the hardware emits one canonical quiet NaN.
"""

import numpy as np

from hw.formats import FP32

__all__ = [
    "to_bits", "from_bits", "same_bits", "flush_subnormals",
    "ref_mul", "ref_add", "ref_dot", "ref_gemm",
]


def to_bits(values, fmt):
    """The bit patterns (unsigned ints) of ``values`` held in ``fmt``."""
    return np.ascontiguousarray(np.asarray(values, dtype=fmt.dtype)).view(fmt.bits_dtype)


def from_bits(bits, fmt):
    """The values of ``fmt`` whose bit patterns are ``bits``."""
    return np.ascontiguousarray(np.asarray(bits).astype(fmt.bits_dtype)).view(fmt.dtype)


def _is_nan(x):
    return np.isnan(x.astype(np.float32)) if x.dtype.kind == "V" or x.dtype.kind == "f" \
        else np.zeros(x.shape, dtype=bool)


def same_bits(got, want, fmt):
    """Elementwise: ``got`` and ``want`` hold the same bits, any NaN matching any NaN."""
    got = np.asarray(got, dtype=fmt.dtype)
    want = np.asarray(want, dtype=fmt.dtype)
    equal = to_bits(got, fmt) == to_bits(want, fmt)
    if fmt.kind == "float":
        equal |= _is_nan(got) & _is_nan(want)
    return equal


def flush_subnormals(x):
    """``x`` (a float array) with every subnormal replaced by zero of the same sign."""
    x = np.asarray(x)
    tiny = np.finfo(x.dtype).smallest_normal
    mag = np.abs(x.astype(np.float32))
    return np.where((mag < np.float32(tiny)) & (mag != 0),
                    np.copysign(np.zeros((), x.dtype), x), x).astype(x.dtype)


def ref_mul(a, b, acc_fmt, ftz=False):
    """Product of ``a`` and ``b`` (arrays of an input format) as the multiplier produces it:
    exact int8 × int8 products widened to the accumulator, or BF16 × BF16 rounded once to FP32.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if acc_fmt.kind == "int":
        return (a.astype(np.int32) * b.astype(np.int32)).astype(acc_fmt.dtype)
    a32 = a.astype(np.float32)
    b32 = b.astype(np.float32)
    if ftz:
        a32, b32 = flush_subnormals(a32), flush_subnormals(b32)
    with np.errstate(all="ignore"):
        p = a32 * b32
    return flush_subnormals(p) if ftz else p


def ref_add(x, y, acc_fmt, ftz=False):
    """Sum of two accumulator-format arrays, as the accumulator adder produces it:
    wrapping int32, or IEEE binary32 with round to nearest even."""
    x = np.asarray(x, dtype=acc_fmt.dtype)
    y = np.asarray(y, dtype=acc_fmt.dtype)
    if acc_fmt.kind == "int":
        with np.errstate(over="ignore"):
            return (x.astype(np.int64) + y.astype(np.int64)).astype(np.int32)
    if ftz:
        x, y = flush_subnormals(x), flush_subnormals(y)
    with np.errstate(all="ignore"):
        s = x + y
    return flush_subnormals(s) if ftz else s


def _dot_pass(a, b, acc_fmt, ftz):
    """One pass: C = A @ B summed from +0 in the order k = 0, 1, ... (``a`` is M×K, ``b`` K×N)."""
    m, k = a.shape
    n = b.shape[1]
    acc = np.zeros((m, n), dtype=acc_fmt.dtype)
    for kk in range(k):
        prod = ref_mul(a[:, kk, None], b[None, kk, :], acc_fmt, ftz)
        acc = ref_add(acc, prod, acc_fmt, ftz)
    return acc


def ref_dot(a, b, acc_fmt, ftz=False):
    """Dot product of two vectors, summed from +0 in the order k = 0, 1, ..."""
    a = np.asarray(a).reshape(1, -1)
    b = np.asarray(b).reshape(-1, 1)
    return _dot_pass(a, b, acc_fmt, ftz)[0, 0]


def ref_gemm(a, b, cfg, k_pass=None, c_init=None):
    """C = A @ B as the hardware computes it.

    Parameters
    ----------
    a, b : numpy.ndarray
        M×K and K×N arrays of the configuration's input format (``np.int8`` or bfloat16).
    cfg : hw.config.Config
        Formats and subnormal handling.
    k_pass : int or None
        The K extent of one pass through the array (``None``: all of K in one pass). Each pass
        sums its products from +0 in order; the passes are then added in order.
    c_init : numpy.ndarray or None
        An accumulator to add the passes onto (``None``: the first pass is the start).
    """
    acc_fmt = cfg.acc_format
    a = np.asarray(a, dtype=cfg.in_format.dtype)
    b = np.asarray(b, dtype=cfg.in_format.dtype)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"A and B must be M×K and K×N, not {a.shape} and {b.shape}")
    k = a.shape[1]
    step = k if not k_pass else k_pass
    acc = None if c_init is None else np.asarray(c_init, dtype=acc_fmt.dtype)
    for k0 in range(0, max(k, 1), max(step, 1)):
        part = _dot_pass(a[:, k0:k0 + step], b[k0:k0 + step, :], acc_fmt, cfg.ftz)
        acc = part if acc is None else ref_add(acc, part, acc_fmt, cfg.ftz)
    return acc


assert FP32.sig_width == 24  # the BF16 product is exact in binary32 only because 8 + 8 <= 24
