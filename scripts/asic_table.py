"""The README's ASIC table: area, Fmax and GOP/s of INT8 and BF16 engines in SKY130.

    python -m scripts.asic_table [--reuse] [--liberty FILE] [--out DIR] [--only OPTIONS ...]

runs every design of :data:`RUNS` through :func:`hw.asic.flow.run` (one after another) at a
5 ns clock request, then prints the Markdown table: design (with its buffers: sizes, and
whether they are SRAM macros or flip-flops), area (total, of which SRAM macros), the logic's
Fmax, the SRAM macros' limit, Fmax, peak GOP/s, GOP/s per mm² (of the whole design, and of
its logic alone), one PE's area, and the critical path's ends.
``--reuse`` takes an ``asic.json`` already in ``--out`` for the same configuration, library
and clock. The library is ``--liberty``, else
``$HW_LIBERTY``, else ``../shared/pdk/`` (:func:`hw.asic.liberty.default_liberty`).
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

from hw.asic import liberty as lb
from hw.asic import macros as mc
from hw.asic.flow import ASIC_DEFAULTS, DEFAULT_CLOCK_NS, REPORT_VERSION, run, target_dir
from hw.gen import OptionParser, add_config_options, config_from_args, module_name

__all__ = ["RUNS", "collect", "markdown", "main"]

#: The designs: ``hw.gen`` options (and ``hw.asic``'s ``--sram-above``), the engines' default
#: buffers (128 KiB scratchpad, 64 KiB accumulators, SRAM macros) and pipeline; then a 16×16
#: INT8 engine with the least buffers its shape allows, in flip-flops (no macro to cap its
#: clock).
RUNS = tuple(f"--rows {n} --in-fmt {fmt}" for fmt in ("int8", "bf16") for n in (4, 8, 16)) + (
    "--rows 16 --spad-kib 1 --acc-kib 1 --sram-above 100000000",)


def _config(options):
    """``(cfg, kind, sram_above)`` from one entry of :data:`RUNS`."""
    p = OptionParser(prog="scripts.asic_table")
    add_config_options(p, flow_defaults=ASIC_DEFAULTS)  # as python -m hw.asic
    p.add_argument("--sram-above", type=int, default=mc.DEFAULT_SRAM_ABOVE, metavar="BITS")
    args = p.parse_args(shlex.split(options))
    return (*config_from_args(p, args), args.sram_above)


def collect(liberty, out, reuse=False, only=None, log=print):
    """``[(options, report)]`` for :data:`RUNS` (or ``only``), run or reused."""
    results = []
    for options in only or RUNS:
        cfg, kind, sram_above = _config(options)
        path = target_dir(out, module_name(cfg, kind)) / "asic.json"
        report = None
        if reuse and path.exists():
            old = json.loads(path.read_text())
            if old.get("config") == cfg.as_dict() and old.get("liberty") == str(liberty) \
                    and old.get("report_version") == REPORT_VERSION \
                    and old.get("sram_above_bits") == sram_above \
                    and old["timing"]["period_ns"] == DEFAULT_CLOCK_NS:
                report = old
        if report is None:
            log(f"== python -m hw.asic {options} --liberty {liberty} --out {out}")
            report = run(cfg, kind, liberty, DEFAULT_CLOCK_NS, out, sram_above, log=log)
        results.append((options, report))
    return results


def _where(point):
    """The instance a path point sits in: its hierarchical name without the cell's."""
    return point.rsplit("/", 1)[0] if "/" in point else point


def _buffers(report):
    """The design's buffers: ``"128 + 64 KiB, SRAM"``, ``"1 + 1 KiB, flip-flops"`` (or both
    kinds, when some RAMs are macros and some flip-flops)."""
    cfg = report["config"]
    if report["kind"] == "array":
        return "array alone"
    kinds = {mem["kind"] for mem in report["memories"]}
    built = " and ".join(name for kind, name in (("sram", "SRAM"), ("ff", "flip-flops"))
                         if kind in kinds)
    return f"{cfg['spad_kib']} + {cfg['acc_kib']} KiB, {built}"


def markdown(results):
    """The table."""
    lines = ["| design | area mm² | of it SRAM mm² | logic Fmax MHz | SRAM limit MHz | "
             "Fmax MHz | peak GOP/s | GOP/s per mm² | GOP/s per logic mm² | PE µm² | "
             "critical path (start → end) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for _, r in results:
        cfg = r["config"]
        t, a, tp = r["timing"], r["area"], r["throughput"]
        pe = f"{r['pe']['area_um2']:,.0f}" if r["pe"] else "—"
        logic = a["logic_um2"] / 1e6
        start, end = _where(t["startpoint"]), _where(t["endpoint"])
        path = f"`{start}`" if start == end else f"`{start}` → `{end}`"
        lines.append(
            f"| {cfg['rows']}×{cfg['cols']} {cfg['in_fmt'].upper()} ({_buffers(r)}) | "
            f"{a['total_mm2']:.2f} | "
            f"{a['sram_um2'] / 1e6:.2f} | {t['logic_fmax_mhz']:.1f} | "
            f"{t['macro_limit_mhz'] or '—'} | {t['fmax_mhz']:.1f} | {tp['peak_gops']:.1f} | "
            f"{tp['gops_per_mm2']:.2f} | {tp['peak_gops'] / logic:.1f} | {pe} | "
            f"{path}, {t['achievable_ns']:.2f} ns, {t['logic_levels']} levels |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m scripts.asic_table", description=__doc__)
    p.add_argument("--liberty", default=None, metavar="FILE")
    p.add_argument("--out", default="build/asic", metavar="DIR")
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--only", nargs="+", default=None, metavar="OPTIONS")
    args = p.parse_args(argv)
    liberty = Path(args.liberty) if args.liberty else lb.default_liberty()
    results = collect(liberty, args.out, args.reuse, args.only,
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
