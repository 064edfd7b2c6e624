"""Run engine programs on the Amaranth simulator."""

import os
import random

from amaranth.sim import Simulator

from hw.engine import Engine

from ..streams import stream_get, stream_put

__all__ = ["run_engine", "rtl_engine_gemm"]


def run_engine(dut, cmds, din, dout_rows, *, seed=0, p_valid=1.0, p_ready=1.0,
               vcd_name=None, timeout=None):
    """Send ``cmds`` and ``din`` to ``dut`` (an :class:`~hw.engine.Engine`) and collect
    ``dout_rows`` data-out rows. Returns ``(rows, cycles, status)``: the rows' ``data``
    fields, the cycles from the first command offered to the last row taken, and the final
    ``(idle, error)``.

    ``p_valid`` / ``p_ready`` set random idle cycles on ``cmd`` and ``din`` and random
    backpressure on ``dout``. Waveforms are written only when ``SIM_VCD`` names a folder.
    """
    rng = random.Random(seed)
    out = {}
    limit = timeout or 200_000 + 50 * (len(cmds) + len(din) + dout_rows)

    async def commands(ctx):
        await stream_put(ctx, dut.cmd, cmds, rng=rng, p_valid=p_valid)

    async def data_in(ctx):
        await stream_put(ctx, dut.din, din, rng=random.Random(seed + 1), p_valid=p_valid)

    async def data_out(ctx):
        rows, cycles = await stream_get(ctx, dut.dout, dout_rows, rng=random.Random(seed + 2),
                                        p_ready=p_ready, limit=limit)
        width = dut.cfg.cols * 32
        out["rows"] = [r & ((1 << width) - 1) for r in rows]
        out["last"] = [r >> width for r in rows]
        out["cycles"] = cycles
        for _ in range(8):  # let the last commands retire before sampling status
            await ctx.tick()
        out["status"] = (ctx.get(dut.status.idle), ctx.get(dut.status.error))

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
    return out["rows"], out["cycles"], out["status"], out["last"]


def rtl_engine_gemm(prog, *, seed=0, p_valid=1.0, p_ready=1.0):
    """Run an :class:`~sim.program.EngineProgram` on a simulated engine.
    Returns ``(C, cycles)``."""
    dut = Engine(prog.cfg)
    rows, cycles, status, last = run_engine(dut, prog.cmds, prog.din, prog.dout_rows,
                                            seed=seed, p_valid=p_valid, p_ready=p_ready,
                                            vcd_name=prog.cfg.engine_name)
    if status[1]:
        raise RuntimeError(f"engine reported error bits {status[1]:#x}")
    return prog.assemble(rows), cycles
