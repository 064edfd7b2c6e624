"""Tiles of PEs: the unit the Verilog export writes once per kind and instantiates.

Amaranth builds one netlist per converted module, and its time and memory grow with the
instances and nets in it: a 256×256 array written as one module of 65 536 PE instances and
their nets takes minutes. The grid is instead a grid of tiles of at most :data:`TILE` × TILE
PEs, and each tile module is written once per kind of tile (:func:`tile_module_name`: its
shape and how many of its PEs multiply on a DSP block). Since ``Config.dsp_muls`` counts PEs
row-major, a 256×256 array has two kinds of tile (one holding the DSP PEs, the rest) and the
top netlist holds 256 tile instances, not 65 536 PEs.

A PE class names how its ports chain (``PASS_RIGHT``, ``PASS_DOWN``, ``PASS_UP``: lane
``x`` goes from ``x_out`` of one PE to ``x_in`` of its neighbour); any other input is shared by
every PE (``load``, ``load_bank``). A tile exposes each chained lane at its edges as an array
with one element per tile row (``PASS_RIGHT``) or column (the others) and adds no register of
its own, so the grid's timing is unchanged.
"""

from amaranth import Cat, Module, Shape, unsigned
from amaranth.hdl import EnableInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .blackbox import BlackBox

__all__ = ["TILE", "PETile", "TileGrid", "tile_dsp", "tile_module_name", "pe_module_name",
           "tile_verilog"]

#: Most PE rows and columns of one tile: 256 PEs, which Amaranth converts in a few seconds;
#: a 256×256 array is then 16×16 tiles.
TILE = 16


def pe_module_name(pe_module, logic_mul):
    """The Verilog module of a black-box PE: ``pe_module``, or ``<pe_module>_logic`` for PEs
    whose multiplier is built from logic (``Config.dsp_muls``)."""
    return f"{pe_module}_logic" if logic_mul else pe_module


def _lanes(pe_class):
    return {**{lane: "right" for lane in pe_class.PASS_RIGHT},
            **{lane: "down" for lane in pe_class.PASS_DOWN},
            **{lane: "up" for lane in pe_class.PASS_UP}}


def tile_dsp(cfg, row, col, rows, cols):
    """Per row of the ``rows × cols`` tile whose top left PE is ``(row, col)``: how many of its
    PEs, from the tile's left, multiply on a DSP block (``Config.logic_mul``, row-major, makes
    them a prefix of every row)."""
    dsp = []
    for r in range(row, row + rows):
        logic = [cfg.logic_mul(r, c) for c in range(col, col + cols)]
        n = logic.index(True) if True in logic else cols
        if any(not flag for flag in logic[n:]):
            raise ValueError(f"row {r} mixes DSP and logic multipliers out of order")
        dsp.append(n)
    return tuple(dsp)


def tile_module_name(pe_module, rows, cols, dsp):
    """The Verilog module of a ``rows × cols`` tile of black-box PEs whose rows have ``dsp``
    DSP multipliers each (:func:`tile_dsp`): ``<pe_module>_tile<rows>x<cols>``, then
    ``_logic`` if none is a DSP, or ``_dsp<n>`` if ``n`` of them are, but not all. ``n`` fixes
    the tile's kind: DSP rows come first, then at most one partly DSP row."""
    name = f"{pe_module}_tile{rows}x{cols}"
    n = sum(dsp)
    if n == 0:
        return name + "_logic"
    if n < rows * cols:
        return name + f"_dsp{n}"
    return name


class PETile(wiring.Component):
    """``len(dsp) × cols`` PEs of class ``pe_class``; in row ``k`` the first ``dsp[k]`` multiply
    on a DSP block, the others build their multiplier from logic.

    This is the tile Amaranth elaborates (simulation, board builds); the Verilog export writes
    the same structure as text (:func:`tile_verilog`), with the same ports and PE instance
    names.

    Parameters
    ----------
    cfg : hw.config.Config
    pe_class : type
        :class:`~hw.array.pe.OSPE` or :class:`~hw.array.pe.WSPE`.
    cols : int
        PE columns.
    dsp : tuple of int
        Per PE row, from the left, the PEs with a DSP multiplier (:func:`tile_dsp`).

    Members
    -------
    <lane>_in, <lane>_out : ``unsigned(rows * width)``, for ``pe_class.PASS_RIGHT``
        Element ``k`` (bits ``k * width`` on, ``width`` the PE port's) enters PE ``(k, 0)``
        and leaves PE ``(k, cols - 1)``.
    <lane>_in, <lane>_out : ``unsigned(cols * width)``, for ``PASS_DOWN`` and ``PASS_UP``
        Element ``c`` enters the top (``PASS_DOWN``) or bottom PE of column ``c`` and leaves the
        other end. (Plain bits, not a ``data.ArrayLayout``: a layout's per-field names cost
        Amaranth more time than the rest of a large array's top module.)
    <input> : the PE's shape, for every other PE input
        Shared by every PE.
    en : ``In(rows)``
        The registers of PE row ``k`` advance only while ``en[k]`` is high.

    Latency: none of its own (wires between PEs). Throughput: one multiply-add per PE per
    cycle.
    """

    def __init__(self, cfg, pe_class, cols, dsp):
        dsp = tuple(dsp)
        if not dsp or any(not 0 <= n <= cols for n in dsp):
            raise ValueError(f"dsp must be a non-empty tuple of integers from 0 to {cols} "
                             f"(cols), not {dsp!r}")
        self._cfg = cfg
        self._pe_class = pe_class
        self._cols = cols
        self._dsp = dsp
        super().__init__(self.members(cfg, pe_class, len(dsp), cols))

    @staticmethod
    def members(cfg, pe_class, rows, cols):
        """The signature members of a ``rows × cols`` tile (for black-box instances of it)."""
        lanes = _lanes(pe_class)
        members = {}
        for name, member in pe_class.members(cfg).items():
            lane, _, end = name.rpartition("_")
            if name == "en":
                continue
            if lane in lanes and end in ("in", "out"):
                count = rows if lanes[lane] == "right" else cols
                shape = unsigned(count * Shape.cast(member.shape).width)
                members[name] = In(shape) if member.flow == wiring.In else Out(shape)
            else:
                members[name] = member
        return {**members, "en": In(rows)}

    def elaborate(self, platform):
        m = Module()
        cfg, pe_class = self._cfg, self._pe_class
        rows, cols = len(self._dsp), self._cols
        lanes = _lanes(pe_class)
        pe_members = pe_class.members(cfg)
        pes = []
        for r in range(rows):
            pes.append([])
            for c in range(cols):
                pe = pe_class(cfg, logic_mul=c >= self._dsp[r])
                m.submodules[f"pe_{r}_{c}"] = EnableInserter(self.en[r])(pe)
                if "en" in pe.signature.members:
                    m.d.comb += pe.en.eq(self.en[r])
                pes[-1].append(pe)

        for lane, way in lanes.items():
            ours_in, ours_out = getattr(self, f"{lane}_in"), getattr(self, f"{lane}_out")
            outs = []
            for r in range(rows):
                for c in range(cols):
                    src = {"right": (r, c - 1), "down": (r - 1, c), "up": (r + 1, c)}[way]
                    if not (0 <= src[0] < rows and 0 <= src[1] < cols):
                        value = _element(ours_in, r if way == "right" else c,
                                         _width(pe_members, lane))
                    else:
                        value = getattr(pes[src[0]][src[1]], f"{lane}_out")
                    m.d.comb += getattr(pes[r][c], f"{lane}_in").eq(value)
            if way == "right":
                outs = [pes[r][cols - 1] for r in range(rows)]
            else:
                outs = [pes[rows - 1 if way == "down" else 0][c] for c in range(cols)]
            # One assignment: Amaranth's cost for many assignments to slices of one signal
            # grows with their number times the signal's width.
            m.d.comb += ours_out.eq(Cat(getattr(pe, f"{lane}_out") for pe in outs))

        for name in pe_members:
            lane, _, end = name.rpartition("_")
            if name != "en" and not (lane in lanes and end in ("in", "out")):
                for row in pes:
                    for pe in row:
                        m.d.comb += getattr(pe, name).eq(getattr(self, name))
        return m


def tile_verilog(name, cfg, pe_class, cols, dsp, pe_module):
    """The Verilog module ``name``: a :class:`PETile` (same ports, same PEs, named
    ``pe_<row>_<col>``) whose PEs are instances of ``pe_module`` and of its ``_logic`` kind
    (:func:`pe_module_name`), each port of which is ``clk``, ``rst``, ``en`` and the PE's
    members (:class:`~hw.array.blackbox.BlackBox`).

    A tile is only wires between instances, so it is written as text, in milliseconds:
    Amaranth's netlister takes about half a second for the 256 instances of a 16×16 tile, a
    quarter of the time ``hw.gen --rows 16`` spends.
    """
    rows = len(dsp)
    lanes = _lanes(pe_class)
    pe_members = pe_class.members(cfg)
    tile_members = PETile.members(cfg, pe_class, rows, cols)

    def declare(kind, width, net):
        return f"  {kind} [{width - 1}:0] {net};"

    def element(net, k, width):
        return f"{net}[{k * width + width - 1}:{k * width}]" if width > 1 else f"{net}[{k}]"

    lines = [f"module {name}(clk, rst, {', '.join(tile_members)});",
             declare("input", 1, "clk"), declare("input", 1, "rst")]
    for port, member in tile_members.items():
        direction = "input" if member.flow == wiring.In else "output"
        lines.append(declare(direction, Shape.cast(member.shape).width, port))
    for lane in lanes:
        width = _width(pe_members, lane)
        lines += [declare("wire", width, f"{lane}_{r}_{c}")
                  for r in range(rows) for c in range(cols)]
    for r in range(rows):
        for c in range(cols):
            ports = {"clk": "clk", "rst": "rst"}
            for port in pe_members:
                lane, _, end = port.rpartition("_")
                if port == "en":
                    continue
                if lane in lanes and end == "out":
                    ports[port] = f"{lane}_{r}_{c}"
                elif lane in lanes and end == "in":
                    way = lanes[lane]
                    src = {"right": (r, c - 1), "down": (r - 1, c), "up": (r + 1, c)}[way]
                    if 0 <= src[0] < rows and 0 <= src[1] < cols:
                        ports[port] = f"{lane}_{src[0]}_{src[1]}"
                    else:
                        ports[port] = element(port, r if way == "right" else c,
                                              _width(pe_members, lane))
                else:
                    ports[port] = port
            ports["en"] = element("en", r, 1)
            module = pe_module_name(pe_module, c >= dsp[r])
            connections = ",\n".join(f"    .{port}({net})" for port, net in ports.items())
            lines.append(f"  {module} pe_{r}_{c} (\n{connections}\n  );")
    for lane, way in lanes.items():
        if way == "right":
            ends = [(r, cols - 1) for r in range(rows)]
        else:
            ends = [(rows - 1 if way == "down" else 0, c) for c in range(cols)]
        # Verilog concatenation lists the most significant part first: element 0 last.
        lines.append(f"  assign {lane}_out = {{"
                     + ", ".join(f"{lane}_{r}_{c}" for r, c in reversed(ends)) + "};")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


class TileGrid:
    """The ``cfg.rows × cfg.cols`` PEs of an array as a grid of tiles of at most
    :data:`TILE` × TILE, added to ``m`` as submodules and chained to each other: elaborated
    :class:`PETile` if ``pe_module`` is ``None``, else black-box instances of the tile modules
    :meth:`kinds` lists (:func:`tile_verilog`). PE row ``r`` advances while ``row_en[r]``.

    The grid's edges are per PE row (``PASS_RIGHT`` lanes) or column (the others):
    :meth:`drive` feeds an edge, :meth:`edge_out` reads the far one, :meth:`share` drives an
    input every PE shares.
    """

    def __init__(self, m, cfg, pe_class, row_en, *, pe_module=None):
        self._cfg = cfg
        self._pe_class = pe_class
        self._lanes = _lanes(pe_class)
        self._pe_members = pe_class.members(cfg)
        self._tiles = []
        for i, (r0, rows) in enumerate(_spans(cfg.rows)):
            self._tiles.append([])
            for j, (c0, cols) in enumerate(_spans(cfg.cols)):
                dsp = tile_dsp(cfg, r0, c0, rows, cols)
                if pe_module is None:
                    tile = PETile(cfg, pe_class, cols, dsp)
                else:
                    members = PETile.members(cfg, pe_class, rows, cols)
                    tile = BlackBox(members, tile_module_name(pe_module, rows, cols, dsp))
                m.submodules[f"tile_{i}_{j}"] = tile
                m.d.comb += tile.en.eq(Cat(row_en[r0:r0 + rows]))
                self._tiles[-1].append(tile)
        tiles = self._tiles
        for lane, way in self._lanes.items():
            for i, row in enumerate(tiles):
                for j, tile in enumerate(row):
                    src = {"right": (i, j - 1), "down": (i - 1, j), "up": (i + 1, j)}[way]
                    if 0 <= src[0] < len(tiles) and 0 <= src[1] < len(row):
                        m.d.comb += getattr(tile, f"{lane}_in").eq(
                            getattr(tiles[src[0]][src[1]], f"{lane}_out"))

    @staticmethod
    def kinds(cfg, pe_class, pe_module):
        """``[(module name, Verilog text), ...]``: one tile of each kind the grid instantiates
        (:func:`tile_verilog`), in a fixed order."""
        kinds = {}
        for r0, rows in _spans(cfg.rows):
            for c0, cols in _spans(cfg.cols):
                dsp = tile_dsp(cfg, r0, c0, rows, cols)
                name = tile_module_name(pe_module, rows, cols, dsp)
                if name not in kinds:
                    kinds[name] = tile_verilog(name, cfg, pe_class, cols, dsp, pe_module)
        return list(kinds.items())

    def _edge(self, lane, far):
        way = self._lanes[lane]
        if way == "right":
            return [row[-1 if far else 0] for row in self._tiles]
        return self._tiles[(-1 if far else 0) if way == "down" else (0 if far else -1)]

    def drive(self, m, lane, values):
        """Feed lane ``lane`` at its edge: ``values[k]`` enters PE row (``PASS_RIGHT``) or
        column ``k``, or ``values`` is one value for all of them (a zero)."""
        for tile in self._edge(lane, far=False):
            port = getattr(tile, f"{lane}_in")
            count = len(port) // _width(self._pe_members, lane)
            if isinstance(values, (list, tuple)):
                part, values = values[:count], values[count:]
                m.d.comb += port.eq(Cat(part))
            else:
                m.d.comb += port.eq(values)

    def edge_out(self, lane):
        """Lane ``lane`` leaving the far edge: a list with one value per PE row or column."""
        out = []
        for tile in self._edge(lane, far=True):
            port = getattr(tile, f"{lane}_out")
            width = _width(self._pe_members, lane)
            out += [_element(port, k, width) for k in range(len(port) // width)]
        return out

    def share(self, m, name, value):
        """Drive input ``name``, which every PE shares, with ``value``."""
        for row in self._tiles:
            for tile in row:
                m.d.comb += getattr(tile, name).eq(value)


def _width(pe_members, lane):
    return Shape.cast(pe_members[f"{lane}_in"].shape).width


def _element(port, k, width):
    return port[k * width:(k + 1) * width]


def _spans(n):
    """``(first, count)`` of each tile along a side of ``n`` PEs."""
    return [(k, min(TILE, n - k)) for k in range(0, n, TILE)]
