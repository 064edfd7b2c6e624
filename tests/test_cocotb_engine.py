"""The generated Verilog engine under cocotb (Verilator and Icarus) against the golden model.

Each case runs a random GEMM program (:func:`sim.program.gemm_program`) through the engine's
AXI4-Stream ports with random idle cycles on the command and data-in streams and random
backpressure on data-out, and compares C bit for bit with :func:`sim.host.ref_program`
(post-processing included). GEMMs on Verilator run in the compiled harness
(``tests/test_verilator_engine.py``, which also checks it against cocotb on Verilator cycle for
cycle); cocotb on Verilator stays here for what needs a bench in Python: reset in the middle of
a program, and one program on every backend. One build per (simulator, configuration), cached in
``build/cocotb/<simulator>/engine_*/``. A simulator the machine lacks skips its cases (fails
them under CI: ``require_tool`` in ``conftest.py``).
Waveforms: ``WAVES=1`` (see :mod:`sim.backends.cocotb_runner`).
"""

import zlib

import numpy as np
import pytest

from hw.config import Config
from hw.formats import INT8
from hw.isa import OutMode
from sim.backends.cocotb_engine import (
    check_run,
    missing_simulator,
    rtl_cocotb_engine_gemm,
    run_cocotb_engine,
)
from sim.golden import same_bits
from sim.host import BACKENDS, ref_program, run_program
from sim.operands import random_matrix
from sim.program import gemm_program

pytestmark = pytest.mark.slow

P_VALID = 0.7
P_READY = 0.6

# Verilator builds of a 4x4 engine take 30-90 s each, so few configurations, each running
# several programs (tests/test_verilator_engine.py runs GEMMs on these; the cocotb Verilator
# builds here are OS_INT8's, WS_BF16's and WS_INT8_SMALL's); Icarus interprets, so its
# engines stay tiny (small buffers too: every memory word is simulated).
OS_INT8 = Config(rows=4, cols=4)
WS_BF16 = Config(rows=4, cols=4, in_fmt="bf16", dataflow="ws")
OS_INT8_FP32 = Config(rows=3, cols=2, acc_fmt="fp32")
# 1 KiB holds 128 lines per buffer and 1 KiB 64 accumulator rows: the 20x33x17 GEMM's
# operand blocks do not all fit (double-buffered regions) and its tiles rotate over 3 slots.
WS_INT8_SMALL = Config(rows=4, cols=4, dataflow="ws", spad_kib=1, acc_kib=1)
TINY_OS = Config(rows=2, cols=3, spad_kib=1, acc_kib=1)
TINY_WS_BF16 = Config(rows=2, cols=2, in_fmt="bf16", dataflow="ws", spad_kib=1, acc_kib=1)

# (simulator, configuration, (M, K, N), post-processing)
CASES = [
    ("icarus", TINY_OS, (9, 20, 11), dict(mode="int8", scale=1 / 128)),
    ("icarus", TINY_WS_BF16, (5, 9, 4), dict(mode="bf16", relu=True)),
]


def _id(case):
    simulator, cfg, (m, k, n), post = case
    return f"{simulator}-{cfg.engine_name}-{m}x{k}x{n}-{post['mode']}" + \
        ("-relu" if post.get("relu") else "")


def program(cfg, shape, rng, **post):
    m, k, n = shape
    mix = "special" if cfg.in_fmt == "bf16" else "normal"
    a = random_matrix(cfg, (m, k), rng, mix)
    b = random_matrix(cfg, (k, n), rng, mix)
    mode = OutMode[post.pop("mode").upper()]
    return gemm_program(cfg, a, b, mode=mode, **post), a, b


def check(prog, a, b, c, seed):
    want = ref_program(prog, a, b)
    match = same_bits(c, want, prog.out_format)
    assert match.all(), (
        f"{(~match).sum()} of {match.size} elements differ (seed {seed});\n"
        f"A={a!r}\nB={b!r}\ngot={c!r}\nwant={want!r}")


@pytest.mark.parametrize("simulator, cfg, shape, post", [pytest.param(*c, id=_id(c))
                                                         for c in CASES])
def test_gemm(simulator, cfg, shape, post, require_tool):
    require_tool(missing_simulator(simulator))
    seed = zlib.crc32(_id((simulator, cfg, shape, post)).encode())
    prog, a, b = program(cfg, shape, np.random.default_rng(seed), **post)

    c, cycles = rtl_cocotb_engine_gemm(prog, simulator, seed=seed, p_valid=P_VALID,
                                       p_ready=P_READY)

    check(prog, a, b, c, seed)
    assert cycles >= len(prog.din) and cycles >= prog.dout_rows


# (simulator, configuration, asic): the ``hw.gen --asic`` Verilog has no initial values, so on
# Icarus every register is X until the reset or a write sets it: a datapath register without
# a reset (hw.delay's rule) that needed one would turn results into X.
RESET_CASES = [("verilator", OS_INT8, False), ("icarus", TINY_OS, False),
               ("icarus", TINY_OS, True), ("icarus", TINY_WS_BF16, True)]


@pytest.mark.parametrize("simulator, cfg, asic", [
    pytest.param(s, c, a, id=f"{s}-{c.engine_name}" + ("-asic" if a else ""))
    for s, c, a in RESET_CASES])
def test_reset_midway(simulator, cfg, asic, require_tool):
    """A reset in the middle of a GEMM leaves an engine that runs the next program right;
    with ``asic``, from registers that start X and datapath registers the reset leaves as they
    were (garbage of the first program)."""
    require_tool(missing_simulator(simulator))
    seed = zlib.crc32(f"reset-{simulator}-{cfg.engine_name}".encode())
    rng = np.random.default_rng(seed)
    first, _, _ = program(cfg, (12, 30, 7), rng, mode="raw")
    prog, a, b = program(cfg, (9, 20, 11), rng, mode="int8", scale=1 / 64)

    run = run_cocotb_engine(cfg, prog.cmds, prog.din, prog.dout_rows, simulator, seed=seed,
                            p_valid=P_VALID, p_ready=P_READY,
                            reset_first=(first.cmds, first.din), asic=asic)

    check_run(prog, run)
    check(prog, a, b, prog.assemble(run.rows), seed)


def test_missing_simulator_says_what_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert "not found" in missing_simulator("icarus")
    assert "unknown simulator" in missing_simulator("ghdl")


def test_same_program_same_bits_on_every_backend(require_tool):
    """One program, every simulated backend: the golden model, the Amaranth simulator, the
    Verilator harness, cocotb on Verilator and on Icarus all return the same C."""
    for simulator in ("verilator", "icarus"):
        require_tool(missing_simulator(simulator))
    cfg = TINY_OS
    prog, a, b = program(cfg, (7, 13, 8), np.random.default_rng(5), mode="int8",
                         scale=1 / 32, relu=True)
    results = {backend: run_program(prog, a, b, backend, seed=3, p_valid=P_VALID,
                                    p_ready=P_READY)
               for backend in BACKENDS}
    for backend, res in results.items():
        assert same_bits(res.c, results["golden"].c, INT8).all(), backend
        assert (res.cycles is None) == (backend == "golden")
