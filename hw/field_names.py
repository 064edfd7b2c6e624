"""Field wires named without brackets, so that Yosys's technology mapping can name bits.

For a signal with a layout, Amaranth's RTLIL adds a wire for every field and element, named
like a Python access: ``parts[4]``, ``parts[4][2]``, ``ends.field[2]`` (aliases, read by
nothing; they show the fields in a waveform). Yosys names a bit of a wire ``name[index]``
when it maps logic with ABC (``abc9``'s AIGER netlist back into the design), and a field
wire named ``parts[4]`` is then the same name as bit 4 of ``parts``: Yosys 0.62 to 0.70 stop
with an internal assertion (``count_id(wire->name) == 0``, or in 0.70 ``GetSize(conn.first)
== GetSize(conn.second)``). Whether it happens depends on which nets ABC keeps, so a small
change anywhere in a large design can bring it on: the 4×4 BF16 engine with ``--pipeline
mul=4,add=5`` did, in ``synth_ecp5``, with several unrelated one-line changes.

:func:`plain_field_names` writes each ``[index]`` of such a name as ``.index``
(``parts.4.2``), in the RTLIL text before Yosys reads it: the same wires, the same logic,
names that cannot be a bit's.
"""

import re

__all__ = ["plain_field_names"]

# An RTLIL identifier that holds an element index: a backslash, then no whitespace. A
# bit-select of a wire is written apart from its name (``\parts [4]``), so it never matches.
_INDEXED = re.compile(r"\\[^\s\[]*\[\d+\]\S*")
_INDEX = re.compile(r"\[(\d+)\]")


def plain_field_names(rtlil_text):
    """``rtlil_text`` with every ``[index]`` inside an identifier written ``.index``."""
    return _INDEXED.sub(lambda m: _INDEX.sub(r".\1", m.group(0)), rtlil_text)
