# amaranth: UnusedElaboratable=no
"""The array's Verilog hierarchy: PEs in tiles written once per kind (:mod:`hw.array.tile`) and
long edge delays from shared delay lines (:mod:`hw.array.delayline`). Small tile and delay-line
sizes (monkeypatched) put several tiles of every shape and delay lines of several depths into
arrays small enough to simulate, on the Amaranth simulator and on Verilator."""

import re
import zlib
from collections import Counter

import numpy as np
import pytest

from hw.array import delayline, tile
from hw.config import Config
from hw.gen import generate, module_name
from sim.array_program import array_k_pass
from sim.backends.amaranth_array import rtl_array_gemm
from sim.backends.cocotb_array import missing_simulator, rtl_cocotb_array_gemm
from sim.golden import ref_gemm, same_bits
from sim.operands import random_matrix

_DEF = re.compile(r"^module ([A-Za-z0-9_]+)\(", re.M)
_INST = re.compile(r"^  ([A-Za-z0-9_]+) ([A-Za-z0-9_]+) \($", re.M)


def _hierarchy(text):
    """``(defined modules, {module: Counter of instantiated module kinds})`` of the plain
    (non-escaped) modules of ``text``: every instance sits in the module defined above it."""
    defined, inside = [], {}
    for line in text.splitlines(keepends=True):
        found = _DEF.match(line)
        if found:
            defined.append(found.group(1))
            inside[defined[-1]] = Counter()
        elif line.startswith("module "):
            defined.append(None)  # an escaped submodule (\top.grid...) of the one above
        else:
            found = _INST.match(line)
            if found and defined:
                owner = next(name for name in reversed(defined) if name is not None)
                inside[owner][found.group(1)] += 1
    return [d for d in defined if d is not None], inside


def _leaves(inside, top, leaf_names):
    """How many of each of ``leaf_names`` ``top`` holds, through every level."""
    total = Counter()
    for kind, count in inside[top].items():
        if kind in leaf_names:
            total[kind] += count
        elif kind in inside:
            for leaf, n in _leaves(inside, kind, leaf_names).items():
                total[leaf] += n * count
    return total


def test_4x6_array_is_one_tile_of_both_pe_kinds(tmp_path):
    cfg = Config(rows=4, cols=6, dsp_muls=5)
    v_path, _ = generate(cfg, tmp_path, "array")
    name = module_name(cfg, "array")
    defined, inside = _hierarchy(v_path.read_text())
    assert defined == sorted([name, f"{name}_pe_tile4x6_dsp5", f"{name}_pe", f"{name}_pe_logic"])
    assert inside[name] == Counter({f"{name}_pe_tile4x6_dsp5": 1})
    assert inside[f"{name}_pe_tile4x6_dsp5"] == Counter({f"{name}_pe": 5,
                                                        f"{name}_pe_logic": 19})


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_every_module_written_once_and_used(tmp_path, dataflow):
    # 20x18: tiles of 16x16, 16x2, 4x16 and 4x2; 40 DSP PEs row-major (rows 0-1 and four of
    # row 2); skews and de-skews long enough for 8- and 16-cycle delay lines.
    cfg = Config(rows=20, cols=18, dsp_muls=40, dataflow=dataflow)
    v_path, _ = generate(cfg, tmp_path, "array")
    name = module_name(cfg, "array")
    defined, inside = _hierarchy(v_path.read_text())
    assert len(defined) == len(set(defined))
    used = {kind for kinds in inside.values() for kind in kinds}
    assert set(defined) - used == {name}
    assert used <= set(defined)
    tiles = {kind: n for kind, n in inside[name].items() if "_pe_tile" in kind}
    assert tiles == {f"{name}_pe_tile16x16_dsp36": 1, f"{name}_pe_tile16x2_dsp4": 1,
                     f"{name}_pe_tile4x16_logic": 1, f"{name}_pe_tile4x2_logic": 1}
    pes = _leaves(inside, name, {f"{name}_pe", f"{name}_pe_logic"})
    assert pes == {f"{name}_pe": 40, f"{name}_pe_logic": 20 * 18 - 40}
    assert any(f"{name}_pe_delay" in kind and kind.endswith("x16") for kind in defined)


def test_large_array_output_is_deterministic(tmp_path):
    cfg = Config(rows=20, cols=18, dsp_muls=40, pipeline={"enable": 3})
    first, _ = generate(cfg, tmp_path / "a", "array")
    second, _ = generate(cfg, tmp_path / "b", "array")
    text = first.read_text()
    assert text == second.read_text()
    assert str(tmp_path) not in text


def test_delay_chunks():
    assert delayline.delay_chunks(0) == (0, [])
    assert delayline.delay_chunks(7) == (7, [])
    assert delayline.delay_chunks(29) == (5, [16, 8])
    assert delayline.delay_chunks(255) == (7, [128, 64, 32, 16, 8])
    with pytest.raises(ValueError, match="cycles must be 0 or more, not -1"):
        delayline.delay_chunks(-1)


@pytest.fixture
def small_parts(monkeypatch):
    """Tiles of at most 3x3 and delay lines from 2 cycles: a 7x5 array has six tiles of four
    shapes and skews built from 2- and 4-cycle lines."""
    monkeypatch.setattr(tile, "TILE", 3)
    monkeypatch.setattr(delayline, "MIN_SHARED", 2)


def _operands(cfg, seed):
    rng = np.random.default_rng(seed)
    m, k, n = 2 * cfg.rows + 1, cfg.rows + 4, cfg.cols + 2
    return random_matrix(cfg, (m, k), rng, "special"), random_matrix(cfg, (k, n), rng,
                                                                     "special")


def _check(cfg, a, b, got):
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    bad = ~same_bits(got, want, cfg.acc_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("dataflow, drain", [("os", None), ("os", "bus"), ("ws", None)])
def test_small_tiles_on_amaranth(small_parts, dataflow, drain):
    cfg = Config(rows=7, cols=5, dsp_muls=12, dataflow=dataflow, drain=drain)
    a, b = _operands(cfg, 5)
    got, _ = rtl_array_gemm(cfg, a, b, seed=5, p_valid=0.7, p_ready=0.6)
    _check(cfg, a, b, got)


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [
    Config(rows=7, cols=5, dsp_muls=12, dataflow="os"),
    Config(rows=7, cols=5, dsp_muls=12, dataflow="ws"),
    Config(rows=5, cols=7, in_fmt="bf16", dataflow="os", pipeline={"enable": 2}),
], ids=lambda cfg: cfg.name)
def test_small_tiles_on_verilator(small_parts, cfg, tmp_path, require_tool):
    require_tool(missing_simulator("verilator"))
    seed = zlib.crc32(cfg.name.encode())
    a, b = _operands(cfg, seed)
    got, _ = rtl_cocotb_array_gemm(cfg, a, b, "verilator", seed=seed, p_valid=0.7,
                                   p_ready=0.6, build_dir=tmp_path / "build")
    _check(cfg, a, b, got)
