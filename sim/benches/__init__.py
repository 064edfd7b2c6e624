"""cocotb-side test benches: run inside the simulator by ``cocotb_tools.runner``, never
collected by pytest (outside ``tests/``). The pytest side lives in :mod:`sim.backends`.

:mod:`.engine_tb` is the engine bench to use in a cocotb test of your own; the ``*_tests``
modules hold the cocotb tests that :mod:`sim.backends` runs with a JSON job.
"""

import json
import os

__all__ = ["write_result"]

#: Where this package was imported from.
HERE = os.path.dirname(os.path.realpath(__file__))


def write_result(job, result):
    """Write ``result`` (a dict) as JSON to ``job["out"]``, with ``"benches"``: the folder
    this package was imported from, so that the caller can check the simulator ran its copy
    of the bench (:func:`sim.backends.cocotb_runner.run_bench` does)."""
    with open(job["out"], "w") as f:
        json.dump({**result, "benches": HERE}, f)
