# amaranth: UnusedElaboratable=no
"""The systolic array on the Amaranth simulator: GEMMs bit-exact against the golden model,
under random stalls on both streams, and results exactly when the golden schedule says."""

import numpy as np
import pytest

from hw.array import SystolicArray
from hw.config import Config
from hw.formats import FP32
from sim.array_program import array_k_pass, array_program, due_cycles
from sim.backends.amaranth_array import rtl_array_gemm, rtl_array_schedule
from sim.golden import ref_gemm, same_bits
from sim.operands import large_int8_matrix, random_matrix

FORMATS = [("int8", "int32"), ("int8", "fp32"), ("bf16", "fp32")]
SHAPES = [(1, 1), (2, 3), (4, 4), (8, 8)]


def _check_gemm(cfg, m, k, n, *, seed, mix="normal", p_valid=0.7, p_ready=0.6):
    rng = np.random.default_rng(seed)
    a = random_matrix(cfg, (m, k), rng, mix)
    b = random_matrix(cfg, (k, n), rng, mix)
    got, _ = rtl_array_gemm(cfg, a, b, seed=seed, p_valid=p_valid, p_ready=p_ready)
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    bad = ~same_bits(got, want, cfg.acc_format)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


def _check_due(cfg, m, k, n, *, seed):
    """Every result row leaves the array in the cycle the golden schedule says."""
    dut = SystolicArray(cfg)
    rng = np.random.default_rng(seed)
    a, b = random_matrix(cfg, (m, k), rng), random_matrix(cfg, (k, n), rng)
    prog = array_program(cfg, a, b, contexts=dut.contexts)
    accepted, results = rtl_array_schedule(dut, prog.beats, prog.result_rows)
    assert results == due_cycles(dut, prog, accepted)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt", FORMATS)
@pytest.mark.parametrize("rows, cols", SHAPES)
def test_gemm_with_stalls(rows, cols, in_fmt, acc_fmt, dataflow):
    cfg = Config(rows=rows, cols=cols, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow)
    # Sizes that are not multiples of the array, K over several WS passes.
    m, k, n = 2 * rows + 1, 2 * rows + 3, cols + 1
    _check_gemm(cfg, m, k, n, seed=rows * 100 + cols, mix="special")


@pytest.mark.parametrize("in_fmt, acc_fmt", [("int8", "fp32"), ("bf16", "fp32")])
def test_os_restart_by_multiplexer(in_fmt, acc_fmt):
    # Config.restart "mux" (the ASIC flow's default): the same bits under stalls, and results
    # on the golden schedule (both restarts take the same cycles).
    cfg = Config(rows=2, cols=3, in_fmt=in_fmt, acc_fmt=acc_fmt, restart="mux")
    _check_gemm(cfg, 5, 7, 4, seed=23, mix="special")
    _check_due(cfg, 3, 5, 5, seed=24)


@pytest.mark.parametrize("int_adder", ["full", "split"])
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 2), (4, 4), (2, 5)])
def test_os_drain_bus(rows, cols, int_adder):
    # Config.drain "bus" (the ASIC flow's default): the same bits under stalls, each row a
    # cycle on the golden schedule; tiles shorter than `rows` steps wait (tile_spacing).
    cfg = Config(rows=rows, cols=cols, drain="bus", int_adder=int_adder)
    _check_gemm(cfg, 2 * rows + 1, 2 * rows + 3, cols + 1, seed=rows * 10 + cols,
                mix="special")
    _check_due(cfg, 3 * rows, rows + 2, cols, seed=1)
    _check_due(cfg, 3 * rows, max(rows - 1, 1), cols, seed=2)


def test_os_drain_bus_tiles_back_to_back_from_k_equal_rows():
    cfg = Config(rows=4, cols=3, drain="bus")
    dut = SystolicArray(cfg)
    assert (dut.row_interval, dut.tile_spacing) == (1, 4)
    rng = np.random.default_rng(3)
    for k, waits in [(4, False), (3, True)]:
        a, b = random_matrix(cfg, (12, k), rng), random_matrix(cfg, (k, 3), rng)
        prog = array_program(cfg, a, b, contexts=dut.contexts)
        accepted, _ = rtl_array_schedule(dut, prog.beats, prog.result_rows)
        assert (accepted != list(range(len(prog.beats)))) == waits


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_split_int_adder(dataflow):
    # Config.int_adder "split" in both PEs: the same bits, the same cycles.
    cfg = Config(rows=3, cols=2, dataflow=dataflow, int_adder="split")
    _check_gemm(cfg, 7, 9, 3, seed=31, mix="special")
    _check_due(cfg, 6, 5, 2, seed=32)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("subnormals", ["ieee", "ftz"])
@pytest.mark.parametrize("mix", ["subnormal", "special", "nonfinite"])
def test_bf16_subnormals_and_specials(dataflow, subnormals, mix):
    cfg = Config(rows=3, cols=2, in_fmt="bf16", dataflow=dataflow, subnormals=subnormals)
    _check_gemm(cfg, 7, 9, 5, seed=7, mix=mix)


#: K for INT8→FP32 sums past 2^24 (:func:`~sim.operands.large_int8_matrix`): below that every
#: sum is exact and no summation order shows.
BIG_K = 1800


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_int8_fp32_sums_past_2_to_the_24(dataflow):
    cfg = Config(rows=3, cols=2, in_fmt="int8", acc_fmt="fp32", dataflow=dataflow)
    rng = np.random.default_rng(24)
    a, b = large_int8_matrix((3, BIG_K), rng), large_int8_matrix((BIG_K, 2), rng)
    assert (a.astype(np.int64) @ b.astype(np.int64) > 2**24).all()
    want = ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))
    # The order matters for these operands: other orders give other bits. OS sums all of K
    # in the PE, sequentially; WS sums `rows` products per pass in the array (exact: below
    # 2^24) and the host adds the passes in order, so there the order checked is the passes'
    # (their result rows must come out as array_program says).
    if dataflow == "os":
        others = [ref_gemm(a[:, ::-1], b[::-1, :], cfg), ref_gemm(a, b, cfg, k_pass=BIG_K // 2),
                  ref_gemm(a, b, cfg, interleave=3)]
    else:
        others = [ref_gemm(a, b, cfg), ref_gemm(a[:, ::-1], b[::-1, :], cfg, k_pass=cfg.rows)]
    for other in others:
        assert not same_bits(other, want, FP32).all()
    got, _ = rtl_array_gemm(cfg, a, b, seed=24, p_valid=0.9, p_ready=0.8)
    bad = ~same_bits(got, want, FP32)
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first at {np.argwhere(bad)[0]}"


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_heavy_backpressure(dataflow):
    cfg = Config(rows=3, cols=4, in_fmt="bf16", dataflow=dataflow)
    _check_gemm(cfg, 8, 10, 6, seed=3, p_valid=0.9, p_ready=0.15)


@pytest.mark.parametrize("dataflow, in_fmt", [("os", "bf16"), ("ws", "int8")])
def test_16x16_smoke(dataflow, in_fmt):
    cfg = Config(rows=16, in_fmt=in_fmt, dataflow=dataflow)
    _check_gemm(cfg, 20, 24, 17, seed=16, p_valid=0.8, p_ready=0.8)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
@pytest.mark.parametrize("in_fmt, acc_fmt", [("int8", "int32"), ("bf16", "fp32")])
@pytest.mark.parametrize("rows, cols, m, k, n", [(1, 1, 2, 3, 1), (3, 2, 7, 5, 5),
                                                 (4, 4, 1, 2, 3), (2, 5, 9, 4, 6)])
def test_results_due_on_golden_schedule(rows, cols, m, k, n, in_fmt, acc_fmt, dataflow):
    cfg = Config(rows=rows, cols=cols, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow)
    _check_due(cfg, m, k, n, seed=0)


def test_os_tiles_stream_back_to_back_when_k_is_long():
    # With K >= rows·(contexts+1)/contexts the drain never delays the next tile.
    cfg = Config(rows=4, cols=4, in_fmt="bf16", dataflow="os")
    dut = SystolicArray(cfg)
    rng = np.random.default_rng(1)
    k = 8
    a, b = random_matrix(cfg, (3 * dut.contexts * 4, k), rng), random_matrix(cfg, (k, 4), rng)
    prog = array_program(cfg, a, b, contexts=dut.contexts)
    accepted, _ = rtl_array_schedule(dut, prog.beats, prog.result_rows)
    assert accepted == list(range(len(prog.beats)))


def test_ws_weight_loads_overlap_compute():
    cfg = Config(rows=4, cols=4, dataflow="ws")
    dut = SystolicArray(cfg)
    rng = np.random.default_rng(2)
    m = dut.load_holdoff + 8
    a, b = random_matrix(cfg, (m, 16), rng), random_matrix(cfg, (16, 4), rng)
    prog = array_program(cfg, a, b)
    accepted, _ = rtl_array_schedule(dut, prog.beats, prog.result_rows)
    # Only the first tile's weights cost beats of their own; no beat ever waits.
    assert len(prog.beats) == 4 + 4 * m
    assert accepted == list(range(len(prog.beats)))


def test_timing_properties():
    os_ = SystolicArray(Config(rows=4, cols=3, in_fmt="bf16", dataflow="os"))
    assert os_.contexts == os_.add_latency > 1
    assert os_.row_interval == os_.contexts + 1
    assert os_.tile_spacing == 4 * (os_.contexts + 1) - 1
    ws = SystolicArray(Config(rows=4, cols=3, dataflow="ws"))
    assert (ws.contexts, ws.row_interval, ws.tile_spacing) == (1, 1, 1)
    assert ws.load_holdoff == 3 * ws.add_latency + 3
    assert SystolicArray(Config(rows=2, dataflow="os")).contexts == 1


def test_constructor_error():
    with pytest.raises(TypeError, match=r"^cfg must be a hw\.config\.Config, not \{'rows': 4\}$"):
        SystolicArray({"rows": 4})
