"""What one run of an engine program returned, and the checks every simulated backend applies
to it: no error bits, idle at the end, no rows beyond the program's, one ``last``-delimited
frame per STORE."""

from dataclasses import dataclass

from hw.isa import Opcode, decode

__all__ = ["EngineRun", "check_run", "check_stalls", "timeout_cycles", "SETTLE_CYCLES"]

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


def check_stalls(p_valid, p_ready):
    """Raise ``ValueError`` unless both stall probabilities are in (0, 1] (at 0 nothing would
    ever move)."""
    for name, p in (("p_valid", p_valid), ("p_ready", p_ready)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"{name} must be a probability in (0, 1], not {p!r}")


def timeout_cycles(cfg, cmds, din, dout_rows, p_valid, p_ready):
    """A bound no healthy run reaches: every beat may wait out a long stall run, and every
    COMPUTE may take a few times its steps (times the contexts) plus a pipeline's length."""
    slack = 1 / max(min(p_valid, p_ready), 0.05)
    work = 0
    for word in cmds:
        fields = decode(word)
        if fields["opcode"] == Opcode.COMPUTE:
            work += 4 * fields["count"] * cfg.rows + 8 * (cfg.rows + cfg.cols) + 100
        elif fields["opcode"] == Opcode.PRELOAD:
            work += 8 * cfg.rows + 100
    return int(10_000 + work + 40 * slack * (len(cmds) + len(din) + dout_rows))
