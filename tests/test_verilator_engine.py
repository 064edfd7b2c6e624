"""The compiled Verilator harness (:mod:`sim.backends.verilator_engine`, ``backend="verilator"``):
GEMMs under random stalls against the golden model, the same bits and the same cycle count as
the cocotb bench on the same program, and its build cache, program files and errors.

One harness build per configuration, cached in ``build/verilator/engine_*/``; the
configurations are :mod:`tests.test_cocotb_engine`'s, so the cocotb builds the comparisons need
are the ones that file's reset test uses. Verilator missing: skipped (failed under CI).
"""

import shutil
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_cocotb_engine import (
    OS_INT8,
    OS_INT8_FP32,
    P_READY,
    P_VALID,
    TINY_OS,
    WS_BF16,
    WS_INT8_SMALL,
    check,
    program,
)

from hw.config import Config
from sim.backends.cocotb_engine import rtl_cocotb_engine_gemm
from sim.backends.verilator_engine import (
    build,
    missing_verilator,
    pe_control,
    read_result,
    reset_wrapper,
    rtl_verilator_engine_gemm,
    run_verilator_engine,
    shared_pe,
    simulated_config,
    write_program,
)
from sim.golden import same_bits

pytestmark = pytest.mark.slow

#: An output-stationary float engine: its harness shares one PE class (``shared_pe``).
OS_BF16 = Config(rows=3, cols=2, in_fmt="bf16", spad_kib=1, acc_kib=1)

# (configuration, (M, K, N), post-processing): what tests/test_cocotb_engine.py ran through
# cocotb on Verilator before this backend, now without Python in the loop.
CASES = [
    (OS_INT8, (17, 33, 5), dict(mode="int8", scale=1 / 256)),
    (OS_INT8, (9, 20, 11), dict(mode="int8", scale=0.01, relu=True)),
    (WS_BF16, (17, 33, 5), dict(mode="bf16", relu=True)),
    (WS_BF16, (9, 20, 11), dict(mode="raw")),
    (OS_INT8_FP32, (9, 20, 11), dict(mode="raw")),
    (WS_INT8_SMALL, (20, 33, 17), dict(mode="raw")),
    (OS_BF16, (7, 19, 5), dict(mode="bf16")),
]

# Both dataflows and both formats (OS INT8→INT32, WS BF16→FP32, WS INT8 with rotating
# buffers), several shapes each, on the harness and on cocotb.
SAME_AS_COCOTB = [
    (OS_INT8, [(17, 33, 5), (1, 7, 9)], dict(mode="raw")),
    (WS_BF16, [(17, 33, 5), (3, 1, 6)], dict(mode="bf16", relu=True)),
    (WS_INT8_SMALL, [(20, 33, 17)], dict(mode="int8", scale=1 / 64)),
]


def _id(cfg, shape, post):
    m, k, n = shape
    return f"{cfg.engine_name}-{m}x{k}x{n}-{post['mode']}" + ("-relu" if post.get("relu")
                                                              else "")


@pytest.mark.parametrize("cfg, shape, post", [pytest.param(*c, id=_id(*c)) for c in CASES])
def test_gemm(cfg, shape, post, require_tool):
    require_tool(missing_verilator())
    seed = zlib.crc32(("verilator-" + _id(cfg, shape, post)).encode())
    prog, a, b = program(cfg, shape, np.random.default_rng(seed), **post)

    c, cycles = rtl_verilator_engine_gemm(prog, seed=seed, p_valid=P_VALID, p_ready=P_READY)

    check(prog, a, b, c, seed)
    assert cycles >= len(prog.din) and cycles >= prog.dout_rows


@pytest.mark.parametrize("cfg, shapes, post",
                         [pytest.param(*c, id=c[0].engine_name) for c in SAME_AS_COCOTB])
def test_same_bits_and_cycles_as_cocotb(cfg, shapes, post, require_tool):
    """With no stalls, the harness and the cocotb bench count the same cycles (first command
    offered to last row taken) and return the same bits, which are the golden model's."""
    require_tool(missing_verilator())
    rng = np.random.default_rng(zlib.crc32(cfg.engine_name.encode()))
    for shape in shapes:
        prog, a, b = program(cfg, shape, rng, **dict(post))
        fast, fast_cycles = rtl_verilator_engine_gemm(prog)
        slow, slow_cycles = rtl_cocotb_engine_gemm(prog, "verilator")
        assert same_bits(fast, slow, prog.out_format).all(), shape
        assert fast_cycles == slow_cycles, shape
        check(prog, a, b, fast, 0)


def _pe_class_symbols(built):
    """The executable's symbols of a C++ class for the PE module (none when it is inlined)."""
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not on PATH: cannot list the executable's symbols")
    out = subprocess.run([nm, "-C", built.executable], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if f" Vtop_{built.top}_pe::" in line]


def test_float_pes_share_one_class(require_tool):
    """A float engine's PE is compiled as a class of its own, which every instance shares
    (``pe_control``); an integer engine's PEs are inlined. Both run GEMMs bit-exactly
    (test_gemm, test_same_bits_and_cycles_as_cocotb)."""
    require_tool(missing_verilator())
    assert shared_pe(OS_BF16) and shared_pe(WS_BF16) and not shared_pe(TINY_OS)
    assert _pe_class_symbols(build(OS_BF16))
    assert not _pe_class_symbols(build(TINY_OS))


PE_V = """\
module eng_pe(clk, rst, a_in, en, a_out);
  input clk;
  input rst;
  input [15:0] a_in;
  input en;
  output [15:0] a_out;
endmodule
module \\eng_pe.inner (clk, x);
  input [3:0] x;
endmodule
"""


def test_pe_control_file():
    text = pe_control("eng", PE_V)
    assert text.startswith("`verilator_config\n")
    assert 'no_inline -module "eng_pe"\n' in text and 'inline -module "eng_pe.*"\n' in text
    public = [line for line in text.splitlines() if line.startswith("public_flat_rd")]
    assert public == [f'public_flat_rd -module "eng_pe" -var "{n}"' for n in ("rst", "a_in", "en")]
    with pytest.raises(ValueError, match="PE module 'other_pe'"):
        pe_control("other", PE_V)


def test_logic_multipliers_compiled_in_dsp_form(require_tool):
    """The harness compiles PEs with logic (Booth) multipliers in their DSP form
    (``simulated_config``): the same bits and cycles, stalls included, as the engine compiled
    as configured, and the golden model's."""
    require_tool(missing_verilator())
    cfg = Config(rows=3, cols=3, dsp_muls=2, spad_kib=1, acc_kib=1)
    assert simulated_config(cfg) == replace(cfg, dsp_muls=9)
    assert simulated_config(OS_INT8) is OS_INT8 and simulated_config(WS_BF16) is WS_BF16
    prog, a, b = program(cfg, (10, 21, 8), np.random.default_rng(9), mode="int8", scale=0.02)
    stalls = dict(seed=5, p_valid=P_VALID, p_ready=P_READY)
    fast, fast_cycles = rtl_verilator_engine_gemm(prog, **stalls)
    exact, exact_cycles = rtl_verilator_engine_gemm(prog, as_built=True, **stalls)
    assert build(cfg).cfg.dsp_muls == 9 and build(cfg, as_built=True).cfg.dsp_muls == 2
    assert same_bits(fast, exact, prog.out_format).all()
    assert fast_cycles == exact_cycles
    check(prog, a, b, fast, 5)


def test_stall_patterns_follow_the_seed(require_tool):
    """The seed picks the stall patterns: the same seed, the same cycles; stalls cost cycles."""
    require_tool(missing_verilator())
    prog, a, b = program(OS_INT8, (9, 20, 11), np.random.default_rng(1), mode="raw")
    _, free = rtl_verilator_engine_gemm(prog)
    runs = [rtl_verilator_engine_gemm(prog, seed=s, p_valid=0.5, p_ready=0.5)
            for s in (1, 1, 2)]
    for c, _ in runs:
        check(prog, a, b, c, 1)
    assert runs[0][1] == runs[1][1]
    assert min(cycles for _, cycles in runs) > free


def test_timeout_says_how_far_it_got(require_tool):
    require_tool(missing_verilator())
    prog, _, _ = program(OS_INT8, (4, 4, 4), np.random.default_rng(0), mode="raw")
    with pytest.raises(RuntimeError, match=r"no result after 20 cycles: \d+ of \d+ commands "
                                           r"and \d+ of \d+ data beats taken, 0 of 4"):
        run_verilator_engine(OS_INT8, prog.cmds, prog.din, prog.dout_rows, timeout_cycles=20)


@pytest.mark.parametrize("name, kwargs", [("p_valid", dict(p_valid=0)),
                                          ("p_ready", dict(p_ready=1.5)),
                                          ("p_valid", dict(p_valid=True))])
def test_probabilities_are_checked(name, kwargs):
    with pytest.raises(ValueError, match=f"{name} must be a probability in \\(0, 1\\], not"):
        run_verilator_engine(OS_INT8, [0], [0], 1, **kwargs)


def test_second_build_reuses_the_first(require_tool):
    """A build is reused without generating the Verilog while the sources match, and without
    compiling while the design's hash matches."""
    require_tool(missing_verilator())
    first = build(TINY_OS)
    again = build(TINY_OS)
    assert not again.rebuilt and again.executable == first.executable
    stamp = first.folder / "source.stamp"
    stamp.write_text("stale")
    regenerated = build(TINY_OS)
    assert not regenerated.rebuilt and stamp.read_text() != "stale"


def test_program_and_result_files(tmp_path):
    path = tmp_path / "program.txt"
    write_program(path, [1 << 127, 5], [0xAB], 3)
    assert path.read_text() == f"cmds 2\n{1 << 127:x}\n5\ndin 1\nab\ndout_rows 3\n"
    out = Path(tmp_path / "result.txt")
    out.write_text("cycles 42\nidle 1\nerror 0\nextra 0\ntimeout 0\nprogress p q\n"
                   "frames 2 1 1\nrows 2\n00ff\n0100\n")
    run, timeout, progress = read_result(out)
    assert (run.rows, run.frames, run.cycles, run.idle, run.error, run.extra) == \
        ([255, 256], [1, 1], 42, 1, 0, 0)
    assert not timeout and progress == "p q"


ENGINE_V = """\
module eng(clk, rst, i, o);
  input clk;
  wire clk;
  input rst;
  input [7:0] i;
  output [7:0] o;
  reg [7:0] o = 8'h00;
endmodule
module \\eng.sub (clk, rst, x);
  input [3:0] x;
endmodule
"""


def test_reset_wrapper_registers_rst():
    name, text = reset_wrapper("eng", ENGINE_V)
    assert name == "eng_harness"
    assert "  input clk,\n  input rst,\n  input [7:0] i,\n  output wire [7:0] o\n);" in text
    assert "reg rst_q = 1'b1;" in text and "always @(posedge clk) rst_q <= rst;" in text
    assert ".rst(rst_q)," in text and ".i(i)," in text and ".o(o)" in text
    assert ".x(" not in text


def test_reset_wrapper_needs_the_module():
    with pytest.raises(ValueError, match="not 'missing'"):
        reset_wrapper("missing", ENGINE_V)
