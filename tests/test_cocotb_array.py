"""The generated Verilog array under cocotb (Verilator and Icarus) against the golden model.

Each case streams a random GEMM through ``build/cocotb/<simulator>/<cfg.name>/`` with random
idle cycles on the operand stream and random backpressure on the results, and compares C bit
for bit with :func:`sim.golden.ref_gemm`. A simulator the machine lacks skips its cases (fails
them under CI: ``require_tool`` in ``conftest.py``).
Waveforms: ``WAVES=1`` (see :mod:`sim.backends.cocotb_array`).
"""

import zlib

import ml_dtypes
import numpy as np
import pytest

from hw.config import Config
from sim.array_program import array_k_pass
from sim.backends.cocotb_array import missing_simulator, rtl_cocotb_array_gemm
from sim.golden import ref_gemm, same_bits

pytestmark = pytest.mark.slow

P_VALID = 0.7
P_READY = 0.6

#: bf16 bit patterns: ±0, ±Inf, subnormals (smallest, largest, one between), smallest normal.
BF16_SPECIALS = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x0001, 0x807F, 0x0040, 0x0080]

# (configuration, M, K, N, specials). Verilator builds take 10-30 s each, so keep ~6 of them;
# Icarus interprets, so its arrays stay small.
VERILATOR_CASES = [
    (Config(rows=4, cols=4, dataflow="os"), 9, 6, 7, False),
    (Config(rows=4, cols=4, dataflow="ws"), 6, 9, 5, False),
    (Config(rows=2, cols=3, acc_fmt="fp32", dataflow="os"), 5, 7, 4, False),
    (Config(rows=3, cols=2, in_fmt="bf16", dataflow="os"), 7, 5, 3, True),
    (Config(rows=2, cols=2, in_fmt="bf16", dataflow="ws"), 5, 5, 3, True),
    (Config(rows=2, cols=2, in_fmt="bf16", dataflow="ws", subnormals="ftz"), 5, 5, 3, True),
]
ICARUS_CASES = [
    (Config(rows=2, cols=3, dataflow="os"), 5, 4, 4, False),
    # The ASIC flow's drain bus and split adder: a chain of gates through the PE instances.
    (Config(rows=3, cols=2, dataflow="os", drain="bus", int_adder="split"), 7, 2, 3, False),
    (Config(rows=2, cols=3, dataflow="ws"), 4, 5, 4, False),
    (Config(rows=2, cols=2, acc_fmt="fp32", dataflow="ws"), 3, 3, 3, False),
    (Config(rows=2, cols=2, in_fmt="bf16", dataflow="os"), 3, 3, 3, True),
    (Config(rows=2, cols=2, in_fmt="bf16", dataflow="os", subnormals="ftz"), 3, 3, 3, True),
]
CASES = ([pytest.param("verilator", *c, id=f"verilator-{c[0].name}") for c in VERILATOR_CASES]
         + [pytest.param("icarus", *c, id=f"icarus-{c[0].name}") for c in ICARUS_CASES])


def random_operands(rng, shape, cfg, specials):
    """Random operands: full-range int8, or bf16 normals with a spread of exponents (some
    products under- and overflow FP32), optionally salted with zeros, infinities and
    subnormals."""
    if cfg.in_fmt == "int8":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    scale = np.exp2(rng.choice([0, 0, 0, -70, 70], shape))
    x = (rng.standard_normal(shape) * scale).astype(ml_dtypes.bfloat16)
    if specials:
        bits = x.view(np.uint16)
        where = rng.random(shape) < 0.15
        bits[where] = rng.choice(BF16_SPECIALS, int(where.sum()))
    return x


@pytest.mark.parametrize("simulator, cfg, m, k, n, specials", CASES)
def test_gemm(simulator, cfg, m, k, n, specials, require_tool):
    require_tool(missing_simulator(simulator))
    seed = zlib.crc32(f"{simulator}-{cfg.name}".encode())
    rng = np.random.default_rng(seed)
    a = random_operands(rng, (m, k), cfg, specials)
    b = random_operands(rng, (k, n), cfg, specials)

    c, cycles = rtl_cocotb_array_gemm(cfg, a, b, simulator, seed=seed,
                                      p_valid=P_VALID, p_ready=P_READY)

    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    match = same_bits(c, want, cfg.acc_format)
    assert match.all(), (
        f"{(~match).sum()} of {match.size} elements differ (seed {seed});\n"
        f"A={a!r}\nB={b!r}\ngot={c!r}\nwant={want!r}")
    assert cycles >= m  # every result row takes at least a cycle


def test_missing_simulator_says_what_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert "not found" in missing_simulator("icarus")
    assert "unknown simulator" in missing_simulator("ghdl")
