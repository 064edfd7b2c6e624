"""cocotb tests that run a JSON job on a generated ``engine_*`` top level with
:class:`~sim.benches.engine_tb.EngineTB`: the simulator side of
:func:`sim.backends.cocotb_engine.run_cocotb_engine`, which builds the Verilog and starts it.

The job comes in as a JSON file named by ``ENGINE_TB_JOB``::

    {"config": {...},                    # the hw.config.Config's fields
     "cmds": [int, ...], "din": [int, ...], "dout_rows": int,
     "seed": int, "p_valid": float, "p_ready": float, "timeout_cycles": int,
     "first": {"cmds": [...], "din": [...]},      # reset_midway only
     "out": "path/to/result.json"}

and the test writes the :class:`~sim.backends.engine_run.EngineRun`'s fields (``rows``,
``frames``, ``cycles``, ``idle``, ``error``, ``extra``) to ``out`` as JSON (see
:func:`sim.benches.write_result`). The tests leave the checks to the pytest side.

Tests (pick one with the runner's ``testcase``):

* ``run_engine_job``: run the program and report.
* ``reset_midway_job``: start ``first``, reset the engine in the middle of it
  (:meth:`~sim.benches.engine_tb.EngineTB.reset_during`), then run the main program from a
  clean engine and clean stream models, and report on it.
"""

import json
import os
from dataclasses import asdict

import cocotb

from hw.config import Config

from . import write_result
from .engine_tb import EngineTB


async def _start(dut):
    """The job and a reset bench with the job's stalls."""
    with open(os.environ["ENGINE_TB_JOB"]) as f:
        job = json.load(f)
    tb = EngineTB(dut, Config(**job["config"]))
    tb.set_stalls(p_valid=job["p_valid"], p_ready=job["p_ready"], seed=job["seed"])
    await tb.reset()
    return job, tb


async def _run(tb, job):
    run = await tb.run(job["cmds"], job["din"], job["dout_rows"],
                       timeout_cycles=job["timeout_cycles"])
    write_result(job, asdict(run))


@cocotb.test()
async def run_engine_job(dut):
    """Run the job's program through the engine and write what came out."""
    job, tb = await _start(dut)
    await _run(tb, job)


@cocotb.test()
async def reset_midway_job(dut):
    """Start ``job["first"]``, reset the engine once its first STORE's rows have come out,
    then run the job's program on the freshly reset engine."""
    job, tb = await _start(dut)
    first = job["first"]
    await tb.reset_during(first["cmds"], first["din"], timeout_cycles=job["timeout_cycles"])
    await _run(tb, job)
