"""Static timing with OpenSTA: the set-up, the script, and reading its report.

The set-up (:func:`sta_script`) is what a block inside a chip would see:

- one clock on ``clk`` at the requested period, ideal (no clock tree before layout): it
  reaches every flip-flop with no delay, through the clock-gating cells too (OpenSTA follows
  a gate's ``CLK`` -> ``GCLK`` arc, so the flip-flops behind it are clocked by ``clk``);
  each gate's enable has the library's setup check against ``CLK`` (a clock-gating check
  endpoint, timed like any register's input);
- every other input arrives :data:`IO_FRACTION` of the period after the clock edge and every
  output is needed that long before the next one (OpenLane's default ``IO_PCT``), so a path
  through a port has the rest of the cycle;
- inputs driven by the library's ``inv_2``-like cell (:func:`~hw.asic.liberty.driving_cell`),
  outputs loaded with :data:`OUTPUT_LOAD_PF` (OpenLane's default ``SYNTH_CAP_LOAD``);
- the library's default wire-load model and mode where it has one (SKY130 HD: ``Small``,
  ``top``): an estimate of each net's wire from its fanout.

OpenSTA links the hierarchical netlist itself. The Debian build is a 2019 one (2.0.17): it has
``report_checks`` (``-path_delay``, ``-format full``, ``-fields``, ``-digits``),
``report_wns`` and ``report_tns``; ``report_worst_slack`` takes no ``-max``. Its
``check_setup`` counts the register pins no clock reaches and the endpoints with no
constraint (:func:`parse_setup_check`): none, with the set-up above.
"""

import re
import shutil

from sim.tools import ToolMissing

__all__ = ["IO_FRACTION", "OUTPUT_LOAD_PF", "find_sta", "sta_script", "parse_report",
           "parse_setup_check"]

#: Input and output delays, as a fraction of the clock period.
IO_FRACTION = 0.2
#: Load on each output, pF (OpenLane's ``SYNTH_CAP_LOAD``, 33.442 fF).
OUTPUT_LOAD_PF = 0.033442


def find_sta():
    """The command (a list) that runs OpenSTA."""
    path = shutil.which("sta")
    if path is None:
        raise ToolMissing("OpenSTA not found: no 'sta' on PATH (apt-get install opensta)")
    return [path]


def sta_script(libraries, netlist, top, period_ns, driving, wire_load=None,
               wire_load_mode=None):
    """The Tcl script that times ``netlist`` (module ``top``) at ``period_ns``.

    ``libraries``: Liberty files to read; ``driving``: ``(cell, pin)`` driving the inputs;
    ``wire_load`` / ``wire_load_mode``: the model to use (``None``: none)."""
    delay = round(IO_FRACTION * period_ns, 4)
    inputs = "[delete_from_list [all_inputs] [get_ports clk]]"
    lines = [f"read_liberty {lib}" for lib in libraries]
    lines += [f"read_verilog {netlist}", f"link_design {top}"]
    if wire_load:
        lines.append(f'set_wire_load_model -name "{wire_load}"')
    if wire_load_mode:
        lines.append(f"set_wire_load_mode {wire_load_mode}")
    lines += [
        f"create_clock -name clk -period {period_ns:g} [get_ports clk]",
        f"set_input_delay {delay:g} -clock clk {inputs}",
        f"set_output_delay {delay:g} -clock clk [all_outputs]",
        f"set_driving_cell -lib_cell {driving[0]} -pin {driving[1]} {inputs}",
        f"set_load {OUTPUT_LOAD_PF} [all_outputs]",
        'puts "== checks"',
        "report_checks -path_delay max -format full -fields {cap slew} -digits 3",
        'puts "== wns"',
        "report_wns -digits 3",
        "report_tns -digits 3",
        'puts "== setup"',
        "check_setup -verbose -unconstrained_endpoints -no_clock",
        'puts "== end"',
        "exit",
        "",
    ]
    return "\n".join(lines)


_STAGE = re.compile(r"^\s*(?P<cap>[\d.]+)?\s+(?P<slew>[\d.]+)\s+(?P<delay>-?[\d.]+)\s+"
                    r"(?P<time>-?[\d.]+)\s+(?P<edge>[\^v])\s+(?P<pin>\S+)\s+\((?P<cell>[^)]+)\)")


def parse_report(text, period_ns):
    """The worst path of an OpenSTA report from :func:`sta_script`'s run.

    Returns ``None`` when there is no constrained path, else a dict: ``slack_ns``,
    ``period_ns``, ``achievable_ns`` (the period minus the slack), ``startpoint``,
    ``endpoint``, ``arrival_ns``, ``required_ns``, ``logic_levels`` (cells the path goes
    through), ``worst_stage`` (its slowest cell: pin, cell type, delay, load and slew) and
    ``tns_ns``."""
    start = re.search(r"^Startpoint:\s*(\S+)(?:\s*\n\s+)?\s*\(([^)]*)\)", text, re.M)
    end = re.search(r"^Endpoint:\s*(\S+)(?:\s*\n\s+)?\s*\(([^)]*)\)", text, re.M)
    slack = re.search(r"^\s*(-?[\d.]+)\s+slack \((MET|VIOLATED)\)", text, re.M)
    if not (start and end and slack):
        return None
    arrival = re.search(r"^\s*(-?[\d.]+)\s+data arrival time", text, re.M)
    required = re.search(r"^\s*(-?[\d.]+)\s+data required time", text, re.M)
    tns = re.search(r"^tns\s+(-?[\d.]+)", text, re.M)
    path = text[start.start():slack.end()].split("data arrival time")[0]
    cells = [m for m in map(_STAGE.match, path.splitlines())
             if m and m["cell"] not in ("in", "out")]
    worst = max(cells, key=lambda m: float(m["delay"]), default=None)
    instances = list(dict.fromkeys(m["pin"].rsplit("/", 1)[0] for m in cells))
    gates = [i for i in instances if i not in (start[1], end[1])]
    s = float(slack[1])
    return {
        "period_ns": period_ns,
        "slack_ns": s,
        "met": s >= 0,
        "achievable_ns": round(period_ns - s, 3),
        "startpoint": start[1],
        "startpoint_kind": start[2],
        "endpoint": end[1],
        "endpoint_kind": end[2],
        "arrival_ns": float(arrival[1]) if arrival else None,
        "required_ns": float(required[1]) if required else None,
        "logic_levels": len(gates),
        "worst_stage": None if worst is None else {
            "pin": worst["pin"], "cell": worst["cell"], "delay_ns": float(worst["delay"]),
            "load_pf": float(worst["cap"]) if worst["cap"] else None,
            "slew_ns": float(worst["slew"])},
        "tns_ns": float(tns[1]) if tns else None,
    }


def parse_setup_check(text, keep=20):
    """``{"unclocked_pins": n, "unconstrained_endpoints": n, "unconstrained": [pin, ...]}``
    from the ``check_setup`` part of :func:`sta_script`'s report (OpenSTA says nothing where
    both counts are 0; ``unconstrained`` lists the first ``keep`` such endpoints); ``None``
    where the report has no such part."""
    part = re.search(r"^== setup\n(.*?)^== end", text, re.M | re.S)
    if not part:
        return None
    counts = {}
    for key, what in (("unclocked_pins", r"unclocked register/latch pins?"),
                      ("unconstrained_endpoints", r"unconstrained endpoints?")):
        m = re.search(r"There (?:are|is) (\d+) " + what + r"\.?\n((?:  \S.*\n)*)",
                      part[1] + "\n")
        counts[key] = int(m[1]) if m else 0
        if key == "unconstrained_endpoints":
            counts["unconstrained"] = m[2].split()[:keep] if m else []
    return counts
