"""``python -m hw.build``: a generated engine as a bitstream for a real dev board.

Takes ``hw.gen``'s design options plus ``--board`` (:data:`hw.fpga.boards.BOARDS`),
``--device`` (the board's variant), ``--freq`` (the engine's clock, MHz; the board's default
otherwise) and ``--baud``. The top level is :class:`hw.fpga.board.BoardTop`: the engine behind
the UART host link, on the board's UART pins and LEDs, clocked from the board's oscillator
through the PLL. Amaranth's platform (``amaranth-boards``) writes the build files; the steps
(Yosys, nextpnr at the requested clock, the bitstream packer) then run here one at a time, with
progress lines naming each log, through the YoWASP tools from PyPI or native ones (an
environment variable named as Amaranth names the tool, ``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``, ``NEXTPNR_HIMBAECHEL``, ``GOWIN_PACK``, picks
another build).

Everything goes to ``<out>/<design>/<board>-<device>/``: the platform's files, the tools' logs, the
bitstream and ``report.json`` (:func:`build`'s result), also printed as a table with the
resources, Fmax against the clock, the peak throughput at the clock the design meets, the tool
versions, the bitstream and the ``python -m hw.host`` command that runs a GEMM on the board.
"""

import json
import os
import shlex
import sys
import time
from pathlib import Path

from sim.tools import PACKERS, find_nextpnr, find_packer, find_yosys

from .config import Config, ConfigError
from .field_names import plain_field_names
from .fpga import boards as brd
from .fpga import devices
from .fpga import report as rpt
from .fpga.board import BoardTop
from .fpga.dfu import add_dfu_suffix
from .fpga.flow import (
    FPGA_DEFAULTS,
    PLACERS,
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
    tool_version,
    widelut_args,
    widelut_option_error,
    yosys_version,
)
from .fpga.pll import solve
from .fpga.protocol import DEFAULT_MAX_PAYLOAD
from .fpga.uart import MIN_DIVISOR
from .gen import OptionParser, add_config_options, config_from_args, module_name, option_name

__all__ = ["REPORT_VERSION", "DEFAULT_BAUD", "PLACERS", "target_dir", "check_options", "build",
           "peak_gops", "host_command", "format_build", "main"]

#: Version of the ``report.json`` layout.
REPORT_VERSION = 1
#: The UART's default bit rate (``python -m hw.host``'s default too).
DEFAULT_BAUD = 115200
# Largest relative error of the UART's bit time the receivers tolerate well.
_MAX_BAUD_ERROR = 0.02
# The tools Amaranth's build scripts call: which finder runs each.
_NEXTPNR_FAMILY = {"nextpnr-ice40": "ice40", "nextpnr-ecp5": "ecp5",
                   "nextpnr-himbaechel": "gowin"}


def target_dir(out, design, board, device):
    """Where one design's build for one board variant goes: ``<out>/<design>/<board>-<device>``
    (``build/engine_os_8x8_int8_int32_s32k_a16k/ulx3s-85F``)."""
    return Path(out) / design / f"{board}-{device}"


def check_options(board_name, device, freq, baud):
    """``(Board, device, PllSetting or None, clock MHz)`` for the options, or a
    :class:`~hw.config.ConfigError` naming the bad one (before any work)."""
    board = brd.board(board_name)
    device = board.default_device if device is None else device
    board.platform(device)  # checks the device
    freq = board.default_mhz if freq is None else freq
    check_freq(freq)
    if isinstance(baud, bool) or not isinstance(baud, int) or not 300 <= baud <= 3_000_000:
        raise ConfigError("baud", baud, "an integer from 300 to 3000000")
    if abs(freq - board.osc_mhz) <= 1e-9 * board.osc_mhz:
        pll, clock = None, board.osc_mhz
    else:
        pll = solve(board.family, board.osc_mhz, freq)
        clock = pll.output_mhz
    divisor = round(clock * 1e6 / baud)
    if divisor < MIN_DIVISOR or abs(clock * 1e6 / divisor - baud) > _MAX_BAUD_ERROR * baud:
        raise ConfigError("baud", baud, f"a rate a {clock:g} MHz clock makes within "
                                        f"{_MAX_BAUD_ERROR:.0%} at {MIN_DIVISOR} or more "
                                        f"cycles a bit")
    return board, device, pll, clock


def _tool_command(name):
    """The command (a list) for a tool of Amaranth's build scripts: the environment variable
    Amaranth reads for it if set, else the PyPI build or a native one on PATH."""
    env = name.upper().replace("-", "_")
    if os.environ.get(env):
        return shlex.split(os.environ[env])
    if name == "yosys":
        return find_yosys()
    if name in _NEXTPNR_FAMILY:
        return find_nextpnr(_NEXTPNR_FAMILY[name])
    return find_packer(name)


def peak_gops(cfg, fmax_mhz, clock_mhz):
    """Peak GOP/s (a MAC is 2 operations) at the clock the design both runs at and meets."""
    clock = clock_mhz if fmax_mhz is None else min(fmax_mhz, clock_mhz)
    return 2 * cfg.rows * cfg.cols * clock / 1e3


def host_command(cfg, board, baud, max_payload):
    """The ``python -m hw.host`` command that runs a GEMM on the board's engine."""
    args = ["python -m hw.host", f"--port {board.port_hint}", f"--baud {baud}",
            f"--rows {cfg.rows}", f"--cols {cfg.cols}", f"--in-fmt {cfg.in_fmt}",
            f"--acc-fmt {cfg.acc_fmt}", f"--dataflow {cfg.dataflow}",
            f"--spad-kib {cfg.spad_kib}", f"--acc-kib {cfg.acc_kib}"]
    if cfg.mul_kind == "float":
        args.append(f"--subnormals {cfg.subnormals}")
    least = Config(rows=cfg.rows, cols=cfg.cols, in_fmt=cfg.in_fmt, acc_fmt=cfg.acc_fmt,
                   dataflow=cfg.dataflow, subnormals=cfg.subnormals).pipeline
    pipeline = {k: v for k, v in vars(cfg.pipeline).items() if v != getattr(least, k)}
    if pipeline:
        args.append("--pipeline " + ",".join(f"{k}={v}" for k, v in pipeline.items()))
    if cfg.post_delay != "ff":
        args.append(f"--post-delay {cfg.post_delay}")
    if cfg.post_lanes != cfg.cols:
        args.append(f"--post-lanes {cfg.post_lanes}")
    if cfg.acc_lanes != cfg.cols:
        args.append(f"--acc-lanes {cfg.acc_lanes}")
    if max_payload != DEFAULT_MAX_PAYLOAD:
        args.append(f"--max-payload {max_payload}")
    return " ".join(args)


def _part(platform):
    """The FPGA's part for the report: Gowin platforms name it whole, Lattice ones in parts."""
    if getattr(platform, "part", None):
        return platform.part
    return " ".join(str(getattr(platform, attr)) for attr in ("device", "package", "speed")
                    if getattr(platform, attr, None))


def build(cfg, board_name, device=None, freq=None, out="build", *, baud=DEFAULT_BAUD,
          max_payload=DEFAULT_MAX_PAYLOAD, placer=None, seed=None, seeds=None, widelut=True,
          log=None):
    """Build ``cfg``'s engine into a bitstream for a board; return the report.

    Parameters
    ----------
    cfg : Config
        The engine's configuration.
    board_name : str
        A key of :data:`hw.fpga.boards.BOARDS`.
    device : str or None
        The board's variant (``None``: its default).
    freq : float or None
        The engine's clock, MHz (``None``: the board's default); nextpnr is asked for the
        clock the PLL makes, and the design may miss it (the report says by how much).
    out : str or Path
        Base folder; the build goes to :func:`target_dir`.
    baud : int
        The UART's bit rate.
    max_payload : int
        The bridge's payload buffer in bytes.
    placer : str or None
        nextpnr's placer, one of :data:`PLACERS` (``None``: nextpnr's default, ``heap``).
    seed : int or None
        nextpnr's random seed (``None``: nextpnr's default; :func:`~hw.fpga.flow.check_seed`).
    seeds : list of int or None
        A seed sweep instead of ``seed``: place and route once for each (synthesis once) and
        keep the one with the highest Fmax, whose files the packer reads
        (:func:`~hw.fpga.flow.check_seeds`). Each try's files stay beside them, named
        ``<design>.seed<N>.tim`` and so on.
    widelut : bool
        ``False``: synthesis maps to LUT4s only (ECP5 and Gowin boards, Yosys's
        ``-nowidelut``; :func:`~hw.fpga.flow.check_widelut`).
    log : callable or None
        Called with each progress line (``None``: print and flush).

    Returns
    -------
    dict
        The report also written to ``report.json``: what :func:`hw.fpga.ooc.run` reports
        (``design``, ``family``, ``device``, ``part``, ``tools``, ``fits``, ``error``,
        ``resources``, ``cells``, ``timing``, ``wall_s``, ``files``) plus ``board``, ``clock``
        (oscillator, PLL setting, the clock), ``uart`` (baud, divisor, wiring),
        ``peak_gops``, ``bitstream``, ``host_command``, ``widelut``, ``placer``, ``seed`` (a
        sweep's best) and ``seed_sweep`` (a sweep's tries in order, each ``seed``, ``fmax_mhz`` and
        ``met``; ``None`` without a sweep).

    Raises
    ------
    ConfigError
        ``board_name``, ``device``, ``freq``, ``baud``, ``placer``, ``seed``, ``seeds`` or
        ``widelut`` is not allowed (checked before any work).
    ToolMissing
        A tool of the flow is not installed.
    FlowError
        A tool failed other than by the design not fitting the part.
    """
    log = log or print_line
    board, device, pll, clock = check_options(board_name, device, freq, baud)
    check_placer(placer)
    check_seed(seed)
    check_seeds(seeds, seed)
    check_widelut(widelut, board.family)
    tries = seeds_to_try(seed, seeds)
    requested = board.default_mhz if freq is None else freq
    fam = devices.family(board.family)
    platform = board.platform(device)
    name = module_name(cfg)
    folder = target_dir(out, name, board.name, device)
    start = time.perf_counter()
    wall = {}
    # The platform's tools that build (not those that program the board).
    commands = {tool: _tool_command(tool) for tool in platform.required_tools
                if tool == "yosys" or tool in _NEXTPNR_FAMILY or tool in PACKERS}
    steps = ["elaborate", *commands, *(["dfu-suffix"] if board.dfu else [])]
    pnr_tool = next(tool for tool in commands if tool.startswith("nextpnr"))
    # One tool at a time also warms the YoWASP cache before the long runs.
    tools = {"yosys": yosys_version(commands["yosys"]),
             "nextpnr": nextpnr_version(commands[pnr_tool])}
    packer = next(tool for tool in commands if tool not in ("yosys", pnr_tool))
    tools["pack"] = tool_version(commands[packer], packer, package=PACKERS[packer][2])
    progress = Progress(len(steps) + len(tries) - 1, log)

    progress.start(f"elaborating {name} for {board.title} {device} at {clock:g} MHz "
                   f"(into {folder})")
    top = BoardTop(cfg, board, pll, baud=baud, max_payload=max_payload)
    pnr_report = f"{name}.nextpnr.json"
    nextpnr_opts = ["--timing-allow-fail", "--report", pnr_report]
    if board.family == "gowin":
        # The Apicula flow writes no clock constraints: time every clock at the engine's.
        nextpnr_opts += ["--freq", f"{clock:g}"]
    # A sweep's seeds go on each try's own command line (pnr_for_seed).
    nextpnr_opts += pnr_args(placer, None if seeds else seed)
    plan = platform.prepare(
        top, name, emit_src=False,
        synth_opts=" ".join([*(fam.device().synth_args if board.family == "ice40" else ()),
                             *widelut_args(widelut)]),
        script_after_read="\n".join(fam.before_synth),
        script_after_synth="tee -q -o stat.json stat -json",
        nextpnr_opts=" ".join(nextpnr_opts))
    # The RTLIL Yosys synthesises, its field wires named as the exported Verilog's are.
    plan.files[f"{name}.il"] = plain_field_names(plan.files[f"{name}.il"])
    if folder.exists():
        for stale in (pnr_report, f"{name}.{board.bitstream}", "stat.json"):
            (folder / stale).unlink(missing_ok=True)
    plan.extract(folder)
    script = json.loads((folder / f"build_{name}.json").read_text())["commands"]
    wall["elaborate"] = progress.done()

    logs = {"yosys": f"{name}.rpt", pnr_tool: f"{name}.tim"}
    error = None
    utilization, pnr, sweep, kept_seed = {}, {}, [], tries[0]
    for stale in folder.glob(f"{name}.seed*.*"):
        stale.unlink()
    for argv in script:
        tool = argv[0]
        if tool == pnr_tool:
            start_pnr = time.perf_counter()
            error, utilization, sweep, kept = place_and_route(
                [*commands[tool], *argv[1:]], folder, logs[tool], pnr_report, round(clock, 6),
                step=tool, what=f"{tool}: {os.path.basename(commands[tool][0])}",
                placer=placer, tries=tries, sweeping=bool(seeds), progress=progress)
            wall[tool] = time.perf_counter() - start_pnr
            if error:
                break
            pnr, kept_seed = kept["pnr"], kept["seed"]
            continue
        log_name = logs.get(tool, f"{tool}.log")
        progress.start(f"{tool}: {os.path.basename(commands[tool][0])} "
                       f"(log {folder / log_name})")
        r, text = run_tool([*commands[tool], *argv[1:]], folder, log_name)
        if tool not in logs:
            (folder / log_name).write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            fail(tool, r, text, folder / log_name)
        wall[tool] = progress.done()
    bitstream = folder / f"{name}.{board.bitstream}"
    if error is None and board.dfu:
        progress.start(f"DFU suffix for {board.dfu[0]:04x}:{board.dfu[1]:04x} "
                       f"(on {bitstream})")
        add_dfu_suffix(bitstream, vendor=board.dfu[0], product=board.dfu[1])
        wall["dfu-suffix"] = progress.done()
    wall["total"] = time.perf_counter() - start

    stat = folder / "stat.json"
    cells = rpt.netlist_cells(json.loads(stat.read_text())) if stat.exists() else {}
    timing = rpt.timing(pnr, round(clock, 6)) if error is None else None
    fmax = timing["fmax_mhz"] if timing else None
    report = {
        "report_version": REPORT_VERSION,
        "design": name,
        "kind": "engine",
        "config": cfg.as_dict(),
        "board": board.name,
        "board_title": board.title,
        "family": fam.name,
        "device": device,
        "part": _part(platform),
        "method": f"board top ({board.title}: UART, LEDs, clock)",
        "top": name,
        "tools": tools,
        "fits": error is None,
        "error": error,
        "resources": rpt.resources(fam, utilization, cells),
        "cells": cells,
        "harness": None,
        "clock": {"oscillator_mhz": board.osc_mhz, "requested_mhz": requested,
                  "clock_mhz": round(clock, 6),
                  "pll": pll.as_dict() if pll else None},
        "timing": timing,
        "peak_gops": round(peak_gops(cfg, fmax, clock), 4) if error is None else None,
        "uart": {"baud": baud, "divisor": top.divisor, "max_payload": max_payload,
                 "wiring": board.uart_note},
        "leds": {role: "/".join(map(str, where)) for role, where in board.leds.items()},
        "bitstream": str(bitstream) if error is None else None,
        "host_command": host_command(cfg, board, baud, max_payload),
        "widelut": widelut,
        "placer": placer,
        "seed": kept_seed,
        "seed_sweep": [{k: t[k] for k in ("seed", "fmax_mhz", "met")} for t in sweep]
        if seeds else None,
        "wall_s": {step: round(secs, 1) for step, secs in wall.items()},
        "files": {"rtlil": f"{name}.il", "synth_log": f"{name}.rpt",
                  "pnr_log": f"{name}.tim",
                  "pnr_report": pnr_report if error is None else None},
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_build(report):
    """The report as text: :func:`hw.fpga.report.format_table`'s table, then the clock, the
    peak throughput, the tools, the bitstream and the host command."""
    lines = [rpt.format_table(report)]
    c = report["clock"]
    pll = c["pll"]
    via = (f"{pll['primitive']} from the {c['oscillator_mhz']:g} MHz oscillator "
           f"(VCO {pll['vco_mhz']:g} MHz)") if pll else "the oscillator, no PLL"
    lines.append(f"  clock {c['clock_mhz']:g} MHz ({via}; asked {c['requested_mhz']:g} MHz)")
    if report["fits"]:
        cfg = report["config"]
        at = min(report["timing"]["fmax_mhz"] or c["clock_mhz"], c["clock_mhz"])
        lines.append(f"  peak {report['peak_gops']:g} GOP/s (2 x {cfg['rows']} x {cfg['cols']} "
                     f"MACs at {at:g} MHz, the lower of Fmax and the clock)")
    tools = report["tools"]
    lines.append("  tools " + "; ".join(
        f"{t['command']} {t['package']}" if "package" in t else t["version"]
        for t in tools.values()))
    u = report["uart"]
    lines.append(f"  UART {u['baud']} baud (divisor {u['divisor']}) on {u['wiring']}")
    if report["fits"]:
        lines.append(f"  bitstream {report['bitstream']}")
        lines.append(f"  run a GEMM on it: {report['host_command']}")
    return "\n".join(lines)


def _parser():
    p = OptionParser(prog="python -m hw.build",
                     description="Build a generated engine, behind the UART host link, into a "
                                 "bitstream for a dev board with Yosys and nextpnr, and report "
                                 "its resources, Fmax and the host command. Takes hw.gen's "
                                 "design options.")
    add_config_options(p, flow_defaults=FPGA_DEFAULTS)
    boards = brd.BOARDS.values()
    p.add_argument("--board", required=True, metavar="NAME",
                   help="the board: " + ", ".join(b.name for b in boards))
    p.add_argument("--device", default=None, metavar="VARIANT",
                   help="the board's FPGA: " + "; ".join(
                       f"{b.name}: {', '.join(b.platforms)} (default {b.default_device})"
                       for b in boards))
    p.add_argument("--freq", type=float, default=None, metavar="MHZ",
                   help="the engine's clock in MHz, made by the PLL from the oscillator "
                        "(default: " + ", ".join(f"{b.name} {b.default_mhz:g}" for b in boards)
                        + "); a design that misses it still reports its Fmax")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD, metavar="N",
                   help=f"the UART's bit rate (default {DEFAULT_BAUD}, as python -m hw.host)")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="base folder (default build); a build goes to "
                        "DIR/<design>/<board>-<device>/")
    add_synth_options(p)
    add_pnr_options(p)
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    cfg, kind = config_from_args(parser, args)
    if kind != "engine":
        parser.error("--array cannot be built for a board: the board top needs the engine")
    try:
        check_options(args.board, args.device, args.freq, args.baud)
        check_seed(args.seed)
        seeds = None if args.seeds is None else parse_seeds(args.seeds)
    except ConfigError as e:
        parser.error(e.message(option_name))
    family = brd.BOARDS[args.board].family
    if widelut_error := widelut_option_error(args.widelut, family,
                                             f"--board {args.board} ({family})"):
        parser.error(widelut_error)
    report = run_for_command_line(parser, args.out, build, cfg, args.board, args.device,
                                  args.freq, args.out, baud=args.baud, placer=args.placer,
                                  seed=args.seed, seeds=seeds, widelut=args.widelut)
    print(format_build(report))
    print(f"wrote {target_dir(args.out, report['design'], report['board'], report['device'])}"
          "/report.json")
    return 0 if report["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
