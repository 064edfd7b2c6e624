"""The demo's models: chains of GEMM layers (an MLP, and a small CNN lowered with im2col).

Every layer is one GEMM followed by optional ReLU, the layer protocol of
:mod:`sim.quant.qat` (which trains them). The engine has no bias add, so each layer's bias is
**folded into its GEMM**: a constant input column ``c`` and an extra weight row ``b / c``
(:func:`sim.quant.qat.forward`; ``c`` is 1 in float formats and the input's threshold in
scaled ones, so it quantizes to the format's top value). It costs one K step per GEMM, and in
the scaled formats the bias is quantized with the weights' scale: a bias much larger than the
weights widens the weight scale, and in INT4 a small bias rounds to a few steps.

* :func:`mlp`: 64 → 64 → 32 → 10, ReLU between.
* :func:`cnn`: conv 3×3 1→8 (stride 1, pad 1; 8×8×8) → conv 3×3 8→16 (stride 2, pad 1;
  4×4×16) → dense 256 → 10. A convolution is the GEMM of its im2col patches
  (``n·Ho·Wo`` rows × ``9·C_in`` columns, row-major over kernel row, kernel column, channel)
  by its ``9·C_in × C_out`` weights; no pooling (the stride does the down-sampling).
"""

import numpy as np

from sim.quant.qat import train

__all__ = ["Dense", "Conv", "im2col", "col2im", "mlp", "cnn", "accuracy", "fit"]


def im2col(x, k, stride, pad):
    """Patches of ``x`` (n, H, W, C) as rows: ``(n·Ho·Wo, k·k·C)``, zero padding."""
    n, h, w, c = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    cols = np.empty((n, ho, wo, k, k, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :]
    return cols.reshape(n * ho * wo, k * k * c)


def col2im(cols, x_shape, k, stride, pad):
    """The adjoint of :func:`im2col`: patch gradients summed back onto ``x_shape``."""
    n, h, w, c = x_shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    cols = cols.reshape(n, ho, wo, k, k, c)
    xp = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    for i in range(k):
        for j in range(k):
            xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :] += cols[:, :, :, i, j, :]
    return xp[:, pad:pad + h, pad:pad + w, :]


class Dense:
    """A dense layer on the flattened input: ``y = x @ w + b``."""

    def __init__(self, n_in, n_out, *, relu, rng):
        self.w = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out))
        self.b = np.zeros(n_out)
        self.relu = relu
        self.name = f"dense {n_in}→{n_out}"

    def lower(self, x):
        return x.reshape(len(x), -1)

    def unlower(self, da, x_shape):
        return da.reshape(x_shape)

    def raise_(self, y, n):
        return y

    def unraise(self, dx):
        return dx.reshape(dx.shape[0], -1)


class Conv:
    """A k×k convolution (NHWC) as the GEMM of its im2col patches."""

    def __init__(self, in_shape, c_out, *, k=3, stride=1, pad=1, relu, rng):
        h, w, c = in_shape
        self.k, self.stride, self.pad = k, stride, pad
        self.out_hw = ((h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
        self.w = rng.normal(0.0, np.sqrt(2.0 / (k * k * c)), (k * k * c, c_out))
        self.b = np.zeros(c_out)
        self.relu = relu
        self.name = f"conv {k}×{k} {c}→{c_out} s{stride}"

    def lower(self, x):
        return im2col(x, self.k, self.stride, self.pad)

    def unlower(self, da, x_shape):
        return col2im(da, x_shape, self.k, self.stride, self.pad)

    def raise_(self, y, n):
        return y.reshape(n, *self.out_hw, -1)

    def unraise(self, dx):
        return dx.reshape(-1, dx.shape[-1])


def mlp(seed=0):
    """64 → 64 → 32 → 10."""
    rng = np.random.default_rng(seed)
    return [Dense(64, 64, relu=True, rng=rng), Dense(64, 32, relu=True, rng=rng),
            Dense(32, 10, relu=False, rng=rng)]


def cnn(seed=0):
    """conv 1→8 → conv 8→16 (stride 2) → dense 256 → 10."""
    rng = np.random.default_rng(seed)
    return [Conv((8, 8, 1), 8, relu=True, rng=rng), Conv((8, 8, 8), 16, stride=2, relu=True,
                                                          rng=rng),
            Dense(256, 10, relu=False, rng=rng)]


MODELS = {"mlp": mlp, "cnn": cnn}


def accuracy(logits, labels):
    """Top-1 accuracy in percent."""
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == labels))


def fit(name, x, labels, *, epochs=40, seed=0, progress=None):
    """A freshly trained ``name`` model (``"mlp"`` or ``"cnn"``)."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {', '.join(map(repr, MODELS))}, not {name!r}")
    layers = MODELS[name](seed)
    train(layers, x, labels, epochs=epochs, seed=seed, progress=progress)
    return layers
