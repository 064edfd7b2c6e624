"""The README's board table: what each board's engine costs and how fast it runs.

    python -m scripts.board_table [--reuse] [--only BOARD ...] [--write README.md]

builds every engine of :data:`RUNS` into a bitstream with :func:`hw.build.build` (one after
another: each place and route takes minutes), then prints the Markdown table board × format ×
size → LUT, FF, DSP, BRAM, clock, Fmax, peak GOP/s, and under it the largest engine that fits
each board among those built. ``--reuse`` takes a build's ``report.json`` when one of the same
configuration, board and clock is already in ``--out`` (so the table can be rewritten without
building again); ``--write FILE`` replaces the text between the table's markers in ``FILE``.
"""

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from hw import build as hwbuild
from hw.fpga import boards as brd
from hw.gen import config_from_args

__all__ = ["Run", "RUNS", "UP5K_PIPELINE", "UP5K_OPTIONS", "BEGIN",
           "END", "config_of", "collect", "markdown", "replace", "main"]

#: The markers around the table in the README.
BEGIN = "<!-- board-table: python -m scripts.board_table --write README.md -->"
END = "<!-- /board-table -->"


@dataclass(frozen=True)
class Run:
    """One build of the table: a board, its variant (``None``: the default) and ``hw.gen``'s
    design options as on the command line."""
    board: str
    device: str
    options: str

    def command(self):
        device = f" --device {self.device}" if self.device else ""
        return f"--board {self.board}{device} {self.options}"


#: Post-processing depths for the iCE40 UP5K (an iCE40 logic cell is one LUT and one
#: flip-flop, so every pipeline register costs a cell): the int32 -> fp32 conversion cut after
#: its leading-zero count, the scale multiplier cut between normalisation and rounding, in
#: the rounding after its subnormal shift and after its product's leading-zero count, and the
#: fp32 -> int8 conversion cut after its shift. With the controller's range checks registered
#: (hw.build's default ``--dispatch registered``) post-processing was the 1x1 and 2x1
#: engines' critical path; these depths take every engine that fits to 25-27 MHz (from 14-24),
#: the 3x1 included (99 % of the cells).
UP5K_PIPELINE = "post_convert=2,post_mul=5,post_round=2"
#: The UP5K's other design option: post-processing's RAW delay line in block RAM
#: (``Config.post_delay``), 32 logic cells fewer per cycle of post-processing.
UP5K_OPTIONS = "--spad-kib 1 --acc-kib 1 --post-delay ram"

#: The builds of the table: on each board the largest INT8 engine that fits (and, where there
#: is room, a smaller one and a BF16 one), with buffers sized to the board's block RAM.
RUNS = (
    # The UP5K's 5 280 logic cells hold three PEs (a column: post-processing's FP32 multiplier
    # takes four of the 8 MAC16) with post-processing off the critical path.
    Run("icebreaker", None, f"--rows 1 {UP5K_OPTIONS} --pipeline {UP5K_PIPELINE}"),
    Run("icebreaker", None, f"--rows 2 --cols 1 {UP5K_OPTIONS} --pipeline {UP5K_PIPELINE}"),
    Run("icebreaker", None, f"--rows 3 --cols 1 {UP5K_OPTIONS} --pipeline {UP5K_PIPELINE}"),
    Run("tangnano9k", None, "--rows 4 --cols 1 --spad-kib 1 --acc-kib 1"),
    Run("orangecrab", None, "--rows 2 --spad-kib 1 --acc-kib 1"),
    Run("ulx3s", None, "--rows 4 --spad-kib 8 --acc-kib 8"),
)


def _parser():
    return hwbuild._parser()


def config_of(run):
    """``run``'s :class:`~hw.config.Config` (its options parsed as ``hw.build`` parses them)."""
    parser = _parser()
    args = parser.parse_args(shlex.split(run.command()))
    return config_from_args(parser, args)[0], args


def _cached(run, cfg, out):
    board, device, _, clock = hwbuild.check_options(run.board, run.device, None,
                                                    hwbuild.DEFAULT_BAUD)
    path = hwbuild.target_dir(out, hwbuild.module_name(cfg), board.name, device) / "report.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    same = (report.get("config") == cfg.as_dict() and report.get("device") == device and
            report.get("clock", {}).get("clock_mhz") == round(clock, 6))
    return report if same else None


def collect(runs=RUNS, out="build", reuse=False, log=None):
    """``[(run, report)]``: each run built (or, with ``reuse``, its matching report read)."""
    if log is None:
        def log(line):
            print(line, file=sys.stderr, flush=True)
    results = []
    for number, run in enumerate(runs, 1):
        cfg, args = config_of(run)
        report = _cached(run, cfg, out) if reuse else None
        if report is None:
            log(f"== build {number}/{len(runs)}: python -m hw.build {run.command()}")
            report = hwbuild.build(cfg, run.board, run.device, None, out, log=log)
        else:
            log(f"== build {number}/{len(runs)}: reusing {report['design']} on {run.board}")
        results.append((run, report))
    return results


def _count(n):
    return f"{n:,}".replace(",", " ")


def _used(report, kind, joined=False):
    """The resource kind's use: one number (the cell types summed) or, with ``joined``, each
    type used named (``1 MULT9X9 + 1 MULT36X36``)."""
    cells = {t: u["used"] for t, u in report["resources"].get(kind, {}).items()}
    if joined:
        used = [f"{_count(n)} {t}" for t, n in cells.items() if n]
        return " + ".join(used) or "0"
    return _count(sum(cells.values()))


def _available(report, kind):
    """The kind's headline cell type's supply (a Gowin ALU takes a LUT's place, so its own
    supply is not added to the LUTs')."""
    cells = list(report["resources"].get(kind, {}).values())
    return _count(cells[0]["available"]) if cells else "0"


def _format(cfg):
    fmt = cfg["in_fmt"].upper()
    return f"{fmt} → {cfg['acc_fmt'].upper()}"


def _size(cfg):
    return (f"{cfg['rows']}×{cfg['cols']}, {cfg['spad_kib']} KiB + {cfg['acc_kib']} KiB")


def markdown(results):
    """The table and the largest engine of each board, as Markdown (no trailing newline)."""
    lines = ["| board (part) | format | size, buffers | LUT | FF | DSP | BRAM | clock | Fmax "
             "| peak GOP/s | `python -m hw.build …` |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    largest = {}
    for run, r in results:
        cfg = r["config"]
        board = f"{r['board_title']} ({r['part']})"
        if r["fits"]:
            t = r["timing"]
            fmax = t["fmax_mhz"]
            verdict = "" if t["met"] else " (missed)"
            cells = [f"{_used(r, 'lut')} / {_available(r, 'lut')}", _used(r, "ff"),
                     _used(r, "dsp", joined=True), _used(r, "bram"),
                     f"{r['clock']['clock_mhz']:g} MHz", f"{fmax:.1f} MHz{verdict}",
                     f"{r['peak_gops']:.3g}"]
            best = largest.get(r["board_title"])
            if best is None or cfg["rows"] * cfg["cols"] > best["rows"] * best["cols"]:
                largest[r["board_title"]] = {**cfg, "report": r}
        else:
            cells = [f"{_used(r, 'lut')} / {_available(r, 'lut')}", "–", "–", "–",
                     f"{r['clock']['clock_mhz']:g} MHz", "does not fit", "–"]
        lines.append(f"| {board} | {_format(cfg)} | {_size(cfg)} | " + " | ".join(cells) +
                     f" | `{run.command()}` |")
    lines.append("")
    lines.append("Largest engine built that fits each board:")
    lines.append("")
    for title, cfg in largest.items():
        r = cfg["report"]
        lines.append(f"- {title}: {cfg['rows']}×{cfg['cols']} {_format(cfg)} at "
                     f"{min(r['timing']['fmax_mhz'], r['clock']['clock_mhz']):g} MHz, "
                     f"{r['peak_gops']:.3g} GOP/s peak")
    tools = {t["command"]: t.get("package", t["version"])
             for _, r in results for t in r["tools"].values()}
    lines.append("")
    lines.append("Tools: " + "; ".join(f"{cmd} {version}" for cmd, version in tools.items()) + ".")
    return "\n".join(lines)


def replace(text, table):
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``table``.

    Raises
    ------
    ValueError
        If the markers are not both there, in order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are not in the file, in order")
    return text[:start + len(BEGIN)] + "\n" + table + "\n" + text[end:]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m scripts.board_table",
                                description="Build the README's board table's engines and "
                                            "print (or write) the table.")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="hw.build's base folder (default build)")
    p.add_argument("--reuse", action="store_true",
                   help="take a matching report.json in DIR instead of building again")
    p.add_argument("--only", nargs="+", metavar="BOARD", choices=sorted(brd.BOARDS),
                   help="only these boards' builds")
    p.add_argument("--write", metavar="FILE",
                   help="replace the table between its markers in FILE (the README)")
    args = p.parse_args(argv)
    if args.write and args.only:
        p.error("--write needs every board's builds: leave out --only")
    if args.write and not Path(args.write).is_file():
        p.error(f"--write {args.write!r}: no such file")
    runs = [r for r in RUNS if not args.only or r.board in args.only]
    table = markdown(collect(runs, args.out, args.reuse))
    if args.write:
        path = Path(args.write)
        try:
            path.write_text(replace(path.read_text(), table))
        except ValueError as e:
            p.error(f"--write {args.write!r}: {e}")
        print(f"wrote the table into {path}")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
