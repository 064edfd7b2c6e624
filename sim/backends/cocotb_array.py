"""Run array programs on Verilog simulators through cocotb (``rtl_*`` side of the array tests).

The pytest side of :mod:`sim.benches.array_tests`: build the configuration's array with
:mod:`.cocotb_runner` (one cached build per simulator and design, in
``build/cocotb/<simulator>/systolic_<cfg.name>/``), hand the operand beats to the bench and
read the result rows back. Waveforms: ``WAVES=1`` (see :mod:`.cocotb_runner`).
"""

from ..array_program import array_program
from .cocotb_runner import BUILD_ROOT, SIMULATORS, build, missing_simulator, run_bench

__all__ = ["SIMULATORS", "BUILD_ROOT", "missing_simulator", "rtl_cocotb_array_gemm"]

_BENCH = "sim.benches.array_tests"


def rtl_cocotb_array_gemm(cfg, a, b, simulator, *, seed=0, p_valid=1.0, p_ready=1.0,
                          build_dir=None):
    """C = A @ B on a ``cfg`` array simulated by ``simulator`` (``"verilator"`` or
    ``"icarus"``) under cocotb, with random idle cycles on the operand stream and random
    backpressure on the result stream. Returns ``(C, cycles)``; cycles count from the first
    beat offered to the last row taken.

    ``build_dir`` defaults to ``build/cocotb/<simulator>/systolic_<cfg.name>/``. Raises
    ``RuntimeError`` naming the log when the build or the simulation fails.
    """
    built = build(cfg, "array", simulator, build_dir=build_dir)
    # The manifest's ``contexts`` is ``SystolicArray(cfg).contexts``, without a second
    # elaboration (and its unused-elaboratable warnings).
    prog = array_program(cfg, a, b, contexts=built.manifest["timing"]["contexts"])
    result = run_bench(built, _BENCH, {
        "beats": prog.beats, "result_rows": prog.result_rows, "seed": seed,
        "p_valid": p_valid, "p_ready": p_ready,
    }, job_env="ARRAY_TB_JOB", tag=f"run-s{seed}")
    return prog.assemble(result["rows"]), result["cycles"]
