"""One host API for every backend: give it A and B, get C and the cycle count.

::

    from hw.config import Config
    from sim.host import run_gemm
    result = run_gemm(a, b, Config(rows=16), backend="verilator", mode="int8", scale=0.01)
    result.c, result.cycles

The same :class:`~sim.program.EngineProgram` (commands and data) runs on every backend, so
every backend returns the same bits; ``golden`` computes them with the golden model and is the
reference the others are checked against.
"""

from dataclasses import dataclass

from .golden import ref_gemm, ref_postproc
from .program import gemm_program

__all__ = ["BACKENDS", "GemmResult", "run_gemm", "run_program", "ref_program"]

#: Backends by name: the golden model, the Amaranth simulator, cocotb on Verilator or Icarus.
BACKENDS = ("golden", "amaranth", "verilator", "icarus")


@dataclass
class GemmResult:
    """``c``: the result (M×N, the output format); ``cycles``: clock cycles from the first
    command to the last result row (``None`` for the golden model, which has no clock);
    ``program``: what ran."""
    c: object
    cycles: object
    program: object
    backend: str

    @property
    def utilization(self):
        """``M·K·N / (rows·cols·cycles)``: the fraction of PE-cycles doing useful MACs."""
        if not self.cycles:
            return None
        cfg = self.program.cfg
        return self.program.macs / (cfg.rows * cfg.cols * self.cycles)


def ref_program(prog, a, b):
    """The golden result of a program for ``a @ b``."""
    c = ref_gemm(a, b, prog.cfg, k_pass=prog.k_pass, interleave=prog.interleave)
    return ref_postproc(c, prog.cfg, relu=prog.relu, mode=prog.mode, scale=prog.scale)


def run_program(prog, a, b, backend="golden", *, seed=0, p_valid=1.0, p_ready=1.0):
    """Run a ready-made program; see :func:`run_gemm` for the arguments."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "golden":
        return GemmResult(ref_program(prog, a, b), None, prog, backend)
    if backend == "amaranth":
        from .backends.amaranth_engine import rtl_engine_gemm
        c, cycles = rtl_engine_gemm(prog, seed=seed, p_valid=p_valid, p_ready=p_ready)
    else:
        from .backends.cocotb_engine import rtl_cocotb_engine_gemm
        c, cycles = rtl_cocotb_engine_gemm(prog, backend, seed=seed, p_valid=p_valid,
                                           p_ready=p_ready)
    return GemmResult(c, cycles, prog, backend)


def run_gemm(a, b, cfg, *, backend="golden", relu=False, mode="raw", scale=1.0, seed=0,
             p_valid=1.0, p_ready=1.0):
    """C = post(A @ B) on a ``cfg`` engine.

    Parameters
    ----------
    a, b : numpy.ndarray
        M×K and K×N, in ``cfg``'s input format (int8, or ``ml_dtypes.bfloat16``).
    cfg : hw.config.Config
    backend : str
        One of :data:`BACKENDS`.
    relu, mode, scale :
        Post-processing: ReLU, then ``"raw"``, ``"int8"`` (× ``scale``, round to nearest even,
        saturate) or ``"bf16"``.
    seed, p_valid, p_ready :
        Simulated backends: random idle cycles on the input streams and backpressure on the
        output (1.0: none).
    """
    prog = gemm_program(cfg, a, b, relu=relu, mode=mode, scale=scale)
    return run_program(prog, a, b, backend, seed=seed, p_valid=p_valid, p_ready=p_ready)
