"""Verilator simulation speed of a generated engine: cycles per wall-clock second.

    python -m scripts.verilator_speed [--rows 16] [--sizes 64 128] [--backend verilator]

Builds the engine once (not timed; cached in ``build/cocotb/verilator/``, or
``build/verilator/`` for the compiled harness), then runs square int8 GEMMs with cocotb driving
the streams (:func:`sim.backends.cocotb_engine.rtl_cocotb_engine_gemm`, the default,
``--backend cocotb-verilator``) or in the compiled harness
(:func:`sim.backends.verilator_engine.rtl_verilator_engine_gemm`, ``--backend verilator``)
with no stalls,
checks each result against the golden model, and prints the simulated cycles, the wall time of
the run (simulator start-up and cocotb included, build excluded) and cycles per second.
"""

import argparse
import sys
import time

import numpy as np

from hw.config import Config
from sim.backends.cocotb_engine import rtl_cocotb_engine_gemm
from sim.backends.cocotb_runner import build, missing_simulator
from sim.backends.verilator_engine import build as harness_build
from sim.backends.verilator_engine import rtl_verilator_engine_gemm
from sim.golden import same_bits
from sim.host import ref_program
from sim.operands import random_matrix
from sim.program import gemm_program


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=16, help="PE rows and columns (default 16)")
    p.add_argument("--dataflow", default="os", help="os or ws (default os)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128], metavar="N",
                   help="run an NxNxN GEMM for each (default 64 128)")
    p.add_argument("--backend", choices=("cocotb-verilator", "verilator"),
                   default="cocotb-verilator",
                   help="cocotb driving Verilator (default) or the compiled harness")
    args = p.parse_args(argv)
    reason = missing_simulator("verilator")
    if reason:
        print(f"skipped: {reason}")
        return 1
    cfg = Config(rows=args.rows, dataflow=args.dataflow)
    start = time.perf_counter()
    if args.backend == "verilator":
        top = harness_build(cfg).top
    else:
        top = build(cfg, "engine", "verilator").top
    print(f"{top}: build (or cache check) {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(0)
    previous = None
    for n in args.sizes:
        a = random_matrix(cfg, (n, n), rng)
        b = random_matrix(cfg, (n, n), rng)
        prog = gemm_program(cfg, a, b)
        start = time.perf_counter()
        if args.backend == "verilator":
            c, cycles = rtl_verilator_engine_gemm(prog)
        else:
            c, cycles = rtl_cocotb_engine_gemm(prog, "verilator")
        wall = time.perf_counter() - start
        ok = same_bits(c, ref_program(prog, a, b), cfg.acc_format).all()
        util = prog.macs / (cfg.rows * cfg.cols * cycles)
        print(f"{n}x{n}x{n}: {cycles} cycles ({util:.0%} PE utilization), {wall:.2f} s wall, "
              f"{cycles / wall:,.0f} cycles/s, {len(prog.cmds)} commands, "
              f"{len(prog.din)} data-in beats, {prog.dout_rows} rows out, "
              f"{'matches' if ok else 'DIFFERS FROM'} the golden model")
        if not ok:
            return 1
        if previous is not None and wall > previous[1]:
            # The difference between two runs cancels the simulator's start-up.
            print(f"  {n} vs {previous[2]}: {(cycles - previous[0]) / (wall - previous[1]):,.0f} "
                  "cycles/s without start-up")
        previous = (cycles, wall, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
