"""The golden model: numpy functions computing exactly what the hardware computes.

Conventions
-----------
* Values are passed as numpy arrays of the format's dtype (``np.int8``, ``ml_dtypes.int4``,
  ``ml_dtypes.bfloat16``, ``np.float16``, ``ml_dtypes.float8_e4m3fn``, ``ml_dtypes.float8_e5m2``,
  ``np.float32`` (also holding TF32 values), ``np.int32``). :func:`to_bits` / :func:`from_bits`
  convert to and from the bit patterns the hardware sees.
* Float arithmetic is numpy float32 arithmetic (IEEE binary32, round to nearest even), done in
  the hardware's order. ``ftz=True`` emulates flush-to-zero: subnormal inputs read as zero of
  the same sign, subnormal results become zero of the same sign.
* A product of two values of any float input format (BF16, FP16, FP8, TF32) is exact in
  binary32 except where the exponent leaves its range, so ``float32(a) * float32(b)`` *is* the
  hardware's single rounding of the exact product.
* Integer accumulation wraps in two's complement at 32 bits, as the hardware does.
* A dot product starts from +0 and adds the products in the order ``k = 0, 1, ...``; a GEMM
  whose K is split into passes sums each pass that way and then adds the passes in order.
* NaN results are compared as "any NaN"; the hardware emits one canonical quiet NaN.
"""

import ml_dtypes
import numpy as np

from hw.formats import FP32

__all__ = [
    "to_bits", "from_bits", "same_bits", "flush_subnormals",
    "ref_mul", "ref_add", "ref_dot", "ref_gemm",
    "ref_float_to_int", "ref_narrow", "ref_relu", "ref_postproc",
]


def to_bits(values, fmt):
    """The bit patterns (unsigned ints) of ``values`` held in ``fmt``
    (:meth:`~hw.formats.FloatFormat.to_bits`)."""
    return fmt.to_bits(values)


def from_bits(bits, fmt):
    """The values of ``fmt`` whose bit patterns are ``bits``."""
    return fmt.from_bits(bits)


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
    tiny = ml_dtypes.finfo(x.dtype).smallest_normal
    mag = np.abs(x.astype(np.float32))
    return np.where((mag < np.float32(tiny)) & (mag != 0),
                    np.copysign(np.zeros((), x.dtype), x), x).astype(x.dtype)


def ref_mul(a, b, acc_fmt, ftz=False):
    """Product of ``a`` and ``b`` (arrays of an input format) as the multiplier produces it:
    exact integer products widened to the accumulator, or float products rounded once to FP32.
    With ``ftz`` the operands' subnormals (of their own format: an FP16 subnormal is a normal
    float32) read as zeros, and subnormal products become zeros.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if acc_fmt.kind == "int":
        return (a.astype(np.int32) * b.astype(np.int32)).astype(acc_fmt.dtype)
    if ftz:
        a, b = flush_subnormals(a), flush_subnormals(b)
    a32 = a.astype(np.float32)
    b32 = b.astype(np.float32)
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


def _interleaved_pass(a, b, acc_fmt, ftz, interleave):
    """One pass summed as ``interleave`` partial sums: partial ``c`` adds the products of the
    pass's steps ``c, c + interleave, ...`` in order from +0; then the partials are added in
    the order ``c = 0, 1, ...``."""
    total = None
    for c in range(interleave):
        part = _dot_pass(a[:, c::interleave], b[c::interleave, :], acc_fmt, ftz)
        total = part if total is None else ref_add(total, part, acc_fmt, ftz)
    return total


def ref_gemm(a, b, cfg, k_pass=None, c_init=None, interleave=1):
    """C = A @ B as the hardware computes it.

    Parameters
    ----------
    a, b : numpy.ndarray
        M×K and K×N arrays of the configuration's input format (its ``dtype``; other values
        are rounded into the format by its ``cast``).
    cfg : hw.config.Config
        Formats and subnormal handling.
    k_pass : int or None
        The K extent of one pass through the array (``None``: all of K in one pass). Each pass
        sums its products from +0 in order; the passes are then added in order.
    c_init : numpy.ndarray or None
        An accumulator to add the passes onto (``None``: the first pass is the start).
    interleave : int
        Each pass is summed as this many interleaved partial sums, then those are added in
        order (the output-stationary engine's FP32 order, one partial per adder stage); 1 is
        the plain sequential sum.
    """
    acc_fmt = cfg.acc_format
    a = cfg.in_format.cast(a)
    b = cfg.in_format.cast(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"A and B must be M×K and K×N, not {a.shape} and {b.shape}")
    k = a.shape[1]
    step = k if not k_pass else k_pass
    acc = None if c_init is None else np.asarray(c_init, dtype=acc_fmt.dtype)
    for k0 in range(0, max(k, 1), max(step, 1)):
        part = _interleaved_pass(a[:, k0:k0 + step], b[k0:k0 + step, :], acc_fmt, cfg.ftz,
                                 interleave)
        acc = part if acc is None else ref_add(acc, part, acc_fmt, cfg.ftz)
    return acc


# Every float input format's product is exact in binary32 (bar the ends of its exponent range)
# only because 2 * sig_width <= 24: BF16 16, FP16 and TF32 22, FP8 8 and 6.
assert FP32.sig_width == 24


def ref_float_to_int(x, int_width):
    """``x`` (a float array) converted to ``int_width``-bit signed integers as
    :class:`~hw.fp.float2int.FloatToInt` does: round to nearest, ties to even, saturate to the
    integer's range (infinities too), NaN to 0. Returned as int64."""
    lo, hi = -(1 << (int_width - 1)), (1 << (int_width - 1)) - 1
    with np.errstate(invalid="ignore"):
        x = np.asarray(x).astype(np.float64)   # exact for every float up to binary64
        y = np.clip(np.rint(x), lo, hi)        # np.rint: ties to even; clip is exact here
    return np.where(np.isnan(x), 0, y).astype(np.int64)


def ref_narrow(x, out_fmt, ftz=False):
    """``x`` (a float32 array) rounded to nearest even into ``out_fmt`` (ml_dtypes' cast), as
    :class:`~hw.fp.narrow.FloatNarrow` does; ``ftz`` flushes subnormal inputs and results."""
    x = np.asarray(x, dtype=np.float32)
    if ftz:
        x = flush_subnormals(x)
    with np.errstate(invalid="ignore", over="ignore"):
        y = x.astype(out_fmt.dtype)
    if not ftz:
        return y
    # np.finfo does not know the ml_dtypes formats: find the subnormals from the bits.
    bits = to_bits(y, out_fmt).astype(np.uint64)
    exp_zero = (bits & (out_fmt.exp_max << out_fmt.frac_width)) == 0
    sign = bits & out_fmt.sign_mask
    return from_bits(np.where(exp_zero, sign, bits), out_fmt)


def ref_relu(c, acc_fmt):
    """ReLU as post-processing applies it: ``max(x, 0)`` for integers; for floats a value
    whose sign bit is set (-0, -Inf, negative values) becomes +0 and a NaN the canonical
    quiet NaN."""
    c = np.asarray(c, dtype=acc_fmt.dtype)
    if acc_fmt.kind == "int":
        return np.maximum(c, 0).astype(acc_fmt.dtype)
    bits = to_bits(c, acc_fmt)
    bits = np.where(np.signbit(c), 0, bits)
    bits = np.where(np.isnan(c), acc_fmt.qnan, bits)
    return from_bits(bits, acc_fmt)


def ref_postproc(c, cfg, *, relu=False, mode="raw", scale=1.0):
    """Post-processing of accumulator values ``c`` as :class:`~hw.engine.postproc.PostProc` does it.

    ReLU first (:func:`ref_relu`) when ``relu``, then by ``mode`` (``"raw"``, ``"int8"``,
    ``"bf16"`` or an :class:`~hw.isa.OutMode`):

    * raw: the accumulator values (int32, or float32 with their bits kept);
    * int8: ``float32(x) * float32(scale)`` in binary32 (the int32 conversion and the product
      each rounded to nearest even), then rounded to nearest even and saturated into int8
      (:func:`ref_float_to_int`; NaN gives 0); ``scale`` is one number or one per column
      (per output channel, as the SCALE command sets each lane's), broadcast against ``c``'s
      last axis;
    * bf16 (fp32 accumulators only): rounded to nearest even into bfloat16 (:func:`ref_narrow`).

    With ``cfg.ftz`` the float operations flush subnormal inputs and results to zero.
    Returns an ``np.int32`` / ``np.float32`` (raw), ``np.int8`` or bfloat16 array.

    Raises
    ------
    ValueError
        For a mode the configuration's accumulator cannot produce.
    """
    from hw.formats import BF16, INT8
    from hw.isa import OutMode, allowed_modes, out_mode

    mode = out_mode(mode)
    if mode not in allowed_modes(cfg):
        allowed = " or ".join(m.name for m in allowed_modes(cfg))
        raise ValueError(f"mode must be {allowed} for {cfg.acc_fmt} accumulation, "
                         f"not {mode.name}")
    acc_fmt = cfg.acc_format
    c = np.asarray(c, dtype=acc_fmt.dtype)
    if relu:
        c = ref_relu(c, acc_fmt)
    if mode == OutMode.RAW:
        return c.copy()
    if mode == OutMode.BF16:
        return ref_narrow(c, BF16, cfg.ftz)
    x = c.astype(np.float32)               # int32 to float32: round to nearest even
    s = np.float32(scale)
    if cfg.ftz:                            # an int32's float32 is never subnormal
        x, s = flush_subnormals(x), flush_subnormals(s)
    with np.errstate(all="ignore"):
        y = x * s
    if cfg.ftz:
        y = flush_subnormals(y)
    return ref_float_to_int(y, INT8.width).astype(INT8.dtype)
