# amaranth: UnusedElaboratable=no
"""DelayRam against the register chain it replaces (hw.delay.delay), cycle for cycle, with an
EnableInserter stalling both on random cycles."""

import re

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.hdl import EnableInserter
from amaranth.sim import Simulator

from hw.delay import delay
from hw.engine.delayram import MIN_CYCLES, DelayRam


@pytest.mark.parametrize("cycles", [2, 3, 5, 8, 17])
def test_same_as_registers(cycles):
    m = Module()
    i, en = Signal(12), Signal()
    m.submodules.line = line = DelayRam(12, cycles)
    m.d.comb += line.i.eq(i)
    regs = delay(m, i, cycles, reset_less=True)
    top = EnableInserter(en)(m)
    rng = np.random.default_rng(cycles)
    got, want = [], []

    async def testbench(ctx):
        for _ in range(300):
            ctx.set(i, int(rng.integers(1 << 12)))
            ctx.set(en, int(rng.integers(4) != 0))
            await ctx.tick()
            got.append(ctx.get(line.o))
            want.append(ctx.get(regs))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert got == want
    assert DelayRam(12, cycles).latency == cycles


def test_errors():
    for bad in (MIN_CYCLES - 1, 0, 2.0, True):
        with pytest.raises(ValueError, match=re.escape(
                f"cycles must be an integer of at least {MIN_CYCLES}, not {bad!r}")):
            DelayRam(8, bad)
