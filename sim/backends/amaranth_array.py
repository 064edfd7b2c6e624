"""Run array programs on the Amaranth simulator (``rtl_*`` side of the array tests)."""

import os
import random

from amaranth.sim import Simulator

from hw.array import SystolicArray

from ..array_program import array_program
from ..streams import stream_get, stream_put

__all__ = ["rtl_array_schedule", "rtl_array_gemm", "run_array_beats"]


def run_array_beats(dut, beats, result_rows, *, seed=0, p_valid=1.0, p_ready=1.0,
                    vcd_name=None, fmt=0):
    """Stream ``beats`` into ``dut`` (a :class:`~hw.array.SystolicArray`) and collect
    ``result_rows`` results. Returns ``(rows, cycles)``; cycles count from the first beat
    offered to the last result taken. ``fmt``: the value of a set array's ``fmt`` input.

    Waveforms are written only when ``SIM_VCD`` names a folder (``vcd_name`` is the file).
    """
    rng = random.Random(seed)
    out = {}

    async def producer(ctx):
        if "fmt" in dut.signature.members:
            ctx.set(dut.fmt, fmt)
        await stream_put(ctx, dut.i, beats, rng=rng, p_valid=p_valid)

    async def consumer(ctx):
        out["rows"], out["cycles"] = await stream_get(
            ctx, dut.o, result_rows, rng=random.Random(seed + 1), p_ready=p_ready)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    vcd_dir = os.environ.get("SIM_VCD")
    if vcd_dir and vcd_name:
        os.makedirs(vcd_dir, exist_ok=True)
        with sim.write_vcd(os.path.join(vcd_dir, vcd_name + ".vcd")):
            sim.run()
    else:
        sim.run()
    return out["rows"], out["cycles"]


def rtl_array_schedule(dut, beats, result_rows, *, limit=10_000):
    """Stream ``beats`` into ``dut`` back to back with ``o`` always ready. Returns
    ``(accepted, results)``: the cycle each beat was accepted and the cycle each result row
    was on ``o``, for checking against :func:`sim.array_program.due_cycles`."""
    accepted, results = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        pending = list(beats)
        cycle = 0
        while len(results) < result_rows:
            if pending:
                ctx.set(dut.i.payload.as_value(), pending[0])
            ctx.set(dut.i.valid, bool(pending))
            _, _, ready, valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            if pending and ready:
                accepted.append(cycle)
                pending.pop(0)
            if valid:
                results.append(cycle)
            cycle += 1
            if cycle >= limit:
                raise TimeoutError(f"array hung: {len(results)} of {result_rows} rows after "
                                   f"{cycle} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return accepted, results


def rtl_array_gemm(cfg, a, b, *, seed=0, p_valid=1.0, p_ready=1.0, fmt=None):
    """C = A @ B on a simulated ``cfg`` array, the operands in ``fmt`` (a member of
    ``cfg.in_fmts``; ``None``: the first). Returns ``(C, cycles)``."""
    dut = SystolicArray(cfg)
    prog = array_program(cfg, a, b, contexts=dut.contexts, fmt=fmt)
    rows, cycles = run_array_beats(dut, prog.beats, prog.result_rows, seed=seed,
                                   p_valid=p_valid, p_ready=p_ready, vcd_name=cfg.name,
                                   fmt=cfg.fmt_index(fmt))
    return prog.assemble(rows), cycles
