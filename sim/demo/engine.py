"""Running a model's layers through the engine, as a deployed model would run.

:func:`plan` turns a trained model, a format and each layer's calibrated input threshold into
per-layer GEMM operands and post-processing; :func:`run` runs them on a ``run_gemm`` backend
(each layer's output feeds the next), optionally checking every GEMM bit for bit against the
golden model. Per layer:

* the input (already in the format, scaled by ``s_in``) is lowered (im2col for a convolution,
  exact: it only copies values and pads zeros) and gets the constant bias column ``k``
  (the format's top value in a scaled format, 1 otherwise; :mod:`sim.demo.models`);
* the weights ``[W; b / (s_in·k)]`` are quantized with one scale per tensor, or one per
  output channel (``weights="channel"``);
* **INT8**: the engine requantizes (out mode INT8, ReLU, ``scale = s_in·s_w / s_out``,
  :func:`sim.quant.scales.requant`, one scale or, with per-channel weights, one per output
  channel, which SCALE commands set lane by lane) and its INT8 output is the next layer's
  input; **BF16**: the engine's BF16 out mode with ReLU feeds the next layer;
* **FP16, FP8, INT4**: there is no out mode for them: the engine writes RAW (INT32 / FP32)
  with ReLU and the host rounds into the next layer's format
  (:func:`sim.quant.scales.requant_host`), a *host-rounded* layer;
* the last layer writes RAW logits (no ReLU); the host scales them by ``s_in·s_w``.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from hw.config import Config
from hw.formats import by_name
from sim.golden import same_bits
from sim.host import run_gemm
from sim.quant.calibrate import Calibrator
from sim.quant.qat import fold_bias, forward
from sim.quant.scales import (
    channel_scales,
    format_top,
    is_scaled,
    quantize,
    requant,
    requant_host,
    tensor_scale,
)

__all__ = ["engine_config", "layer_inputs", "calibrate_model", "LayerPlan", "plan", "RunResult",
           "run"]

#: The engine the demo runs on: 8×8 output-stationary, 16 KiB buffers.
ENGINE = dict(rows=8, cols=8, dataflow="os", spad_kib=16, acc_kib=16)


def engine_config(fmt):
    """The demo's engine for input format ``fmt`` (INT8 and INT4 accumulate in INT32, the
    float formats in FP32)."""
    return Config(in_fmt=fmt, **ENGINE)


def layer_inputs(layers, x):
    """Each layer's input in the float model (``x`` for the first)."""
    _, saved = forward(layers, x, keep=True)
    outs = [x]
    for i in range(len(layers) - 1):
        outs.append(layers[i].raise_(saved[i][6], len(x)))
    return outs


def calibrate_model(layers, x, method, fmt, *, batch=256, **options):
    """Each layer's input threshold on ``x`` (batches of ``batch``) by ``method``; the entropy
    method's quantization bins are the format's top value + 1 (128 for INT8, 8 for INT4)."""
    if method == "entropy":
        options.setdefault("levels", int(format_top(fmt)) + 1 if by_name(fmt).kind == "int"
                           else 128)
    cals = [Calibrator(method, **options) for _ in layers]
    for start in range(0, len(x), batch):
        for cal, t in zip(cals, layer_inputs(layers, x[start:start + batch]), strict=True):
            cal.collect(t)
    return tuple(cal.amax() for cal in cals)


@dataclass
class LayerPlan:
    """One layer on the engine: the quantized weights ``w_q`` (K+1 × N, bias row last), the
    input and weight scales, the constant column ``k``, the engine's post-processing
    (``relu``, ``mode``, ``scale``: one, or one per output channel) and whether the host
    rounds the output (``s_out``)."""
    layer: object
    w_q: np.ndarray
    s_in: float
    s_w: object
    k: float
    relu: bool
    mode: str
    scale: object
    s_out: float
    host_rounded: bool


def plan(layers, fmt, amax, *, weights="tensor"):
    """The per-layer plans of ``layers`` in ``fmt`` with input thresholds ``amax``."""
    if weights not in ("tensor", "channel"):
        raise ValueError(f"weights must be 'tensor' or 'channel', not {weights!r}")
    plans = []
    for i, layer in enumerate(layers):
        s_in = tensor_scale(amax[i], fmt)
        k = format_top(fmt) if is_scaled(fmt) and amax[i] > 0 else 1.0
        wa = fold_bias(layer, s_in * k)
        s_w = channel_scales(wa, fmt) if weights == "channel" else \
            tensor_scale(np.abs(wa).max(), fmt)
        w_q = quantize(wa, fmt, s_w, axis=1)
        last = i + 1 == len(layers)
        s_out = 1.0 if last else tensor_scale(amax[i + 1], fmt)
        if last:
            mode, host = "raw", False
        elif fmt == "int8":
            mode, host = "int8", False
        elif fmt == "bf16":
            mode, host = "bf16", False
        else:
            mode, host = "raw", True
        scale = requant(s_in, s_w, s_out, mode=mode).scale if mode == "int8" else 1.0
        plans.append(LayerPlan(layer, w_q, s_in, s_w, k, layer.relu, mode, scale, s_out, host))
    return plans


@dataclass
class RunResult:
    """Logits, each layer's dequantized output, the GEMMs run, cycles, MACs and mismatches
    against the golden model (``None`` when not compared)."""
    logits: np.ndarray
    outputs: list = field(default_factory=list)
    gemms: int = 0
    cycles: int = 0
    macs: int = 0
    mismatches: object = None
    seconds: float = 0.0

    def utilization(self, cfg):
        return self.macs / (cfg.rows * cfg.cols * self.cycles) if self.cycles else None


def _operand(values, fmt):
    fmt = by_name(fmt)
    if fmt.kind == "int":
        values = np.rint(values).astype(np.int64)
    return fmt.exact("a", values)


def run(plans, x, fmt, *, backend="golden", check=False, cfg=None):
    """Run ``x`` through ``plans`` on ``backend``; with ``check``, every GEMM also runs on the
    golden model and the bits are compared (the chain continues with ``backend``'s output).
    ``cfg``: the engine (:func:`engine_config` of ``fmt`` if ``None``)."""
    cfg = cfg or engine_config(fmt)
    t0 = time.time()
    res = RunResult(logits=None, mismatches=0 if check else None)
    n = len(x)
    cur = quantize(x, fmt, plans[0].s_in).astype(np.float64)
    for i, p in enumerate(plans):
        a = p.layer.lower(cur)
        a = _operand(np.hstack([a, np.full((len(a), 1), p.k)]), fmt)
        out = run_gemm(a, p.w_q, cfg, backend=backend, relu=p.relu, mode=p.mode, scale=p.scale)
        if check and backend != "golden":
            ref = run_gemm(a, p.w_q, cfg, backend="golden", relu=p.relu, mode=p.mode,
                           scale=p.scale)
            res.mismatches += int((~same_bits(out.c, ref.c, out.program.out_format)).sum())
        res.gemms += 1
        res.cycles += out.cycles or 0
        res.macs += out.program.macs
        last = i + 1 == len(plans)
        if last:
            y = out.c.astype(np.float64) * p.s_in * np.asarray(p.s_w)
            res.outputs.append(y)
            res.logits = y
        else:
            nxt = requant_host(out.c, p.s_in, p.s_w, p.s_out, fmt, relu=False) \
                if p.host_rounded else out.c
            nxt = nxt.astype(np.float64)
            res.outputs.append(nxt * p.s_out)
            cur = p.layer.raise_(nxt, n)
    res.seconds = time.time() - t0
    return res
