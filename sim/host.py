"""One host API for every backend: give it A and B, get C and the cycle count.

::

    from hw.config import Config
    from sim.host import run_gemm
    result = run_gemm(a, b, Config(rows=16), backend="verilator", mode="int8", scale=0.01)
    result.c, result.cycles

The same :class:`~sim.program.EngineProgram` (commands and data) runs on every backend, so
every backend returns the same bits; ``golden`` computes them with the golden model and is the
reference the others are checked against. ``verilator`` runs the whole program in a compiled
Verilator harness (:mod:`sim.backends.verilator_engine`, no Python per cycle: the one for long
runs); ``cocotb-verilator`` and ``icarus`` drive the engine's streams from cocotb
(:mod:`sim.backends.cocotb_engine`, the protocol benches' path). The :data:`LINK_BACKENDS`
run it through the board top's UART host link (:mod:`sim.link`): ``uart`` on a board at a
serial ``port``, ``uart-sim`` on the board top simulated with Amaranth, pins and all.
"""

from dataclasses import dataclass

from .golden import ref_gemm, ref_postproc
from .program import gemm_program

__all__ = ["BACKENDS", "COCOTB_BACKENDS", "LINK_BACKENDS", "GemmResult", "run_gemm", "run_program",
           "ref_program"]

#: Backends by name: the golden model, the Amaranth simulator, the compiled Verilator harness,
#: cocotb on Verilator or Icarus.
BACKENDS = ("golden", "amaranth", "verilator", "cocotb-verilator", "icarus")
#: The cocotb backends, and the simulator each drives.
COCOTB_BACKENDS = {"cocotb-verilator": "verilator", "icarus": "icarus"}
#: Backends through the UART host link: a board on a serial port, the simulated board top.
LINK_BACKENDS = ("uart", "uart-sim")


@dataclass
class GemmResult:
    """``c``: the result (M×N, the output format); ``cycles``: clock cycles from the first
    command to the last result row (``None`` for the golden model, which has no clock; for
    the :data:`LINK_BACKENDS`, the cycles the engine was busy, which the line's speed
    dominates); ``program``: what ran."""
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
    c = ref_gemm(a, b, prog.fmt_cfg, k_pass=prog.k_pass, interleave=prog.interleave)
    return ref_postproc(c, prog.cfg, relu=prog.relu, mode=prog.mode, scale=prog.scale)


def run_program(prog, a, b, backend="golden", *, seed=0, p_valid=1.0, p_ready=1.0, port=None,
                baud=None):
    """Run a ready-made program; see :func:`run_gemm` for the arguments."""
    if backend not in BACKENDS + LINK_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS + LINK_BACKENDS)}, "
                         f"not {backend!r}")
    if backend == "golden":
        return GemmResult(ref_program(prog, a, b), None, prog, backend)
    if backend == "uart":
        from .link import DEFAULT_BAUD, SerialTransport, link_gemm
        if not port:
            raise ValueError(f"port must name the board's serial port for backend 'uart', "
                             f"not {port!r}")
        with SerialTransport(port, baud or DEFAULT_BAUD) as transport:
            c, cycles = link_gemm(prog, transport)
    elif backend == "uart-sim":
        from .backends.amaranth_uart import rtl_uart_gemm
        c, cycles = rtl_uart_gemm(prog)
    elif backend == "amaranth":
        from .backends.amaranth_engine import rtl_engine_gemm
        c, cycles = rtl_engine_gemm(prog, seed=seed, p_valid=p_valid, p_ready=p_ready)
    elif backend == "verilator":
        from .backends.verilator_engine import rtl_verilator_engine_gemm
        c, cycles = rtl_verilator_engine_gemm(prog, seed=seed, p_valid=p_valid, p_ready=p_ready)
    else:
        from .backends.cocotb_engine import rtl_cocotb_engine_gemm
        c, cycles = rtl_cocotb_engine_gemm(prog, COCOTB_BACKENDS[backend], seed=seed,
                                           p_valid=p_valid, p_ready=p_ready)
    return GemmResult(c, cycles, prog, backend)


def run_gemm(a, b, cfg, *, backend="golden", relu=False, mode="raw", scale=1.0, seed=0,
             p_valid=1.0, p_ready=1.0, port=None, baud=None, fmt=None):
    """C = post(A @ B) on a ``cfg`` engine.

    Parameters
    ----------
    a, b : numpy.ndarray
        M×K and K×N, in ``cfg``'s input format (int8, or ``ml_dtypes.bfloat16``), or in
        ``fmt``'s.
    cfg : hw.config.Config
    backend : str
        One of :data:`BACKENDS` or :data:`LINK_BACKENDS`.
    relu, mode, scale :
        Post-processing: ReLU, then ``"raw"``, ``"int8"`` (× ``scale``, round to nearest even,
        saturate) or ``"bf16"``. ``scale`` is one number or one per column of C (per output
        channel: the engine's SCALE command sets each lane's).
    seed, p_valid, p_ready :
        Simulated backends: random idle cycles on the input streams and backpressure on the
        output (1.0: none), drawn from ``seed``. Each simulator draws its own patterns, so
        with stalls the bits agree across backends but the cycle counts need not; with none,
        ``verilator`` and ``cocotb-verilator`` count the same cycles. The link backends ignore
        them: the line paces every stream.
    port, baud :
        Backend ``uart``: the board's serial port (required) and its baud rate
        (:data:`sim.link.DEFAULT_BAUD` if ``None``).
    fmt : str or None
        The GEMM's operand format on an engine with a set of them (``cfg.in_fmts``; ``None``:
        the first). The program's CONFIG selects it; the golden result is that of the
        member's single-format engine, bit for bit.

    Raises
    ------
    sim.link.LinkError
        From the link backends, when the board cannot be reached or answers out of turn.
    RuntimeError
        When a simulated engine or the board reports error bits or stores the wrong rows.
    """
    prog = gemm_program(cfg, a, b, relu=relu, mode=mode, scale=scale, fmt=fmt)
    return run_program(prog, a, b, backend, seed=seed, p_valid=p_valid, p_ready=p_ready,
                       port=port, baud=baud)
