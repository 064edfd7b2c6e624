"""Run engine programs on Verilog simulators through cocotb (``rtl_*`` side of the engine
tests): the Verilator / Icarus twin of :mod:`.amaranth_engine`.

The pytest side of :mod:`sim.benches.engine_tests`: build the configuration's engine with
:mod:`.cocotb_runner` (one cached build per simulator and design, in
``build/cocotb/<simulator>/engine_<cfg.engine_name>/``), hand the commands and data-in beats
to the bench (:class:`sim.benches.engine_tb.EngineTB`, which a cocotb test of your own can
use directly) and read the data-out rows, the cycle count and the final status back.
Waveforms: ``WAVES=1`` (see :mod:`.cocotb_runner`).
"""

from dataclasses import asdict

from .cocotb_runner import SIMULATORS, build, missing_simulator, run_bench
from .engine_run import EngineRun, check_run
from .engine_run import timeout_cycles as _bound

__all__ = ["SIMULATORS", "missing_simulator", "EngineRun", "run_cocotb_engine",
           "rtl_cocotb_engine_gemm", "check_run"]

_BENCH = "sim.benches.engine_tests"


def run_cocotb_engine(cfg, cmds, din, dout_rows, simulator, *, seed=0, p_valid=1.0,
                      p_ready=1.0, reset_first=None, build_dir=None, timeout_cycles=None,
                      asic=False):
    """Send ``cmds`` (128-bit words) and ``din`` (data-in beats) to a ``cfg`` engine simulated
    by ``simulator`` (``"verilator"`` or ``"icarus"``) and collect ``dout_rows`` data-out rows.
    Returns an :class:`EngineRun`.

    ``p_valid`` / ``p_ready`` set random idle cycles on both input streams and random
    backpressure on data-out, drawn from ``seed``. ``reset_first``, a ``(cmds, din)`` pair,
    starts that program first and asserts ``rst`` half-way through its data, then runs this
    one. ``timeout_cycles`` bounds the simulated time (default: from the program's size).
    ``asic``: simulate the ``hw.gen --asic`` Verilog (no initial values: every register starts
    X, which only the reset's registers clear).

    Raises
    ------
    RuntimeError
        When the simulator is missing, the build fails, or the bench fails or times out (with
        the log's tail, which says how far it got).
    """
    built = build(cfg, "engine", simulator, build_dir=build_dir, asic=asic)
    if timeout_cycles is None:
        timeout_cycles = _bound(cfg, cmds, din, dout_rows, p_valid, p_ready)
    job = {"config": asdict(cfg), "cmds": [int(c) for c in cmds], "din": [int(d) for d in din],
           "dout_rows": int(dout_rows), "seed": seed, "p_valid": p_valid, "p_ready": p_ready,
           "timeout_cycles": timeout_cycles}
    testcase = "run_engine_job"
    if reset_first is not None:
        first_cmds, first_din = reset_first
        job["first"] = {"cmds": [int(c) for c in first_cmds], "din": [int(d) for d in first_din]}
        testcase = "reset_midway_job"
    result = run_bench(built, _BENCH, job, job_env="ENGINE_TB_JOB", testcase=testcase,
                       tag=f"run-s{seed}")
    return EngineRun(**result)


def rtl_cocotb_engine_gemm(prog, simulator, *, seed=0, p_valid=1.0, p_ready=1.0,
                           build_dir=None):
    """Run an :class:`~sim.program.EngineProgram` on a ``simulator``-simulated engine.
    Returns ``(C, cycles)``.

    Raises
    ------
    RuntimeError
        As :func:`run_cocotb_engine`, and when the engine reports error bits, sends more rows
        than the program stores, or marks STOREs with ``tlast`` other than the program says.
    """
    run = run_cocotb_engine(prog.cfg, prog.cmds, prog.din, prog.dout_rows, simulator,
                            seed=seed, p_valid=p_valid, p_ready=p_ready, build_dir=build_dir)
    check_run(prog, run)
    return prog.assemble(run.rows), run.cycles
