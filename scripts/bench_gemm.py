"""GEMM benchmark: measured cycles and utilization against the SCALE-Sim formulas.

    python -m scripts.bench_gemm                       # 16×16, both dataflows and formats
    python -m scripts.bench_gemm --shapes 256x256x256 --in-fmt int8 --dataflow os
    python -m scripts.bench_gemm --backend amaranth --rows 4 --shapes 64x64x64

For each GEMM it runs the engine program on a cycle-accurate backend (cocotb on Verilator by
default), checks the result bit for bit against the golden model, and prints the cycles from
the first command to the last result row, the utilization M·K·N / (rows·cols·cycles), and the
SCALE-Sim cycle formula for the same shape:

    OS: ceil(M/R)·ceil(N/C)·(R + C + K - 2)      WS: ceil(K/R)·ceil(N/C)·(2R + C + M - 2)

which charge every fold its fill and drain; the engine overlaps folds, loads and stores.
"""

import argparse
import sys
import time

import numpy as np

from hw.config import Config, ConfigError
from sim.golden import same_bits
from sim.host import BACKENDS, ref_program, run_program
from sim.operands import random_matrix
from sim.program import gemm_program

DEFAULT_SHAPES = [
    "64x64x64", "128x128x128", "256x256x256",   # square
    "1024x64x16",                               # tall-skinny
    "64x2048x64",                               # K-heavy
    "100x70x90", "250x130x170",                 # not multiples of the array
]


def _ceil(a, b):
    return -(-a // b)


def scalesim_cycles(dataflow, m, k, n, rows, cols):
    if dataflow == "os":
        return _ceil(m, rows) * _ceil(n, cols) * (rows + cols + k - 2)
    return _ceil(k, rows) * _ceil(n, cols) * (2 * rows + cols + m - 2)


def _shape(text):
    try:
        m, k, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be MxKxN (like 256x256x256), not "
                                         f"{text!r}") from None
    if min(m, k, n) < 1:
        raise argparse.ArgumentTypeError(f"shape sizes must be at least 1, not {text!r}")
    return m, k, n


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv=None):
    p = _Parser(prog="python -m scripts.bench_gemm", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16, help="array rows (default 16)")
    p.add_argument("--cols", type=int, default=None, help="array columns (default: rows)")
    p.add_argument("--dataflow", choices=("os", "ws", "both"), default="both")
    p.add_argument("--in-fmt", choices=("int8", "bf16", "both"), default="both")
    p.add_argument("--spad-kib", type=int, default=512,
                   help="scratchpad KiB (default 512: a 256x256 bf16 A stays resident)")
    p.add_argument("--acc-kib", type=int, default=256, help="accumulator KiB (default 256)")
    p.add_argument("--backend", choices=[b for b in BACKENDS if b != "golden"],
                   default="verilator")
    p.add_argument("--shapes", type=_shape, nargs="+", default=None, metavar="MxKxN",
                   help=f"GEMM shapes (default: {' '.join(DEFAULT_SHAPES)})")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    shapes = args.shapes or [_shape(s) for s in DEFAULT_SHAPES]
    dataflows = ("os", "ws") if args.dataflow == "both" else (args.dataflow,)
    formats = ("int8", "bf16") if args.in_fmt == "both" else (args.in_fmt,)

    print("| config | M×K×N | cycles | utilization | SCALE-Sim cycles | SCALE-Sim util. "
          "| bit-exact | wall s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
    failed = False
    for in_fmt in formats:
        for dataflow in dataflows:
            try:
                cfg = Config(rows=args.rows, cols=args.cols, in_fmt=in_fmt, dataflow=dataflow,
                             spad_kib=args.spad_kib, acc_kib=args.acc_kib)
            except ConfigError as e:
                p.error(str(e))
            for m, k, n in shapes:
                rng = np.random.default_rng(args.seed)
                a = random_matrix(cfg, (m, k), rng)
                b = random_matrix(cfg, (k, n), rng)
                prog = gemm_program(cfg, a, b)
                start = time.perf_counter()
                res = run_program(prog, a, b, args.backend)
                wall = time.perf_counter() - start
                ok = bool(same_bits(res.c, ref_program(prog, a, b), cfg.acc_format).all())
                failed |= not ok
                formula = scalesim_cycles(dataflow, m, k, n, cfg.rows, cfg.cols)
                ideal = m * k * n / (cfg.rows * cfg.cols)
                print(f"| {cfg.rows}x{cfg.cols} {dataflow} {in_fmt} | {m}×{k}×{n} "
                      f"| {res.cycles} | {res.utilization:.1%} | {formula} "
                      f"| {ideal / formula:.1%} | {'yes' if ok else 'NO'} | {wall:.1f} |",
                      flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
