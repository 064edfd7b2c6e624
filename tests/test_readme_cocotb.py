"""README's "Your own cocotb test", run exactly as written, on Verilator and on Icarus.

The code blocks marked ``<!-- readme-test: NAME -->`` are written to a fresh folder as
``NAME`` (the ``shell`` block is the commands to type), and the commands run there as a user
would: with this checkout importable, outside pytest (cocotb's runner behaves differently
under pytest). A last case runs the example on an engine whose multipliers add: the example's
golden-model check must fail it.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sim.backends.cocotb_runner import missing_simulator

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SIMULATORS = ("verilator", "icarus")
BLOCK = re.compile(r"<!-- readme-test: (\S+) -->\n```\w*\n(.*?)```", re.S)


def readme_blocks():
    """``{name: text}`` of README.md's marked code blocks."""
    blocks = dict(BLOCK.findall((ROOT / "README.md").read_text()))
    assert set(blocks) == {"shell", "test_mine.py", "run_mine.py"}, sorted(blocks)
    return blocks


def shell_commands(blocks):
    """The shell block split into the commands before the runs and the run of each
    simulator, checking that nothing else is in it."""
    lines = [line for line in blocks["shell"].splitlines() if line.strip()]
    runs = {line.split()[-1]: line for line in lines if "run_mine.py" in line}
    setup = [line for line in lines if "run_mine.py" not in line]
    assert set(runs) == set(SIMULATORS) and setup, lines
    return setup, runs


def _env():
    # This checkout first, and no trace of pytest: the example runs as a plain script.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("WAVES", None)
    return env


def _sh(line, cwd):
    args = shlex.split(line)
    if args[0] == "python":
        args[0] = sys.executable
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=_env(),
                          timeout=1200)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A folder holding the README's files and what its setup commands made."""
    folder = tmp_path_factory.mktemp("readme")
    blocks = readme_blocks()
    for name in ("test_mine.py", "run_mine.py"):
        (folder / name).write_text(blocks[name])
    setup, runs = shell_commands(blocks)
    for line in setup:
        r = _sh(line, folder)
        assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
    return folder, runs


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_readme_example_passes(simulator, example, require_tool):
    require_tool(missing_simulator(simulator))
    folder, runs = example
    r = _sh(runs[simulator], folder)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert "gemm_under_stalls passed" in out and "C matches the golden model" in out, \
        out[-6000:]


def test_readme_example_fails_on_a_wrong_engine(example, require_tool, tmp_path):
    """The same files on an engine whose int8 multipliers add: the example's check fails."""
    require_tool(missing_simulator("icarus"))
    folder, runs = example
    for name in ("test_mine.py", "run_mine.py"):
        (tmp_path / name).write_text((folder / name).read_text())
    (verilog,) = (folder / "build" / "mine").glob("engine_*.v")
    text, n = re.subn(r"(\$signed\([^;]*\)) \* (\$signed\()", r"\1 + \2", verilog.read_text())
    assert n > 0, "no signed multiplication found to break"
    (tmp_path / "build" / "mine").mkdir(parents=True)
    (tmp_path / "build" / "mine" / verilog.name).write_text(text)
    r = _sh(runs["icarus"], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-6000:]
    assert "gemm_under_stalls failed" in out and "AssertionError" in out, out[-6000:]
