"""The engine's instruction set: one 128-bit command word per instruction.

The hardware decodes commands with :data:`command_layout`; the host encodes them with the
``encode_*`` functions below. Both read this file, so the encoding lives in one place.

Word layout (bit ranges inclusive)::

    [7:0]    opcode
    [15:8]   flags   (opcode-specific)
    [31:16]  arg0
    [47:32]  arg1
    [63:48]  arg2
    [79:64]  arg3
    [127:80] reserved, must be zero

=========  ======================================  ===========================================
opcode     fields                                  meaning
=========  ======================================  ===========================================
NOP  0     —                                       nothing
CONFIG 1   flags[0] relu, flags[2:1] out mode,     post-processing for the STOREs after it:
           arg1|arg2 = scale (FP32 bits)           ReLU, then RAW / INT8 (× scale, round to
                                                   nearest even, saturate) / BF16
LOAD  2    flags[0] buffer (0 = A, 1 = B),         take ``count`` beats from data-in into
           arg0 address, arg1 count                scratchpad A or B lines address…+count-1
PRELOAD 3  arg0 B address                          weight-stationary: shift weight rows
                                                   B[address + rows-1] … B[address] into the
                                                   array's standby bank
COMPUTE 4  flags[0] accumulate, arg0 A address,    run one tile (see :mod:`hw.engine.controller`)
           arg1 B address (OS), arg2 accumulator   and write (or add) its rows into accumulator
           row, arg3 count (OS: K, WS: rows of A)  rows from arg2
STORE 5    arg0 accumulator row, arg1 count        send ``count`` rows through post-processing
                                                   to data-out; ``tlast`` on the last
FENCE 6    —                                       wait until every earlier command is done
=========  ======================================  ===========================================

An illegal command (unknown opcode, non-zero reserved bits, an out-of-range address or count, an
out mode the accumulator cannot produce, PRELOAD on an output-stationary engine) is not
executed, sets a sticky bit in ``status.error`` (:class:`Error`) and the engine goes on; a LOAD
that is illegal still consumes its ``count`` data beats, so the data stream stays in step.
"""

from amaranth.lib import data, enum

__all__ = [
    "ISA_VERSION", "COMMAND_WIDTH", "Opcode", "OutMode", "Error", "command_layout",
    "encode_nop", "encode_config", "encode_load", "encode_preload", "encode_compute",
    "encode_store", "encode_fence", "decode",
]

ISA_VERSION = 1
COMMAND_WIDTH = 128


class Opcode(enum.Enum, shape=8):
    NOP = 0
    CONFIG = 1
    LOAD = 2
    PRELOAD = 3
    COMPUTE = 4
    STORE = 5
    FENCE = 6


class OutMode(enum.Enum, shape=2):
    """What STORE sends: the accumulator as it is, requantized INT8, or BF16."""
    RAW = 0
    INT8 = 1
    BF16 = 2


class Error(enum.IntFlag):
    """Sticky bits of ``status.error``."""
    BAD_OPCODE = 1     # unknown opcode or reserved bits set
    BAD_ADDRESS = 2    # a range past the end of a scratchpad or the accumulator memory
    BAD_COUNT = 4      # a zero count, or a tile the engine cannot hold
    BAD_MODE = 8       # out mode the accumulator cannot produce; PRELOAD on an OS engine


#: Number of ``status.error`` bits.
ERROR_BITS = 4

command_layout = data.StructLayout({
    "opcode": Opcode,
    "flags": 8,
    "arg0": 16,
    "arg1": 16,
    "arg2": 16,
    "arg3": 16,
    "reserved": COMMAND_WIDTH - 80,
})


def _word(opcode, flags=0, arg0=0, arg1=0, arg2=0, arg3=0):
    for name, value, width in (("flags", flags, 8), ("arg0", arg0, 16), ("arg1", arg1, 16),
                               ("arg2", arg2, 16), ("arg3", arg3, 16)):
        if not isinstance(value, int) or not 0 <= value < (1 << width):
            raise ValueError(f"{name} must be an integer from 0 to {(1 << width) - 1}, "
                             f"not {value!r}")
    return (int(opcode.value) | flags << 8 | arg0 << 16 | arg1 << 32 | arg2 << 48
            | arg3 << 64)


def encode_nop():
    return _word(Opcode.NOP)


def encode_config(*, relu=False, out_mode=OutMode.RAW, scale_bits=0x3F800000):
    """CONFIG: ``scale_bits`` is the FP32 bit pattern of the requantization scale."""
    out_mode = OutMode(out_mode)
    if not isinstance(scale_bits, int) or not 0 <= scale_bits < 1 << 32:
        raise ValueError(f"scale_bits must be a 32-bit pattern, not {scale_bits!r}")
    return _word(Opcode.CONFIG, flags=int(bool(relu)) | out_mode.value << 1,
                 arg1=scale_bits & 0xFFFF, arg2=scale_bits >> 16)


def encode_load(buffer, address, count):
    """LOAD ``count`` data beats into scratchpad ``buffer`` (``"a"`` or ``"b"``)."""
    if buffer not in ("a", "b"):
        raise ValueError(f"buffer must be 'a' or 'b', not {buffer!r}")
    return _word(Opcode.LOAD, flags=int(buffer == "b"), arg0=address, arg1=count)


def encode_preload(b_address):
    return _word(Opcode.PRELOAD, arg0=b_address)


def encode_compute(a_address, b_address, acc_row, count, *, accumulate=False):
    return _word(Opcode.COMPUTE, flags=int(bool(accumulate)), arg0=a_address, arg1=b_address,
                 arg2=acc_row, arg3=count)


def encode_store(acc_row, count):
    return _word(Opcode.STORE, arg0=acc_row, arg1=count)


def encode_fence():
    return _word(Opcode.FENCE)


def decode(word):
    """A command word as a dict of its fields (for messages and tests)."""
    word = int(word)
    fields = {"opcode": word & 0xFF, "flags": (word >> 8) & 0xFF}
    for n in range(4):
        fields[f"arg{n}"] = (word >> (16 + 16 * n)) & 0xFFFF
    fields["reserved"] = word >> 80
    try:
        fields["opcode"] = Opcode(fields["opcode"])
    except ValueError:
        pass
    return fields
