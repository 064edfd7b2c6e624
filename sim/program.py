"""A GEMM as an engine program: commands, data-in beats, and how data-out rows become C.

:func:`gemm_program` tiles ``A (M×K) @ B (K×N)`` for a configuration's engine:

* **Output-stationary**: output tiles of ``rows × cols``; K in chunks of ``kc`` steps (one
  COMPUTE each, accumulating into the tile's accumulator rows after the first). An A block
  ``(m, k-chunk)`` is ``kc`` lines (column ``k`` of the tile's rows of A), a B block
  ``(n, k-chunk)`` is ``kc`` lines (rows of B). With FP32 accumulation each chunk is summed as
  ``contexts`` interleaved partial sums (:mod:`hw.engine.reducer`): ``prog.interleave``.
* **Weight-stationary**: weight tiles of ``rows × cols`` (one PRELOAD each), activations in
  chunks of ``mc`` rows of A (one COMPUTE per weight tile and chunk), K in passes of ``rows``.

Operand blocks live at fixed lines when all of them fit in their buffer (loaded once, on first
use), otherwise in two alternating regions (double buffering); accumulator tiles rotate over
as many slots as fit. Every LOAD for the next step is issued right after the current COMPUTE,
and a tile's STORE a few steps after its last COMPUTE, so loads, compute and stores overlap;
the controller's hazard checks keep any order correct.

The INT8 requantization scale is one number (CONFIG sets every output lane's) or one per
column of C, a per-output-channel scale: before the first STORE of each column block, a SCALE
command sets each lane whose scale changes (the lane ``j`` of a block at column ``n0`` carries
column ``n0 + j``). SCALE waits for the storer to be idle, so a column block's first STORE
starts after the previous block's STOREs have left post-processing.

The golden result of a program is ``ref_gemm(a, b, prog.fmt_cfg, k_pass=prog.k_pass,
interleave=prog.interleave)`` followed by ``ref_postproc`` (:func:`sim.host.ref_program`).

On an engine with a set of operand formats the program's CONFIG names the GEMM's format
(``fmt``); operands are packed in that format into lanes of ``cfg.lane_width`` bits, and the
golden result is that of the member's single-format engine (``cfg.for_format(fmt)``).
"""

from dataclasses import dataclass, field

import numpy as np

from hw.isa import (
    OutMode,
    allowed_modes,
    encode_compute,
    encode_config,
    encode_load,
    encode_preload,
    encode_scale,
    encode_store,
    out_format,
    out_mode,
    out_width,
)
from hw.timing import ArrayTiming

from .payload import pack_lanes

__all__ = ["EngineProgram", "gemm_program", "ProgramError"]

#: How many tiles a STORE trails its tile's last COMPUTE by (when the slots allow).
STORE_LAG = 2
#: Weight-stationary: activation rows per COMPUTE, at most.
WS_CHUNK_ROWS = 128
#: Output-stationary: K steps per COMPUTE, about at most (chunks are balanced).
OS_CHUNK_STEPS = 256


class ProgramError(ValueError):
    """The GEMM cannot be run on this engine (say, a buffer too small for one tile)."""


def _ceil(a, b):
    return -(-a // b)


@dataclass
class _Store:
    acc_row: int
    rows: list       # C row index of each stored row
    n0: int


@dataclass
class EngineProgram:
    """Commands and data for one GEMM, and the bookkeeping to read C back.

    Attributes
    ----------
    cmds : list of int
        128-bit command words, in order.
    din : list of int
        Data-in beats (scratchpad lines), in the order the LOADs consume them.
    dout_rows : int
        Rows the STOREs will send.
    k_pass : int
        K extent of one COMPUTE: the golden model's ``k_pass``.
    interleave : int
        Partial sums per pass: the golden model's ``interleave``.
    macs : int
        ``M·K·N``, for utilization figures.
    fmt : str
        The operands' format (a member of ``cfg.in_fmts``).
    """
    cfg: object
    m: int
    n: int
    k_pass: int
    interleave: int = 1
    relu: bool = False
    mode: OutMode = OutMode.RAW
    scale: object = 1.0
    cmds: list = field(default_factory=list)
    din: list = field(default_factory=list)
    stores: list = field(default_factory=list)
    macs: int = 0
    fmt: str = None

    @property
    def fmt_cfg(self):
        """The single-format configuration whose golden model this program's GEMM follows."""
        return self.cfg.for_format(self.fmt)

    @property
    def dout_rows(self):
        return sum(len(s.rows) for s in self.stores)

    @property
    def out_format(self):
        """The format of C as STORE sends it: INT8, BF16, or the accumulator's."""
        return out_format(self.mode, self.cfg.acc_format)

    @property
    def out_dtype(self):
        return self.out_format.dtype

    def assemble(self, rows):
        """C (M×N) from the data-out rows (integers, in order)."""
        if len(rows) != self.dout_rows:
            raise ValueError(f"expected {self.dout_rows} data-out rows, got {len(rows)}")
        cols = self.cfg.cols
        width = out_width(self.mode)
        mask = (1 << width) - 1
        out = np.zeros((self.m, self.n), dtype=self.out_dtype)
        bits_dtype = np.dtype(f"uint{width}")
        it = iter(rows)
        for store in self.stores:
            span = min(cols, self.n - store.n0)
            for r in store.rows:
                word = int(next(it))
                lanes = np.array([(word >> (j * width)) & mask for j in range(span)],
                                 dtype=bits_dtype)
                out[r, store.n0:store.n0 + span] = lanes.view(self.out_dtype)
        return out


class _Buffer:
    """Where operand blocks go in one scratchpad buffer: packed at fixed lines when all
    ``total_lines`` of them fit, else two alternating regions of the largest block's size."""

    def __init__(self, lines, block_lines, total_lines):
        self.block_lines = block_lines
        self.resident = total_lines <= lines
        self.next_free = 0
        if not self.resident and 2 * block_lines > lines:
            raise ProgramError(f"a block of {block_lines} lines does not fit twice in a "
                               f"{lines}-line buffer")
        self.held = {}          # region base -> block key
        self.where = {}         # block key -> base (resident)
        self.flip = 0

    def place(self, key, size):
        """Return ``(base, needs_load)`` for block ``key`` of ``size`` lines."""
        if self.resident:
            if key in self.where:
                return self.where[key], False
            base = self.next_free
            self.next_free += size
            self.where[key] = base
            return base, True
        for base, held in self.held.items():
            if held == key:
                return base, False
        base = self.flip * self.block_lines
        self.flip ^= 1
        self.held[base] = key
        return base, True


def _scale(scale, n):
    """``scale`` as float32: a number, or one per column of C (``n``)."""
    try:
        with np.errstate(over="ignore"):
            s = np.asarray(scale, dtype=np.float32)
        finite = bool(np.isfinite(s).all())
    except (TypeError, ValueError):
        finite = False
    if not finite:
        raise ProgramError(f"scale must be a finite number (float32 after rounding), "
                           f"or one per column of C, not {scale!r}")
    if s.ndim > 1 or (s.ndim == 1 and s.shape != (n,)):
        raise ProgramError(f"scale must be one number or one per column of C ({n}), not "
                           f"{s.shape[0] if s.ndim == 1 else s.shape}")
    return s


def gemm_program(cfg, a, b, *, relu=False, mode=OutMode.RAW, scale=1.0, fmt=None):
    """Tile ``a @ b`` into a program for a ``cfg`` engine (see the module docstring).
    ``mode`` is an :class:`~hw.isa.OutMode` or its name; ``scale`` is one INT8
    requantization scale or one per column of C (per output channel); ``fmt`` the operands'
    format, one of ``cfg.in_fmts`` (``None``: the first).

    Raises
    ------
    ProgramError
        If ``fmt`` is not one of the engine's formats, if ``a`` or ``b`` holds a value
        ``fmt`` does not represent exactly (the rule of :mod:`hw.formats`: no silent
        conversion), if a ``scale`` is NaN or infinite or there is not one per column, or if
        the GEMM does not fit the engine.
    """
    try:
        index = cfg.fmt_index(fmt)
    except ValueError as error:
        raise ProgramError(str(error)) from None
    in_fmt = cfg.in_formats[index]
    try:
        a = in_fmt.exact("a", a)
        b = in_fmt.exact("b", b)
    except ValueError as error:
        raise ProgramError(str(error)) from None
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ProgramError(f"A and B must be M×K and K×N, not {a.shape} and {b.shape}")
    mode = out_mode(mode)
    if mode not in allowed_modes(cfg):
        raise ProgramError(f"mode must be one of "
                           f"{', '.join(x.name.lower() for x in allowed_modes(cfg))} for "
                           f"{cfg.acc_fmt} accumulation, not {mode.name.lower()!r}")
    m, k = a.shape
    n = b.shape[1]
    if 0 in (m, k, n):
        raise ProgramError(f"M, K and N must be at least 1, not {m}, {k}, {n}")
    s = _scale(scale, n)
    bits = [int(x) for x in s.view(np.uint32).flat]
    # CONFIG sets every lane's scale to column 0's; per-column INT8 scales then go lane by
    # lane before the STOREs (the other modes do not use them).
    lanes = _LaneScales(bits, cfg.cols) if s.ndim == 1 and mode == OutMode.INT8 else None
    build = _os_program if cfg.dataflow == "os" else _ws_program
    prog = build(cfg, a, b, in_fmt, lanes)
    prog.relu, prog.mode, prog.fmt = relu, mode, in_fmt.name
    prog.scale = float(s) if s.ndim == 0 else s.copy()
    prog.cmds.insert(0, encode_config(relu=relu, out_mode=mode, scale_bits=bits[0],
                                      in_fmt=index))
    prog.macs = m * k * n
    return prog


class _LaneScales:
    """The output lanes' scales as the program sets them, for one scale per column of C
    (``bits``, FP32 patterns): all column 0's after CONFIG, then whatever the SCALEs
    :meth:`before_store` gave changed them to."""

    def __init__(self, bits, cols):
        self.bits = bits
        self.lanes = [bits[0]] * cols

    def before_store(self, n0):
        """The SCALE commands a STORE of the column block at ``n0`` needs first: one for each
        lane whose scale differs from its column's."""
        cmds = []
        for j, want in enumerate(self.bits[n0:n0 + len(self.lanes)]):
            if self.lanes[j] != want:
                cmds.append(encode_scale(j, want))
                self.lanes[j] = want
        return cmds


@dataclass
class _Step:
    """One COMPUTE of a program and what it needs.

    ``loads``: ``(buffer, name, key, lines, make_lines)`` per operand block, in load order;
    ``issue(bases, acc_row)``: the step's commands, given where its blocks landed (by buffer
    name) and its tile's accumulator row; ``store``: ``(C rows, first column)`` when this step
    finishes its tile, else ``None``."""
    loads: list
    issue: object
    store: object = None


def _schedule(prog, steps, slots, slot_rows, lanes):
    """Emit ``steps`` into ``prog``: the first step's loads, then each step's commands followed
    by the next step's loads (so they run during it), and each finished tile's STORE
    ``STORE_LAG`` tiles later, its accumulator rows rotating over ``slots`` slots; with
    per-column scales (``lanes``, a :class:`_LaneScales`, else ``None``) each STORE's SCALEs
    just before it."""

    def load(step):
        bases = {}
        for buf, name, key, size, make_lines in step.loads:
            base, needed = buf.place(key, size)
            if needed:
                data = make_lines()
                prog.cmds.append(encode_load(name, base, len(data)))
                prog.din.extend(data)
            bases[name] = base
        return bases

    pending = []
    lag = min(STORE_LAG, slots - 1)
    tile = 0
    bases = load(steps[0])
    for s, step in enumerate(steps):
        acc_row = (tile % slots) * slot_rows
        prog.cmds.extend(step.issue(bases, acc_row))
        if s + 1 < len(steps):
            bases = load(steps[s + 1])
        if step.store is not None:
            c_rows, n0 = step.store
            pending.append(_Store(acc_row, c_rows, n0))
            tile += 1
            _emit_stores(prog, pending, lag, lanes)
    _emit_stores(prog, pending, 0, lanes)
    return prog


def _emit_stores(prog, pending, lag, lanes):
    while len(pending) > lag:
        store = pending.pop(0)
        if lanes is not None:
            prog.cmds.extend(lanes.before_store(store.n0))
        prog.cmds.append(encode_store(store.acc_row, len(store.rows)))
        prog.stores.append(store)


def _os_program(cfg, a, b, in_fmt, lanes):
    width = cfg.lane_width
    rows, cols = cfg.rows, cfg.cols
    m, k = a.shape
    n = b.shape[1]
    # K in balanced chunks of about OS_CHUNK_STEPS (a multiple of the contexts, so only the
    # last chunk pads): the first tile starts after a chunk's operands, not all of K's.
    contexts = ArrayTiming(cfg).contexts
    kc = _ceil(k, _ceil(k, OS_CHUNK_STEPS))
    kc = min(k, _ceil(kc, contexts) * contexts, cfg.spad_b_lines // 2, cfg.spad_a_lines // 2)
    if kc < 1:
        raise ProgramError("the scratchpad cannot hold one step of a tile")
    nk, nm, nn = _ceil(k, kc), _ceil(m, rows), _ceil(n, cols)
    buf_a = _Buffer(cfg.spad_a_lines, kc, nm * k)
    buf_b = _Buffer(cfg.spad_b_lines, kc, nn * k)
    prog = EngineProgram(cfg, m, n, k_pass=kc, interleave=contexts)

    def step(mi, ni, ki):
        m0, n0, k0 = mi * rows, ni * cols, ki * kc
        size = min(kc, k - k0)
        ks = range(k0, k0 + size)
        return _Step(
            loads=[
                (buf_a, "a", (mi, ki), size,
                 lambda: [pack_lanes(a[m0:m0 + rows, kk], in_fmt, rows, width) for kk in ks]),
                (buf_b, "b", (ni, ki), size,
                 lambda: [pack_lanes(b[kk, n0:n0 + cols], in_fmt, cols, width) for kk in ks]),
            ],
            issue=lambda bases, acc_row: [encode_compute(
                bases["a"], bases["b"], acc_row, size, accumulate=ki > 0)],
            store=(list(range(m0, min(m, m0 + rows))), n0) if ki == nk - 1 else None)

    steps = [step(mi, ni, ki) for ni in range(nn) for mi in range(nm) for ki in range(nk)]
    return _schedule(prog, steps, max(1, cfg.acc_rows // rows), rows, lanes)


def _ws_program(cfg, a, b, in_fmt, lanes):
    width = cfg.lane_width
    rows, cols = cfg.rows, cfg.cols
    m, k = a.shape
    n = b.shape[1]
    nk, nn = _ceil(k, rows), _ceil(n, cols)
    # Activation chunks of about a hundred rows: long enough to hide the next tile's weight
    # loading (load_holdoff + rows beats), short enough that the first LOAD and the last
    # STORE, which nothing overlaps, stay small.
    mc = min(m, WS_CHUNK_ROWS, cfg.spad_a_lines // 2, cfg.acc_rows)
    if mc < 1:
        raise ProgramError("the buffers cannot hold one activation row")
    nm = _ceil(m, mc)
    buf_a = _Buffer(cfg.spad_a_lines, mc, m * nk)
    buf_b = _Buffer(cfg.spad_b_lines, rows, nn * nk * rows)
    prog = EngineProgram(cfg, m, n, k_pass=rows)
    zero = np.zeros(0, dtype=in_fmt.dtype)

    def step(mi, ni, ki):
        m0, n0, k0 = mi * mc, ni * cols, ki * rows
        size = min(mc, m - m0)
        return _Step(
            loads=[  # weights first: the PRELOAD can then start sooner
                (buf_b, "b", (ki, ni), rows,
                 lambda: [pack_lanes(b[k0 + r, n0:n0 + cols] if k0 + r < k else zero,
                                     in_fmt, cols, width) for r in range(rows)]),
                (buf_a, "a", (mi, ki), size,
                 lambda: [pack_lanes(a[mm, k0:k0 + rows], in_fmt, rows, width)
                          for mm in range(m0, m0 + size)]),
            ],
            issue=lambda bases, acc_row: [
                encode_preload(bases["b"]),
                encode_compute(bases["a"], 0, acc_row, size, accumulate=ki > 0)],
            store=(list(range(m0, m0 + size)), n0) if ki == nk - 1 else None)

    steps = [step(mi, ni, ki) for ni in range(nn) for mi in range(nm) for ki in range(nk)]
    return _schedule(prog, steps, max(1, cfg.acc_rows // mc), mc, lanes)
