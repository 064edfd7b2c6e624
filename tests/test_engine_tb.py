"""``sim.benches.engine_tb.EngineTB``, the engine bench for cocotb tests of one's own: its
errors, programs back to back without a reset, stalls, and raw runs.

One Icarus run of ``sim.benches.engine_tb_tests`` on a small engine reports what it saw; the
checks are here. (The bench's GEMMs on both simulators, and reset in mid-program, are in
``test_cocotb_engine.py`` and ``test_readme_cocotb.py``.)
"""

from dataclasses import asdict

import numpy as np
import pytest

from hw.config import Config
from sim.backends.cocotb_runner import build, missing_simulator, run_bench
from sim.golden import same_bits
from sim.host import ref_program
from sim.program import gemm_program

pytestmark = pytest.mark.slow

CFG = Config(rows=2, cols=3, spad_kib=1, acc_kib=1)
OTHER = Config(rows=2, cols=3, spad_kib=2, acc_kib=1)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """What the cocotb side saw, with the operands and the program it ran."""
    reason = missing_simulator("icarus")
    if reason:
        return reason
    rng = np.random.default_rng(11)
    a = rng.integers(-128, 128, (5, 9), dtype=np.int8)
    b = rng.integers(-128, 128, (9, 4), dtype=np.int8)
    built = build(CFG, "engine", "icarus")
    result = run_bench(built, "sim.benches.engine_tb_tests",
                       {"config": asdict(CFG), "other": asdict(OTHER), "a": a.tolist(),
                        "b": b.tolist()}, job_env="ENGINE_TB_JOB", tag="api")
    prog = gemm_program(CFG, a, b, mode="int8", scale=1 / 64, relu=True)
    return result, prog, a, b


@pytest.fixture
def seen(report, require_tool):
    if isinstance(report, str):
        require_tool(report)
    return report


@pytest.mark.parametrize("case, message", [
    ("cfg_not_config", "TypeError: cfg must be a hw.config.Config, not {'rows': 2"),
    ("cfg_other_engine", "ValueError: cfg must describe the engine under test, "
                         "engine_os_2x3_int8_int32_s1k_a1k, not engine_os_2x3_int8_int32_s2k_a1k"),
    ("p_valid_zero", "ValueError: p_valid must be a probability in (0, 1], not 0"),
    ("p_ready_above_one", "ValueError: p_ready must be a probability in (0, 1], not 1.5"),
    ("p_valid_bool", "ValueError: p_valid must be a probability in (0, 1], not True"),
    ("dout_rows_zero", "ValueError: dout_rows must be an integer of at least 1, not 0"),
])
def test_errors_name_parameter_value_and_allowed(seen, case, message):
    errors = seen[0]["errors"]
    assert errors[case].startswith(message), errors[case]


def test_programs_back_to_back_and_under_stalls(seen):
    result, prog, a, b = seen
    want = ref_program(prog, a, b)
    runs = result["runs"]
    assert len(runs) == 3
    for run in runs:
        c = np.array(run["c"], dtype=prog.out_dtype)
        assert same_bits(c, want, prog.out_format).all(), run
        assert (run["idle"], run["error"], run["extra"]) == (1, 0, 0)
        assert run["frames"] == [len(s.rows) for s in prog.stores]
        assert run["dout_rows"] == prog.dout_rows and run["program"]
    # Each run counts its own cycles: the same program from the same idle state takes as long
    # the second time; under stalls it takes longer.
    assert runs[0]["cycles"] == runs[1]["cycles"] > prog.dout_rows
    assert runs[2]["cycles"] > runs[0]["cycles"]


def test_raw_run(seen):
    result, prog, a, b = seen
    raw = result["raw"]
    assert len(raw["rows"]) == raw["want_rows"] == prog.dout_rows
    assert same_bits(prog.assemble(raw["rows"]), ref_program(prog, a, b), prog.out_format).all()
    assert raw["cycles"] == result["runs"][0]["cycles"]
