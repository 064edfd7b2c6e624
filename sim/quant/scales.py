"""Scales: per-tensor for activations, per-output-channel (or per-tensor) for weights, and the
engine's requantization parameters derived from them.

A tensor ``x`` quantized with scale ``s`` into a format holds ``q = Q(x / s)``, so ``x ≈ q·s``.
``s = amax / top``: the calibrated threshold maps to the format's largest value ``top``
(:func:`format_top`: 127 for INT8, 7 for INT4, 448 for FP8 E4M3, 57344 for E5M2); BF16 and
FP16 keep ``s = 1`` (their range covers every tensor here, and a power of two would change
nothing but the exponent).

The engine requantizes with one FP32 ``scale`` per output column: CONFIG sets every lane's,
SCALE one lane's. A GEMM of ``a`` (scale ``s_in``) by ``w`` (scale ``s_w``, one number or one
per output channel) accumulates ``a_q @ w_q ≈ (x @ W) / (s_in·s_w)``, so the next layer's
INT8 input is ``round(acc · s_in·s_w / s_out)``: :func:`requant` gives
``scale = s_in·s_w / s_out`` rounded to FP32 (a vector for per-channel weights, which
``run_gemm`` turns into SCALE commands), with the ReLU flag and the out mode.
:func:`requant_host` does the same on the host for the formats without an out mode.
"""

from dataclasses import dataclass

import numpy as np

from hw.formats import BF16, FP16, FP32, by_name

__all__ = ["format_top", "is_scaled", "tensor_scale", "channel_scales", "quantize",
           "dequantize", "Requant", "requant", "requant_host"]

#: Formats whose values are stored unscaled (scale 1): their range covers every tensor here.
UNSCALED = (BF16.name, FP16.name, FP32.name)


def _format(fmt):
    return by_name(fmt) if isinstance(fmt, str) else fmt


def is_scaled(fmt):
    """Whether tensors in ``fmt`` carry a scale (INT8, INT4, FP8) or not (BF16, FP16, FP32)."""
    return _format(fmt).name not in UNSCALED


def format_top(fmt):
    """The largest value of ``fmt`` a scaled tensor maps its threshold to (the integer formats'
    symmetric maximum, 127 / 7; the float formats' largest finite value)."""
    fmt = _format(fmt)
    if fmt.kind == "int":
        return float(fmt.max)
    return float(np.asarray(fmt.from_bits(fmt.max_finite), dtype=np.float64).reshape(-1)[0])


def _check_amax(name, amax):
    amax = np.asarray(amax, dtype=np.float64)
    if not np.isfinite(amax).all() or (amax < 0).any():
        raise ValueError(f"{name} must be finite and not negative, not {amax!r}")
    return amax


def tensor_scale(amax, fmt):
    """The per-tensor scale mapping the threshold ``amax`` to ``fmt``'s top (1.0 for an
    unscaled format, or when ``amax`` is 0)."""
    amax = float(_check_amax("amax", amax))
    if not is_scaled(fmt) or amax == 0.0:
        return 1.0
    return amax / format_top(fmt)


def channel_scales(w, fmt, axis=1):
    """Per-output-channel scales of a weight matrix ``w`` (K×N: ``axis=1``, one per column):
    each channel's ``max |w|`` mapped to ``fmt``'s top (1.0 where a channel is all zeros, and
    everywhere for an unscaled format)."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or axis not in (0, 1):
        raise ValueError(f"w must be a 2-D array and axis 0 or 1, not shape {w.shape} and "
                         f"axis {axis!r}")
    amax = np.abs(w).max(axis=1 - axis)
    if not is_scaled(fmt):
        return np.ones_like(amax)
    return np.where(amax > 0, amax / format_top(fmt), 1.0)


def _broadcast_scale(scale, x, axis):
    """``scale`` (a number, or one per channel along ``axis`` of ``x``) shaped to multiply
    ``x``."""
    s = np.asarray(scale, dtype=np.float64)
    if s.ndim:
        if axis is None or s.shape != (x.shape[axis],):
            raise ValueError(f"scale must be a number, or one per channel along axis with "
                             f"axis given, not shape {s.shape} for x of shape {x.shape} and "
                             f"axis {axis!r}")
        s = np.expand_dims(s, tuple(d for d in range(x.ndim) if d != axis % x.ndim))
    return s


def quantize(x, fmt, scale=1.0, axis=None):
    """``x / scale`` in ``fmt``'s dtype: integers rounded to nearest even and saturated to
    ``[-max, max]`` (symmetric), floats rounded to nearest even with OCP saturation. ``scale``
    is a number, or a vector of per-channel scales along ``axis`` of ``x``."""
    fmt = _format(fmt)
    x = np.asarray(x, dtype=np.float64)
    s = _broadcast_scale(scale, x, axis)
    if (s <= 0).any() or not np.isfinite(s).all():
        raise ValueError(f"scale must be finite and above 0, not {scale!r}")
    y = x / s
    if fmt.kind == "int":
        return np.clip(np.rint(y), -fmt.max, fmt.max).astype(fmt.dtype)
    return fmt.cast(y, saturate=True)


def dequantize(q, scale=1.0, axis=None):
    """``q · scale`` as float64 (``scale`` per channel along ``axis`` when a vector)."""
    q = np.asarray(q).astype(np.float64)
    return q * _broadcast_scale(scale, q, axis)


@dataclass(frozen=True)
class Requant:
    """One layer's post-processing: ``run_gemm(..., relu=relu, mode=mode, scale=scale)``;
    ``scale`` is a float, or a float32 vector (one per output channel: the engine sets each
    lane's with SCALE)."""
    relu: bool
    mode: str
    scale: object


def requant(s_in, s_w, s_out, *, relu=True, mode="int8"):
    """The engine's requantization for a layer: ``scale = s_in·s_w / s_out`` rounded to FP32
    (``mode="int8"``), one number, or one per output channel when ``s_w`` is per channel;
    for ``"bf16"`` and ``"raw"`` the scale is unused and 1.0.

    Raises
    ------
    ValueError
        If ``s_in`` or ``s_out`` is not one number, ``s_w`` is neither a number nor a vector,
        or any scale is not finite and above 0.
    """
    for name, s, most in (("s_in", s_in, 0), ("s_w", s_w, 1), ("s_out", s_out, 0)):
        s = np.asarray(s, dtype=np.float64)
        if s.ndim > most:
            what = "one number" if most == 0 else "one number or one per output channel"
            raise ValueError(f"{name} must be {what}, not an array of shape {s.shape}")
        if not np.isfinite(s).all() or (s <= 0).any():
            raise ValueError(f"{name} must be finite and above 0, not {s.tolist()!r}")
    if mode not in ("int8", "bf16", "raw"):
        raise ValueError(f"mode must be one of 'int8', 'bf16', 'raw', not {mode!r}")
    if mode != "int8":
        return Requant(bool(relu), mode, 1.0)
    scale = np.float32(s_in * np.asarray(s_w, dtype=np.float64) / s_out)
    return Requant(bool(relu), mode, float(scale) if scale.ndim == 0 else scale)


def requant_host(acc, s_in, s_w, s_out, fmt, *, relu=True):
    """What the engine has no out mode for (FP16, FP8, INT4 outputs), on the host:
    accumulator values ``acc`` (M×N) times ``s_in·s_w`` (``s_w`` per tensor or per output
    column), ReLU, then into ``fmt`` with the per-tensor ``s_out`` (:func:`quantize`)."""
    y = np.asarray(acc).astype(np.float64) * s_in * np.asarray(s_w, dtype=np.float64)
    if relu:
        y = np.maximum(y, 0.0)
    return quantize(y, fmt, s_out)
