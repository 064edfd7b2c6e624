"""The iteration loop's speed (issue 8): generate, build, simulate; prints a markdown table.

    python -m scripts.iteration_speed [--only gen sim build] [--int8-size 256] ...

Rows, each against the issue's target:

* **gen**: wall time of ``python -m hw.gen`` subprocesses: ``--rows 16``, ``--rows 64``,
  ``--rows 256 --array`` (into a temporary folder).
* **sim**: a 16×16 INT8 and a 16×16 BF16 engine (OS), square GEMMs with no stalls, each on the
  compiled Verilator harness (``run_gemm(backend="verilator")``) and on the cocotb bench on
  Verilator (``backend="cocotb-verilator"``), measured in the same run: simulated cycles per
  second of wall time, build excluded, simulator start-up, program file and result included.
  Every result is checked bit for bit against the golden model.
* **build**: the harness build of the 16×16 INT8 engine, cold (a fresh folder: generation,
  Verilator and the C++ compile) and cached (a second :func:`~sim.backends.verilator_engine.
  build` in a new process: the source hash matches, nothing generated or compiled).
  ``--cocotb-build`` also times a cold cocotb Verilator build of the same engine.

The sim rows build what they need first (cached in ``build/``), outside the timing.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hw.config import Config
from sim.backends.cocotb_engine import rtl_cocotb_engine_gemm
from sim.backends.verilator_engine import build, rtl_verilator_engine_gemm, simulated_config
from sim.golden import same_bits
from sim.host import ref_program
from sim.operands import random_matrix
from sim.program import gemm_program

_ROOT = Path(__file__).resolve().parents[1]

GEN_RUNS = [(["--rows", "16"], "`hw.gen --rows 16` (engine)", 2.0),
            (["--rows", "64"], "`hw.gen --rows 64` (engine)", 15.0),
            (["--rows", "256", "--array"], "`hw.gen --rows 256 --array`", 60.0)]
SIM_TARGETS = {"int8": 200_000, "bf16": 50_000}
BUILD_TARGET = 30.0
#: The build rows' engine: 16×16 INT8.
BUILD_ROWS = 16


def _row(what, before, now, target, met):
    return f"| {what} | {before} | {now} | {target} | {'met' if met else 'not met'} |"


def _seconds(s):
    return f"{s:.1f} s"


def gen_rows(log):
    rows = []
    for args, what, target in GEN_RUNS:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "hw.gen", *args, "--out", out],
                               cwd=_ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - start
        if r.returncode != 0:
            raise RuntimeError(f"hw.gen {' '.join(args)} failed: {r.stderr.strip()[-500:]}")
        log(f"hw.gen {' '.join(args)}: {wall:.1f} s")
        rows.append(_row(what, "", _seconds(wall), f"≤ {target:g} s", wall <= target))
    return rows


#: The simulation paths timed, by name: each runs an engine program and returns ``(C, cycles)``.
_RUNS = {
    "cocotb-verilator": lambda prog: rtl_cocotb_engine_gemm(prog, "verilator"),
    "verilator": rtl_verilator_engine_gemm,
    # The harness compiled as configured (logic multipliers included), not in its
    # simulated_config.
    "verilator as built": lambda prog: rtl_verilator_engine_gemm(prog, as_built=True),
}


def _cycles_per_second(cfg, n, path, log):
    """Cycles per second of wall time of an ``n``³ GEMM on the simulation ``path`` (one of
    :data:`_RUNS`)."""
    rng = np.random.default_rng(0)
    a = random_matrix(cfg, (n, n), rng)
    b = random_matrix(cfg, (n, n), rng)
    prog = gemm_program(cfg, a, b)
    start = time.perf_counter()
    c, cycles = _RUNS[path](prog)
    wall = time.perf_counter() - start
    if not same_bits(c, ref_program(prog, a, b), cfg.acc_format).all():
        raise RuntimeError(f"{path}: {n}³ on {cfg.engine_name} differs from the golden model")
    log(f"{path} {cfg.engine_name} {n}³: {cycles} cycles in {wall:.2f} s, "
        f"{cycles / wall:,.0f} cycles/s")
    return cycles / wall, n


def _prebuild(cfg, log):
    """Build (or find built) every simulation of ``cfg`` the rows time, outside the timing:
    the harness, also as built where that differs, and the cocotb build."""
    from sim.backends.cocotb_runner import build as cocotb_build
    builds = [("harness", lambda: build(cfg))]
    if simulated_config(cfg) != cfg:
        builds.append(("harness as built", lambda: build(cfg, as_built=True)))
    builds.append(("cocotb", lambda: cocotb_build(cfg, "engine", "verilator")))
    for name, make in builds:
        start = time.perf_counter()
        make()
        log(f"{name} build of {cfg.engine_name} (or cache check): "
            f"{time.perf_counter() - start:.1f} s")


def sim_rows(args, log):
    rows = []
    for fmt, fast_n, old_n in (("int8", args.int8_size, args.int8_old_size),
                               ("bf16", args.bf16_size, args.bf16_old_size)):
        cfg = Config(rows=16, in_fmt=fmt)
        _prebuild(cfg, log)
        old, _ = _cycles_per_second(cfg, old_n, "cocotb-verilator", log)
        new, _ = _cycles_per_second(cfg, fast_n, "verilator", log)
        now = f"{new / 1000:,.0f} k"
        if simulated_config(cfg) != cfg:
            exact, _ = _cycles_per_second(cfg, fast_n, "verilator as built", log)
            now += f" (compiled as built: {exact / 1000:,.0f} k)"
        target = SIM_TARGETS[fmt]
        acc = "INT32" if fmt == "int8" else "FP32"
        rows.append(_row(f"16×16 {fmt.upper()}→{acc} engine, cycles/s "
                         f"(old: cocotb {old_n}³; new: harness {fast_n}³)",
                         f"{old / 1000:,.1f} k", now, f"≥ {target // 1000} k", new >= target))
    return rows


def build_rows(args, log):
    cfg = Config(rows=BUILD_ROWS)
    rows = []
    with tempfile.TemporaryDirectory(dir=_ROOT / "build") as tmp:
        if args.cocotb_build:
            from sim.backends.cocotb_runner import build as cocotb_build
            start = time.perf_counter()
            cocotb_build(cfg, "engine", "verilator", build_dir=Path(tmp) / "cocotb")
            old = time.perf_counter() - start
            log(f"cocotb build, cold: {old:.1f} s")
        code = ("import sys, time; from hw.config import Config; "
                "from sim.backends.verilator_engine import build; "
                "b = build(Config(rows=int(sys.argv[2])), build_dir=sys.argv[1]); "
                "print(b.seconds, b.rebuilt)")
        walls = []
        for _ in ("cold", "cached"):
            r = subprocess.run([sys.executable, "-c", code, str(Path(tmp) / "harness"),
                                str(BUILD_ROWS)],
                               cwd=_ROOT, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"harness build failed: {r.stderr.strip()[-1000:]}")
            seconds, rebuilt = r.stdout.split()
            walls.append(float(seconds))
            log(f"harness build: {float(seconds):.1f} s (rebuilt: {rebuilt})")
    before = _seconds(old) + " (cocotb, cold)" if args.cocotb_build else ""
    shape = f"{BUILD_ROWS}×{BUILD_ROWS}"
    rows.append(_row(f"Verilator build of the {shape} engine, cold", before,
                     _seconds(walls[0]), f"≤ {BUILD_TARGET:g} s", walls[0] <= BUILD_TARGET))
    rows.append(_row(f"Verilator build of the {shape} engine, cached", "",
                     _seconds(walls[1]), f"≤ {BUILD_TARGET:g} s", walls[1] <= BUILD_TARGET))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=("gen", "sim", "build"),
                   default=["gen", "sim", "build"], help="which rows (default: all)")
    p.add_argument("--int8-size", type=int, default=256, metavar="N",
                   help="harness INT8 GEMM, N³ (default 256)")
    p.add_argument("--int8-old-size", type=int, default=128, metavar="N",
                   help="cocotb INT8 GEMM, N³ (default 128)")
    p.add_argument("--bf16-size", type=int, default=256, metavar="N",
                   help="harness BF16 GEMM, N³ (default 256)")
    p.add_argument("--bf16-old-size", type=int, default=64, metavar="N",
                   help="cocotb BF16 GEMM, N³ (default 64)")
    p.add_argument("--cocotb-build", action="store_true",
                   help="also time a cold cocotb Verilator build of the 16×16 engine")
    args = p.parse_args(argv)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    rows = []
    if "gen" in args.only:
        rows += gen_rows(log)
    if "sim" in args.only:
        rows += sim_rows(args, log)
    if "build" in args.only:
        rows += build_rows(args, log)
    print("| what | before (measured in this run) | now | target | |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
