"""The links between the engine's units, one ``wiring.Signature`` each, named once.

:class:`~hw.engine.engine.Engine` joins its units with ``wiring.connect`` alone, so these
signatures are the whole of what connects to what::

    Controller.loader    ──LoaderControl──>    Loader.ctrl       (LOAD commands; lines in use)
    Controller.feeder    ──FeederControl──>    Feeder.ctrl       (COMPUTE, PRELOAD; lines, idle)
    Controller.writeback ──WritebackControl──> Writeback.ctrl    (descriptors; pending rows)
    Controller.storer    ──StorerControl──>    Storer.ctrl       (STORE, CONFIG/SCALE; rows)
    Controller.status    ──Status──>           Engine.status
    Loader.write_a/_b    ──spad_write(cfg, x)──> Scratchpad.write_a/_b
    Feeder.read_a/_b     ──spad_read(cfg, x)──>  Scratchpad.read_a/_b
    Writeback.acc        ──AccumulatorWrite──> AccumulatorMemory.write
    Storer.acc           ──acc_read(cfg)──>    AccumulatorMemory.read

The control signatures are written from the controller's side (``Out``: the controller
drives it); the memory ports are ``amaranth.lib.memory``'s own port signatures, which are
written from the memory's side (``In``: into the memory), so a memory exposes them as ``Out``
members and a unit that uses one as ``In``.

A :class:`LineRange` is the one hazard bundle every unit reports: the lines (or rows)
``lo … hi-1`` it may still read or write while ``busy``. The controller holds back a command
whose range overlaps one it must not overtake.
"""

from amaranth import unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, operand_shape
from ..isa import ADDR_WIDTH, ERROR_BITS, Opcode, OutMode, command_fields

__all__ = [
    "LineRange", "ranges", "address_shape", "spad_write", "spad_read", "acc_read", "row_layout",
    "load_command_layout", "compute_command_layout", "preload_command_layout",
    "descriptor_layout", "store_command_layout", "post_layout", "post_init", "SCALE_INIT",
    "writeback_layout",
    "WRITEBACK_SLOTS", "LoaderControl", "FeederControl", "WritebackControl", "StorerControl",
    "AccumulatorWrite", "Status",
]

#: COMPUTE commands that may be in flight between dispatch and their last accumulator write
#: (a power of two: the writeback's slot pointers wrap by truncation).
WRITEBACK_SLOTS = 4


def address_shape(depth):
    """Address shape of a memory of ``depth`` words (at least one bit)."""
    return unsigned(max(1, (depth - 1).bit_length()))


class _Link(wiring.Signature):
    """A named signature: equal to another of its class with the same members."""

    def __eq__(self, other):
        return type(other) is type(self) and other.members == self.members

    def __repr__(self):
        return f"{type(self).__name__}()"


class LineRange(_Link):
    """Lines (or rows) ``lo … hi-1`` that a unit may still touch while ``busy``; from the
    unit's side. ``hi`` has one bit more than an address, so ``lo + count`` never wraps.

    With ``slots``, one range per slot: ``busy`` has a bit per slot and ``lo`` and ``hi`` are
    arrays (:func:`ranges` lists them). (Slots are arrays inside one bundle rather than an
    array of bundles because Amaranth 0.5 cannot flip an array of interfaces.)

    Parameters
    ----------
    slots : int or None
        ``None``: one range.
    """

    def __init__(self, slots=None):
        self._slots = slots
        if slots is None:
            super().__init__({
                "busy": Out(1), "lo": Out(ADDR_WIDTH), "hi": Out(ADDR_WIDTH + 1)})
        else:
            super().__init__({
                "busy": Out(slots),
                "lo": Out(data.ArrayLayout(ADDR_WIDTH, slots)),
                "hi": Out(data.ArrayLayout(ADDR_WIDTH + 1, slots)),
            })

    @property
    def slots(self):
        return self._slots

    def __repr__(self):
        return "LineRange()" if self._slots is None else f"LineRange(slots={self._slots})"


def ranges(lines):
    """The ``(busy, lo, hi)`` of each slot of a :class:`LineRange` interface with slots."""
    return [(lines.busy[n], lines.lo[n], lines.hi[n]) for n in range(len(lines.busy))]


def _buffer(cfg, buf):
    if buf == "a":
        return cfg.rows, cfg.spad_a_lines
    if buf == "b":
        return cfg.cols, cfg.spad_b_lines
    raise ValueError(f"buf must be 'a' or 'b', not {buf!r}")


def spad_write(cfg, buf):
    """Write port of scratchpad buffer ``buf`` (``"a"``: lines of ``rows`` operands, ``"b"``:
    of ``cols``), from the memory's side."""
    lanes, lines = _buffer(cfg, buf)
    return memory.WritePort.Signature(addr_width=address_shape(lines).width,
                                      shape=data.ArrayLayout(operand_shape(cfg), lanes))


def spad_read(cfg, buf):
    """Read port of scratchpad buffer ``buf``, from the memory's side (data the cycle after
    the address, held while ``en`` is low)."""
    lanes, lines = _buffer(cfg, buf)
    return memory.ReadPort.Signature(addr_width=address_shape(lines).width,
                                     shape=data.ArrayLayout(operand_shape(cfg), lanes))


def row_layout(cfg):
    """One accumulator row: ``cols`` accumulator values."""
    return data.ArrayLayout(acc_shape(cfg), cfg.cols)


def acc_read(cfg):
    """The store path's read port of the accumulator memory, from the memory's side."""
    return memory.ReadPort.Signature(addr_width=address_shape(cfg.acc_rows).width,
                                     shape=row_layout(cfg))


def writeback_layout(cfg):
    """One result row on its way into the accumulator memory."""
    return data.StructLayout({
        "addr": address_shape(cfg.acc_rows),
        "data": row_layout(cfg),
        "accumulate": 1,
        "last": 1,
    })


#: LOAD as the loader takes it; ``drop``: an illegal LOAD, whose beats are consumed unwritten.
load_command_layout = command_fields(Opcode.LOAD, "buffer", "addr", "count", drop=1)
#: COMPUTE as the feeder takes it.
compute_command_layout = command_fields(Opcode.COMPUTE, "a_addr", "b_addr", "count")
#: PRELOAD as the feeder takes it.
preload_command_layout = command_fields(Opcode.PRELOAD, "b_addr")
#: COMPUTE as the writeback takes it: where its ``rows`` result rows go.
descriptor_layout = command_fields(Opcode.COMPUTE, "acc_row", "accumulate",
                                   rows=ADDR_WIDTH + 1)
#: STORE as the storer takes it.
store_command_layout = command_fields(Opcode.STORE, "acc_row", "count")
#: FP32 bits of 1.0: every lane's requantization scale out of reset.
SCALE_INIT = 0x3F800000


def post_layout(cfg):
    """The CONFIG and SCALE state the storer's post-processing reads: ReLU, the out mode, and
    one FP32 requantization scale per output lane (``cfg.cols``)."""
    return data.StructLayout({"relu": 1, "mode": OutMode,
                              "scale": data.ArrayLayout(32, cfg.cols)})


def post_init(cfg):
    """The state out of reset: no ReLU, RAW, every lane's scale 1.0."""
    return {"scale": [SCALE_INIT] * cfg.cols}


class LoaderControl(_Link):
    """Controller to loader: LOAD commands; back, the lines each buffer may still be written."""

    def __init__(self):
        super().__init__({
            "cmd": Out(stream.Signature(load_command_layout)),
            "lines_a": In(LineRange()),
            "lines_b": In(LineRange()),
        })



class FeederControl(_Link):
    """Controller to feeder: COMPUTE and PRELOAD commands; back, the lines each buffer is
    still read from, and ``idle`` (no command running, no beat held)."""

    def __init__(self):
        super().__init__({
            "compute": Out(stream.Signature(compute_command_layout)),
            "preload": Out(stream.Signature(preload_command_layout)),
            "lines_a": In(LineRange()),
            "lines_b": In(LineRange()),
            "idle": In(1),
        })



class WritebackControl(_Link):
    """Controller to writeback: one descriptor per COMPUTE; back, the accumulator rows each
    in-flight COMPUTE has still to write (one range per slot), and ``idle``."""

    def __init__(self):
        super().__init__({
            "desc": Out(stream.Signature(descriptor_layout)),
            "pending": In(LineRange(slots=WRITEBACK_SLOTS)),
            "idle": In(1),
        })



class StorerControl(_Link):
    """Controller to storer: STORE commands and the CONFIG and SCALE state (``post``); back,
    the rows it still reads, ``idle`` (nothing in its pipeline) and ``drained`` (nor in its
    FIFO)."""

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "cmd": Out(stream.Signature(store_command_layout)),
            "post": Out(post_layout(cfg), init=post_init(cfg)),
            "lines": In(LineRange()),
            "idle": In(1),
            "drained": In(1),
        })

    def __repr__(self):
        return f"StorerControl({self._cfg!r})"



class AccumulatorWrite(_Link):
    """Writeback to accumulator memory: result rows (``row``); back, ``done``, a pulse when
    the write of a row marked ``last`` lands."""

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "row": Out(stream.Signature(writeback_layout(cfg))),
            "done": In(1),
        })

    def __repr__(self):
        return f"AccumulatorWrite({self._cfg!r})"


class Status(_Link):
    """The engine's status: ``idle`` (no command held, every unit idle, data-out drained) and
    ``error`` (sticky :class:`~hw.isa.Error` bits: bit ``n`` is ``2 ** n``, as in
    :data:`~hw.isa.error_layout`)."""

    def __init__(self):
        super().__init__({"idle": Out(1), "error": Out(ERROR_BITS)})

