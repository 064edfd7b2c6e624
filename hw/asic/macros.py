"""Memories in the ASIC flow: flip-flops below a size, SRAM macros above it.

The engine's buffers are instances of RAM modules written once per shape
(:mod:`hw.engine.ram`: ``<prefix>_ram_<W>x<depth>_<ports>``, one write port, ``len(ports)``
synchronous read ports). For each, the flow decides:

- at most ``sram_above`` bits (:data:`DEFAULT_SRAM_ABOVE`): flip-flops, synthesised from the
  module's Verilog like any other logic;
- above: SRAM macros, left as a black box. The RAM module becomes one cell of a small
  Liberty library the flow writes (:func:`liberty_text`), with the area of the macros that
  build it and the macro's access time as the clock-to-data delay of its read ports, so
  Yosys's area and OpenSTA's timing both count it.

A RAM of ``W`` bits by ``D`` words is built of ``ceil(W / w) * ceil(D / d)`` macros of ``w``
bits by ``d`` words, the macro chosen for the least area; a dual-port (``1rw1r``) macro gives
one write and one read port, so a RAM with ``n`` read ports takes ``n`` copies, each written.
Not counted: the read multiplexer between the banks of a deep RAM and the bypass of a
transparent read port (a few gates per bit, next to macros of 0.2 mm² each).

The published macros (:data:`SKY130_MACROS`) are OpenRAM's SkyWater 130 nm macros from
https://github.com/VLSIDA/sky130_sram_macros: the area is the macro's LEF footprint (``SIZE``,
commit 965df15), the access time the clock-to-``dout1`` delay at the largest load of the
typical-corner (TT, 1.8 V, 25 °C) Liberty file characterised with SPICE, and the minimum
period the clock's ``minimum_period`` in the same file (commit 261a97b for the 1 KB macro,
0178860 for the 2 KB one). The later Liberty files of that repository state figures from
OpenRAM's analytical model (0.3 ns access, "results may not be precise"); the flow uses
the simulated ones. A user gives their own list with ``--macros FILE`` (:func:`load_macros`).
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError

__all__ = ["DEFAULT_SRAM_ABOVE", "Macro", "SKY130_MACROS", "RamPlan", "ram_shape",
           "load_macros", "plan_ram", "liberty_text", "MACROS_FORMAT"]

#: RAMs of more bits than this are SRAM macros by default: where flip-flops and a macro cost
#: about the same. Measured (``--rows 1 --spad-kib 1 --acc-kib 1 --sram-above 4096``): two
#: 8x512 RAMs in flip-flops, with their write decode and read multiplexers, take about 42 µm²
#: a bit in SKY130 HD, so 4 096 bits about 0.18 mm², the smallest published macro 0.19 mm².
DEFAULT_SRAM_ABOVE = 4096


@dataclass(frozen=True)
class Macro:
    """One SRAM macro: ``width`` bits by ``depth`` words, its ``area_um2``, ``access_ns``
    (clock to read data), ``min_period_ns`` (its fastest clock), ``read_ports`` besides
    the write port (a ``1rw1r`` macro: one), and ``source`` (where the figures come from)."""
    name: str
    width: int
    depth: int
    area_um2: float
    access_ns: float
    min_period_ns: float
    read_ports: int = 1
    source: str = ""


_VLSIDA = "https://github.com/VLSIDA/sky130_sram_macros"

#: OpenRAM SkyWater 130 nm macros (see the module docstring for the figures' sources).
SKY130_MACROS = (
    Macro("sky130_sram_1kbyte_1rw1r_32x256_8", 32, 256, 479.78 * 397.5, 3.164, 6.875, 1,
          f"{_VLSIDA}: LEF SIZE 479.78 x 397.5 um (965df15); TT 1.8 V 25 C Liberty "
          "(261a97b): clk1 to dout1 3.024-3.164 ns, minimum_period 6.875 ns"),
    Macro("sky130_sram_2kbyte_1rw1r_32x512_8", 32, 512, 683.1 * 416.54, 2.505, 5.156, 1,
          f"{_VLSIDA}: LEF SIZE 683.1 x 416.54 um (965df15); TT 1.8 V 25 C Liberty "
          "(0178860): clk1 to dout1 2.394-2.505 ns, minimum_period 5.156 ns"),
)

#: What ``--macros FILE`` holds (the README and the error messages quote it).
MACROS_FORMAT = ('a JSON list of macros, each {"name": str, "width": bits, "depth": words, '
                 '"area_um2": number, "access_ns": number, "min_period_ns": number, '
                 '"read_ports": int (default 1), "source": str}')


def load_macros(path):
    """The macros of the JSON file ``path`` (:data:`MACROS_FORMAT`); a bad file is a
    :class:`~hw.config.ConfigError` for parameter ``macros``."""
    try:
        items = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError("macros", str(path), f"a readable file holding {MACROS_FORMAT} "
                          f"({e.strerror or e})") from None
    except ValueError as e:
        raise ConfigError("macros", str(path), f"{MACROS_FORMAT} (not JSON: {e})") from None
    if not isinstance(items, list) or not items:
        raise ConfigError("macros", str(path), MACROS_FORMAT)
    macros = []
    for item in items:
        try:
            macro = Macro(str(item["name"]), int(item["width"]), int(item["depth"]),
                          float(item["area_um2"]), float(item["access_ns"]),
                          float(item["min_period_ns"]), int(item.get("read_ports", 1)),
                          str(item.get("source", "")))
        except (TypeError, KeyError, ValueError):
            raise ConfigError("macros", str(path), MACROS_FORMAT +
                              f"; entry {item!r} is not") from None
        if min(macro.width, macro.depth, macro.read_ports) < 1 or \
                min(macro.area_um2, macro.access_ns, macro.min_period_ns) <= 0:
            raise ConfigError("macros", str(path), MACROS_FORMAT + f" with positive sizes, "
                              f"area and times; entry {item!r} is not")
        macros.append(macro)
    return tuple(macros)


_RAM_NAME = re.compile(r"_ram_(\d+)x(\d+)_([rt]+)$")


def ram_shape(module):
    """``(width, depth, read ports)`` of a RAM module of :mod:`hw.engine.ram` by its name, or
    ``None`` if ``module`` is not one."""
    m = _RAM_NAME.search(module)
    return (int(m[1]), int(m[2]), len(m[3])) if m else None


@dataclass(frozen=True)
class RamPlan:
    """How one RAM module is built: ``kind`` ``"ff"`` or ``"sram"``; for SRAM the
    ``macro``, ``count`` of macros, ``area_um2`` and ``access_ns``."""
    module: str
    width: int
    depth: int
    read_ports: int
    kind: str
    macro: Macro = None
    count: int = 0

    @property
    def bits(self):
        return self.width * self.depth

    @property
    def area_um2(self):
        return self.count * self.macro.area_um2 if self.macro else None

    def as_dict(self):
        d = {"module": self.module, "width": self.width, "depth": self.depth,
             "read_ports": self.read_ports, "bits": self.bits, "kind": self.kind}
        if self.macro:
            d.update(macro=self.macro.name, macros=self.count,
                     area_um2=round(self.area_um2, 1), access_ns=self.macro.access_ns,
                     min_period_ns=self.macro.min_period_ns, source=self.macro.source)
        return d


def plan_ram(module, sram_above=DEFAULT_SRAM_ABOVE, macros=SKY130_MACROS):
    """The :class:`RamPlan` of RAM module ``module`` (a name :func:`ram_shape` reads)."""
    width, depth, reads = ram_shape(module)
    if width * depth <= sram_above:
        return RamPlan(module, width, depth, reads, "ff")

    def build(macro):
        copies = math.ceil(reads / macro.read_ports)
        return math.ceil(width / macro.width) * math.ceil(depth / macro.depth) * copies
    macro = min(macros, key=lambda m: (build(m) * m.area_um2, m.access_ns))
    return RamPlan(module, width, depth, reads, "sram", macro, build(macro))


def _bus(name, width, direction, timing):
    if width == 1:
        return f"    pin({name}) {{\n      direction : {direction};\n{timing}    }}\n"
    return (f"    bus({name}) {{\n      bus_type : bus{width};\n      direction : {direction};\n"
            f"{timing}    }}\n")


def liberty_text(plans, library="hw_asic_macros"):
    """A Liberty library with one cell per SRAM :class:`RamPlan`, named as its RAM module,
    with the ports of :mod:`hw.engine.ram`: the area of its macros, the read data valid
    ``access_ns`` after the clock's rising edge, and the inputs captured at that edge
    (setup 0: the published figures are negative)."""
    plans = [p for p in plans if p.kind == "sram"]
    widths = sorted({max(1, (p.depth - 1).bit_length()) for p in plans} |
                    {p.width for p in plans})
    out = [f"library({library}) {{\n", '  delay_model : table_lookup;\n',
           '  time_unit : "1ns";\n', '  voltage_unit : "1V";\n', '  current_unit : "1mA";\n',
           '  capacitive_load_unit(1, pf);\n', '  pulling_resistance_unit : "1kohm";\n',
           '  leakage_power_unit : "1mW";\n', '  nom_voltage : 1.8;\n',
           '  nom_temperature : 25;\n', '  nom_process : 1.0;\n']
    out += [f"  {kind}_threshold_pct_{edge} : {pct};\n" for kind, pct in
            (("input", 50.0), ("output", 50.0), ("slew_lower", 10.0), ("slew_upper", 90.0))
            for edge in ("rise", "fall")]
    for w in widths:
        if w > 1:
            out.append(f"  type(bus{w}) {{\n    base_type : array;\n    data_type : bit;\n"
                       f"    bit_width : {w};\n    bit_from : {w - 1};\n    bit_to : 0;\n"
                       "    downto : true;\n  }\n")
    setup = ('      timing() {\n        related_pin : "clk";\n'
             '        timing_type : setup_rising;\n'
             '        rise_constraint(scalar) { values("0.0"); }\n'
             '        fall_constraint(scalar) { values("0.0"); }\n      }\n'
             '      capacitance : 0.007;\n')
    for p in plans:
        aw = max(1, (p.depth - 1).bit_length())
        t = p.macro.access_ns
        read = ('      timing() {\n        related_pin : "clk";\n'
                '        timing_type : rising_edge;\n'
                f'        cell_rise(scalar) {{ values("{t}"); }}\n'
                f'        cell_fall(scalar) {{ values("{t}"); }}\n'
                '        rise_transition(scalar) { values("0.1"); }\n'
                '        fall_transition(scalar) { values("0.1"); }\n      }\n')
        out.append(f"  cell({p.module}) {{\n    area : {p.area_um2:.3f};\n"
                   "    dont_touch : true;\n    dont_use : true;\n"
                   "    pin(clk) {\n      direction : input;\n      clock : true;\n"
                   "      capacitance : 0.007;\n    }\n")
        out.append(_bus("w_addr", aw, "input", setup))
        out.append(_bus("w_data", p.width, "input", setup))
        out.append(_bus("w_en", 1, "input", setup))
        for n in range(p.read_ports):
            out.append(_bus(f"r{n}_addr", aw, "input", setup))
            out.append(_bus(f"r{n}_en", 1, "input", setup))
            out.append(_bus(f"r{n}_data", p.width, "output", read))
        out.append("  }\n")
    out.append("}\n")
    return "".join(out)
