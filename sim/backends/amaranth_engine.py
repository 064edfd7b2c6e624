"""Run engine programs on the Amaranth simulator (``rtl_*`` side of the engine tests): the
Amaranth twin of :mod:`.cocotb_engine`, reporting an :class:`~.engine_run.EngineRun` and
checking it with the same :func:`~.engine_run.check_run`."""

import os
import random

from amaranth.sim import Simulator

from hw.engine import Engine

from ..streams import stream_get, stream_put
from .engine_run import SETTLE_CYCLES, EngineRun, check_run

__all__ = ["run_engine", "rtl_engine_gemm"]


def _field(word, field):
    """The bits of ``field`` (a ``data.Field``) in the packed integer ``word``."""
    return (word >> field.offset) & ((1 << field.width) - 1)


def _frames(lasts):
    """Beats in each ``last``-delimited frame; beats after the final ``last`` belong to no
    frame (a frame never closed, which the cocotb sink would never hand over)."""
    frames, beats = [], 0
    for last in lasts:
        beats += 1
        if last:
            frames.append(beats)
            beats = 0
    return frames


def run_engine(dut, cmds, din, dout_rows, *, seed=0, p_valid=1.0, p_ready=1.0,
               vcd_name=None, timeout=None):
    """Send ``cmds`` and ``din`` to ``dut`` (an :class:`~hw.engine.Engine`), collect
    ``dout_rows`` data-out rows, then keep ``dout.ready`` high for
    :data:`~.engine_run.SETTLE_CYCLES` more cycles, counting any row beyond those, and sample
    the status.

    ``p_valid`` / ``p_ready`` set random idle cycles on ``cmd`` and ``din`` and random
    backpressure on ``dout`` (until the expected rows are in), drawn from ``seed``. ``timeout``
    bounds the cycles to wait for the rows (default: from the program's size). Waveforms are
    written only when ``SIM_VCD`` names a folder (``vcd_name`` is the file).

    Returns
    -------
    EngineRun
        ``rows``: the expected rows' ``data`` fields; ``frames``: beats per ``last``-delimited
        frame among them; ``cycles``: from the first cycle (when the first command is offered,
        unless a random idle cycle delays it) to the last expected row taken; ``idle``,
        ``error``: the status after settling; ``extra``: rows that came while settling.

    Raises
    ------
    TimeoutError
        When the rows do not all come within ``timeout`` cycles.
    """
    rng = random.Random(seed)
    layout = dut.dout.payload.shape()   # hw.engine.storer.dout_layout(cfg): data, last
    out = {}
    limit = timeout or 200_000 + 50 * (len(cmds) + len(din) + dout_rows)

    async def commands(ctx):
        await stream_put(ctx, dut.cmd, cmds, rng=rng, p_valid=p_valid)

    async def data_in(ctx):
        await stream_put(ctx, dut.din, din, rng=random.Random(seed + 1), p_valid=p_valid)

    async def data_out(ctx):
        beats, cycles = await stream_get(ctx, dut.dout, dout_rows, rng=random.Random(seed + 2),
                                         p_ready=p_ready, limit=limit)
        extra = 0
        ctx.set(dut.dout.ready, 1)
        for _ in range(SETTLE_CYCLES):  # the last commands retire; stray rows show up
            _, _, valid = await ctx.tick().sample(dut.dout.valid)
            extra += valid
        ctx.set(dut.dout.ready, 0)
        out["run"] = EngineRun(
            rows=[_field(b, layout["data"]) for b in beats],
            frames=_frames(_field(b, layout["last"]) for b in beats),
            cycles=cycles, idle=ctx.get(dut.status.idle), error=ctx.get(dut.status.error),
            extra=extra)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(commands, background=True)
    sim.add_testbench(data_in, background=True)
    sim.add_testbench(data_out)
    vcd_dir = os.environ.get("SIM_VCD")
    if vcd_dir and vcd_name:
        os.makedirs(vcd_dir, exist_ok=True)
        with sim.write_vcd(os.path.join(vcd_dir, vcd_name + ".vcd")):
            sim.run()
    else:
        sim.run()
    return out["run"]


def rtl_engine_gemm(prog, *, seed=0, p_valid=1.0, p_ready=1.0):
    """Run an :class:`~sim.program.EngineProgram` on a simulated engine.
    Returns ``(C, cycles)``.

    Raises
    ------
    RuntimeError
        When the engine reports error bits, is not idle after its last row, sends more rows
        than the program stores, or marks STOREs with ``last`` other than the program says
        (:func:`~.engine_run.check_run`).
    TimeoutError
        As :func:`run_engine`.
    """
    run = run_engine(Engine(prog.cfg), prog.cmds, prog.din, prog.dout_rows, seed=seed,
                     p_valid=p_valid, p_ready=p_ready, vcd_name=prog.cfg.engine_name)
    check_run(prog, run)
    return prog.assemble(run.rows), run.cycles
