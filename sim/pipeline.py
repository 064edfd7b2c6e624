"""Streaming vectors through a plain pipeline unit on the Amaranth simulator.

The arithmetic units (``hw/fp``, ``hw/intarith.py``, ``hw/engine/postproc.py``) are plain pipelines:
output ``o`` at cycle ``t + latency`` depends only on the inputs at cycle ``t``. This feeds one
input vector per cycle, so throughput and latency are tested along with the values.
"""

import numpy as np
from amaranth.sim import Simulator

__all__ = ["rtl_pipeline", "rtl_impulse"]


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


def rtl_impulse(dut, inputs, cycles):
    """Apply ``inputs`` (port name → integer) for one cycle, then zeros, and return what
    ``dut.o`` shows before each of ``cycles`` clock edges: the value should appear exactly at
    index ``dut.latency`` and nowhere else (zeros elsewhere, for units whose zero maps to 0)."""
    seen = []

    async def testbench(ctx):
        for k in range(cycles):
            for port, value in inputs.items():
                ctx.set(getattr(dut, port), value if k == 0 else 0)
            seen.append(ctx.get(dut.o))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return seen
