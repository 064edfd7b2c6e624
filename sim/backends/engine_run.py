"""What one run of an engine program returned, and the checks every simulated backend applies
to it: no error bits, idle at the end, no rows beyond the program's, one ``last``-delimited
frame per STORE."""

from dataclasses import dataclass

__all__ = ["EngineRun", "check_run", "SETTLE_CYCLES"]

#: Cycles a bench keeps taking data-out after the last expected row before it samples the
#: status: the last commands retire, and any row beyond the program's shows up. (The C++
#: harness, ``sim/harness/engine_harness.cpp``, has its own copy of this number.)
SETTLE_CYCLES = 8


@dataclass
class EngineRun:
    """What one run of the engine bench returned.

    Members
    -------
    rows : list of int
        The data-out beats, in order.
    frames : list of int
        Beats in each ``tlast``-delimited frame (one frame per STORE).
    cycles : int
        From the first command offered to the last row taken.
    idle, error : int
        ``status_idle`` and ``status_error`` :data:`SETTLE_CYCLES` cycles after the last row.
    extra : int
        Data-out beats beyond the ones expected, seen in those cycles.
    """
    rows: list
    frames: list
    cycles: int
    idle: int
    error: int
    extra: int


def check_run(prog, run):
    """Raise ``RuntimeError`` unless ``run`` ended as ``prog`` should: no error bits, idle, no
    extra rows, one ``tlast`` frame per STORE."""
    if run.error:
        raise RuntimeError(f"engine reported error bits {run.error:#x}")
    if not run.idle:
        raise RuntimeError("engine not idle after its last row")
    if run.extra:
        raise RuntimeError(f"engine sent {run.extra} rows more than the program's "
                           f"{prog.dout_rows}")
    want = [len(s.rows) for s in prog.stores]
    if run.frames != want:
        raise RuntimeError(f"data-out frames (tlast) of {run.frames} rows, expected {want}")
