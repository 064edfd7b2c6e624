"""Fake quantization: float tensors rounded through a format and back, so a float model and
its quantized twin can be compared layer by layer in numpy.

``fake_quant(x, fmt, scale)`` is ``dequantize(quantize(x, fmt, scale), scale)``
(:mod:`.scales`): what the engine would see of ``x`` in ``fmt``, as float64. It is idempotent:
fake-quantizing a fake-quantized tensor with the same scale changes nothing. ``"fp32"``
rounds to float32. :func:`sqnr` and :func:`compare` measure how far each layer's output of the
quantized twin is from the float model's.
"""

import numpy as np

from .scales import dequantize, quantize

__all__ = ["fake_quant", "sqnr", "compare"]


def fake_quant(x, fmt, scale=1.0, axis=None):
    """``x`` rounded into ``fmt`` with ``scale`` (per tensor, or one per channel along
    ``axis``) and back, as float64."""
    return dequantize(quantize(x, fmt, scale, axis), scale, axis)


def sqnr(ref, x):
    """Signal-to-quantization-noise ratio of ``x`` against ``ref``, in dB (``inf`` when they
    are equal)."""
    ref = np.asarray(ref, dtype=np.float64)
    noise = np.sum((np.asarray(x, dtype=np.float64) - ref) ** 2)
    if noise == 0:
        return np.inf
    return float(10 * np.log10(np.sum(ref ** 2) / noise))


def compare(ref_outputs, outputs):
    """Per layer, the SQNR (dB) of a quantized twin's outputs against the float model's (two
    lists of arrays, one per layer, of the same sizes; compared in C order, so a convolution's
    GEMM output rows and its NHWC output compare element for element)."""
    if len(ref_outputs) != len(outputs):
        raise ValueError(f"outputs must have one array per layer ({len(ref_outputs)}), not "
                         f"{len(outputs)}")
    return [sqnr(np.ravel(r), np.ravel(x)) for r, x in zip(ref_outputs, outputs, strict=True)]
