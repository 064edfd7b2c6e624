"""The engine's instruction set: one 128-bit command word per instruction, one layout per opcode.

Every command word has the opcode in bits 7:0 and reserved bits 127:80, which must be zero.
What lies between depends on the opcode: :data:`LAYOUTS` holds one ``data`` layout per opcode,
naming each field and its bit offset. The hardware decodes commands by field name through
:data:`command_layout` (``cmd.load.count``, ``cmd.config.scale``); the host encodes them with
:func:`encode` (and the ``encode_*`` helpers); :func:`decode` reads them back; the manifest and
the README's table (``python -m scripts.isa_table``) are written from the same layouts.

=========  ===================================================================================
opcode     does
=========  ===================================================================================
NOP  0     nothing
CONFIG 1   post-processing for the STOREs after it: ReLU, then RAW / INT8 (× ``scale``, round
           to nearest even, saturate) / BF16; and ``in_fmt``, the operand format of the
           COMPUTEs (and PRELOADs) after it: an index into the engine's formats
           (``Config.in_fmts``), 0 on an engine with one
LOAD  2    take ``count`` beats from data-in into scratchpad ``buffer`` lines
           ``addr … addr+count-1``
PRELOAD 3  weight-stationary: B lines ``b_addr … b_addr+rows-1`` become weight rows
           ``0 … rows-1`` of the next tile (shifted into the array's standby bank)
COMPUTE 4  run one tile (see :mod:`hw.engine.controller`) and write (or add, ``accumulate``) its
           rows into the accumulator rows from ``acc_row``
STORE 5    send ``count`` accumulator rows from ``acc_row`` through post-processing to data-out;
           ``last`` on the final one
FENCE 6    wait until every earlier command has finished and data-out is drained
SCALE 7    output lane ``lane``'s INT8 requantization scale for the STOREs after it (CONFIG
           sets every lane's): per-output-channel scales
=========  ===================================================================================

An illegal command (unknown opcode, non-zero reserved bits, an out-of-range address or count, a
SCALE lane past the array's columns, an out mode the accumulator cannot produce, an ``in_fmt``
past the engine's formats, PRELOAD on an output-stationary engine) is not
executed, sets a sticky bit in ``status.error`` (:class:`Error`) and the engine goes on; a LOAD
that is illegal still consumes its ``count`` data beats, so the data stream stays in step.
"""

from amaranth.lib import data, enum

from .formats import BF16, INT8

__all__ = [
    "ISA_VERSION", "FMT_WIDTH", "COMMAND_WIDTH", "OPCODE_WIDTH", "ADDR_WIDTH", "RESERVED_OFFSET",
    "Opcode", "Buffer", "OutMode", "Error", "ERROR_BITS", "error_layout",
    "LAYOUTS", "DOES", "command_layout", "command_fields",
    "encode", "decode", "encode_nop", "encode_config", "encode_load", "encode_preload",
    "encode_compute", "encode_store", "encode_fence", "encode_scale",
    "out_mode", "out_width", "out_format", "allowed_modes",
]

#: Version 2 added CONFIG's ``in_fmt`` and SCALE (per-lane requantization scales); a version 1
#: program's words are version 2 words with ``in_fmt`` 0 and no SCALE, so it runs unchanged.
ISA_VERSION = 2
#: Width of CONFIG's ``in_fmt``: an index into the engine's operand formats.
FMT_WIDTH = 3
COMMAND_WIDTH = 128
OPCODE_WIDTH = 8
#: Width of every address and count field: scratchpad lines and accumulator rows are numbered
#: in 16 bits, so no buffer has more than ``2 ** ADDR_WIDTH`` of them.
ADDR_WIDTH = 16
#: Bits from here to the top of the word are reserved and must be zero.
RESERVED_OFFSET = 80


class Opcode(enum.Enum, shape=OPCODE_WIDTH):
    NOP = 0
    CONFIG = 1
    LOAD = 2
    PRELOAD = 3
    COMPUTE = 4
    STORE = 5
    FENCE = 6
    SCALE = 7


class Buffer(enum.Enum, shape=1):
    """Which scratchpad buffer a LOAD writes."""
    A = 0
    B = 1


class OutMode(enum.Enum, shape=2):
    """What STORE sends: the accumulator as it is, requantized INT8, or BF16."""
    RAW = 0
    INT8 = 1
    BF16 = 2


class Error(enum.IntFlag):
    """Sticky bits of ``status.error``."""
    BAD_OPCODE = 1     # unknown opcode or reserved bits set
    BAD_ADDRESS = 2    # a range past the end of a buffer, a SCALE lane past the columns
    BAD_COUNT = 4      # a zero count, or a tile the engine cannot hold
    BAD_MODE = 8       # out mode the accumulator cannot produce; PRELOAD on an OS engine


#: ``status.error`` as named bits, in :class:`Error`'s order (bit ``n`` is ``2 ** n``).
error_layout = data.StructLayout({e.name.lower(): 1 for e in Error})
assert [1 << n for n in range(len(Error))] == [e.value for e in Error]
#: Number of ``status.error`` bits.
ERROR_BITS = error_layout.size


def _variant(**fields):
    """One opcode's fields: ``name=(shape, offset)``, within the bits between the opcode and
    the reserved bits."""
    layout = data.FlexibleLayout(COMMAND_WIDTH, {
        name: data.Field(shape, offset) for name, (shape, offset) in fields.items()})
    for name, field in layout:
        assert OPCODE_WIDTH <= field.offset and field.offset + field.width <= RESERVED_OFFSET, \
            name
    return layout


#: One layout per opcode: every field by name, at its offset in the 128-bit word.
LAYOUTS = {
    Opcode.NOP: _variant(),
    Opcode.CONFIG: _variant(relu=(1, 8), out_mode=(OutMode, 9), in_fmt=(FMT_WIDTH, 16),
                            scale=(32, 32)),
    Opcode.LOAD: _variant(buffer=(Buffer, 8), addr=(ADDR_WIDTH, 16), count=(ADDR_WIDTH, 32)),
    Opcode.PRELOAD: _variant(b_addr=(ADDR_WIDTH, 16)),
    Opcode.COMPUTE: _variant(accumulate=(1, 8), a_addr=(ADDR_WIDTH, 16),
                             b_addr=(ADDR_WIDTH, 32), acc_row=(ADDR_WIDTH, 48),
                             count=(ADDR_WIDTH, 64)),
    Opcode.STORE: _variant(acc_row=(ADDR_WIDTH, 16), count=(ADDR_WIDTH, 32)),
    Opcode.FENCE: _variant(),
    Opcode.SCALE: _variant(lane=(ADDR_WIDTH, 16), scale=(32, 32)),
}

#: What each opcode does, one line each (the README's table).
DOES = {
    Opcode.NOP: "nothing",
    Opcode.CONFIG: "post-processing for the STOREs after it: ReLU, then `out_mode`; `scale` "
                   "(FP32 bits) is the INT8 requantization scale; `in_fmt`: the operand "
                   "format of the COMPUTEs and PRELOADs after it (an index into the engine's "
                   "formats, 0 with one format)",
    Opcode.LOAD: "take `count` data-in beats into lines `addr … addr+count−1` of `buffer`",
    Opcode.PRELOAD: "WS only: B lines `b_addr … b_addr+rows−1` become weight rows 0 … rows−1 "
                    "of the next tile",
    Opcode.COMPUTE: "one tile; its results overwrite (or, with `accumulate`, add to) the "
                    "accumulator rows from `acc_row`",
    Opcode.STORE: "send `count` accumulator rows from `acc_row` through post-processing to "
                  "data-out, `last` on the final one",
    Opcode.FENCE: "wait until every earlier command has finished and data-out is drained",
    Opcode.SCALE: "`scale` (FP32 bits) becomes output lane `lane`'s INT8 requantization scale "
                  "for the STOREs after it (CONFIG sets every lane's); a lane past the "
                  "array's columns is a bad address",
}

#: A command word as the hardware decodes it: ``opcode`` and ``reserved``, and one view per
#: opcode (``load``, ``compute``, …) over the same bits, reading that opcode's fields by name.
command_layout = data.FlexibleLayout(COMMAND_WIDTH, {
    "opcode": data.Field(Opcode, 0),
    "reserved": data.Field(COMMAND_WIDTH - RESERVED_OFFSET, RESERVED_OFFSET),
    **{op.name.lower(): data.Field(layout, 0) for op, layout in LAYOUTS.items()},
})


def command_fields(opcode, *names, **extra):
    """A ``StructLayout`` of ``opcode``'s fields ``names`` (same names and shapes as in the
    command word) plus ``extra`` fields (``name=shape``): the payload a unit takes."""
    layout = LAYOUTS[Opcode(opcode)]
    return data.StructLayout({**{name: layout[name].shape for name in names}, **extra})


def _check_field(opcode, name, field, value):
    shape = field.shape
    if isinstance(shape, type) and issubclass(shape, enum.Enum):
        try:
            return shape(value).value
        except ValueError:
            allowed = ", ".join(f"{m.name} ({m.value})" for m in shape)
            raise ValueError(f"{opcode.name} field {name} must be one of {allowed}, "
                             f"not {value!r}") from None
    if isinstance(value, bool):
        value = int(value)
    top = (1 << field.width) - 1
    if not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError(f"{opcode.name} field {name} must be an integer from 0 to {top}, "
                         f"not {value!r}")
    return value


def encode(opcode, **fields):
    """The command word for ``opcode`` with ``fields`` (by name, as in :data:`LAYOUTS`;
    fields not given are zero).

    Raises
    ------
    ValueError
        For an unknown opcode, a field the opcode does not have, or a value that does not fit.
    """
    try:
        opcode = Opcode(opcode)
    except ValueError:
        raise ValueError(f"opcode must be one of {', '.join(o.name for o in Opcode)}, "
                         f"not {opcode!r}") from None
    layout = LAYOUTS[opcode]
    names = [name for name, _ in layout]
    word = opcode.value
    for name, value in fields.items():
        if name not in names:
            raise ValueError(f"{opcode.name} has no field {name!r}; its fields are "
                             f"{', '.join(names) or 'none'}")
        field = layout[name]
        word |= _check_field(opcode, name, field, value) << field.offset
    return word


def decode(word):
    """A command word as a dict: ``opcode`` (an :class:`Opcode`, or the integer if unknown),
    the opcode's fields by name (enums as members), and ``reserved``."""
    word = int(word)
    mask = (1 << OPCODE_WIDTH) - 1
    fields = {"opcode": word & mask}
    try:
        opcode = fields["opcode"] = Opcode(word & mask)
    except ValueError:
        opcode = None
    if opcode is not None:
        for name, field in LAYOUTS[opcode]:
            value = (word >> field.offset) & ((1 << field.width) - 1)
            shape = field.shape
            if isinstance(shape, type) and issubclass(shape, enum.Enum):
                try:
                    value = shape(value)
                except ValueError:
                    pass
            fields[name] = value
    fields["reserved"] = word >> RESERVED_OFFSET
    return fields


def encode_nop():
    return encode(Opcode.NOP)


def _check_scale_bits(scale_bits):
    if isinstance(scale_bits, bool) or not isinstance(scale_bits, int) or \
            not 0 <= scale_bits < 1 << 32:
        raise ValueError(f"scale_bits must be a 32-bit pattern, not {scale_bits!r}")
    return scale_bits


def encode_config(*, relu=False, out_mode=OutMode.RAW, scale_bits=0x3F800000, in_fmt=0):
    """CONFIG: ``scale_bits`` is the FP32 bit pattern of the requantization scale, which every
    output lane takes; ``in_fmt`` the index of the operand format (``Config.fmt_index``)."""
    out_mode = OutMode(out_mode)
    return encode(Opcode.CONFIG, relu=bool(relu), out_mode=out_mode,
                  scale=_check_scale_bits(scale_bits), in_fmt=in_fmt)


def encode_load(buffer, address, count):
    """LOAD ``count`` data beats into scratchpad ``buffer`` (``"a"`` or ``"b"``)."""
    if buffer not in ("a", "b"):
        raise ValueError(f"buffer must be 'a' or 'b', not {buffer!r}")
    return encode(Opcode.LOAD, buffer=Buffer[buffer.upper()], addr=address, count=count)


def encode_preload(b_address):
    return encode(Opcode.PRELOAD, b_addr=b_address)


def encode_compute(a_address, b_address, acc_row, count, *, accumulate=False):
    return encode(Opcode.COMPUTE, accumulate=bool(accumulate), a_addr=a_address,
                  b_addr=b_address, acc_row=acc_row, count=count)


def encode_store(acc_row, count):
    return encode(Opcode.STORE, acc_row=acc_row, count=count)


def encode_fence():
    return encode(Opcode.FENCE)


def encode_scale(lane, scale_bits):
    """SCALE: ``scale_bits`` (an FP32 bit pattern) becomes output lane ``lane``'s
    requantization scale."""
    return encode(Opcode.SCALE, lane=lane, scale=_check_scale_bits(scale_bits))


# Output modes: what each sends, and which accumulators can produce it.

#: Format of an output lane by mode; ``None``: the accumulator's own.
_OUT_FORMATS = {OutMode.RAW: None, OutMode.INT8: INT8, OutMode.BF16: BF16}
#: Bits of a RAW lane: the accumulator's (every accumulator format is 32 bits wide).
_RAW_WIDTH = 32


def out_mode(mode):
    """``mode`` as an :class:`OutMode`: a member, its value, or its name (``"raw"``,
    ``"int8"``, ``"bf16"``, any case).

    Raises
    ------
    ValueError
        Naming the value and the modes there are.
    """
    if isinstance(mode, OutMode):
        return mode
    if isinstance(mode, str):
        try:
            return OutMode[mode.upper()]
        except KeyError:
            pass
    elif isinstance(mode, int) and not isinstance(mode, bool):
        try:
            return OutMode(mode)
        except ValueError:
            pass
    names = ", ".join(repr(m.name.lower()) for m in OutMode)
    raise ValueError(f"mode must be one of {names}, not {mode!r}")


def out_format(mode, acc_format):
    """The format of an output lane in ``mode`` for accumulators of ``acc_format``."""
    return _OUT_FORMATS[out_mode(mode)] or acc_format


def out_width(mode):
    """Bits of one output lane in ``mode``: 32 (RAW), 8 (INT8) or 16 (BF16)."""
    fmt = _OUT_FORMATS[out_mode(mode)]
    return _RAW_WIDTH if fmt is None else fmt.width


def allowed_modes(cfg):
    """The out modes ``cfg``'s accumulator can produce: RAW and INT8, and BF16 for fp32."""
    from .config import Config

    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a Config, not {cfg!r}")
    if cfg.is_float:
        return (OutMode.RAW, OutMode.INT8, OutMode.BF16)
    return (OutMode.RAW, OutMode.INT8)
