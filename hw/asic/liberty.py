"""The standard-cell library: where it is, checking it, and what the flow reads from it.

The flow takes a Liberty file (``.lib`` or ``.lib.gz``) as an argument; tests and benchmarks
use :func:`default_liberty`: ``HW_LIBERTY`` if set, else the SkyWater SKY130 HD typical
corner in ``../shared/pdk/`` beside the checkout (team-provided data, never committed). Yosys
and OpenSTA read plain text, so :func:`decompress` writes the library into the build folder.

:func:`read_cells` is a small reader of the parts of a Liberty file the flow needs: each
cell's area, ``dont_use`` flag and pins (direction, function), and the library's default
wire-load model. It is not a general Liberty parser: it follows the group nesting by braces
and reads the simple attributes it knows.
"""

import gzip
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ..config import ConfigError

__all__ = ["DEFAULT_NAME", "CLOCK_GATES", "DONT_USE", "Cell", "Library", "default_liberty",
           "check_liberty", "decompress", "read_cells", "buffer_cell", "driving_cell",
           "clock_gate_enables"]

#: The library tests and benchmarks read, in ``<repo>/../shared/pdk/``.
DEFAULT_NAME = "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"

#: The integrated clock-gating cells (a latch and an AND: ``GCLK = CLK & latched GATE``):
#: only Yosys's ``clockgate`` pass places them (:func:`hw.asic.synth.synth_script`); mapping
#: and buffering leave them out with the rest of :data:`DONT_USE`.
CLOCK_GATES = ("*__sdlclkp*", "*__dlclkp*")

#: Cells synthesis must not pick, as glob patterns. SKY130's ``lpflow`` cells are for power
#: gating (isolation, keep-alive buffers on another supply); probes, delay and clock-delay
#: cells, taps, fillers, decaps and diodes are for layout; latches are not used, and the
#: clock-gating cells (:data:`CLOCK_GATES`) go in by their own pass. OpenLane leaves out the
#: same kinds.
DONT_USE = ("*_lpflow_*", "*__probe*", "*__dlygate*", "*__dlymetal*", "*__clkdlybuf*",
            "*__tap*", "*__fill*", "*__decap*", "*__diode*", "*__macro_sparecell*",
            "*__dlxbn*", "*__dlxbp*", "*__dlxtn*", "*__dlxtp*", "*__dlrbn*", "*__dlrbp*",
            "*__dlrtn*", "*__dlrtp*") + CLOCK_GATES


def default_liberty(root=None):
    """The library for tests and benchmarks: ``$HW_LIBERTY`` if set, else
    ``<root>/../shared/pdk/`` :data:`DEFAULT_NAME` (``root``: this checkout). The path may
    not exist: :func:`check_liberty` says so."""
    env = os.environ.get("HW_LIBERTY")
    if env:
        return Path(env)
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    return root.parent / "shared" / "pdk" / DEFAULT_NAME


def check_liberty(path):
    """Raise :class:`~hw.config.ConfigError` (parameter ``liberty``) unless ``path`` names a
    readable Liberty file (``.lib`` or ``.lib.gz`` text with a ``library`` group)."""
    allowed = "a readable Liberty file (.lib or .lib.gz)"
    if path is None:
        raise ConfigError("liberty", None, allowed + f"; none given and the default "
                          f"{default_liberty()} is absent")
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", errors="replace") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise ConfigError("liberty", str(path), allowed + " (no such file)") from None
    except IsADirectoryError:
        raise ConfigError("liberty", str(path), allowed + " (a folder)") from None
    except (OSError, EOFError) as e:
        raise ConfigError("liberty", str(path),
                          allowed + f" ({getattr(e, 'strerror', None) or e})") from None
    if not re.search(r"^\s*library\s*\(", head, re.M):
        raise ConfigError("liberty", str(path), allowed + " (no library group at its start)")


def decompress(path, folder):
    """Copy the library ``path`` into ``folder`` as plain text; return the new file's name
    (relative to ``folder``)."""
    path = Path(path)
    name = path.name[:-3] if path.suffix == ".gz" else path.name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as src, open(Path(folder) / name, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return name


@dataclass(frozen=True)
class Cell:
    """One Liberty cell: ``area`` (µm² in SKY130), ``inputs`` and ``outputs`` (pin names),
    ``functions`` (output pin -> Boolean function text), ``dont_use``, ``sequential``, and for
    an integrated clock-gating cell (``clock_gating_integrated_cell``) its enable pin,
    ``gate_enable`` (else ``None``)."""
    name: str
    area: float
    inputs: tuple
    outputs: tuple
    functions: dict = field(default_factory=dict, compare=False)
    dont_use: bool = False
    sequential: bool = False
    gate_enable: str = None


@dataclass(frozen=True)
class Library:
    """The cells of a Liberty file by name, and its default wire-load model and mode
    (``None`` where it has none)."""
    name: str
    cells: dict
    wire_load: str = None
    wire_load_mode: str = None


_GROUP = re.compile(r'(\w+)\s*\(([^)]*)\)\s*\{')
_ATTR = re.compile(r'(\w+)\s*:\s*"?([^";{}\n]*)"?\s*;?')


def read_cells(path):
    """The :class:`Library` of the plain-text Liberty file ``path``."""
    text = Path(path).read_text(errors="replace")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("\\\n", " ")
    stack = []      # (group kind, name)
    lib_name, wire_load, mode = None, None, None
    cells = {}
    cur = pin = None
    token = re.compile(r'\w+\s*\([^)]*\)\s*\{|\w+\s*:\s*("[^"]*"|[^;{}\n]*);?|\}')
    for m in token.finditer(text):
        tok = m.group(0)
        if tok == "}":
            kind, _ = stack.pop() if stack else (None, None)
            if kind == "cell" and cur is not None:
                cells[cur["name"]] = Cell(cur["name"], cur["area"], tuple(cur["inputs"]),
                                          tuple(cur["outputs"]), cur["functions"],
                                          cur["dont_use"], cur["sequential"],
                                          cur["gate_enable"])
                cur = None
            elif kind in ("pin", "bus") and len(stack) == 2:
                pin = None
            continue
        g = _GROUP.match(tok)
        if g:
            kind, name = g[1], g[2].strip().strip('"')
            stack.append((kind, name))
            if kind == "library":
                lib_name = name
            elif kind == "cell" and len(stack) == 2:
                cur = {"name": name, "area": 0.0, "inputs": [], "outputs": [],
                       "functions": {}, "dont_use": False, "sequential": False,
                       "gate_enable": None}
            elif kind in ("ff", "latch", "statetable") and cur is not None:
                cur["sequential"] = True
            elif kind in ("pin", "bus") and cur is not None and len(stack) == 3:
                pin = name
            continue
        a = _ATTR.match(tok)
        if not a:
            continue
        key, value = a[1], a[2].strip()
        depth = len(stack)
        if depth == 1:
            if key == "default_wire_load":
                wire_load = value
            elif key == "default_wire_load_mode":
                mode = value
        elif cur is not None and depth == 2:
            if key == "area":
                cur["area"] = float(value)
            elif key == "dont_use":
                cur["dont_use"] = value.lower() == "true"
        elif cur is not None and pin is not None and depth == 3:
            if key == "direction":
                (cur["inputs"] if value == "input" else cur["outputs"]).append(pin)
            elif key == "function":
                cur["functions"][pin] = value
            elif key == "clock_gate_enable_pin" and value.lower() == "true":
                cur["gate_enable"] = pin
    return Library(lib_name, cells, wire_load, mode)


def _usable(cell, dont_use):
    return not cell.dont_use and not any(fnmatch(cell.name, p) for p in dont_use)


def buffer_cell(lib, dont_use=DONT_USE):
    """``(cell, input pin, output pin)`` of the buffer the flow builds fanout trees of: of
    the library's non-inverting one-input cells (``X = A``), not clock buffers where there are
    others, the one a quarter of the way up by area (SKY130 HD: ``buf_4``): a leaf of the
    tree drives at most a few tens of femtofarads."""
    bufs = [c for c in lib.cells.values()
            if _usable(c, dont_use) and not c.sequential and len(c.inputs) == 1
            and len(c.outputs) == 1
            and c.functions.get(c.outputs[0], "").strip("() ") == c.inputs[0]]
    plain = [c for c in bufs if "clk" not in c.name.lower()] or bufs
    if not plain:
        raise ConfigError("liberty", lib.name, "a library with a buffer cell (X = A)")
    plain.sort(key=lambda c: (c.area, c.name))
    cell = plain[len(plain) // 4]
    return cell.name, cell.inputs[0], cell.outputs[0]


def driving_cell(lib, dont_use=DONT_USE):
    """``(cell, output pin)`` of the cell assumed to drive the design's inputs: the second
    smallest inverter by area and name, not a clock inverter where there are others (SKY130
    HD: ``inv_2``, what OpenLane assumes)."""
    invs = [c for c in lib.cells.values()
            if _usable(c, dont_use) and not c.sequential and len(c.inputs) == 1
            and len(c.outputs) == 1
            and re.fullmatch(r"[!(]*\s*!?\(?" + re.escape(c.inputs[0]) + r"\)?'?\s*\)?",
                             c.functions.get(c.outputs[0], "")) is not None
            and ("!" in c.functions[c.outputs[0]] or "'" in c.functions[c.outputs[0]])]
    invs = [c for c in invs if "clk" not in c.name.lower()] or invs
    if not invs:
        raise ConfigError("liberty", lib.name, "a library with an inverter cell (Y = !A)")
    invs.sort(key=lambda c: (c.area, c.name))
    cell = invs[min(1, len(invs) - 1)]
    return cell.name, cell.outputs[0]


def clock_gate_enables(lib):
    """``{(cell, pin)}``: the enable pin of each of ``lib``'s integrated clock-gating cells.
    Such a pin is data (the register's enable), even where its name (SKY130's ``GATE``) is a
    latch's clock pin elsewhere."""
    return frozenset((c.name, c.gate_enable) for c in lib.cells.values() if c.gate_enable)
