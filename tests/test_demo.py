"""sim.demo: im2col lowering, a tiny model bit-exact on the compiled Verilator engine, and
the whole demo on the golden model for a few test images (the full run is
``python -m sim.demo``, minutes: a benchmark, not a test)."""

import io

import numpy as np
import pytest

from hw.config import Config
from sim.backends.verilator_engine import missing_verilator
from sim.demo.__main__ import ROWS, demo
from sim.demo.engine import calibrate_model, plan, run
from sim.demo.models import Conv, Dense, accuracy, col2im, im2col
from sim.quant.qat import forward, train

pytest.importorskip("sklearn", reason="the demo extra (scikit-learn) is not installed")


def test_im2col_is_the_convolution():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2, 5, 5, 3))
    w = rng.normal(0, 1, (3, 3, 3, 4))
    got = (im2col(x, 3, 2, 1) @ w.reshape(27, 4)).reshape(2, 3, 3, 4)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((2, 3, 3, 4))
    for i in range(3):
        for j in range(3):
            patch = xp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            want[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    assert np.allclose(got, want)
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>.
    c = rng.normal(0, 1, (18, 27))
    assert np.isclose(np.sum(im2col(x, 3, 2, 1) * c), np.sum(x * col2im(c, x.shape, 3, 2, 1)))


def _tiny_model():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (24, 4, 4, 1))
    y = np.argmax(x.reshape(24, 4, 4)[:, :, :3].sum(axis=1), axis=1)
    layers = [Conv((4, 4, 1), 2, stride=2, relu=True, rng=rng), Dense(8, 3, relu=False, rng=rng)]
    train(layers, x, y, epochs=20, lr=1e-2, batch=8)
    return layers, x, y


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["tensor", "channel"])
def test_tiny_model_on_verilator_bit_exact(weights, require_tool):
    """Two layers (conv via im2col, dense) in INT8 chained through the engine's own INT8
    requantization on the compiled harness (per-channel weights: a scale per output lane, set
    by SCALE), every GEMM bit-exact against the golden model; the engine is
    tests.test_cocotb_engine's OS_INT8, so the build cache is shared."""
    require_tool(missing_verilator())
    layers, x, y = _tiny_model()
    amax = calibrate_model(layers, x, "max", "int8")
    plans = plan(layers, "int8", amax, weights=weights)
    assert [p.mode for p in plans] == ["int8", "raw"]
    res = run(plans, x, "int8", backend="verilator", check=True, cfg=Config(rows=4, cols=4))
    assert res.mismatches == 0 and res.gemms == 2 and res.cycles > 0
    gold = run(plans, x, "int8", backend="golden", cfg=Config(rows=4, cols=4))
    assert (gold.logits == res.logits).all()
    assert abs(accuracy(res.logits, y) - accuracy(forward(layers, x), y)) <= 100 / 24 * 2


@pytest.mark.parametrize("weights", ["tensor", "channel"])
def test_engine_run_matches_fake_quant(weights):
    """The golden engine run and the fake-quantized float model agree on almost every
    prediction (they differ only in where float rounding falls)."""
    layers, x, _ = _tiny_model()
    amax = calibrate_model(layers, x, "max", "int8")
    res = run(plan(layers, "int8", amax, weights=weights), x, "int8")
    from sim.quant.qat import QuantSpec
    fq = forward(layers, x, QuantSpec("int8", amax))
    assert np.mean(np.argmax(res.logits, 1) == np.argmax(fq, 1)) >= 0.9
    assert np.corrcoef(res.logits.ravel(), fq.ravel())[0, 1] > 0.99


def test_demo_on_golden_subset():
    out = io.StringIO()
    rows = [r for r in ROWS if r[0] in ("bf16", "fp8e4m3", "int4") or r[1] == "entropy"]
    got = demo(backend="golden", model_names=("mlp",), subset=40, epochs=8, qat_epochs=1,
               out=out, rows=rows)
    text = out.getvalue()
    assert "8×8 OS" in text and "| mlp | float (numpy) |" in text
    assert len(got) == len(rows) and all(r["mismatches"] is None for r in got)
    by = {(r["fmt"], r["weights"], r["tune"]): r for r in got}
    assert by[("bf16", "tensor", False)]["host"] == []
    assert by[("int8", "tensor", False)]["host"] == []
    assert by[("int8", "channel", False)]["host"] == []     # SCALE sets each lane
    assert by[("fp8e4m3", "tensor", False)]["host"] == ["1", "2"]
    assert abs(by[("bf16", "tensor", False)]["delta"]) <= 2.5
