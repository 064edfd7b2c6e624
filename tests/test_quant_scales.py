"""sim.quant.scales and sim.quant.fake: per-tensor and per-channel scales, quantization, the
engine's requantization against a float reference, and fake quantization."""

import ml_dtypes
import numpy as np
import pytest

from hw.config import Config
from sim.golden import ref_postproc
from sim.quant.fake import compare, fake_quant, sqnr
from sim.quant.scales import (
    channel_scales,
    format_top,
    quantize,
    requant,
    requant_host,
    tensor_scale,
)


def test_format_tops():
    assert [format_top(f) for f in ("int8", "int4", "fp8e4m3", "fp8e5m2")] == \
        [127.0, 7.0, 448.0, 57344.0]
    assert tensor_scale(254.0, "int8") == 2.0
    assert tensor_scale(3.0, "bf16") == 1.0 and tensor_scale(0.0, "int8") == 1.0


def test_channel_scales():
    w = np.array([[1.0, -0.5, 0.0], [-2.54, 0.25, 0.0]])
    s = channel_scales(w, "int8")
    assert s == pytest.approx([0.02, 0.5 / 127, 1.0])
    q = quantize(w, "int8", s, axis=1)
    assert q.dtype == np.int8 and np.abs(q).max(axis=0).tolist() == [127, 127, 0]
    assert (channel_scales(w, "fp16") == 1.0).all()


def test_quantize_rounds_and_saturates():
    q = quantize(np.array([0.5, 1.5, 2.5, -300.0, 300.0]), "int8", 1.0)
    assert q.tolist() == [0, 2, 2, -127, 127]
    assert quantize(np.array([9.0, -20.0]), "int4", 1.0).astype(int).tolist() == [7, -7]
    f8 = quantize(np.array([1000.0, 1.0625]), "fp8e4m3", 1.0)
    assert f8.dtype == ml_dtypes.float8_e4m3fn and f8.astype(float).tolist() == [448.0, 1.0]


@pytest.mark.parametrize("call, match", [
    (lambda: quantize(np.ones((2, 3)), "int8", np.ones(2), axis=1), "scale must be a number"),
    (lambda: quantize(np.ones(3), "int8", 0.0), "scale must be finite and above 0, not 0.0"),
    (lambda: requant(0.1, np.ones((3, 2)), 0.2),
     r"s_w must be one number or one per output channel, not an array of shape \(3, 2\)"),
    (lambda: requant(np.ones(2), 0.1, 0.2), r"s_in must be one number, not an array"),
    (lambda: requant(0.1, np.array([0.1, 0.0]), 0.2), r"s_w must be finite and above 0, "
                                                      r"not \[0.1, 0.0\]"),
    (lambda: requant(0.1, 0.1, -1.0), "s_out must be finite and above 0, not -1.0"),
    (lambda: requant(0.1, 0.1, 0.1, mode="fp16"), "mode must be one of"),
    (lambda: channel_scales(np.ones(3), "int8"), "w must be a 2-D array"),
    (lambda: tensor_scale(np.inf, "int8"), "amax must be finite"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_requant_matches_float_reference_within_half_an_lsb():
    """The engine's INT8 requantization of ``a_q @ w_q`` (golden post-processing) against the
    float result quantized by the host: every output within half an LSB of the exact value
    (plus the FP32 scale's own rounding)."""
    rng = np.random.default_rng(3)
    x = np.abs(rng.normal(0, 1, (40, 30)))
    w = rng.normal(0, 0.2, (30, 12))
    s_in, s_w = tensor_scale(np.abs(x).max(), "int8"), tensor_scale(np.abs(w).max(), "int8")
    a_q, w_q = quantize(x, "int8", s_in), quantize(w, "int8", s_w)
    acc = a_q.astype(np.int64) @ w_q.astype(np.int64)
    y = acc * s_in * s_w                           # the exact float value of the GEMM
    s_out = tensor_scale(np.maximum(y, 0).max() * 0.8, "int8")   # some saturate
    r = requant(s_in, s_w, s_out, relu=True)
    got = ref_postproc(acc.astype(np.int32), Config(rows=2, cols=2), relu=r.relu, mode=r.mode,
                       scale=r.scale)
    ideal = np.clip(np.maximum(y, 0) / s_out, -128, 127)
    assert np.abs(got - ideal).max() <= 0.5 + 1e-5 * 127
    assert (got == requant_host(acc, s_in, s_w, s_out, "int8")).mean() > 0.99
    # Per output channel: the same, one FP32 scale per column.
    s_c = channel_scales(w, "int8")
    w_c = quantize(w, "int8", s_c, axis=1)
    acc = a_q.astype(np.int64) @ w_c.astype(np.int64)
    y = acc * s_in * s_c
    r = requant(s_in, s_c, s_out, relu=True)
    assert r.scale.dtype == np.float32 and r.scale.shape == (12,)
    got = ref_postproc(acc.astype(np.int32), Config(rows=2, cols=2), relu=r.relu, mode=r.mode,
                       scale=r.scale)
    ideal = np.clip(np.maximum(y, 0) / s_out, -128, 127)
    assert np.abs(got - ideal).max() <= 0.5 + 1e-5 * 127


@pytest.mark.parametrize("fmt, scale", [("int8", 0.03), ("int4", 0.3), ("fp8e4m3", 0.01),
                                        ("fp8e5m2", 1.0), ("bf16", 1.0), ("fp16", 1.0)])
def test_fake_quant_idempotent(fmt, scale):
    x = np.random.default_rng(4).normal(0, 2, (50, 7))
    once = fake_quant(x, fmt, scale)
    assert (fake_quant(once, fmt, scale) == once).all()
    assert not (once == x).all()
    per = fake_quant(x, fmt, np.full(7, scale), axis=1)
    assert (fake_quant(per, fmt, np.full(7, scale), axis=1) == per).all()


def test_sqnr_and_compare():
    ref = np.array([1.0, -2.0, 3.0])
    assert sqnr(ref, ref) == np.inf
    assert sqnr(ref, ref * 1.1) == pytest.approx(20.0)
    assert compare([ref], [ref * 1.1]) == [pytest.approx(20.0)]
    with pytest.raises(ValueError, match="outputs must have one array per layer"):
        compare([ref, ref], [ref])
