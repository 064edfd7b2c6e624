"""``python -m sim.demo``: the digits through an MLP and a CNN in every format, on the engine.

Trains both models in numpy (float64), calibrates, quantizes, runs every layer's GEMM on the
engine (``--backend verilator``: cycle-accurate, and each GEMM again on the golden model,
compared bit for bit; ``--backend golden``: the golden model alone) and prints one markdown
table: accuracy per format and calibration method against the float model, host-rounded
layers, GEMMs on the simulated engine, cycles, utilization, bit-exactness and the SQNR of
each layer's output against the float model's (the quantized twin compared layer by layer).
Progress goes to stderr, one line per (model, format) as it starts and when it is done.

Rows marked *golden* run on the golden model only: INT4 before fine-tuning (shown to say what
fine-tuning buys).
"""

import argparse
import copy
import sys
import time

import numpy as np

from sim.quant.fake import compare
from sim.quant.qat import QuantSpec, finetune, forward

from . import data, models
from .engine import ENGINE, calibrate_model, engine_config, layer_inputs, plan, run

#: (format, calibration, weights, where, fine-tune): the rows of each model's table.
ROWS = [
    ("bf16", "-", "tensor", "engine", False),
    ("fp16", "-", "tensor", "engine", False),
    ("fp8e4m3", "max", "tensor", "engine", False),
    ("fp8e5m2", "max", "tensor", "engine", False),
    ("int8", "max", "tensor", "engine", False),
    ("int8", "percentile", "tensor", "engine", False),
    ("int8", "entropy", "tensor", "engine", False),
    ("int8", "entropy", "channel", "engine", False),
    ("int4", "percentile", "tensor", "golden", False),
    ("int4", "percentile", "tensor", "engine", True),
]

HEADER = ("| model | format | calibration | weight scales | accuracy % | Δ vs float | "
          "host-rounded layers | GEMMs on engine | cycles | utilization | bit-exact | "
          "SQNR per layer (dB) |")


def _log(t0, text):
    print(f"[{time.time() - t0:7.1f} s] {text}", file=sys.stderr, flush=True)


def _fmt_sqnr(values):
    return " / ".join("∞" if v == np.inf else f"{v:.1f}" for v in values)


def demo(*, backend="verilator", model_names=("mlp", "cnn"), subset=None, epochs=40,
         qat_epochs=8, out=sys.stdout, rows=ROWS):
    """Run the demo and print the table to ``out``; returns the rows as dicts."""
    t0 = time.time()
    x_tr, y_tr, x_te, y_te = data.load()
    if subset:
        x_te, y_te = x_te[:subset], y_te[:subset]
    shape = f"{ENGINE['rows']}×{ENGINE['cols']} {ENGINE['dataflow'].upper()}, " \
            f"{ENGINE['spad_kib']} KiB scratchpad, {ENGINE['acc_kib']} KiB accumulators"
    checked = " (each GEMM also on the golden model, compared bit for bit)" \
        if backend != "golden" else ""
    print(f"Engine: {shape}; backend {backend}{checked}; {len(x_te)} test images, "
          f"{len(x_tr)} training images", file=out)
    print(file=out)
    print(HEADER, file=out)
    print("|" + " --- |" * HEADER.count(" |"), file=out)
    results = []
    for name in model_names:
        _log(t0, f"{name}: training ({epochs} epochs)")
        layers = models.fit(name, x_tr, y_tr, epochs=epochs, progress=lambda e, loss, n=name: (
            _log(t0, f"{n}: training epoch {e + 1}/{epochs}, loss {loss:.4f}")
            if (e + 1) % 10 == 0 or e + 1 == epochs else None))
        ref_logits = forward(layers, x_te)
        ref_outs = layer_inputs(layers, x_te)[1:] + [ref_logits]
        base = models.accuracy(ref_logits, y_te)
        _log(t0, f"{name}: float accuracy {base:.2f} %")
        print(f"| {name} | float (numpy) | - | - | {base:.2f} | - | - | - | - | - | - | - |",
              file=out, flush=True)
        for fmt, method, weights, where, tune in rows:
            label = f"{name} {fmt} {method} {weights}{' QAT' if tune else ''} ({where})"
            _log(t0, f"{label}: start")
            t1 = time.time()
            cal = "max" if method == "-" else method
            net = layers
            if tune:
                net = copy.deepcopy(layers)
                amax = calibrate_model(net, x_tr, cal, fmt)
                finetune(net, x_tr, y_tr, QuantSpec(fmt, amax), epochs=qat_epochs,
                         progress=lambda e, loss, lab=label: _log(
                             t0, f"{lab}: fine-tuning epoch {e + 1}/{qat_epochs}, loss "
                                 f"{loss:.4f}"))
            amax = calibrate_model(net, x_tr, cal, fmt)
            plans = plan(net, fmt, amax, weights=weights)
            use = backend if where == "engine" else "golden"
            res = run(plans, x_te, fmt, backend=use, check=use != "golden")
            acc = models.accuracy(res.logits, y_te)
            host = [str(i + 1) for i, p in enumerate(plans) if p.host_rounded]
            on_hw = use != "golden"
            util = res.utilization(engine_config(fmt))
            row = dict(model=name, fmt=fmt, method=method, weights=weights, tune=tune,
                       where=use, accuracy=acc, delta=acc - base, gemms=res.gemms if on_hw
                       else 0, cycles=res.cycles, utilization=util,
                       mismatches=res.mismatches, host=host,
                       sqnr=compare(ref_outs, res.outputs))
            results.append(row)
            exact = ("yes" if res.mismatches == 0 else f"NO ({res.mismatches} differ)") \
                if on_hw else "golden only"
            fmt_label = f"{fmt}{' + QAT' if tune else ''}"
            scales = "per-channel" if weights == "channel" else "per-tensor"
            print(f"| {name} | {fmt_label} | {method} | {scales} | {acc:.2f} | "
                  f"{acc - base:+.2f} | {', '.join(host) or 'none'} | "
                  f"{res.gemms if on_hw else 0} | {res.cycles if on_hw else '-'} | "
                  f"{f'{util:.2f}' if on_hw else '-'} | {exact} | {_fmt_sqnr(row['sqnr'])} |",
                  file=out, flush=True)
            _log(t0, f"{label}: done, accuracy {acc:.2f} % ({acc - base:+.2f}), "
                     f"{time.time() - t1:.1f} s")
    hw = [r for r in results if r["where"] != "golden"]
    if hw:
        agree = all(r["mismatches"] == 0 for r in hw)
        print(f"\n{sum(r['gemms'] for r in hw)} GEMMs ran on the simulated engine "
              f"({sum(r['cycles'] for r in hw)} cycles in all), each also on the golden model: "
              f"{'every result agreed bit for bit' if agree else 'SOME RESULTS DIFFERED'}. "
              f"{time.time() - t0:.0f} s in all.", file=out)
    _log(t0, f"all done in {time.time() - t0:.1f} s")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="verilator", choices=("verilator", "golden"),
                    help="where the engine rows run (default: verilator, checked against "
                         "the golden model)")
    ap.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    ap.add_argument("--subset", type=int, default=None,
                    help="run only the first N test images (default: all 540)")
    ap.add_argument("--epochs", type=int, default=40, help="float training epochs")
    ap.add_argument("--qat-epochs", type=int, default=8, help="INT4 fine-tuning epochs")
    args = ap.parse_args(argv)
    names = tuple(n for n in args.models.split(",") if n)
    for n in names:
        if n not in models.MODELS:
            ap.error(f"--models must name only {', '.join(models.MODELS)}, not {n!r}")
    if args.subset is not None and args.subset < 1:
        ap.error(f"--subset must be at least 1, not {args.subset}")
    demo(backend=args.backend, model_names=names, subset=args.subset, epochs=args.epochs,
         qat_epochs=args.qat_epochs)


if __name__ == "__main__":
    main()
