"""Streaming vectors through a plain pipeline unit on the Amaranth simulator.

The arithmetic units (``hw/fp``, ``hw/intarith.py``, ``hw/postproc.py``) are plain pipelines:
output ``o`` at cycle ``t + latency`` depends only on the inputs at cycle ``t``. This feeds one
input vector per cycle, so throughput and latency are tested along with the values.
"""

import numpy as np
from amaranth.sim import Simulator

__all__ = ["rtl_pipeline"]


def rtl_pipeline(dut, inputs, count=None, *, dtype=np.uint64):
    """Feed ``inputs`` (port name → sequence of integers) to ``dut`` one per cycle and return
    ``dut.o`` for each, read ``dut.latency`` cycles later, as a numpy array of ``dtype``
    (``np.int64`` for a signed output)."""
    if count is None:
        count = len(next(iter(inputs.values())))
    out = []

    async def testbench(ctx):
        for k in range(count + dut.latency - 1):
            if k < count:
                for port, values in inputs.items():
                    ctx.set(getattr(dut, port), int(values[k]))
            await ctx.tick()
            if k + 1 >= dut.latency:
                out.append(ctx.get(dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return np.array(out[:count], dtype=dtype)
