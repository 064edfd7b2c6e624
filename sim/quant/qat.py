"""Training a chain of GEMM layers in numpy, and quantization-aware fine-tuning with a
straight-through estimator (STE).

A model is a list of layers; each layer is one GEMM ``[A, c] @ [W; b / c]`` (the bias folded in
as a constant input column ``c`` and an extra weight row, because the engine has no bias add),
optionally followed by ReLU. A layer provides ``lower(x) -> A`` (the GEMM's left operand: the
input itself for a dense layer, its im2col patches for a convolution), ``raise_(y, n)`` (the
GEMM's output back to the next layer's input shape), ``unlower(dA, x_shape)`` (the gradient of
``lower``), and arrays ``w`` (K×N) and ``b`` (N). The last layer's output is the logits
(softmax cross-entropy loss).

Quantization-aware fine-tuning (:func:`finetune`) trains with every layer's input and weights
fake-quantized (:mod:`.fake`) in the forward pass; the backward pass treats the rounding as the
identity (the STE) and passes no gradient to values clipped at the threshold. The weights keep
their float master copy; the weight scale follows the weights at every step (per tensor, over
the weights and the folded bias row), the activation thresholds are calibrated once on the
float model and fixed. This is what makes INT4 usable: post-training INT4 loses many points.
"""

from dataclasses import dataclass

import numpy as np

from .fake import fake_quant
from .scales import format_top, is_scaled, tensor_scale

__all__ = ["QuantSpec", "fold_bias", "forward", "loss_and_grads", "train", "finetune",
           "cross_entropy"]


@dataclass(frozen=True)
class QuantSpec:
    """How a model is fake-quantized: the ``fmt`` of inputs and weights, and each layer's
    input threshold ``amax`` (one per layer; the constant bias column is ``amax`` for a scaled
    format, so it is the format's top value after quantization, and 1 otherwise)."""
    fmt: str
    amax: tuple

    def const(self, i):
        """Layer ``i``'s constant input column."""
        return self.amax[i] if is_scaled(self.fmt) and self.amax[i] > 0 else 1.0

    def input_scale(self, i):
        return tensor_scale(self.amax[i], self.fmt)


def fold_bias(layer, c):
    """``layer``'s weights with its bias folded in: ``[W; b / c]`` for a constant input column
    ``c`` (the engine has no bias add)."""
    return np.vstack([layer.w, layer.b[None, :] / c])


def forward(layers, x, quant=None, *, keep=False):
    """Logits of ``x`` (float64), fake-quantized by ``quant`` (a :class:`QuantSpec`) if given.

    With ``keep``, also returns each layer's intermediates (for :func:`loss_and_grads`, and
    each layer's output for comparing a float model with its quantized twin)."""
    x = np.asarray(x, dtype=np.float64)
    saved = []
    n = x.shape[0]
    for i, layer in enumerate(layers):
        a = layer.lower(x)
        mask = None
        c = 1.0
        wa = fold_bias(layer, c)
        if quant is not None:
            c = quant.const(i)
            s_in = quant.input_scale(i)
            a_q = fake_quant(a, quant.fmt, s_in)
            mask = np.abs(a) <= s_in * format_top(quant.fmt)
            a = a_q
            wa = fold_bias(layer, c)
            wa = fake_quant(wa, quant.fmt, tensor_scale(np.abs(wa).max(), quant.fmt))
        y = a @ wa[:-1] + c * wa[-1]
        out = np.maximum(y, 0.0) if layer.relu else y
        saved.append((x.shape, a, mask, wa, c, y, out))
        x = layer.raise_(out, n) if i + 1 < len(layers) else out
    return (x, saved) if keep else x


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.mean(np.log(p[np.arange(n), labels] + 1e-12))
    p[np.arange(n), labels] -= 1.0
    return float(loss), p / n


def loss_and_grads(layers, x, labels, quant=None):
    """The loss and, per layer, the gradients ``(dw, db)`` (STE through fake quantization)."""
    logits, saved = forward(layers, x, quant, keep=True)
    loss, dy = cross_entropy(logits, labels)
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):
        layer = layers[i]
        x_shape, a, mask, wa, c, y, _ = saved[i]
        if layer.relu:
            dy = dy * (y > 0)
        dw = a.T @ dy
        db = dy.sum(axis=0)     # the bias row b / c meets the constant column c
        grads[i] = (dw, db)
        if i:
            da = dy @ wa[:-1].T
            if mask is not None:
                da = da * mask
            dy = layers[i - 1].unraise(layer.unlower(da, x_shape))
    return loss, grads


def train(layers, x, labels, *, epochs=30, lr=3e-3, batch=64, seed=0, quant=None,
          weight_decay=1e-4, progress=None):
    """Adam over mini-batches; updates the layers' ``w`` and ``b`` in place and returns the
    last epoch's mean loss. ``progress(epoch, loss)`` is called after each epoch."""
    rng = np.random.default_rng(seed)
    params = [(layer, name) for layer in layers for name in ("w", "b")]
    m = [np.zeros_like(getattr(lay, nm)) for lay, nm in params]
    v = [np.zeros_like(getattr(lay, nm)) for lay, nm in params]
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss, grads = loss_and_grads(layers, x[idx], labels[idx], quant)
            total += loss * len(idx)
            step += 1
            flat = [g for pair in grads for g in pair]
            for j, ((lay, nm), g) in enumerate(zip(params, flat, strict=True)):
                p = getattr(lay, nm)
                if nm == "w":
                    g = g + weight_decay * p
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                mh = m[j] / (1 - 0.9 ** step)
                vh = v[j] / (1 - 0.999 ** step)
                setattr(lay, nm, p - lr * mh / (np.sqrt(vh) + 1e-8))
        total /= len(x)
        if progress:
            progress(epoch, total)
    return total


def finetune(layers, x, labels, quant, *, epochs=10, lr=5e-4, **options):
    """Quantization-aware fine-tuning: :func:`train` with ``quant``'s fake quantization in the
    forward pass and the straight-through estimator in the backward pass."""
    if quant is None:
        raise ValueError("quant must be a QuantSpec, not None")
    return train(layers, x, labels, epochs=epochs, lr=lr, quant=quant, **options)
