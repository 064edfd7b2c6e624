"""cocotb test of :class:`~sim.benches.engine_tb.EngineTB`'s own API, run by
``tests/test_engine_tb.py`` through :func:`sim.backends.cocotb_runner.run_bench`.

The job (a JSON file named by ``ENGINE_TB_JOB``) holds ``config`` (the engine's
:class:`~hw.config.Config` fields), ``other`` (another configuration's), and ``a`` and ``b``
(int8 matrices as nested lists). The test writes what it saw, and leaves the verdicts to
pytest:

* ``errors``: the message of each error the API must raise, by case;
* ``runs``: two GEMMs of ``a @ b`` back to back with no reset between (no stalls, so the
  cycle counts compare) and one more under stalls, each with ``c`` (nested lists),
  ``cycles``, ``frames``, ``idle``, ``error``, ``extra``, ``dout_rows`` and whether
  ``program`` is the program that ran;
* ``raw``: :meth:`~sim.benches.engine_tb.EngineTB.run` of the same program's words.
"""

import json
import os

import cocotb
import numpy as np

from hw.config import Config

from ..program import gemm_program
from . import write_result
from .engine_tb import EngineTB


async def _error(errors, case, make):
    """Record the type and message of what ``make()`` (a coroutine function) raises."""
    try:
        await make()
    except (TypeError, ValueError) as e:
        errors[case] = f"{type(e).__name__}: {e}"
    else:
        errors[case] = "nothing raised"


def _run_record(res, prog):
    return {"c": res.c.tolist(), "cycles": res.cycles, "frames": res.frames, "idle": res.idle,
            "error": res.error, "extra": res.extra, "dout_rows": len(res.rows),
            "program": res.program is prog}


@cocotb.test()
async def api_job(dut):
    """Every error of the API, then programs back to back, with and without stalls."""
    with open(os.environ["ENGINE_TB_JOB"]) as f:
        job = json.load(f)
    cfg = Config(**job["config"])
    errors = {}

    async def construct(cfg):
        EngineTB(dut, cfg)
    await _error(errors, "cfg_not_config", lambda: construct(job["config"]))
    await _error(errors, "cfg_other_engine", lambda: construct(Config(**job["other"])))

    tb = EngineTB(dut, cfg)

    async def stalls(**kwargs):
        tb.set_stalls(**kwargs)
    await _error(errors, "p_valid_zero", lambda: stalls(p_valid=0))
    await _error(errors, "p_ready_above_one", lambda: stalls(p_ready=1.5))
    await _error(errors, "p_valid_bool", lambda: stalls(p_valid=True))
    await tb.reset()
    await _error(errors, "dout_rows_zero", lambda: tb.run([], [], 0))

    a = np.array(job["a"], dtype=np.int8)
    b = np.array(job["b"], dtype=np.int8)
    prog = gemm_program(cfg, a, b, mode="int8", scale=1 / 64, relu=True)
    runs = []
    for _ in range(2):
        runs.append(_run_record(await tb.run_program(prog), prog))
    tb.set_stalls(p_valid=0.5, p_ready=0.5, seed=7)
    res = await tb.gemm(a, b, mode="int8", scale=1 / 64, relu=True)
    runs.append(_run_record(res, res.program))
    tb.set_stalls()
    raw = await tb.run(prog.cmds, prog.din, prog.dout_rows)
    write_result(job, {"errors": errors, "runs": runs,
                       "raw": {"rows": raw.rows, "cycles": raw.cycles,
                               "want_rows": prog.dout_rows}})
