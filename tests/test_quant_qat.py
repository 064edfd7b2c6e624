"""sim.quant.qat: the gradients of the GEMM-chain layers (dense and im2col convolution)
against finite differences, and fine-tuning with the straight-through estimator lowering the
training loss of an INT4 model."""

import copy

import numpy as np
import pytest

from sim.demo.models import Conv, Dense
from sim.quant.qat import QuantSpec, finetune, forward, loss_and_grads, train


def _tiny(seed=0):
    rng = np.random.default_rng(seed)
    return [Conv((4, 4, 1), 3, stride=2, relu=True, rng=rng), Dense(12, 5, relu=True, rng=rng),
            Dense(5, 3, relu=False, rng=rng)]


def _data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 4, 4, 1))
    # Which of three quadrants is brightest: learnable by the tiny model.
    quads = np.stack([x[:, :2, :2].sum(axis=(1, 2, 3)), x[:, :2, 2:].sum(axis=(1, 2, 3)),
                      x[:, 2:, :2].sum(axis=(1, 2, 3))], axis=1)
    return x, np.argmax(quads, axis=1)


def test_gradients_match_finite_differences():
    layers = _tiny()
    for lay in layers:
        lay.b = np.random.default_rng(2).normal(0, 0.1, lay.b.shape)
    x, y = _data(8)
    _, grads = loss_and_grads(layers, x, y)
    for li, (lay, (dw, db)) in enumerate(zip(layers, grads, strict=True)):
        for name, g in (("w", dw), ("b", db)):
            p = getattr(lay, name)
            idx = tuple(np.unravel_index(np.argmax(np.abs(g)), g.shape))
            old = p[idx]
            p[idx] = old + 1e-6
            up, _ = loss_and_grads(layers, x, y)
            p[idx] = old - 1e-6
            down, _ = loss_and_grads(layers, x, y)
            p[idx] = old
            assert (up - down) / 2e-6 == pytest.approx(g[idx], rel=1e-3, abs=1e-8), (li, name)


def test_qat_lowers_int4_loss():
    """A float model trained to a low loss loses much of it in INT4 (inputs and weights);
    fine-tuning with the STE wins a good part of it back."""
    x, y = _data(200)
    rng = np.random.default_rng(0)
    layers = [Dense(16, 24, relu=True, rng=rng), Dense(24, 3, relu=False, rng=rng)]
    float_loss = train(layers, x, y, epochs=60, lr=1e-2, batch=50)
    spec = QuantSpec("int4", (1.0, float(np.maximum(forward(layers[:1], x), 0).max())))
    before, _ = loss_and_grads(layers, x, y, spec)
    assert before > 1.5 * float_loss
    tuned = copy.deepcopy(layers)
    finetune(tuned, x, y, spec, epochs=20, lr=3e-3, batch=50)
    after, _ = loss_and_grads(tuned, x, y, spec)
    assert after < 0.85 * before
    assert (layers[0].w != tuned[0].w).any()


def test_finetune_needs_a_spec():
    with pytest.raises(ValueError, match="quant must be a QuantSpec, not None"):
        finetune(_tiny(), *_data(4), None)
