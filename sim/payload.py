"""Packing numpy values into the integers that stream payloads carry, and back.

Every simulator backend (Amaranth, cocotb on Verilator or Icarus) moves payloads as plain
integers laid out by the hardware's own ``data.StructLayout`` / ``ArrayLayout``, so this is the
one place that knows how a lane maps to bits.
"""

import numpy as np
from amaranth.lib import data

from .golden import from_bits, to_bits

__all__ = ["pack_struct", "pack_lanes", "unpack_lanes"]


def pack_lanes(values, fmt, lanes, width=None):
    """Pack up to ``lanes`` values of ``fmt`` (zero-padded) into one integer, lane 0 lowest,
    each lane ``width`` bits (``None``: the format's; wider for a narrower member of a set
    engine, whose value sits in a lane's low bits)."""
    bits = to_bits(np.asarray(values, dtype=fmt.dtype).reshape(-1), fmt)
    if bits.size > lanes:
        raise ValueError(f"{bits.size} values do not fit {lanes} lanes")
    width = fmt.width if width is None else width
    word = 0
    for n, v in enumerate(bits.tolist()):
        word |= v << (n * width)
    return word


def unpack_lanes(word, fmt, lanes):
    """The ``lanes`` values of ``fmt`` packed in ``word`` (lane 0 lowest), as a numpy array."""
    mask = (1 << fmt.width) - 1
    bits = [(int(word) >> (n * fmt.width)) & mask for n in range(lanes)]
    return from_bits(np.array(bits, dtype=np.uint64), fmt)


def pack_struct(layout, **fields):
    """Pack ``fields`` (integers, already packed for array fields) into ``layout``'s bits.
    Fields not given are zero."""
    if not isinstance(layout, data.StructLayout):
        raise TypeError(f"layout must be a StructLayout, not {layout!r}")
    word = 0
    for name, value in fields.items():
        field = layout[name]
        value = int(value)
        if value < 0 or value >> field.width:
            raise ValueError(f"field {name!r} value {value!r} does not fit {field.width} bits")
        word |= value << field.offset
    return word
