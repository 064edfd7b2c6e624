"""``conftest.py``'s policy: a missing tool skips a test on a developer's machine and fails it
under ``CI``, and under ``CI`` no other skip passes either.

Each case runs pytest in a subprocess on a small test file next to a copy of this suite's
``conftest.py``, with ``PATH`` empty so that Icarus Verilog is missing for real.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TINY = '''
import pytest

from sim.backends.cocotb_runner import missing_simulator
from sim.tools import find_iverilog


def test_reason(require_tool):
    require_tool(missing_simulator("icarus"))


def test_finder(require_tool):
    require_tool(find_iverilog)


def test_present(require_tool):
    assert require_tool(lambda: 42) == 42
    require_tool(None)


def test_plain_skip():
    pytest.skip("skipped by hand")


def test_outside_project():
    pytest.skip("team-provided data absent: no ../shared/pdk/x.lib.gz")


@pytest.mark.xfail(reason="expected to fail", strict=True)
def test_expected_failure():
    assert False
'''


def _run_tiny(tmp_path, ci):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("CI", None)
    env.update(PATH="", PYTHONPATH=str(ROOT))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA",
                           "-p", "no:xdist", "test_tiny.py"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)


def _summary(out):
    """The short test summary's lines (``-rA``)."""
    return out.split("short test summary info", 1)[1].splitlines()


@pytest.mark.parametrize("ci", [None, "false"])
def test_missing_tool_skips_off_ci(tmp_path, ci):
    r = _run_tiny(tmp_path, ci)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "1 passed, 4 skipped, 1 xfailed" in out, out
    lines = _summary(out)
    assert any(line.startswith("SKIPPED [2] conftest.py") and
               line.endswith("Icarus Verilog not found: no 'iverilog' on PATH "
                             "(apt-get install iverilog)") for line in lines), out
    assert any(line.startswith("SKIPPED") and line.endswith("skipped by hand")
               for line in lines), out


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_tool_fails_in_ci(tmp_path, ci):
    r = _run_tiny(tmp_path, ci)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "3 failed, 1 passed, 1 skipped, 1 xfailed" in out, out
    lines = _summary(out)
    for name in ("test_reason", "test_finder"):
        assert (f"FAILED test_tiny.py::{name} - Failed: Icarus Verilog not found: no "
                "'iverilog' on PATH (apt-get install iverilog) (CI is set, and in CI a "
                "missing tool fails the run)") in lines, out
    assert ("FAILED test_tiny.py::test_plain_skip - skipped under CI (skipped by hand); CI "
            "runs every test, only a developer's machine may skip") in lines, out
    # Team-provided data (not a tool) absent: a skip, even in CI (conftest.OUTSIDE_PROJECT).
    assert any(line.startswith("SKIPPED") and line.endswith(
        "team-provided data absent: no ../shared/pdk/x.lib.gz") for line in lines), out
