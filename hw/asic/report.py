"""The ASIC report: area by part of the design, one PE's cells, throughput, and a table.

Areas come from Yosys's ``stat -json -liberty ... -top`` (:mod:`hw.asic.synth`), whose
``area`` of each module is the sum over its whole sub-hierarchy, every instance counted. The
parts of an engine are the instances inside its ``engine`` module:

==================  ===========================================================================
part                instances
==================  ===========================================================================
array               ``array`` (the PEs, their tiles, skew and de-skew, the result FIFO)
buffers             ``spad`` (operand scratchpad) and ``acc`` (accumulator memory with its
                    adders), SRAM macros or flip-flops
post-processing     ``storer`` (its post-processing lanes and output FIFO)
controller          everything else: controller, loader, feeder, writeback, reducer, glue
==================  ===========================================================================

For one PE (module ``<design>_pe``) the report gives its cells and area, and the share of
its flip-flops (all of them, wherever they sit, with the clock-gating cells that clock
them), of its multiplier (module ``inner.mul``,
without flip-flops) and of its accumulator adder (``inner.add``, without flip-flops): the
PE's own hierarchy, so no separate synthesis of the parts is needed.
"""

from collections import Counter

__all__ = ["CATEGORIES", "modules_of", "leaf_cells", "breakdown", "pe_report",
           "throughput", "format_table"]

#: The parts of an engine, in report order, and the ``engine`` instances they hold.
CATEGORIES = {"array": ("array",), "buffers": ("spad", "acc"),
              "post-processing": ("storer",), "controller": ()}


def modules_of(stat):
    """``stat["modules"]`` keyed by plain module names (Yosys escapes some with ``\\``)."""
    return {name.lstrip("\\"): m for name, m in stat["modules"].items()}


def leaf_cells(mods, name, _memo=None):
    """Library cells (and black boxes) under module ``name``, every instance counted, as a
    ``Counter`` of cell type."""
    memo = {} if _memo is None else _memo
    if name in memo:
        return memo[name]
    total = Counter()
    for cell, n in mods[name].get("num_cells_by_type", {}).items():
        if cell in mods:
            for leaf, k in leaf_cells(mods, cell, memo).items():
                total[leaf] += n * k
        else:
            total[cell] += n
    memo[name] = total
    return total


def _area(cells, areas):
    return sum(n * areas.get(cell, 0.0) for cell, n in cells.items())


def breakdown(mods, top, kind):
    """``{part: µm²}`` of :data:`CATEGORIES` (an array is all ``array``); the parts sum to
    the design's area."""
    total = mods[top]["area"]
    if kind == "array":
        return {"array": total}
    engine = f"{top}.engine"
    parts = dict.fromkeys(CATEGORIES, 0.0)
    for sub, n in mods[engine].get("num_cells_by_type", {}).items():
        if sub not in mods:
            continue
        instance = sub[len(engine) + 1:].split(".")[0] if sub.startswith(engine + ".") else ""
        part = next((p for p, names in CATEGORIES.items() if instance in names),
                    "controller")
        parts[part] += n * mods[sub]["area"]
    parts["controller"] += total - sum(parts.values())
    return parts


def pe_report(mods, top, lib):
    """One PE's ``cells``, ``area_um2``, ``flip_flops``, ``clock_gates`` and the ``shares``
    (fractions of its area) of its ``registers`` (flip-flops and clock-gating cells),
    ``multiplier``, ``adder`` and ``other`` logic; ``None`` if the design has no module
    ``<top>_pe``."""
    pe = f"{top}_pe"
    if pe not in mods:
        return None
    areas = {name: c.area for name, c in lib.cells.items()}
    seq = {name for name, c in lib.cells.items() if c.sequential}
    gates = {name for name, c in lib.cells.items() if c.gate_enable}
    cells = leaf_cells(mods, pe)
    total = _area(cells, areas)

    def comb(name):
        if name not in mods:
            return 0.0
        return _area(Counter({c: n for c, n in leaf_cells(mods, name).items()
                              if c not in seq}), areas)
    regs = _area(Counter({c: n for c, n in cells.items() if c in seq}), areas)
    mul, add = comb(f"{pe}.inner.mul"), comb(f"{pe}.inner.add")
    shares = {"registers": regs, "multiplier": mul, "adder": add,
              "other": total - regs - mul - add}
    return {"module": pe, "cells": sum(cells.values()), "area_um2": round(total, 1),
            "flip_flops": sum(n for c, n in cells.items() if c in seq and c not in gates),
            "clock_gates": sum(n for c, n in cells.items() if c in gates),
            "area_um2_by_part": {k: round(v, 1) for k, v in shares.items()},
            "shares": {k: round(v / total, 3) if total else 0.0 for k, v in shares.items()}}


def throughput(cfg, fmax_mhz, area_um2):
    """Peak GOP/s at ``fmax_mhz`` (two operations, a multiply and an add, per MAC per cycle,
    ``rows * cols`` MACs) and GOP/s per mm²."""
    gops = 2 * cfg.rows * cfg.cols * fmax_mhz / 1000
    return {"peak_gops": round(gops, 2),
            "gops_per_mm2": round(gops / (area_um2 / 1e6), 3) if area_um2 else None}


def _shorten(text, width):
    return text if len(text) <= width else "…" + text[-(width - 1):]


def format_table(report):
    """The report as a few lines of text."""
    a, t = report["area"], report["timing"]
    lines = [f"{report['design']} on {report['library']} (typical corner, after synthesis "
             "and fanout buffering)",
             f"  area {a['total_um2']:,.0f} um2 = {a['total_mm2']:.4f} mm2 "
             f"({report['cells']['total']:,} cells, "
             f"{report['cells']['buffers_added']:,} fanout buffers added, "
             + (f"{report['cells']['clock_gates']:,} clock-gating cells"
                if report["clock_gating"]["enabled"] else "no clock gating") + ")"]
    for part, um2 in a["parts_um2"].items():
        share = um2 / a["total_um2"] if a["total_um2"] else 0
        lines.append(f"    {part:<16}{um2:>16,.0f} um2 {100 * share:5.1f}%")
    mem = report["memories"]
    if mem:
        for m in mem:
            what = (f"{m['macros']} x {m['macro']} each ({m['area_um2']:,.0f} um2, access "
                    f"{m['access_ns']} ns)" if m["kind"] == "sram" else "flip-flops")
            lines.append(f"    memory {m['width']}x{m['depth']} {m['read_ports']}R "
                         f"x{m['instances']}: {what}")
    pe = report["pe"]
    if pe:
        s = pe["shares"]
        gated = f", {pe['clock_gates']} clock gates" if pe.get("clock_gates") else ""
        lines.append(f"  PE: {pe['cells']} cells, {pe['area_um2']:,.0f} um2 ({pe['flip_flops']} "
                     f"flip-flops{gated}): registers {100 * s['registers']:.0f}%, multiplier "
                     f"{100 * s['multiplier']:.0f}%, adder {100 * s['adder']:.0f}%, other "
                     f"{100 * s['other']:.0f}%")
    if t is None:
        lines.append("  timing: no constrained path")
    else:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  clock {t['period_ns']:g} ns: worst slack {t['slack_ns']:+.3f} ns "
                     f"({verdict}); logic achieves {t['achievable_ns']:.3f} ns = "
                     f"{t['logic_fmax_mhz']:.1f} MHz")
        if t.get("macro_limit_mhz"):
            lines.append(f"  SRAM macros allow at most {t['macro_limit_mhz']:.1f} MHz "
                         f"(minimum period {t['macro_min_period_ns']} ns)")
        tp = report["throughput"]
        lines.append(f"  Fmax {t['fmax_mhz']:.1f} MHz: peak {tp['peak_gops']:,.1f} GOP/s, "
                     f"{tp['gops_per_mm2']:,.2f} GOP/s per mm2")
        w = t["worst_stage"]
        lines.append(f"  critical path, {t['logic_levels']} logic levels:")
        lines.append(f"    from {_shorten(t['startpoint'], 84)}")
        lines.append(f"    to   {_shorten(t['endpoint'], 84)}")
        if w:
            lines.append(f"    slowest stage {w['cell']} {w['delay_ns']:.3f} ns "
                         f"(load {w['load_pf']} pF, slew {w['slew_ns']} ns)")
    c = report.get("timing_checks")
    if c:
        lines.append(f"  timing checks: {c['unclocked_pins']} register pins without a clock, "
                     f"{c['unconstrained_endpoints']} unconstrained endpoints")
    wall = report["wall_s"]
    lines.append("  wall time " + ", ".join(f"{k} {v:.1f} s" for k, v in wall.items()))
    return "\n".join(lines)
