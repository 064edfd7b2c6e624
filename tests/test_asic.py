"""``python -m hw.asic``: bad inputs, the memory plan, fanout trees, the scripts' helpers, and
two small designs through the real flow (Yosys, OpenSTA, the SKY130 library).

The library is team-provided data in ``../shared/pdk/`` (or ``$HW_LIBERTY``), never
committed: where it is absent the flow's runs skip with a reason that starts with
``conftest.OUTSIDE_PROJECT``, which stays a skip under CI. A missing OpenSTA or Yosys goes
through ``require_tool`` (a failure under CI).
"""

import gzip
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import OUTSIDE_PROJECT

from hw.asic import liberty as lb
from hw.asic import macros as mc
from hw.asic.fanout import buffer_fanout
from hw.asic.flow import run
from hw.asic.sta import find_sta, parse_report
from hw.asic.synth import CLOCK_GATING_MIN, asic_verilog, drop_modules
from hw.config import Config, ConfigError
from sim.tools import find_yosys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBERTY = lb.default_liberty(ROOT)


def _asic(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hw.asic", *args], capture_output=True,
                          text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})


def _one_line_exit_2(r, message):
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert lines[0].startswith("python -m hw.asic: error: ")
    assert "Traceback" not in r.stderr


@pytest.fixture
def small_lib(tmp_path):
    """A tiny but valid Liberty file (gzipped), enough to pass the argument checks."""
    path = tmp_path / "tiny.lib.gz"
    with gzip.open(path, "wt") as f:
        f.write('library (tiny) {\n  cell (buf) {\n    area : 1;\n  }\n}\n')
    return path


@pytest.mark.parametrize("args, message", [
    (["--clock-ns", "0"], "--clock-ns must be a clock period in ns above 0 and at most 1000, "
                          "not 0.0"),
    (["--clock-ns", "-3"], "--clock-ns must be a clock period in ns above 0 and at most 1000, "
                           "not -3.0"),
    (["--clock-ns", "fast"], "argument --clock-ns: invalid float value: 'fast'"),
    (["--freq", "0"], "--freq must be a clock in MHz above 0, not 0.0"),
    (["--clock-ns", "5", "--freq", "100"], "argument --freq: not allowed with argument "
                                           "--clock-ns"),
    (["--sram-above", "-1"], "--sram-above must be a number of bits, 0 or more, not -1"),
    (["--rows", "0"], "--rows must be an integer from 1 to 256, not 0"),
])
def test_bad_options_one_line_exit_2(args, message, small_lib, tmp_path):
    r = _asic("--liberty", str(small_lib), *args, "--out", str(tmp_path / "out"))
    _one_line_exit_2(r, message)
    assert not (tmp_path / "out").exists()


def test_bad_liberty_one_line_exit_2(tmp_path):
    missing = tmp_path / "none.lib.gz"
    _one_line_exit_2(_asic("--liberty", str(missing)),
                     f"--liberty must be a readable Liberty file (.lib or .lib.gz) (no such "
                     f"file), not '{missing}'")
    junk = tmp_path / "junk.lib"
    junk.write_text("this is not a library\n")
    _one_line_exit_2(_asic("--liberty", str(junk)),
                     f"--liberty must be a readable Liberty file (.lib or .lib.gz) (no library "
                     f"group at its start), not '{junk}'")
    broken = tmp_path / "broken.lib.gz"
    broken.write_bytes(b"not gzip at all")
    _one_line_exit_2(_asic("--liberty", str(broken)), f"not '{broken}'")
    _one_line_exit_2(_asic("--liberty", str(tmp_path)),
                     f"--liberty must be a readable Liberty file (.lib or .lib.gz) (a folder), "
                     f"not '{tmp_path}'")


def test_no_liberty_given_or_found_exit_2(tmp_path):
    absent = tmp_path / "absent.lib.gz"
    r = _asic("--rows", "1", env={"HW_LIBERTY": str(absent)})
    _one_line_exit_2(r, f"--liberty must be a readable Liberty file (.lib or .lib.gz); none "
                        f"given and the default {absent} is absent, not None")


def test_bad_macros_file_exit_2(small_lib, tmp_path):
    bad = tmp_path / "macros.json"
    bad.write_text('[{"name": "m", "width": 32}]')
    r = _asic("--liberty", str(small_lib), "--macros", str(bad))
    _one_line_exit_2(r, f"--macros must be {mc.MACROS_FORMAT}; entry")
    r = _asic("--liberty", str(small_lib), "--macros", str(tmp_path / "none.json"))
    _one_line_exit_2(r, "--macros must be a readable file holding")


def test_run_checks_its_arguments_first(tmp_path, small_lib):
    cfg = Config(rows=1)
    with pytest.raises(ConfigError, match="^clock_ns must be a clock period in ns above 0 "
                                          "and at most 1000, not 0$"):
        run(cfg, "array", small_lib, clock_ns=0, out=tmp_path)
    with pytest.raises(ConfigError, match="^liberty must be a readable Liberty file"):
        run(cfg, "array", tmp_path / "none.lib", out=tmp_path)
    with pytest.raises(ValueError, match="^kind must be one of engine, array, not 'pe'$"):
        run(cfg, "pe", small_lib, out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.lib.gz"]


def test_memory_plan_ff_below_sram_above():
    plan = mc.plan_ram("x_ram_8x512_r", sram_above=4096)
    assert (plan.kind, plan.bits, plan.macro) == ("ff", 4096, None)
    plan = mc.plan_ram("x_ram_32x256_tr", sram_above=4096)
    assert plan.kind == "sram" and plan.read_ports == 2
    # One 1 KB macro per read port (a 1rw1r macro gives one write and one read).
    assert plan.macro.name == "sky130_sram_1kbyte_1rw1r_32x256_8" and plan.count == 2
    assert plan.area_um2 == pytest.approx(2 * 479.78 * 397.5)
    # 64 KiB of 16-bit words: the 2 KB macro (32x512) takes less area than 1 KB ones.
    plan = mc.plan_ram("x_ram_16x32768_r")
    assert plan.macro.name == "sky130_sram_2kbyte_1rw1r_32x512_8" and plan.count == 64
    assert mc.DEFAULT_SRAM_ABOVE == 4096
    assert mc.plan_ram("x_ram_8x512_r").kind == "ff"       # 4096 bits: not above
    assert mc.plan_ram("x_ram_32x256_r").kind == "sram"
    assert mc.ram_shape("engine_x_ram_512x1024_tr") == (512, 1024, 2)
    assert mc.ram_shape("engine_x_pe") is None


def test_user_macros(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"name": "big", "width": 128, "depth": 4096,
                                 "area_um2": 1e6, "access_ns": 1.5, "min_period_ns": 3.0}]))
    (macro,) = mc.load_macros(path)
    assert (macro.width, macro.depth, macro.read_ports) == (128, 4096, 1)
    plan = mc.plan_ram("x_ram_128x4096_r", macros=(macro,))
    assert plan.count == 1 and plan.area_um2 == 1e6


def test_macro_liberty_reads_back(tmp_path):
    plans = [mc.plan_ram("top_ram_32x256_tr", sram_above=0)]
    path = tmp_path / "m.lib"
    path.write_text(mc.liberty_text(plans))
    cell = lb.read_cells(path).cells["top_ram_32x256_tr"]
    assert cell.area == pytest.approx(plans[0].area_um2, abs=1e-3)
    assert set(cell.inputs) == {"clk", "w_addr", "w_data", "w_en", "r0_addr", "r0_en",
                                "r1_addr", "r1_en"}
    assert set(cell.outputs) == {"r0_data", "r1_data"}


def test_asic_verilog_has_no_initial_values():
    text = ("module m(clk);\n  reg \\$1  = 0;\n  (* init = 8'h00 *)\n  reg [7:0] a = 8'h00;\n"
            "  reg [1:0] mem [0:1];\n"
            "  initial begin\n    mem[0] = 2'h0;\n    mem[1] = 2'h0;\n  end\n"
            "  always @(posedge clk) a <= a + 1;\nendmodule\n")
    out = asic_verilog(text)
    assert "initial" not in out and "init" not in out and "= 0" not in out
    assert "8'h00" not in out
    assert "reg \\$1  ;" in out and "reg [7:0] a ;" in out and "a <= a + 1;" in out


def test_drop_modules():
    text = "module a(x);\nendmodule\n// comment\n// more\nmodule b(y);\nendmodule\n"
    assert drop_modules(text, ["b"]) == "module a(x);\nendmodule\n"
    with pytest.raises(ValueError, match="module 'c' appears 0 times"):
        drop_modules(text, ["c"])


def _netlist(loads):
    """A module ``leaf`` with ``loads`` flip-flops on input ``en``, and ``top`` with two
    instances of it and 15 more flip-flops on the same net."""
    def dff(d, clk=2):
        return {"type": "DFF", "port_directions": {"CLK": "input", "D": "input",
                                                   "Q": "output"},
                "connections": {"CLK": [clk], "D": [d], "Q": [99]}}
    leaf = {"ports": {"en": {"direction": "input", "bits": [3]},
                      "clk": {"direction": "input", "bits": [2]}},
            "cells": {f"ff{i}": dff(3) for i in range(loads)},
            "netnames": {"en": {"bits": [3]}}}
    top = {"ports": {"en": {"direction": "input", "bits": [5]},
                     "clk": {"direction": "input", "bits": [2]}},
           "cells": {**{f"u{i}": {"type": "leaf",
                                  "port_directions": {"en": "input", "clk": "input"},
                                  "connections": {"en": [5], "clk": [2]}} for i in range(2)},
                     **{f"ff{i}": dff(5) for i in range(15)}},
           "netnames": {"en": {"bits": [5]}}}
    return {"modules": {"leaf": leaf, "top": top}}


def _fanouts(module):
    counts = {}
    for cell in module["cells"].values():
        for pin, bits in cell["connections"].items():
            if cell["port_directions"].get(pin) == "input" and pin != "CLK" and pin != "clk":
                for b in bits:
                    counts[b] = counts.get(b, 0) + 1
    return counts


def test_fanout_trees_bound_every_load():
    netlist = _netlist(25)
    added = buffer_fanout(netlist, ("BUF", "A", "X"), max_fanout=10)
    leaf, top = netlist["modules"]["leaf"], netlist["modules"]["top"]
    # 25 loads: three buffers of at most 10, all on the port's net.
    assert added["leaf"] == 3
    assert max(_fanouts(leaf).values()) <= 10 and _fanouts(leaf)[3] == 3
    # In top the net has 15 flip-flops and two instances of load 3 each: 21 > 10.
    assert added["top"] >= 2 and max(_fanouts(top).values()) <= 10
    # The clock is never buffered.
    assert all(c["connections"].get("CLK", [2]) == [2] for c in leaf["cells"].values())



def test_fanout_needs_pin_directions():
    # A gate's output taken for a load would be moved onto a buffer's output.
    netlist = _netlist(25)
    del netlist["modules"]["leaf"]["cells"]["ff0"]["port_directions"]
    with pytest.raises(ValueError, match="ff0 .DFF. of module leaf has no port directions"):
        buffer_fanout(netlist, ("BUF", "A", "X"), max_fanout=10)


def test_fanout_buffers_clock_gate_enables():
    # 25 clock-gating cells on one enable: their GATE pin is a latch's clock by name, data
    # when the library says it is a gate's enable.
    def netlist():
        icg = {"type": "ICG", "port_directions": {"CLK": "input", "GATE": "input",
                                                  "GCLK": "output"},
               "connections": {"CLK": [2], "GATE": [3], "GCLK": [99]}}
        leaf = {"ports": {"en": {"direction": "input", "bits": [3]},
                          "clk": {"direction": "input", "bits": [2]}},
                "cells": {f"g{i}": json.loads(json.dumps(icg)) for i in range(25)},
                "netnames": {"en": {"bits": [3]}}}
        return {"modules": {"leaf": leaf}}
    assert buffer_fanout(netlist(), ("BUF", "A", "X"), max_fanout=10) == {}
    assert buffer_fanout(netlist(), ("BUF", "A", "X"), max_fanout=10,
                         data_pins={("ICG", "GATE")}) == {"leaf": 3}


REPORT = """\
Startpoint: grid/pe/_408_
            (rising edge-triggered flip-flop clocked by clk)
Endpoint: grid/pe/add/_574_ (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

     Cap     Slew    Delay     Time   Description
---------------------------------------------------------------------------
            0.000    0.000    0.000   clock clk (rise edge)
                     0.000    0.000   clock network delay (ideal)
            0.000    0.000    0.000 ^ grid/pe/_408_/CLK (sky130_fd_sc_hd__dfxtp_1)
   0.018    0.193    0.378    0.378 ^ grid/pe/_408_/Q (sky130_fd_sc_hd__dfxtp_1)
   0.007    0.079    0.095    0.473 v grid/pe/_300_/Y (sky130_fd_sc_hd__nor2b_1)
   0.009    0.097    0.469    0.943 v grid/pe/add/_382_/Y (sky130_fd_sc_hd__xnor2_1)
            0.183    0.003    0.946 ^ grid/pe/add/_574_/D (sky130_fd_sc_hd__dfxtp_1)
                              0.946   data arrival time

            0.000    1.000    1.000   clock clk (rise edge)
                    -0.093    0.907   library setup time
                              0.907   data required time
---------------------------------------------------------------------------
                              0.907   data required time
                             -0.946   data arrival time
---------------------------------------------------------------------------
                             -0.039   slack (VIOLATED)


wns -0.039
tns -1.250
"""


def test_parse_report():
    t = parse_report(REPORT, 1.0)
    assert t["slack_ns"] == -0.039 and not t["met"] and t["achievable_ns"] == 1.039
    assert t["startpoint"] == "grid/pe/_408_" and t["endpoint"] == "grid/pe/add/_574_"
    assert t["logic_levels"] == 2 and t["tns_ns"] == -1.25
    assert t["worst_stage"] == {"pin": "grid/pe/add/_382_/Y",
                                "cell": "sky130_fd_sc_hd__xnor2_1", "delay_ns": 0.469,
                                "load_pf": 0.009, "slew_ns": 0.097}
    assert parse_report("No paths found.\n", 1.0) is None


@pytest.fixture
def tools(require_tool):
    """Skip (with the reason) where the library is absent; require Yosys and OpenSTA."""
    if not LIBERTY.exists():
        pytest.skip(f"{OUTSIDE_PROJECT}: no standard-cell library {LIBERTY} (set HW_LIBERTY "
                    "or provide ../shared/pdk/)")
    require_tool(find_yosys)
    require_tool(find_sta)


def test_small_array_through_the_flow(tools, tmp_path):
    r = _asic("--rows", "2", "--array", "--liberty", str(LIBERTY), "--clock-ns", "5",
              "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    # The flow's defaults (hw.asic.flow.ASIC_DEFAULTS): a drain bus, a split adder.
    report = json.loads((tmp_path / "systolic_os_2x2_int8_int32_bus_split" / "asic.json")
                        .read_text())
    assert (report["config"]["drain"], report["config"]["int_adder"]) == ("bus", "split")
    area = report["area"]
    assert area["total_um2"] > 0 and area["parts_um2"] == {"array": area["total_um2"]}
    assert report["memories"] == [] and report["cells"]["buffers_added"] > 0
    # What the flow read from the library (hw.asic.liberty.read_cells).
    assert report["library"] == "sky130_fd_sc_hd__tt_025C_1v80"
    assert report["wire_load"] == "Small"
    assert report["cells"]["buffer_cell"] == "sky130_fd_sc_hd__buf_4"
    assert report["cells"]["driving_cell"] == "sky130_fd_sc_hd__inv_2"
    t = report["timing"]
    assert t["period_ns"] == 5 and isinstance(t["slack_ns"], float)
    assert t["achievable_ns"] == pytest.approx(5 - t["slack_ns"])
    assert t["fmax_mhz"] == pytest.approx(1000 / t["achievable_ns"], abs=0.1)
    # The worst path is in the logic: no stage drives an unbuffered net.
    assert t["worst_stage"]["load_pf"] < 0.1 and t["worst_stage"]["delay_ns"] < 1
    assert t["logic_levels"] > 3
    pe = report["pe"]
    assert pe["cells"] > 100 and 0 < pe["area_um2"] < area["total_um2"] / 4
    assert sum(pe["shares"].values()) == pytest.approx(1, abs=0.01)
    assert min(pe["shares"].values()) > 0
    assert report["throughput"]["peak_gops"] == pytest.approx(2 * 4 * t["fmax_mhz"] / 1000,
                                                              abs=0.01)
    assert "worst slack" in r.stdout and "critical path" in r.stdout
    assert report["clock_gating"]["enabled"] and pe["clock_gates"] == 3
    assert report["timing_checks"] == {"unclocked_pins": 0, "unconstrained_endpoints": 0,
                                       "unconstrained": []}


def test_small_engine_memories_and_breakdown(tools, tmp_path):
    # The smallest engine, 1 KiB buffers, every RAM an SRAM macro (flip-flop RAMs are plain
    # logic, and slow to synthesise: test_memory_plan_ff_below_sram_above covers the choice),
    # ABC's quicker script (the array's test runs the full one), no clock gating (the arrays'
    # tests run with it):
    # two 8x512 RAMs (one 2 KB macro each) and a 32x256 one with two read ports (two 1 KB
    # macros).
    cfg = Config(rows=1, spad_kib=1, acc_kib=1)
    report = run(cfg, "engine", LIBERTY, 5.0, tmp_path, sram_above=0, clock_gating=False,
                 fast=True, log=lambda _: None)
    assert report["abc_script"] == "fast" and report["cells"]["clock_gates"] == 0
    # Every register clocked; unconstrained only the accumulator memory's read enables, tied
    # high (constants into the SRAM cell).
    checks = report["timing_checks"]
    assert checks["unclocked_pins"] == 0 and checks["unconstrained_endpoints"] == 2
    assert sorted(checks["unconstrained"]) == ["engine/acc/mem/ram/r0_en",
                                               "engine/acc/mem/ram/r1_en"]
    mems = {m["module"].rsplit("_ram_", 1)[1]: m for m in report["memories"]}
    small = mems["8x512_r"]
    assert small["kind"] == "sram" and small["macros"] == 1 and small["instances"] == 2
    sram = mems["32x256_rr"]
    assert sram["kind"] == "sram" and sram["macros"] == 2 and sram["instances"] == 1
    area = report["area"]
    assert area["sram_um2"] == pytest.approx(sram["area_um2"] + 2 * small["area_um2"],
                                             rel=1e-4)
    assert sum(area["parts_um2"].values()) == pytest.approx(area["total_um2"], rel=1e-6)
    assert list(area["parts_um2"]) == ["array", "buffers", "post-processing", "controller"]
    assert all(v > 0 for v in area["parts_um2"].values())
    assert area["parts_um2"]["buffers"] > area["sram_um2"]
    t = report["timing"]
    assert t["macro_min_period_ns"] == 6.875 and t["fmax_mhz"] <= t["macro_limit_mhz"]
    folder = tmp_path / report["design"]
    assert "cell(" + sram["module"] + ")" in (folder / "macros.lib").read_text()
    verilog = (folder / report["files"]["verilog"]).read_text()
    assert "initial begin" not in verilog and f"module {sram['module']}(" not in verilog



def test_clock_gating(tools, tmp_path):
    # A 1x1 array, ABC's quicker script: the registers that share the stall enable become
    # plain flip-flops behind clock-gating cells (the few with a reset keep theirs), and
    # OpenSTA still clocks and constrains every register. (The engine's test runs without
    # gating.)
    report = run(Config(rows=1), "array", LIBERTY, 5.0, tmp_path, fast=True,
                 log=lambda _: None)
    text = (tmp_path / report["design"] / report["files"]["netlist"]).read_text()
    cells = {kind: len(re.findall(rf"sky130_fd_sc_hd__{kind}_\d+ ", text))
             for kind in ("edfxtp", "dfxtp", "dlclkp", "sdlclkp")}
    gates = report["cells"]["clock_gates"]
    assert report["clock_gating"] == {"enabled": True, "min_flip_flops": CLOCK_GATING_MIN,
                                      "cells": {"sky130_fd_sc_hd__dlclkp_1": gates}}
    assert cells["dlclkp"] == gates > 0 and cells["sdlclkp"] == 0
    assert cells["edfxtp"] < (cells["edfxtp"] + cells["dfxtp"]) / 10
    # The PE: its three modules' registers behind one gate each.
    pe = report["pe"]
    assert pe["clock_gates"] == 3 and pe["flip_flops"] > 3 * CLOCK_GATING_MIN
    assert report["timing_checks"] == {"unclocked_pins": 0, "unconstrained_endpoints": 0,
                                       "unconstrained": []}
