"""Drive a generated ``engine_*`` top level from a cocotb test: GEMMs and programs in, C and
cycle counts out, with random stalls on every stream.

For a cocotb test of your own against ``python -m hw.gen`` output::

    import cocotb
    from hw.config import Config
    from sim.benches.engine_tb import EngineTB

    @cocotb.test()
    async def gemm(dut):
        tb = EngineTB(dut, Config(rows=4, spad_kib=4, acc_kib=4))
        tb.set_stalls(p_valid=0.7, p_ready=0.6, seed=1)
        await tb.reset()
        res = await tb.gemm(a, b, relu=True, mode="int8", scale=0.01)
        # res.c, res.cycles, res.rows, res.frames, res.idle, res.error

:meth:`EngineTB.gemm` tiles the GEMM with :func:`sim.program.gemm_program`;
:meth:`EngineTB.run_program` runs a ready-made :class:`~sim.program.EngineProgram` and
:meth:`EngineTB.run` raw command words and data-in beats. Each returns what came out (an
:class:`~sim.backends.engine_run.EngineRun`) and, for programs, C; each fails the test when the
engine hangs, and programs also when :func:`~sim.backends.engine_run.check_run` finds error
bits, a busy engine, extra rows or the wrong ``tlast`` framing. Compare ``res.c`` with the
golden model yourself (:func:`sim.host.ref_program`): the bench does not presume the answer.

The streams are driven by cocotbext-axi's ``AxiStreamSource`` (``s_axis_cmd``,
``s_axis_data``) and ``AxiStreamSink`` (``m_axis_data``). Each command is a one-beat frame (the
command stream has no ``tlast``), and so is each data-in beat (the engine ignores ``tlast`` on
data-in); data-out frames are the STOREs, ``tlast``-delimited. Payloads are the packed integers
of :mod:`sim.program`. :func:`sim.backends.cocotb_engine.run_cocotb_engine` drives this class
from pytest (through :mod:`sim.benches.engine_tests`).
"""

import itertools
import logging
import numbers
import random
import warnings
from dataclasses import asdict, dataclass

from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from hw.config import Config
from hw.gen import module_name

# The bound the pytest side uses too, so both give up on a hung engine at the same point.
from ..backends.engine_run import SETTLE_CYCLES, EngineRun, check_run, check_stalls, timeout_cycles
from ..program import gemm_program

__all__ = ["EngineTB", "ProgramRun", "PERIOD_NS"]

# cocotbext-axi 0.1.28 still uses cocotb 1.x calls (setimmediatevalue, Edge) that cocotb 2
# deprecates; they work, and the warnings would bury the bench's own log lines.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.")

#: Clock period in ns.
PERIOD_NS = 10
#: Bytes of one command word.
CMD_BYTES = 16


@dataclass
class ProgramRun(EngineRun):
    """An :class:`~sim.backends.engine_run.EngineRun` of one program, with its result.

    Members
    -------
    program : sim.program.EngineProgram
        What ran.
    c : numpy.ndarray or None
        C (M×N, in ``program.out_format``) assembled from the rows; ``None`` when the engine
        sent another number of rows than the program stores (possible only unchecked).
    """
    program: object = None
    c: object = None


def _pauses(rng, p_go):
    """An endless pause pattern (True: stall this cycle) going with probability ``p_go``.
    A long precomputed list, cycled: cheaper per cycle than drawing, and still seeded."""
    return itertools.cycle([rng.random() >= p_go for _ in range(4093)])


class EngineTB:
    """Owns the clock, reset and the three stream models of one engine under test.

    Creating it starts a ``PERIOD_NS`` clock on ``clk`` and holds ``rst`` high until
    :meth:`reset`. No stalls until :meth:`set_stalls`.

    Parameters
    ----------
    dut : cocotb handle
        The ``engine_*`` top level.
    cfg : hw.config.Config
        The configuration the engine was generated from; programs are tiled for it.

    Members
    -------
    dut, cfg, log
    cmd, din : cocotbext.axi.AxiStreamSource
        Command and data-in stream models.
    dout : cocotbext.axi.AxiStreamSink
        Data-out stream model.
    p_valid, p_ready, seed : float, float, int
        The stalls set by :meth:`set_stalls`.

    Raises
    ------
    TypeError
        When ``cfg`` is not a :class:`~hw.config.Config`.
    ValueError
        When ``dut`` is a generated engine of another configuration.
    """

    def __init__(self, dut, cfg):
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg must be a hw.config.Config, not {cfg!r}")
        want = module_name(cfg, "engine")
        if dut._name.startswith("engine_") and dut._name != want:
            raise ValueError(f"cfg must describe the engine under test, {dut._name}, not "
                             f"{want} ({cfg!r})")
        self.dut = dut
        self.cfg = cfg
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
        self._din_bytes = len(dut.s_axis_data_tdata) // 8
        self._dout_bytes = len(dut.m_axis_data_tdata) // 8
        self.p_valid = self.p_ready = 1.0
        self.seed = 0
        self._begin()

    def set_stalls(self, p_valid=1.0, p_ready=1.0, seed=0):
        """Stall the streams at random from now on: each cycle the command and data-in sources
        offer a beat with probability ``p_valid`` (idle otherwise) and the data-out sink is
        ready with probability ``p_ready`` (backpressure otherwise). ``1.0`` means never stall.
        The patterns are drawn from ``seed``, so a failure reproduces.

        Raises
        ------
        ValueError
            When a probability is not in (0, 1] (at 0 nothing would ever move).
        """
        check_stalls(p_valid, p_ready)
        self.p_valid, self.p_ready, self.seed = float(p_valid), float(p_ready), seed
        for k, (stream, p) in enumerate(((self.cmd, p_valid), (self.din, p_valid),
                                         (self.dout, p_ready))):
            if p < 1:
                stream.set_pause_generator(_pauses(random.Random(seed * 3 + k), p))
            else:
                stream.clear_pause_generator()
                stream.pause = False

    def _begin(self):
        self.queued = {"cmd": 0, "din": 0}
        self.offered = {"cmd": 0, "din": 0}
        self._first_time = None
        self._last_time = None
        self.rows = []
        self.frames = []

    async def reset(self, cycles=4):
        """Hold ``rst`` high for ``cycles`` edges, emptying the stream models' queues (a reset
        stops their drivers but keeps what was queued), then release it."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        for stream in (self.cmd, self.din, self.dout):
            stream.clear()
        self._begin()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def send(self, cmds, din):
        """Queue ``cmds`` (128-bit words) and ``din`` (beats), one frame per word or beat;
        returns at once (the sources send them as the engine takes them)."""
        for kind, source, words, size in (("cmd", self.cmd, cmds, CMD_BYTES),
                                          ("din", self.din, din, self._din_bytes)):
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
            if kind == "cmd" and self._first_time is None:
                self._first_time = frame.sim_time_end
        return done

    async def receive(self, count):
        """Take data-out frames until ``count`` beats (as integers) have come; returns all
        beats taken since the last reset or run."""
        width = self._dout_bytes
        while len(self.rows) < count:
            frame = await self.dout.recv()
            data = bytes(frame.tdata)
            self.frames.append(len(data) // width)
            self.rows.extend(int.from_bytes(data[i:i + width], "little")
                             for i in range(0, len(data), width))
            self._last_time = frame.sim_time_end
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
        """Cycles from the first command offered to the last row taken (both edges counted
        once)."""
        return round(convert(self._last_time - self._first_time, "step", to="ns")) // PERIOD_NS

    def status(self):
        """``(idle, error)``: ``status_idle`` and ``status_error`` now, as integers."""
        return int(self.dut.status_idle.value), int(self.dut.status_error.value)

    def _timeout(self, cmds, din, dout_rows):
        return timeout_cycles(self.cfg, cmds, din, dout_rows, self.p_valid, self.p_ready)

    async def run(self, cmds, din, dout_rows, *, timeout_cycles=None):
        """Send ``cmds`` (128-bit words) and ``din`` (data-in beats), take ``dout_rows``
        data-out rows, let the last commands retire, and return an
        :class:`~sim.backends.engine_run.EngineRun` (with ``extra``: rows that came after).

        ``timeout_cycles`` bounds the run (default: from the program's size and the stalls).

        Raises
        ------
        ValueError
            When ``dout_rows`` is below 1 (the cycle count ends at the last row).
        AssertionError
            When the rows have not come after ``timeout_cycles``: how far the transfer got.
        """
        if not isinstance(dout_rows, numbers.Integral) or dout_rows < 1:
            raise ValueError(f"dout_rows must be an integer of at least 1, not {dout_rows!r}")
        if timeout_cycles is None:
            timeout_cycles = self._timeout(cmds, din, dout_rows)
        self._begin()
        self.send(cmds, din)
        try:
            await with_timeout(self.receive(dout_rows), timeout_cycles * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"no result after {timeout_cycles} cycles: "
                                 f"{self.progress()}") from None
        cycles = self.cycles
        await ClockCycles(self.dut.clk, SETTLE_CYCLES)
        extra = 0
        while not self.dout.empty():
            extra += len(self.dout.recv_nowait().tdata) // self._dout_bytes
        idle, error = self.status()
        self.log.info("%d commands, %d data beats in, %d rows out, %d cycles; idle=%d "
                      "error=%#x", len(cmds), len(din), len(self.rows), cycles, idle, error)
        return EngineRun(rows=list(self.rows), frames=list(self.frames), cycles=cycles,
                         idle=idle, error=error, extra=extra)

    async def run_program(self, prog, *, check=True, timeout_cycles=None):
        """Run an :class:`~sim.program.EngineProgram` (see :meth:`run`) and return a
        :class:`ProgramRun` with C. With ``check``, first apply
        :func:`~sim.backends.engine_run.check_run`.

        Raises
        ------
        RuntimeError
            From :func:`~sim.backends.engine_run.check_run`: error bits, not idle, extra rows,
            or data-out frames other than the program's STOREs.
        AssertionError
            As :meth:`run`.
        """
        run = await self.run(prog.cmds, prog.din, prog.dout_rows,
                             timeout_cycles=timeout_cycles)
        if check:
            check_run(prog, run)
        c = prog.assemble(run.rows) if len(run.rows) == prog.dout_rows else None
        return ProgramRun(**asdict(run), program=prog, c=c)

    async def gemm(self, a, b, *, relu=False, mode="raw", scale=1.0, check=True,
                   timeout_cycles=None):
        """C = post(``a`` @ ``b``) on the engine: tile it with
        :func:`~sim.program.gemm_program` and :meth:`run_program` it.

        ``a`` and ``b`` are M×K and K×N arrays in the configuration's input format (int8, or
        ``ml_dtypes.bfloat16``); ``relu``, ``mode`` (``"raw"``, ``"int8"``, ``"bf16"``) and
        ``scale`` are the post-processing, as :func:`sim.host.run_gemm` takes them.

        Raises
        ------
        sim.program.ProgramError
            When the GEMM cannot run on this configuration (say, a mode it lacks).
        RuntimeError, AssertionError
            As :meth:`run_program`.
        """
        prog = gemm_program(self.cfg, a, b, relu=relu, mode=mode, scale=scale)
        return await self.run_program(prog, check=check, timeout_cycles=timeout_cycles)

    async def reset_during(self, cmds, din, *, timeout_cycles=None):
        """Start ``cmds`` / ``din`` (say, ``prog.cmds`` and ``prog.din``), assert ``rst`` once
        the first STORE's rows have come out, with data still to go in (so loads, computes
        and stores are in flight and every stream model holds something), and check that
        the engine comes out of reset idle and error-free, stream models emptied.

        Raises
        ------
        AssertionError
            When no rows come within ``timeout_cycles`` (default: from the program's size),
            when all data went in before the first rows came out (the program is too short
            to reset in the middle), or when the engine is busy or in error after reset.
        """
        if timeout_cycles is None:
            timeout_cycles = self._timeout(cmds, din, 1)
        self._begin()
        self.send(cmds, din)
        try:
            await with_timeout(self._first_frame(), timeout_cycles * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"first program sent no rows in {timeout_cycles} cycles: "
                                 f"{self.progress()}") from None
        self.log.info("resetting mid-program at %d ns: %s; %d data-out frames queued",
                      get_sim_time("ns"), self.progress(), self.dout.count())
        assert self.offered["din"] < len(din), "the first program's data all went in " \
            "before its first rows came out: too short to reset in the middle"
        await self.reset(cycles=3)
        idle, error = self.status()
        assert (idle, error) == (1, 0), f"after reset: status_idle={idle}, status_error={error}"

    async def _first_frame(self):
        while self.dout.empty():
            await RisingEdge(self.dut.clk)
