"""The host-side tiler: programs are well formed, place blocks as documented, and reject what
cannot run."""

import numpy as np
import pytest

from hw import isa
from hw.config import Config
from hw.isa import out_mode
from sim.program import ProgramError, gemm_program


def _ops(prog):
    return [isa.decode(w)["opcode"] for w in prog.cmds]


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_loads_consume_exactly_the_data(dataflow):
    cfg = Config(rows=4, cols=3, dataflow=dataflow, spad_kib=1, acc_kib=1)
    rng = np.random.default_rng(0)
    prog = gemm_program(cfg, rng.integers(-9, 9, (30, 70)).astype(np.int8),
                        rng.integers(-9, 9, (70, 20)).astype(np.int8))
    loads = [isa.decode(w) for w in prog.cmds if isa.decode(w)["opcode"] == isa.Opcode.LOAD]
    assert sum(ld["count"] for ld in loads) == len(prog.din)
    stores = [isa.decode(w) for w in prog.cmds if isa.decode(w)["opcode"] == isa.Opcode.STORE]
    assert sum(st["count"] for st in stores) == prog.dout_rows == 30 * 7  # 7 column blocks
    assert _ops(prog)[0] == isa.Opcode.CONFIG
    for ld in loads:
        lines = cfg.spad_b_lines if ld["buffer"] == isa.Buffer.B else cfg.spad_a_lines
        assert ld["addr"] + ld["count"] <= lines


def test_resident_operands_load_once():
    cfg = Config(rows=4, cols=4, dataflow="os", spad_kib=16, acc_kib=1)
    a = np.ones((16, 32), np.int8)
    b = np.ones((32, 16), np.int8)
    prog = gemm_program(cfg, a, b)
    # A: 4 row blocks × 32 steps; B: 4 column blocks × 32 steps; each line loaded once.
    assert len(prog.din) == 4 * 32 + 4 * 32
    assert prog.k_pass == 32


def test_ws_preloads_each_weight_tile_before_its_compute():
    cfg = Config(rows=2, cols=2, dataflow="ws", spad_kib=1, acc_kib=1)
    prog = gemm_program(cfg, np.ones((3, 5), np.int8), np.ones((5, 3), np.int8))
    ops = _ops(prog)
    computes = [i for i, op in enumerate(ops) if op == isa.Opcode.COMPUTE]
    assert len(computes) == 3 * 2  # ceil(5/2) passes × ceil(3/2) column blocks
    assert all(ops[i - 1] == isa.Opcode.PRELOAD for i in computes)
    assert prog.k_pass == 2


def test_out_modes_by_name_and_errors():
    assert out_mode("BF16") is isa.OutMode.BF16 and out_mode(1) is isa.OutMode.INT8
    with pytest.raises(ValueError, match=r"^mode must be one of 'raw', 'int8', 'bf16', not 'x'$"):
        out_mode("x")
    cfg = Config(rows=2, spad_kib=1, acc_kib=1)
    with pytest.raises(ProgramError, match=r"^mode must be one of raw, int8 for int32 "
                                           r"accumulation, not 'bf16'$"):
        gemm_program(cfg, np.ones((2, 2), np.int8), np.ones((2, 2), np.int8), mode="bf16")
    with pytest.raises(ProgramError, match=r"must be M×K and K×N"):
        gemm_program(cfg, np.ones((2, 3), np.int8), np.ones((2, 2), np.int8))
    with pytest.raises(ProgramError, match=r"at least 1"):
        gemm_program(cfg, np.ones((0, 2), np.int8), np.ones((2, 2), np.int8))


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_per_column_scales_set_lanes_before_their_stores(dataflow):
    # 10 columns on a 4-column engine: column blocks at 0, 4, 8. CONFIG sets every lane to
    # column 0's scale; before a block's first STORE, a SCALE for each lane that changes.
    cfg = Config(rows=2, cols=4, dataflow=dataflow, spad_kib=1, acc_kib=1)
    scale = np.float32([1, 1, 2, 3, 1, 5, 2, 3, 4, 4])
    prog = gemm_program(cfg, np.ones((3, 5), np.int8), np.ones((5, 10), np.int8),
                        mode="int8", scale=scale)
    words = [isa.decode(w) for w in prog.cmds]
    bits = scale.view(np.uint32)
    assert words[0]["opcode"] == isa.Opcode.CONFIG and words[0]["scale"] == bits[0]
    lanes, stores = [int(bits[0])] * cfg.cols, iter(prog.stores)
    for w in words:
        if w["opcode"] == isa.Opcode.SCALE:
            lanes[w["lane"]] = w["scale"]
        elif w["opcode"] == isa.Opcode.STORE:
            n0 = next(stores).n0
            span = min(cfg.cols, 10 - n0)
            assert lanes[:span] == bits[n0:n0 + span].tolist()
    scales = [(w["lane"], w["scale"]) for w in words if w["opcode"] == isa.Opcode.SCALE]
    # Block 0 (1 1 2 3): lanes 2 and 3; block 4 (1 5 2 3): lane 1; block 8 (4 4): lanes 0, 1.
    assert [lane for lane, _ in scales] == [2, 3, 1, 0, 1]
    assert isinstance(prog.scale, np.ndarray) and prog.scale.tolist() == scale.tolist()
    # One scale, or a RAW GEMM: CONFIG alone.
    for kwargs in ({"mode": "int8", "scale": 0.5}, {"mode": "raw", "scale": scale}):
        prog = gemm_program(cfg, np.ones((3, 5), np.int8), np.ones((5, 10), np.int8), **kwargs)
        assert isa.Opcode.SCALE not in _ops(prog)


def test_uneven_k_chunks_still_load_each_line_once():
    # K = 2048 in balanced chunks of 258 steps (a multiple of the 3 FP32 contexts): the last
    # chunk is shorter, and the blocks, packed by their real size, exactly fill buffer A.
    cfg = Config(rows=16, in_fmt="bf16", dataflow="os", spad_kib=512, acc_kib=256)
    a = np.zeros((64, 2048), cfg.in_format.dtype)
    b = np.zeros((2048, 64), cfg.in_format.dtype)
    prog = gemm_program(cfg, a, b)
    assert prog.k_pass == 258 and 4 * 2048 == cfg.spad_a_lines
    assert len(prog.din) == (4 + 4) * 2048


def test_readme_worked_example_cycles():
    # The README's worked example states its cycle count on the Amaranth simulator.
    import re
    from pathlib import Path

    from sim.host import run_gemm
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    stated = int(re.search(r"on the Amaranth simulator it takes (\d+) cycles", readme)[1])
    cfg = Config(rows=2, cols=2, spad_kib=1, acc_kib=1)
    run = run_gemm(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1, 0], [0, 1], [1, -1]]), cfg,
                   relu=True, backend="amaranth")
    assert run.cycles == stated
