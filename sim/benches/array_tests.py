"""cocotb bench for a generated ``systolic_*`` array: stream operand beats in, result rows out.

Runs inside the simulator; :func:`sim.backends.cocotb_array.rtl_cocotb_array_gemm` builds the
Verilog and starts it. The job comes in as a JSON file named by ``ARRAY_TB_JOB``::

    {"beats": [int, ...], "result_rows": int, "seed": int,
     "p_valid": float, "p_ready": float, "out": "path/to/result.json"}

and the bench writes ``{"rows": [int, ...], "cycles": int}`` to ``out`` (see
:func:`sim.benches.write_result`). Payloads are the
packed integers of :mod:`sim.array_program`; the bench knows nothing of their layout.

The handshake is :mod:`amaranth.lib.stream`'s: a beat moves at a rising edge where ``valid``
and ``ready`` are both high. Drivers set signals just after an edge and sample the handshake
in the ``ReadOnly`` phase of the same cycle, when the combinational ``ready`` has settled.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from . import write_result

__all__ = ["TB"]

#: Clock period in ns.
PERIOD_NS = 10


class TB:
    """Owns the clock, reset and the two stream models of one array under test.

    Parameters
    ----------
    dut : cocotb handle
        The ``systolic_*`` top level.
    seed : int
        Seeds the idle (driver) and backpressure (monitor) patterns, so failures reproduce.
    p_valid, p_ready : float
        Per-cycle probability that the driver offers a beat and that the monitor is ready.
    """

    def __init__(self, dut, *, seed=0, p_valid=1.0, p_ready=1.0):
        self.dut = dut
        self.log = dut._log
        self._valid_rng = random.Random(seed)
        self._ready_rng = random.Random(seed + 1)
        self._p_valid = p_valid
        self._p_ready = p_ready
        self.sent = 0
        self.rows = []
        self.first_offer = None
        self.last_take = None
        Clock(dut.clk, PERIOD_NS, unit="ns").start()

    @staticmethod
    def _cycle():
        return int(get_sim_time(unit="ns")) // PERIOD_NS

    async def reset(self, cycles=4):
        """Hold ``rst`` high for ``cycles`` edges with both streams idle."""
        dut = self.dut
        dut.rst.value = 1
        dut.i__valid.value = 0
        dut.i__payload.value = 0
        dut.o__ready.value = 0
        for _ in range(cycles):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def send(self, beats):
        """Offer each of ``beats`` on ``i``, idling at random between beats."""
        dut = self.dut
        for beat in beats:
            while self._valid_rng.random() >= self._p_valid:
                dut.i__valid.value = 0
                await RisingEdge(dut.clk)
            dut.i__payload.value = beat
            dut.i__valid.value = 1
            if self.first_offer is None:
                self.first_offer = self._cycle()
            while True:
                await ReadOnly()
                taken = dut.i__ready.value == 1
                await RisingEdge(dut.clk)
                if taken:
                    break
            self.sent += 1
        dut.i__valid.value = 0

    async def receive(self, count):
        """Take ``count`` rows from ``o`` (as integers), dropping ``ready`` at random."""
        dut = self.dut
        rows = self.rows
        while len(rows) < count:
            ready = self._ready_rng.random() < self._p_ready
            dut.o__ready.value = int(ready)
            await ReadOnly()
            if ready and dut.o__valid.value == 1:
                rows.append(dut.o__payload.value.to_unsigned())
                self.last_take = self._cycle()
            await RisingEdge(dut.clk)
        dut.o__ready.value = 0
        return rows

    @property
    def cycles(self):
        """Cycles from the first beat offered to the last row taken, both included."""
        return self.last_take - self.first_offer + 1


def _timeout_cycles(job):
    # Generous: every beat and row may wait out a long stall run, plus the pipeline latency.
    slack = 1 / max(min(job["p_valid"], job["p_ready"]), 0.05)
    return int(2000 + 40 * slack * (len(job["beats"]) + job["result_rows"]))


@cocotb.test()
async def run_array_job(dut):
    """Stream the job's beats through the array and write the rows it returns."""
    with open(os.environ["ARRAY_TB_JOB"]) as f:
        job = json.load(f)
    tb = TB(dut, seed=job["seed"], p_valid=job["p_valid"], p_ready=job["p_ready"])
    await tb.reset()

    async def transfer():
        sender = cocotb.start_soon(tb.send(job["beats"]))
        rows = await tb.receive(job["result_rows"])
        await sender
        return rows

    limit = _timeout_cycles(job)
    try:
        rows = await with_timeout(transfer(), limit * PERIOD_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(
            f"no progress after {limit} cycles: {tb.sent} of {len(job['beats'])} beats "
            f"accepted, {len(tb.rows)} of {job['result_rows']} rows taken") from None
    tb.log.info("%d beats in, %d rows out, %d cycles", len(job["beats"]), len(rows), tb.cycles)
    write_result(job, {"rows": rows, "cycles": tb.cycles})
