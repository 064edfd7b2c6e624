"""cocotb bench for a generated ``engine_*`` top level: commands and data in, result rows out.

Runs inside the simulator; :func:`sim.backends.cocotb_engine.run_cocotb_engine` builds the
Verilog and starts it. The job comes in as a JSON file named by ``ENGINE_TB_JOB``::

    {"cmds": [int, ...], "din": [int, ...], "dout_rows": int,
     "seed": int, "p_valid": float, "p_ready": float, "timeout_cycles": int,
     "first": {"cmds": [...], "din": [...]},      # reset_midway only
     "out": "path/to/result.json"}

and the bench writes ``{"rows": [int, ...], "frames": [int, ...], "cycles": int,
"idle": int, "error": int, "extra": int}`` to ``out``: the data-out beats, how many beats
each ``tlast``-delimited frame held, cycles from the first command offered to the last row
taken (both edges counted once), the final status, and beats that came after the expected
ones (see :func:`sim.benches.write_result`). Payloads are the packed integers of
:mod:`sim.program`; the bench knows nothing of their layout.

The streams are driven by cocotbext-axi's ``AxiStreamSource`` (``s_axis_cmd``,
``s_axis_data``) and ``AxiStreamSink`` (``m_axis_data``), with seeded random idle cycles on
the sources and backpressure on the sink. Each command is a one-beat frame (the command stream
has no ``tlast``), and so is each data-in beat (the engine ignores ``tlast`` on data-in).

Tests (pick one with the runner's ``testcase``):

* ``run_engine_job``: run the program and report.
* ``reset_midway_job``: start ``first``, assert ``rst`` once its first STORE's rows have come
  out (with data still to go in), then run the main program from a clean engine and clean
  stream models, and report on it.
"""

import itertools
import json
import logging
import os
import random
import warnings

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from . import write_result

__all__ = ["TB"]

# cocotbext-axi 0.1.28 still uses cocotb 1.x calls (setimmediatevalue, Edge) that cocotb 2
# deprecates; they work, and the warnings would bury the bench's own log lines.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.")

#: Clock period in ns.
PERIOD_NS = 10
#: Bytes of one command word.
CMD_BYTES = 16
#: Cycles to wait after the last row before sampling the status (the last commands retire).
SETTLE_CYCLES = 8


def _pauses(rng, p_go):
    """An endless pause pattern (True: stall this cycle) going with probability ``p_go``.
    A long precomputed list, cycled: cheaper per cycle than drawing, and still seeded."""
    return itertools.cycle([rng.random() >= p_go for _ in range(4093)])


class TB:
    """Owns the clock, reset and the three stream models of one engine under test.

    Parameters
    ----------
    dut : cocotb handle
        The ``engine_*`` top level.
    seed : int
        Seeds the idle (sources) and backpressure (sink) patterns, so failures reproduce.
    p_valid, p_ready : float
        Per-cycle probability that a source offers a beat and that the sink is ready.

    Members
    -------
    cmd, din : cocotbext.axi.AxiStreamSource
    dout : cocotbext.axi.AxiStreamSink
    """

    def __init__(self, dut, *, seed=0, p_valid=1.0, p_ready=1.0):
        self.dut = dut
        self.log = dut._log
        Clock(dut.clk, PERIOD_NS, unit="ns").start()
        dut.rst.value = 1
        self.cmd = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_cmd"), dut.clk,
                                   dut.rst, reset_active_level=True)
        self.din = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_data"), dut.clk,
                                   dut.rst, reset_active_level=True)
        self.dout = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_data"), dut.clk,
                                  dut.rst, reset_active_level=True)
        for stream in (self.cmd, self.din, self.dout):
            # Per-frame INFO lines would flood the log and slow long runs down.
            stream.log.setLevel(logging.WARNING)
        self.din_bytes = len(dut.s_axis_data_tdata) // 8
        self.dout_bytes = len(dut.m_axis_data_tdata) // 8
        for k, (stream, p) in enumerate(((self.cmd, p_valid), (self.din, p_valid),
                                         (self.dout, p_ready))):
            if p < 1:
                stream.set_pause_generator(_pauses(random.Random(seed * 3 + k), p))
        self._begin()

    def _begin(self):
        self.queued = {"cmd": 0, "din": 0}
        self.offered = {"cmd": 0, "din": 0}
        self.first_time = None
        self.rows = []
        self.frames = []
        self.last_time = None

    async def reset(self, cycles=4):
        """Hold ``rst`` high for ``cycles`` edges, emptying the stream models' queues (a reset
        stops their drivers but keeps what was queued)."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        for stream in (self.cmd, self.din, self.dout):
            stream.clear()
        self._begin()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def send(self, cmds, din):
        """Queue ``cmds`` (128-bit words) and ``din`` (beats), one frame per word or beat."""
        for kind, source, words, size in (("cmd", self.cmd, cmds, CMD_BYTES),
                                          ("din", self.din, din, self.din_bytes)):
            done = self._offer_counter(kind)
            for word in words:
                source.send_nowait(AxiStreamFrame(int(word).to_bytes(size, "little"),
                                                  tx_complete=done))
            self.queued[kind] += len(words)

    def _offer_counter(self, kind):
        # A one-beat frame is "complete" at the edge after which its beat goes on the bus;
        # frames flushed by clear() complete with no time.
        def done(frame):
            if frame.sim_time_end is None:
                return
            self.offered[kind] += 1
            if kind == "cmd" and self.first_time is None:
                self.first_time = frame.sim_time_end
        return done

    async def receive(self, count):
        """Take ``count`` data-out beats (as integers); returns them."""
        width = self.dout_bytes
        while len(self.rows) < count:
            frame = await self.dout.recv()
            data = bytes(frame.tdata)
            self.frames.append(len(data) // width)
            self.rows.extend(int.from_bytes(data[i:i + width], "little")
                             for i in range(0, len(data), width))
            self.last_time = frame.sim_time_end
        return self.rows

    def progress(self):
        """How far the transfer got, for a timeout message."""
        dut = self.dut
        return (f"{self.offered['cmd']} of {self.queued['cmd']} commands and "
                f"{self.offered['din']} of {self.queued['din']} data beats "
                f"offered, {len(self.rows)} data-out beats taken; status_idle="
                f"{dut.status_idle.value}, status_error={dut.status_error.value}")

    @property
    def cycles(self):
        """Cycles from the first command offered to the last row taken."""
        return round(convert(self.last_time - self.first_time, "step", to="ns")) // PERIOD_NS

    def status(self):
        """``(idle, error)`` as integers."""
        return int(self.dut.status_idle.value), int(self.dut.status_error.value)


async def _run(tb, job):
    """Send the job's program and collect its rows, failing with the progress on a hang."""
    tb.send(job["cmds"], job["din"])
    limit = job["timeout_cycles"]
    try:
        await with_timeout(tb.receive(job["dout_rows"]), limit * PERIOD_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"no result after {limit} cycles: {tb.progress()}") from None
    cycles = tb.cycles
    await ClockCycles(tb.dut.clk, SETTLE_CYCLES)
    extra = 0
    while not tb.dout.empty():
        extra += len(tb.dout.recv_nowait().tdata) // tb.dout_bytes
    idle, error = tb.status()
    tb.log.info("%d commands, %d data beats in, %d rows out, %d cycles; idle=%d error=%#x",
                len(job["cmds"]), len(job["din"]), len(tb.rows), cycles, idle, error)
    write_result(job, {"rows": tb.rows, "frames": tb.frames, "cycles": cycles, "idle": idle,
                       "error": error, "extra": extra})


def _load_job():
    with open(os.environ["ENGINE_TB_JOB"]) as f:
        return json.load(f)


@cocotb.test()
async def run_engine_job(dut):
    """Run the job's program through the engine and write the rows it returns."""
    job = _load_job()
    tb = TB(dut, seed=job["seed"], p_valid=job["p_valid"], p_ready=job["p_ready"])
    await tb.reset()
    await _run(tb, job)


@cocotb.test()
async def reset_midway_job(dut):
    """Start ``job["first"]``, reset the engine once its first STORE's rows have come out (so
    loads, computes and stores are in flight and every stream model holds something), then
    run the job's program on the freshly reset engine."""
    job = _load_job()
    tb = TB(dut, seed=job["seed"], p_valid=job["p_valid"], p_ready=job["p_ready"])
    await tb.reset()
    first = job["first"]
    tb.send(first["cmds"], first["din"])
    limit = job["timeout_cycles"]
    try:
        await with_timeout(_first_frame(tb), limit * PERIOD_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"first program sent no rows in {limit} cycles: "
                             f"{tb.progress()}") from None
    tb.log.info("resetting mid-program at %d ns: %s; %d data-out frames queued",
                get_sim_time("ns"), tb.progress(), tb.dout.count())
    assert tb.offered["din"] < len(first["din"]), "the first program's data all went in " \
        "before its first rows came out: too short to reset in the middle"
    await tb.reset(cycles=3)
    idle, error = tb.status()
    assert (idle, error) == (1, 0), f"after reset: status_idle={idle}, status_error={error}"
    await _run(tb, job)


async def _first_frame(tb):
    while tb.dout.empty():
        await RisingEdge(tb.dut.clk)
