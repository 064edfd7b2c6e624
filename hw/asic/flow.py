"""``run``: one design through the ASIC flow, from configuration to ``asic.json``.

Steps, each logged with its time: the design's Verilog (:func:`hw.gen.verilog_text`, made
ASIC-friendly by :func:`~hw.asic.synth.asic_verilog`), the memory plan
(:mod:`hw.asic.macros`), synthesis with Yosys and ABC (:mod:`hw.asic.synth`), fanout
buffering (:mod:`hw.asic.fanout`), the area statistics, and timing with OpenSTA
(:mod:`hw.asic.sta`). Everything goes to ``<out>/<design>/``.
"""

import json
import re
import subprocess
import time
from pathlib import Path

from sim.tools import find_yosys

from ..config import ConfigError
from ..fpga.flow import Progress, fail, print_line, run_tool, yosys_version
from ..gen import KINDS, FlowDefault, verilog_text
from . import liberty as lb
from . import macros as mc
from . import report as rpt
from .fanout import buffer_fanout
from .sta import OUTPUT_LOAD_PF, find_sta, parse_report, parse_setup_check, sta_script
from .synth import (
    ABC_SCRIPT,
    ABC_SCRIPT_FAST,
    CLOCK_GATING_MIN,
    asic_verilog,
    drop_modules,
    finish_script,
    synth_script,
)

__all__ = ["REPORT_VERSION", "DEFAULT_CLOCK_NS", "BUS_MAX_ROWS", "ASIC_DEFAULTS", "MAX_FANOUT",
           "check_clock", "target_dir", "run"]

#: Version of the ``asic.json`` layout.
REPORT_VERSION = 2
#: The clock requested when none is given: 5 ns, the 200 MHz target of issue 10.
DEFAULT_CLOCK_NS = 5.0
#: The tallest array whose drain bus is the ASIC flow's default (``ASIC_DEFAULTS``): the bus
#: is a path through every PE of a column, measured in SKY130 HD at 3.23 ns through 16 rows
#: and 6.19 ns through 32 (0.37 ns and 0.18 ns a row), so beyond 24 rows it would be the
#: critical path at the default 5 ns clock (the rest of an INT8 engine needs 4.8 ns).
BUS_MAX_ROWS = 24
#: The design options whose defaults differ in the ASIC flow (``python -m hw.asic`` and
#: ``scripts/asic_table.py``), each where the design takes it: a standard-cell library has no
#: synchronous-reset flip-flop, so a float PE's restart is logic either way and the
#: multiplexer needs no second register (``Config.restart``); an integer output-stationary
#: PE of an array of at most :data:`BUS_MAX_ROWS` rows drains on a bus, 32 flip-flops and a
#: multiplexer fewer (``Config.drain``), and adds its product on a split adder
#: (``Config.int_adder``). See the README's *ASIC*.
ASIC_DEFAULTS = {
    "restart": "mux",
    "drain": FlowDefault("bus", lambda cfg: cfg.rows <= BUS_MAX_ROWS,
                         f"bus for at most {BUS_MAX_ROWS} rows, else chain"),
    "int_adder": "split",
}
#: Most loads per net, in ABC's ``buffer`` and the fanout trees (OpenLane's default).
MAX_FANOUT = 10


def check_clock(clock_ns):
    """Raise :class:`~hw.config.ConfigError` (parameter ``clock_ns``) unless ``clock_ns`` is
    a period in ns above 0 and at most 1000."""
    if isinstance(clock_ns, bool) or not isinstance(clock_ns, (int, float)) or \
            not 0 < clock_ns <= 1000:
        raise ConfigError("clock_ns", clock_ns, "a clock period in ns above 0 and at most 1000")


def target_dir(out, design):
    """Where one design's run goes: ``<out>/<design>``."""
    return Path(out) / design


def _sta_version(cmd):
    r = subprocess.run([*cmd, "-version"], capture_output=True, text=True)
    return {"command": "sta", "version": (r.stdout or r.stderr).strip().splitlines()[0]
            if (r.stdout or r.stderr).strip() else "unknown"}


def run(cfg, kind="engine", liberty=None, clock_ns=DEFAULT_CLOCK_NS, out="build",
        sram_above=mc.DEFAULT_SRAM_ABOVE, macros=mc.SKY130_MACROS, *, clock_gating=True,
        fast=False, log=None):
    """Synthesise ``cfg``'s design to ``liberty``'s cells and time it; return the report.

    Parameters
    ----------
    cfg : Config
        The design's configuration.
    kind : str
        ``"engine"`` or ``"array"``, as for :func:`hw.gen.generate`.
    liberty : str or Path
        The standard-cell library (``.lib`` or ``.lib.gz``).
    clock_ns : float
        The requested clock period: ABC's delay target and OpenSTA's clock.
    out : str or Path
        Base folder; the run goes to :func:`target_dir`.
    sram_above : int
        RAMs of more bits are SRAM macros, the others flip-flops (:mod:`hw.asic.macros`).
    macros : tuple of Macro
        The SRAM macros to build RAMs of.
    clock_gating : bool
        Give every set of at least :data:`~hw.asic.synth.CLOCK_GATING_MIN` flip-flops of a
        module sharing an enable an integrated clock-gating cell, and plain flip-flops
        (:func:`~hw.asic.synth.synth_script`); the report says so (``clock_gating``).
    fast : bool
        ABC's quicker script (:data:`~hw.asic.synth.ABC_SCRIPT_FAST`), for tests; the report
        says which (``abc_script``).
    log : callable or None
        Called with each progress line (``None``: print and flush).

    Returns
    -------
    dict
        The report also written to ``asic.json``: ``design``, ``config``, ``library``,
        ``tools``, ``area`` (``total_um2``, ``total_mm2``, ``parts_um2``, ``sram_um2``),
        ``cells`` (``clock_gates``: how many), ``clock_gating``, ``memories`` (each RAM
        module's plan), ``pe``, ``timing`` (``period_ns``,
        ``slack_ns``, ``achievable_ns``, ``logic_fmax_mhz``, ``macro_limit_mhz``,
        ``fmax_mhz``, the critical path's ``startpoint`` and ``endpoint``, ...),
        ``timing_checks`` (OpenSTA's ``check_setup``: ``unclocked_pins``,
        ``unconstrained_endpoints``),
        ``throughput`` (``peak_gops``, ``gops_per_mm2`` at ``fmax_mhz``), ``wall_s``,
        ``files``.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`hw.gen.KINDS`.
    ConfigError
        ``liberty``, ``clock_ns`` or ``sram_above`` is not allowed (checked before any
        work).
    ToolMissing
        Yosys or OpenSTA is not installed.
    FlowError
        A tool failed.
    """
    log = log or print_line
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    lb.check_liberty(liberty)
    check_clock(clock_ns)
    if isinstance(sram_above, bool) or not isinstance(sram_above, int) or sram_above < 0:
        raise ConfigError("sram_above", sram_above, "a number of bits, 0 or more")
    yosys, sta = find_yosys(), find_sta()
    start = time.perf_counter()
    wall = {}
    tools = {"yosys": yosys_version(yosys), "sta": _sta_version(sta)}
    progress = Progress(5, log)

    progress.start(f"generating Verilog ({kind}) and reading {Path(liberty).name}")
    name, text = verilog_text(cfg, kind)
    folder = target_dir(out, name)
    folder.mkdir(parents=True, exist_ok=True)
    lib_file = lb.decompress(liberty, folder)
    lib = lb.read_cells(folder / lib_file)
    ram_modules = sorted({m for m in _module_names(text) if mc.ram_shape(m)})
    plans = [mc.plan_ram(m, sram_above, macros) for m in ram_modules]
    srams = [p for p in plans if p.kind == "sram"]
    macro_lib = None
    if srams:
        macro_lib = "macros.lib"
        (folder / macro_lib).write_text(mc.liberty_text(srams))
        text = drop_modules(text, [p.module for p in srams])
    verilog = f"{name}.v"
    (folder / verilog).write_text(asic_verilog(text))
    wall["generate"] = progress.done()

    progress.start(f"synthesis: Yosys and ABC to {lib.name} at {clock_ns:g} ns "
                   f"(log {folder / 'synth.log'})")
    driving = lb.driving_cell(lib)
    buffer = lb.buffer_cell(lib)
    script = ABC_SCRIPT_FAST if fast else ABC_SCRIPT
    (folder / "abc.script").write_text(script.replace("{fanout}", str(MAX_FANOUT)))
    (folder / "abc.constr").write_text(f"set_driving_cell {driving[0]}\n"
                                       f"set_load {OUTPUT_LOAD_PF}\n")
    gating = CLOCK_GATING_MIN if clock_gating else 0
    (folder / "synth.ys").write_text(synth_script(name, verilog, lib_file,
                                                  round(clock_ns * 1000), macro_lib, gating))
    r, log_text = run_tool([*yosys, "-q", "-l", "synth.log", "-s", "synth.ys"], folder,
                           "synth.log")
    if r.returncode != 0:
        fail("synthesis", r, log_text, folder / "synth.log")
    wall["synth"] = progress.done()

    progress.start(f"fanout buffering ({buffer[0]}, at most {MAX_FANOUT} loads a net) and "
                   "area")
    netlist = json.loads((folder / "mapped.json").read_text())
    added = buffer_fanout(netlist, buffer, MAX_FANOUT, lb.clock_gate_enables(lib))
    (folder / "buffered.json").write_text(json.dumps(netlist))
    del netlist
    (folder / "finish.ys").write_text(finish_script(name, lib_file, macro_lib))
    r, log_text = run_tool([*yosys, "-q", "-l", "finish.log", "-s", "finish.ys"], folder,
                           "finish.log")
    if r.returncode != 0:
        fail("netlist writing", r, log_text, folder / "finish.log")
    stat = json.loads((folder / "stat.json").read_text())
    wall["buffer"] = progress.done()

    progress.start(f"timing: OpenSTA at {clock_ns:g} ns (log {folder / 'sta.log'})")
    libs = [lib_file] + ([macro_lib] if macro_lib else [])
    (folder / "sta.tcl").write_text(sta_script(libs, "netlist.v", name, clock_ns, driving,
                                               lib.wire_load, lib.wire_load_mode))
    r, sta_text = run_tool([*sta, "-no_splash", "-no_init", "-exit", "sta.tcl"], folder,
                           "sta.log")
    (folder / "sta.log").write_text(r.stdout + r.stderr)
    errors = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("Error")]
    if r.returncode != 0 or errors:
        fail("timing", r, "\n".join(errors), folder / "sta.log")
    timing = parse_report(r.stdout, clock_ns)
    checks = parse_setup_check(r.stdout + r.stderr)
    wall["sta"] = progress.done()

    progress.start("report")
    mods = rpt.modules_of(stat)
    total = mods[name]["area"]
    leaves = rpt.leaf_cells(mods, name)
    sram_um2 = sum(leaves.get(p.module, 0) * p.area_um2 for p in srams)
    if timing is not None:
        timing["logic_fmax_mhz"] = round(1000 / timing["achievable_ns"], 1)
        limit = max((p.macro.min_period_ns for p in srams), default=None)
        timing["macro_min_period_ns"] = limit
        timing["macro_limit_mhz"] = round(1000 / limit, 1) if limit else None
        timing["fmax_mhz"] = min(timing["logic_fmax_mhz"], timing["macro_limit_mhz"] or 1e9)
    fmax = timing["fmax_mhz"] if timing else None
    gates = {c: n for c, n in leaves.items() if c in lib.cells and lib.cells[c].gate_enable}
    memories = []
    for p in plans:
        d = p.as_dict()
        d["instances"] = (leaves.get(p.module, 0) if p.kind == "sram"
                          else _instances(mods, name, p.module))
        memories.append(d)
    report = {
        "report_version": REPORT_VERSION,
        "design": name,
        "kind": kind,
        "config": cfg.as_dict(),
        "library": lib.name,
        "liberty": str(liberty),
        "wire_load": lib.wire_load,
        "abc_script": "fast" if fast else "full",
        "tools": tools,
        "area": {"total_um2": round(total, 1), "total_mm2": round(total / 1e6, 4),
                 "parts_um2": {k: round(v, 1) for k, v in
                               rpt.breakdown(mods, name, kind).items()},
                 "sram_um2": round(sram_um2, 1),
                 "logic_um2": round(total - sram_um2, 1)},
        "cells": {"total": sum(leaves.values()),
                  "buffers_added": sum(added.values()),
                  "buffer_cell": buffer[0], "driving_cell": driving[0],
                  "clock_gates": sum(gates.values())},
        "clock_gating": {"enabled": bool(clock_gating), "min_flip_flops": gating,
                         "cells": gates},
        "memories": memories,
        "sram_above_bits": sram_above,
        "pe": rpt.pe_report(mods, name, lib),
        "timing": timing,
        "timing_checks": checks,
        "throughput": rpt.throughput(cfg, fmax, total) if fmax else None,
        "files": {"verilog": verilog, "synth_log": "synth.log", "netlist": "netlist.v",
                  "stat": "stat.txt", "sta_script": "sta.tcl", "sta_log": "sta.log",
                  "macro_lib": macro_lib},
    }
    wall["report"] = progress.elapsed()
    wall["total"] = time.perf_counter() - start
    report["wall_s"] = {k: round(v, 1) for k, v in wall.items()}
    (folder / "asic.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _instances(mods, top, module):
    """Instances of ``module`` (a module of the design) under ``top``."""
    def count(name):
        n = 0
        for cell, k in mods[name].get("num_cells_by_type", {}).items():
            if cell == module:
                n += k
            elif cell in mods:
                n += k * count(cell)
        return n
    return count(top)


def _module_names(text):
    return re.findall(r"^module\s+\\?(\S+?)\s*\(", text, re.M)
