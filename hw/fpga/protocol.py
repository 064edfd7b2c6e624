"""The host link's wire format, defined once: the constants, the frame types and one ``data``
layout per payload, which the hardware (:mod:`hw.fpga.frames`, :mod:`hw.fpga.bridge`) and the
host (:mod:`sim.link`) both build from. :mod:`hw.fpga.bridge` describes the protocol.

Every multi-byte field is little-endian; :func:`to_bytes` and :func:`from_bytes` turn a
layout's fields into payload bytes and back. :func:`crc16` is the reference CRC that
:class:`hw.fpga.crc.Crc16` computes in hardware.
"""

from amaranth.lib import data, enum

from ..engine.loader import din_width
from ..engine.storer import dout_width
from ..isa import COMMAND_WIDTH, ERROR_BITS

__all__ = [
    "SYNC", "BYTE_WIDTH", "LENGTH_WIDTH", "CRC_WIDTH", "CRC_POLY", "CRC_INIT",
    "CYCLES_WIDTH", "COMMAND_BYTES", "HEADER_BYTES", "CRC_BYTES", "MAX_LENGTH",
    "DEFAULT_MAX_PAYLOAD", "DEFAULT_TIMEOUT_BITS",
    "FrameType", "ErrorCode", "HOST_TYPES", "PAYLOADS", "DOES", "ERROR_MEANS",
    "header_layout", "ack_layout", "error_reply_layout", "status_layout", "dout_reply_layout",
    "din_bytes", "dout_bytes", "layout_bytes", "crc16", "crc16_byte",
    "to_bytes", "from_bytes", "check_max_payload",
]

#: Marks the start of a frame.
SYNC = 0xA5
BYTE_WIDTH = 8
#: ``LENGTH``: payload bytes.
LENGTH_WIDTH = 16
CRC_WIDTH = 16
#: CRC-16/CCITT-FALSE: polynomial x^16 + x^12 + x^5 + 1, MSB first.
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF
#: Width of STATUS's ``cycles`` counter: 2**48 cycles is 32 days at 100 MHz.
CYCLES_WIDTH = 48
#: Bytes of one command word.
COMMAND_BYTES = COMMAND_WIDTH // BYTE_WIDTH
#: The longest payload ``LENGTH`` can state.
MAX_LENGTH = (1 << LENGTH_WIDTH) - 1
#: The bridge's payload buffer, by default: 64 command words, and one data-in beat of any
#: configuration (at most 256 lanes of 16 bits).
DEFAULT_MAX_PAYLOAD = 1024
#: The inter-byte timeout inside a frame, by default, in bit times (``divisor`` cycles each):
#: 100 bytes' time, 8.7 ms at 115200 baud, which outlasts a USB serial adapter's gaps.
DEFAULT_TIMEOUT_BITS = 1000


class FrameType(enum.Enum, shape=BYTE_WIDTH):
    """``TYPE``: 0x01… from the host, 0x81… from the board."""
    CMD = 0x01
    DIN = 0x02
    STATUS_QUERY = 0x03
    RESET = 0x04
    ACK = 0x81
    DOUT = 0x82
    STATUS = 0x83
    ERROR = 0x84


#: The types a host sends (the others, a board).
HOST_TYPES = (FrameType.CMD, FrameType.DIN, FrameType.STATUS_QUERY, FrameType.RESET)


class ErrorCode(enum.Enum, shape=BYTE_WIDTH):
    """Why a frame was dropped (an ERROR reply's ``code``)."""
    BAD_CRC = 1
    UNKNOWN_TYPE = 2
    BAD_LENGTH = 3
    TRUNCATED = 4
    BUSY = 5


#: What precedes the payload.
header_layout = data.StructLayout({"sync": BYTE_WIDTH, "type": FrameType,
                                   "length": LENGTH_WIDTH})
#: ACK: which type of frame was forwarded.
ack_layout = data.StructLayout({"type": FrameType})
#: ERROR: why, and the dropped frame's ``TYPE`` byte as received (any value).
error_reply_layout = data.StructLayout({"code": ErrorCode, "type": BYTE_WIDTH})
_STATUS_FLAGS = {"idle": 1, "error": ERROR_BITS, "framing": 1, "overrun": 1, "dropped": 1}
_STATUS_PAD = -sum(_STATUS_FLAGS.values()) % BYTE_WIDTH
#: STATUS: a byte of flags (padded), then the cycle counter.
status_layout = data.StructLayout({
    **_STATUS_FLAGS, **({"reserved": _STATUS_PAD} if _STATUS_PAD else {}),
    "cycles": CYCLES_WIDTH})
HEADER_BYTES = header_layout.size // BYTE_WIDTH
CRC_BYTES = CRC_WIDTH // BYTE_WIDTH


#: Each frame type's payload: a layout, or words for the ones it has no fixed layout for (the
#: README's table, ``python -m scripts.link_table``, is written from these and :data:`DOES`).
PAYLOADS = {
    FrameType.CMD: "one or more command words, 16 bytes each",
    FrameType.DIN: "one or more data-in beats, `max(rows, cols)` operands each",
    FrameType.STATUS_QUERY: "none",
    FrameType.RESET: "none",
    FrameType.ACK: ack_layout,
    FrameType.DOUT: "a byte of flags (`last` 0), then one data-out row (`cols` lanes of 32 "
                    "bits, packed from bit 0 by output mode)",
    FrameType.STATUS: status_layout,
    FrameType.ERROR: error_reply_layout,
}
#: What each frame type does, one line each.
DOES = {
    FrameType.CMD: "to the engine's command stream, in order; ACK",
    FrameType.DIN: "to the engine's data-in stream, `last` on the frame's final beat; ACK",
    FrameType.STATUS_QUERY: "STATUS, even while a frame is being forwarded",
    FrameType.RESET: "resets the engine (state, error bits) and the cycle counter; ACK",
    FrameType.ACK: "the frame of `type` went to the engine in full",
    FrameType.DOUT: "a row from a STORE, whenever the engine sends one; `last` on each "
                    "STORE's final row",
    FrameType.STATUS: "the engine's `idle` and `error` bits; the link's flags since the "
                      "previous STATUS; `cycles` the engine was busy since the last reset",
    FrameType.ERROR: "a frame was dropped: why, and the TYPE byte it had",
}
#: Why a frame is dropped, one line each.
ERROR_MEANS = {
    ErrorCode.BAD_CRC: "the CRC does not match",
    ErrorCode.UNKNOWN_TYPE: "TYPE is not a host's (as soon as it arrives)",
    ErrorCode.BAD_LENGTH: "LENGTH is zero for CMD or DIN, not zero for STATUS_QUERY or RESET, "
                          "or above `max_payload` (as soon as it arrives); or, after the "
                          "CRC, not whole command words or beats",
    ErrorCode.TRUNCATED: "no byte for `timeout` cycles inside a frame",
    ErrorCode.BUSY: "a CMD, DIN or RESET frame before the previous one's ACK",
}


def _bytes_for(bits):
    return -(-bits // BYTE_WIDTH)


def layout_bytes(layout):
    """Bytes of a payload with ``layout`` (its size rounded up to whole bytes)."""
    return _bytes_for(data.Layout.cast(layout).size)


def din_bytes(cfg):
    """Bytes of one data-in beat (:func:`~hw.engine.loader.din_width`, rounded up)."""
    return _bytes_for(din_width(cfg))


def dout_bytes(cfg):
    """Bytes of one data-out row (:func:`~hw.engine.storer.dout_width`, rounded up)."""
    return _bytes_for(dout_width(cfg))


def dout_reply_layout(cfg):
    """DOUT: a byte of flags (``last``), then the row."""
    return data.StructLayout({"last": 1, "reserved": BYTE_WIDTH - 1,
                              "data": dout_bytes(cfg) * BYTE_WIDTH})


def check_max_payload(cfg, max_payload):
    """Return ``max_payload`` if a bridge for ``cfg`` can use it: an integer that holds one
    command word and one data-in beat, and that ``LENGTH`` can state.

    Raises
    ------
    ValueError
        Naming the value and the range allowed.
    """
    least = max(COMMAND_BYTES, din_bytes(cfg))
    if isinstance(max_payload, bool) or not isinstance(max_payload, int) or \
            not least <= max_payload <= MAX_LENGTH:
        raise ValueError(f"max_payload must be an integer from {least} (a command word and a "
                         f"data-in beat) to {MAX_LENGTH}, not {max_payload!r}")
    return max_payload


def crc16_byte(crc, byte):
    """The CRC after one more byte, its bits MSB first: the step that
    :class:`hw.fpga.crc.Crc16` unrolls into logic."""
    for n in reversed(range(BYTE_WIDTH)):
        feedback = ((crc >> (CRC_WIDTH - 1)) ^ (byte >> n)) & 1
        crc = ((crc << 1) & ((1 << CRC_WIDTH) - 1)) ^ (CRC_POLY if feedback else 0)
    return crc


def crc16(octets, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of ``octets`` (bytes), continuing from ``crc``."""
    for byte in bytes(octets):
        crc = crc16_byte(crc, byte)
    return crc


def to_bytes(layout, **fields):
    """A payload with ``layout``: ``fields`` by name (integers or enum members; those not
    given are zero), packed little-endian into :func:`layout_bytes` bytes.

    Raises
    ------
    ValueError
        For a field the layout does not have, or a value that does not fit.
    """
    layout = data.Layout.cast(layout)
    names = [name for name, _ in layout]
    word = 0
    for name, value in fields.items():
        if name not in names:
            raise ValueError(f"layout has no field {name!r}; its fields are {', '.join(names)}")
        field = layout[name]
        value = value.value if isinstance(value, enum.Enum) else int(value)
        if not 0 <= value < 1 << field.width:
            raise ValueError(f"field {name} must be an integer from 0 to "
                             f"{(1 << field.width) - 1}, not {value!r}")
        word |= value << field.offset
    return word.to_bytes(layout_bytes(layout), "little")


def from_bytes(layout, octets):
    """The fields of a payload with ``layout`` as a dict of integers.

    Raises
    ------
    ValueError
        If ``octets`` is not :func:`layout_bytes` long.
    """
    layout = data.Layout.cast(layout)
    octets = bytes(octets)
    if len(octets) != layout_bytes(layout):
        raise ValueError(f"payload must be {layout_bytes(layout)} bytes, not {len(octets)}")
    word = int.from_bytes(octets, "little")
    return {name: (word >> field.offset) & ((1 << field.width) - 1) for name, field in layout}
