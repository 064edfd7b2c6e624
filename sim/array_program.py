"""A GEMM as operand beats for the bare systolic array, and its result rows back into C.

The beat protocols are the array's (:mod:`hw.array`). The array alone holds no accumulator
memory, so a weight-stationary GEMM whose K exceeds ``rows`` runs as several passes whose
partial results the host adds in order with the golden adder (bit-exact with the hardware
adder, tested on its own); :func:`array_k_pass` says how long a pass is, and
``ref_gemm(a, b, cfg, k_pass=array_k_pass(cfg))`` is the matching golden result.
"""

from dataclasses import dataclass, field

import numpy as np

from hw.array import operand_layout
from hw.timing import ArrayTiming

from .golden import ref_add
from .payload import pack_lanes, pack_struct, unpack_lanes

__all__ = ["ArrayProgram", "array_k_pass", "array_program", "due_cycles"]


def array_k_pass(cfg):
    """K extent of one pass through the bare array (``None``: all of K in one pass)."""
    return cfg.rows if cfg.dataflow == "ws" else None


def _ceil_div(a, b):
    return -(-a // b)


@dataclass
class _Tile:
    """Where one tile's result rows go: C rows ``row_index`` (or -1: padding), cols n0.."""
    row_index: list
    n0: int
    pass_index: int


@dataclass
class ArrayProgram:
    """Operand beats for a GEMM and the bookkeeping to turn result rows into C.

    Attributes
    ----------
    beats : list of int
        Packed operand payloads, in order.
    result_rows : int
        How many result rows the array will emit.
    result_beats : list of (int, int, int)
        For each result row in emitted order: the index of the beat whose acceptance starts its
        countdown (the tile's final beat for OS, the row's own beat for WS) and its drain slot
        ``(i, c)`` (OS: row ``i`` of the tile, context ``c``; WS: ``(0, 0)``). With the
        array's timing properties this says when each row is due (:func:`due_cycles`).
    """
    cfg: object
    m: int
    n: int
    beats: list = field(default_factory=list)
    tiles: list = field(default_factory=list)
    result_beats: list = field(default_factory=list)

    @property
    def result_rows(self):
        return sum(len(t.row_index) for t in self.tiles)

    def assemble(self, rows):
        """C (M×N, accumulator dtype) from the packed result rows, in the order emitted."""
        cfg = self.cfg
        acc_fmt = cfg.acc_format
        if len(rows) != self.result_rows:
            raise ValueError(f"expected {self.result_rows} result rows, got {len(rows)}")
        passes = {}
        it = iter(rows)
        for tile in self.tiles:
            part = passes.setdefault(tile.pass_index, np.zeros((self.m, self.n), acc_fmt.dtype))
            width = min(cfg.cols, self.n - tile.n0)
            for r in tile.row_index:
                values = unpack_lanes(next(it), acc_fmt, cfg.cols)
                if r >= 0:
                    part[r, tile.n0:tile.n0 + width] = values[:width]
        result = None
        for p in sorted(passes):
            result = passes[p] if result is None else ref_add(result, passes[p], acc_fmt, cfg.ftz)
        return result


def array_program(cfg, a, b, contexts=None, fmt=None):
    """Tile ``a`` (M×K) @ ``b`` (K×N) into operand beats for a ``cfg`` array.

    ``contexts`` is the array's interleaved accumulator contexts
    (:attr:`hw.timing.ArrayTiming.contexts`, the default); the beats are only right for that
    number, so any other value is an error. ``fmt``: the operands' format, a member of
    ``cfg.in_fmts`` (``None``: the first); its values sit in lanes of ``cfg.lane_width`` bits,
    and the array's ``fmt`` input must hold ``cfg.fmt_index(fmt)``.

    Raises
    ------
    ValueError
        If the shapes do not chain, or ``contexts`` is not the array's.
    """
    expected = ArrayTiming(cfg).contexts
    if contexts is None:
        contexts = expected
    elif contexts != expected:
        raise ValueError(f"contexts must be {expected} for a {cfg.name} array (its "
                         f"ArrayTiming.contexts), not {contexts!r}")
    in_fmt = cfg.for_format(fmt).in_format
    a = in_fmt.cast(a)
    b = in_fmt.cast(b)
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k:
        raise ValueError(f"A is {a.shape} but B is {b.shape}: inner sizes differ")
    prog = ArrayProgram(cfg, m, n)
    layout = operand_layout(cfg)
    rows, cols = cfg.rows, cfg.cols

    def lanes(vec, count):
        return pack_lanes(vec, in_fmt, count, cfg.lane_width)

    if cfg.dataflow == "os":
        block = contexts * rows
        for n0 in range(0, n, cols):
            for m0 in range(0, m, block):
                for kk in range(k):
                    b_word = lanes(b[kk, n0:n0 + cols], cols)
                    for c in range(contexts):
                        r0 = m0 + c * rows
                        prog.beats.append(pack_struct(
                            layout, a=lanes(a[r0:r0 + rows, kk], rows), b=b_word,
                            first=kk == 0, last=kk == k - 1))
                final = len(prog.beats) - 1
                prog.result_beats += [(final, i, c) for i in range(rows) for c in range(contexts)]
                order = [m0 + c * rows + i for i in range(rows) for c in range(contexts)]
                prog.tiles.append(_Tile([r if r < m else -1 for r in order], n0, 0))
        return prog

    # Weight-stationary: each (K pass, N block) is one weight tile; the next tile's weights
    # ride on the current tile's last compute beats.
    tiles = [(k0, n0) for n0 in range(0, n, cols) for k0 in range(0, k, rows)]

    def weight_words(k0, n0):
        kr = min(rows, k - k0)
        words = [lanes(b[k0 + r, n0:n0 + cols], cols) if r < kr else 0 for r in range(rows)]
        return words[::-1]  # the first word shifted in ends up in the bottom row

    carry = weight_words(*tiles[0])
    for t, (k0, n0) in enumerate(tiles):
        # Weights not yet loaded go first, in load-only beats.
        for w in carry:
            prog.beats.append(pack_struct(layout, b=w, load=1))
        carry = weight_words(*tiles[t + 1]) if t + 1 < len(tiles) else []
        start = max(0, m - len(carry))
        for mm in range(m):
            extra = {"b": carry.pop(0), "load": 1} if mm >= start and carry else {}
            prog.result_beats.append((len(prog.beats), 0, 0))
            prog.beats.append(pack_struct(
                layout, a=lanes(a[mm, k0:k0 + rows], rows), compute=1, first=mm == 0,
                **extra))
        prog.tiles.append(_Tile(list(range(m)), n0, k0 // rows))
    return prog


def due_cycles(array, prog, accepted):
    """When each result row is due on the array's ``o`` (``o`` always ready), given the cycle
    at which each beat was ``accepted``: the golden schedule the timing tests check against.

    Row ``(i, c)`` of an OS tile is due ``latency + i·row_interval + c`` cycles after the
    tile's final beat; a WS row ``latency`` cycles after its own beat.
    """
    return [accepted[b] + array.latency + i * array.row_interval + c
            for b, i, c in prog.result_beats]
