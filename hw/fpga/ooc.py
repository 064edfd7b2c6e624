"""``python -m hw.fpga.ooc``: what a generated design costs on a real FPGA, out of context.

Takes the same design options as ``python -m hw.gen`` plus the target, and runs the open
tools: the design's Verilog (:func:`hw.gen.verilog_text`), synthesis with Yosys
(``synth_ecp5`` / ``synth_ice40`` / ``synth_gowin``), then place and route with nextpnr at a
requested clock, allowed to miss it so a slow design still reports its Fmax. ECP5 is placed
and routed ``--out-of-context`` (no I/O buffers, ports left unplaced); iCE40 and Gowin have no
such mode, so the design goes inside a three-pin :class:`~hw.fpga.harness.Harness`, whose
registers the report counts apart.

Everything goes to ``<out>/<design>/<family>-<device>/``: the Verilog, the Yosys script and
log, the netlist, nextpnr's log and JSON report, and ``report.json`` (:func:`run`'s result):
resources used and available by kind, Fmax against the request, the critical path, tool
versions and wall times. The figures are estimates for a block inside a larger design: no
board pins, no clock tree of the real top level.
"""

import json
import os
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from sim.tools import find_nextpnr, find_yosys

from ..config import ConfigError
from ..gen import (
    KINDS,
    OptionParser,
    add_config_options,
    config_from_args,
    option_name,
    verilog_text,
)
from ..manifest import port_list
from . import devices
from . import report as rpt
from .flow import (
    FPGA_DEFAULTS,
    MAX_FREQ,
    PLACERS,
    FlowError,
    Progress,
    add_pnr_options,
    add_synth_options,
    check_freq,
    check_placer,
    check_seed,
    check_seeds,
    check_widelut,
    fail,
    nextpnr_version,
    parse_seeds,
    place_and_route,
    pnr_args,
    print_line,
    run_for_command_line,
    run_tool,
    seeds_to_try,
    widelut_args,
    widelut_option_error,
    yosys_version,
)
from .harness import Harness

__all__ = ["REPORT_VERSION", "MAX_FREQ", "PLACERS", "FlowError", "design_ports", "target_dir",
           "run", "main"]

#: Version of the ``report.json`` layout.
REPORT_VERSION = 1


def design_ports(cfg, kind):
    """The top-level ports of the design ``hw.gen`` writes for ``cfg`` and ``kind``, as
    :func:`hw.manifest.port_list` lists them."""
    if kind == "array":
        from ..array import array_signature
        return port_list(array_signature(cfg))
    from ..engine import AxiEngine
    return port_list(AxiEngine.signature_for(cfg))


def target_dir(out, design, family, device):
    """Where one design's run on one part goes: ``<out>/<design>/<family>-<device>``."""
    return Path(out) / design / f"{family}-{device}"


def run(cfg, kind="engine", family="ecp5", device=None, freq=100.0, out="build/fpga", *,
        placer=None, seed=None, seeds=None, widelut=True, log=None):
    """Synthesise, place and route ``cfg``'s design out of context; return the report.

    Parameters
    ----------
    cfg : Config
        The design's configuration.
    kind : str
        ``"engine"`` or ``"array"``, as for :func:`hw.gen.generate`.
    family : str
        ``"ecp5"``, ``"ice40"`` or ``"gowin"`` (:data:`hw.fpga.devices.FAMILIES`).
    device : str or None
        A part of the family by short name (``None``: the family's default).
    freq : float
        The requested clock in MHz; the design may miss it (the report says by how much).
    out : str or Path
        Base folder; the run goes to :func:`target_dir`.
    placer : str or None
        nextpnr's placer, one of :data:`PLACERS` (``None``: nextpnr's default, ``heap``).
    seed : int or None
        nextpnr's random seed (``None``: nextpnr's default; :func:`~hw.fpga.flow.check_seed`).
    seeds : list of int or None
        A seed sweep instead of ``seed``: place and route once for each (synthesis once) and
        keep the one with the highest Fmax (:func:`~hw.fpga.flow.check_seeds`). Each try's log
        and nextpnr report stay beside the kept ones as ``pnr.seed<N>.log`` and
        ``nextpnr.seed<N>.json``.
    widelut : bool
        ``False``: synthesis maps to LUT4s only (ECP5 and Gowin, Yosys's ``-nowidelut``;
        :func:`~hw.fpga.flow.check_widelut`).
    log : callable or None
        Called with each progress line (``None``: print and flush).

    Returns
    -------
    dict
        The report also written to ``report.json``: ``design``, ``family``, ``device``,
        ``part``, ``method``, ``tools``, ``fits`` (``error`` when not), ``resources`` (by kind
        and cell type, used and available), ``cells`` (the netlist's), ``harness`` (its
        overhead, or ``None``), ``timing`` (``fmax_mhz``, ``requested_mhz``, ``met``,
        ``critical_path``), ``widelut``, ``placer``, ``seed`` (a sweep's best), ``seed_sweep``
        (a sweep's
        tries in order, each ``seed``, ``fmax_mhz`` and ``met``; ``None`` without a sweep),
        ``pnr_command`` (nextpnr's command line, the kept seed's), ``wall_s`` and ``files``.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`hw.gen.KINDS`.
    ConfigError
        ``family``, ``device``, ``freq``, ``placer``, ``seed``, ``seeds`` or ``widelut`` is not
        allowed (checked before any work).
    ToolMissing
        Yosys or the family's nextpnr is not installed.
    FlowError
        A tool failed other than by the design not fitting the part.
    """
    log = log or print_line
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    fam, dev = devices.device(family, device)
    check_freq(freq)
    check_placer(placer)
    check_seed(seed)
    check_seeds(seeds, seed)
    check_widelut(widelut, fam.name)
    tries = seeds_to_try(seed, seeds)
    yosys, nextpnr = find_yosys(), find_nextpnr(fam.name)
    start = time.perf_counter()
    wall = {}
    # One tool at a time also warms the YoWASP cache before the long runs.
    tools = {"yosys": yosys_version(yosys), "nextpnr": nextpnr_version(nextpnr)}

    progress = Progress(2 + len(tries), log)
    progress.start(f"generating Verilog ({kind})")
    name, text = verilog_text(cfg, kind)
    folder = target_dir(out, name, fam.name, dev.name)
    folder.mkdir(parents=True, exist_ok=True)
    sources = [f"{name}.v"]
    (folder / sources[0]).write_text(text)
    harness, top = None, name
    if not fam.out_of_context:
        h = Harness(name, design_ports(cfg, kind))
        top = f"ooc_{name}"
        sources.append("harness.v")
        (folder / "harness.v").write_text(verilog.convert(h, name=top, emit_src=False))
        harness = {"input_bits": h.input_bits, "output_bits": h.output_bits, **h.overhead}
    wall["generate"] = progress.elapsed()
    log(f"      {name} in {wall['generate']:.1f} s, in {folder}")

    synth_cmd = " ".join([fam.synth, *fam.synth_args, *dev.synth_args,
                          *widelut_args(widelut), "-top", top,
                          "-json", "netlist.json"])
    script = "\n".join([f"read_verilog {' '.join(sources)}", *fam.before_synth, synth_cmd,
                        "tee -q -o stat.json stat -json", ""])
    (folder / "synth.ys").write_text(script)
    progress.start(f"synthesis: {tools['yosys']['command']} {fam.synth} "
                      f"(log {folder / 'synth.log'})")
    r, text = run_tool([*yosys, "-q", "-l", "synth.log", "-s", "synth.ys"],
                        folder, "synth.log")
    if r.returncode != 0:
        fail("synthesis", r, text, folder / "synth.log")
    wall["synth"] = progress.elapsed()
    log(f"      done in {wall['synth']:.1f} s")
    cells = rpt.netlist_cells(json.loads((folder / "stat.json").read_text()))

    # A sweep's seeds go on each try's own command line (pnr_for_seed).
    pnr_cmd = [*nextpnr, *dev.nextpnr_args, "--json", "netlist.json", "--top", top,
               "--freq", f"{freq:g}", "--timing-allow-fail", "--report", "nextpnr.json",
               "-l", "pnr.log", "-q", *pnr_args(placer, None if seeds else seed)]
    if fam.out_of_context:
        pnr_cmd.append("--out-of-context")
    if fam.pins:
        (folder / "pins.cst").write_text("".join(f'IO_LOC "{port}" {pin};\n'
                                                 for port, pin in fam.pins.items()))
        pnr_cmd += ["--vopt", "cst=pins.cst"]
    for stale in folder.glob("*.seed*.*"):
        stale.unlink()
    (folder / "nextpnr.json").unlink(missing_ok=True)
    start_pnr = time.perf_counter()
    error, utilization, sweep, kept = place_and_route(
        pnr_cmd, folder, "pnr.log", "nextpnr.json", freq, step="place and route",
        what=f"place and route: {tools['nextpnr']['command']} at {freq:g} MHz",
        placer=placer, tries=tries, sweeping=bool(seeds), progress=progress)
    wall["pnr"] = time.perf_counter() - start_pnr
    pnr, pnr_cmd = (kept["pnr"], kept["cmd"]) if kept else ({}, pnr_cmd)
    wall["total"] = time.perf_counter() - start

    report = {
        "report_version": REPORT_VERSION,
        "design": name,
        "kind": kind,
        "config": cfg.as_dict(),
        "family": fam.name,
        "device": dev.name,
        "part": dev.part,
        "board": dev.board,
        "method": "out-of-context" if fam.out_of_context else "three-pin harness",
        "top": top,
        "tools": tools,
        "fits": error is None,
        "error": error,
        "resources": rpt.resources(fam, utilization, cells),
        "cells": cells,
        "harness": harness,
        "timing": rpt.timing(pnr, freq) if error is None else None,
        "widelut": widelut,
        "placer": placer,
        "seed": kept["seed"] if kept else tries[0],
        "seed_sweep": [{k: t[k] for k in ("seed", "fmax_mhz", "met")} for t in sweep]
        if seeds else None,
        # How nextpnr ran, from the run's folder (its files are named relative to it).
        "pnr_command": [os.path.basename(pnr_cmd[0]), *pnr_cmd[1:]],
        "wall_s": {step: round(secs, 1) for step, secs in wall.items()},
        "files": {"verilog": sources, "synth_log": "synth.log", "netlist": "netlist.json",
                  "pnr_log": "pnr.log", "pnr_report": "nextpnr.json" if error is None else None},
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _parser():
    p = OptionParser(prog="python -m hw.fpga.ooc",
                     description="Synthesise, place and route a generated design out of "
                                 "context with Yosys and nextpnr, and report its resources, "
                                 "Fmax and critical path. Takes hw.gen's design options.")
    add_config_options(p, flow_defaults=FPGA_DEFAULTS)
    families = devices.FAMILIES
    p.add_argument("--family", default="ecp5", metavar="NAME",
                   help=f"FPGA family: {', '.join(families)} (default ecp5)")
    p.add_argument("--device", default=None, metavar="PART",
                   help="part: " + "; ".join(
                       f"{f.name}: {', '.join(f.devices)} (default {f.default})"
                       for f in families.values()))
    p.add_argument("--freq", type=float, default=100.0, metavar="MHZ",
                   help="requested clock in MHz (default 100); a design that misses it still "
                        "reports its Fmax")
    p.add_argument("--out", default="build/fpga", metavar="DIR",
                   help="base folder (default build/fpga); a run goes to "
                        "DIR/<design>/<family>-<device>/")
    add_synth_options(p)
    add_pnr_options(p)
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    cfg, kind = config_from_args(parser, args)
    try:
        devices.device(args.family, args.device)
        check_freq(args.freq)
        check_seed(args.seed)
        seeds = None if args.seeds is None else parse_seeds(args.seeds)
    except ConfigError as e:
        parser.error(e.message(option_name))
    if widelut_error := widelut_option_error(args.widelut, args.family,
                                             f"--family {args.family}"):
        parser.error(widelut_error)
    report = run_for_command_line(parser, args.out, run, cfg, kind, args.family, args.device,
                                  args.freq, args.out, placer=args.placer, seed=args.seed,
                                  seeds=seeds, widelut=args.widelut)
    print(rpt.format_table(report))
    print(f"wrote {target_dir(args.out, report['design'], report['family'], report['device'])}"
          "/report.json")
    return 0 if report["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
