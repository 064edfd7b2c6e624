"""Reading what Yosys and nextpnr say about a design, and the build report made of it.

nextpnr's ``--report`` JSON gives each cell type's use and the device's supply
(``utilization``), the Fmax of each clock (``fmax``) and the critical path of each clock pair
(``critical_paths``, a list of clock-to-q, routing, logic and setup segments). When the
design does not fit, nextpnr stops before writing it; its log still has the "Device
utilisation" table, which :func:`log_utilization` reads. Yosys's ``stat -json`` gives the
netlist's cell counts.
"""

import re

from .devices import KINDS

__all__ = ["clean_name", "log_utilization", "log_error", "netlist_cells", "resources",
           "critical_path", "timing", "format_table"]

# Yosys and nextpnr name a mapped cell after the net it drives plus the cell types and pins
# it was reached through (`engine.acc.mem.0.1_DOB9_LUT4_Z`, `...$CCU2_COMB0`): cut at the
# first upper-case cell or pin name to leave the design's own signal.
_SUFFIX = re.compile(r"[_$][A-Z][A-Z0-9]+(?=[_$]|$)")
# Amaranth's instance of the design inside the harness.
_HARNESS_PREFIX = "dut."


def clean_name(cell):
    """The design's signal behind a mapped cell name: ``dut.engine.acc.mem.0.1_DOB9_LUT4_Z``
    is ``engine.acc.mem.0.1``."""
    if cell.startswith(_HARNESS_PREFIX):
        cell = cell[len(_HARNESS_PREFIX):]
    match = _SUFFIX.search(cell)
    return cell[:match.start()] if match else cell


# Gowin's I/O buffer cells, one pin each.
_GOWIN_IO_BUFFERS = ("IBUF", "OBUF", "TBUF", "IOBUF")

_UTIL_LINE = re.compile(r"^Info:\s+(\S+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")


def log_utilization(log_text):
    """The first "Device utilisation" table of a nextpnr log, as the report JSON's
    ``utilization`` (``{cell type: {"used", "available"}}``); empty if there is none."""
    table = {}
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Info: Device utilisation:"):
            for row in lines[i + 1:]:
                match = _UTIL_LINE.match(row)
                if not match:
                    break
                table[match[1]] = {"used": int(match[2]), "available": int(match[3])}
            break
    return table


def log_error(log_text):
    """The first ``ERROR:`` line of a tool's log, without the prefix (``None`` if none)."""
    for line in log_text.splitlines():
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()
    return None


def netlist_cells(stat):
    """Cell counts by type from Yosys's ``stat -json`` output (a parsed dict), without
    Yosys's own bookkeeping cells."""
    cells = stat["design"]["num_cells_by_type"]
    return {name: count for name, count in sorted(cells.items()) if not name.startswith("$")}


def resources(family, utilization, cells):
    """Resources by kind: ``{kind: {cell type: {"used", "available"}}}``, kinds in
    :data:`~hw.fpga.devices.KINDS` order.

    Each kind lists its headline cell type (the first of the family's ``kinds`` of that kind)
    and every other type that is used. An iCE40 logic cell holds a LUT and a flip-flop, so its
    flip-flops are counted from the netlist (``SB_DFF*``, out of one per logic cell). Gowin's
    I/O pins are counted from the netlist's buffers where nextpnr's table counts fewer.
    """
    by_kind = {}
    for cell_type, kind in family.kinds.items():
        if cell_type not in utilization:
            continue
        entry = by_kind.setdefault(kind, {})
        use = utilization[cell_type]
        if not entry or use["used"]:
            entry[cell_type] = {"used": use["used"], "available": use["available"]}
    if family.name == "ice40" and "ICESTORM_LC" in utilization:
        ffs = sum(n for name, n in cells.items() if name.startswith("SB_DFF"))
        by_kind["ff"] = {"SB_DFF*": {"used": ffs,
                                     "available": utilization["ICESTORM_LC"]["available"]}}
    if family.name == "gowin" and "IOB" in utilization:
        # nextpnr-himbaechel's table leaves out the pins of tristate buffers (TBUF, what an
        # Amaranth output buffer becomes), which do sit in IOBs: count the buffers.
        pins = sum(n for name, n in cells.items() if name in _GOWIN_IO_BUFFERS)
        use = by_kind["io"]["IOB"]
        use["used"] = max(use["used"], pins)
    return {kind: by_kind[kind] for kind in KINDS if kind in by_kind}


def critical_path(path):
    """Summary of one nextpnr critical path (its list of segments): where it starts and ends
    (cell and pin, and the design signal behind each cell), its length in ns, how much of it
    is logic and routing, and its logic levels."""
    first, last = path[0]["from"], path[-1]["to"]
    logic = [seg for seg in path if seg["type"] == "logic"]
    return {
        "from": clean_name(first["cell"]),
        "to": clean_name(last["cell"]),
        "from_cell": f"{first['cell']}.{first['port']}",
        "to_cell": f"{last['cell']}.{last['port']}",
        "delay_ns": round(sum(seg["delay"] for seg in path), 3),
        "logic_ns": round(sum(seg["delay"] for seg in logic), 3),
        "routing_ns": round(sum(seg["delay"] for seg in path if seg["type"] == "routing"), 3),
        "logic_levels": len(logic),
    }


def timing(pnr_report, freq_mhz):
    """Fmax against the request and the critical path of the slowest clock, from nextpnr's
    report JSON (a parsed dict). ``None`` entries when nextpnr timed no clock."""
    fmax = pnr_report.get("fmax", {})
    if not fmax:
        return {"clock": None, "requested_mhz": freq_mhz, "fmax_mhz": None, "met": None,
                "critical_path": None}
    clock = min(fmax, key=lambda name: fmax[name]["achieved"])
    achieved = fmax[clock]["achieved"]
    edge = f"posedge {clock}"
    paths = [p["path"] for p in pnr_report.get("critical_paths", [])
             if p["from"] == edge and p["to"] == edge and p["path"]]
    return {
        "clock": clean_name(clock),
        "requested_mhz": freq_mhz,
        "fmax_mhz": round(achieved, 2),
        "met": achieved >= freq_mhz,
        "critical_path": critical_path(paths[0]) if paths else None,
    }


def _shorten(text, width):
    return text if len(text) <= width else "…" + text[-(width - 1):]


def format_table(report):
    """The report as a few lines of text: the target, each resource with its use, Fmax and
    the critical path, the wall times."""
    target = f"{report['family']} {report['device']} ({report['part']})"
    lines = [f"{report['design']} on {target}, {report['method']}"]
    if not report["fits"]:
        # nextpnr quotes the mapped cell's whole name, hundreds of characters for a LUT deep
        # in a cone: the design's signal says enough here (report.json keeps it all).
        error = re.sub(r"cell '([^']+)'", lambda m: f"cell {clean_name(m[1])!r}",
                       report["error"])
        lines.append(f"DOES NOT FIT: {error}")
    if report.get("widelut") is False:
        lines.append("  synthesis: LUT4s only, no wide-LUT multiplexers (--no-widelut)")
    lines.append(f"  {'kind':<7}{'cell':<16}{'used':>9}{'available':>11}{'%':>7}")
    for kind, cell_types in report["resources"].items():
        for cell_type, use in cell_types.items():
            share = 100 * use["used"] / use["available"] if use["available"] else 0
            lines.append(f"  {kind:<7}{cell_type:<16}{use['used']:>9}{use['available']:>11}"
                         f"{share:>6.1f}%")
    if report.get("harness"):
        h = report["harness"]
        lines.append(f"  (the harness adds {h['ff']} FF and up to {h['lut']} LUT for "
                     f"{h['input_bits']} input and {h['output_bits']} output bits)")
    t = report["timing"]
    if t and t["fmax_mhz"] is not None:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  Fmax {t['fmax_mhz']:.1f} MHz on {t['clock']} (requested "
                     f"{t['requested_mhz']:g} MHz: {verdict})")
        cp = t["critical_path"]
        if cp:
            levels = cp["logic_levels"]
            lines.append(f"  critical path {cp['delay_ns']:.2f} ns ({levels} logic "
                         f"level{'s' * (levels != 1)}: {cp['logic_ns']:.2f} ns in logic, "
                         f"{cp['routing_ns']:.2f} ns in routing)")
            lines.append(f"    from {_shorten(cp['from'], 80)}")
            lines.append(f"    to   {_shorten(cp['to'], 80)}")
    if report.get("seed_sweep"):
        lines.append(f"  seed sweep, kept seed {report['seed']}: " + ", ".join(
            f"seed {t['seed']} {t['fmax_mhz']} MHz" for t in report["seed_sweep"]))
    wall = report["wall_s"]
    lines.append("  wall time " + ", ".join(f"{step} {secs:.1f} s" for step, secs in
                                            wall.items()))
    return "\n".join(lines)
