""":mod:`hw.field_names`: the field wires of the Verilog (and of a board build's RTLIL) are
named without brackets, which Yosys's ABC mapping takes for a bit's name."""

import re

from hw.config import Config, Pipeline
from hw.field_names import plain_field_names
from hw.gen import verilog_text

_INDEXED_NAME = re.compile(r"\\\S*\[\d+\]")


def test_indices_inside_names_become_fields():
    text = ("  wire width 128 \\parts[4]\n"
            "  wire width 32 \\parts[4][2]\n"
            "  connect \\parts[4][2] \\parts [607:576]\n"
            "  connect \\ends.field[2] { \\a [3] \\b [2:0] }\n"
            "  attribute \\enum_value_01 \"X[1]\"\n")
    assert plain_field_names(text) == (
        "  wire width 128 \\parts.4\n"
        "  wire width 32 \\parts.4.2\n"
        "  connect \\parts.4.2 \\parts [607:576]\n"
        "  connect \\ends.field.2 { \\a [3] \\b [2:0] }\n"
        "  attribute \\enum_value_01 \"X[1]\"\n")


def test_exported_verilog_has_no_indexed_names():
    """The 4×4 BF16 engine with ``add=5`` (its context reducer's partial rows are an array of
    arrays) stopped Yosys's ``synth_ecp5`` while its field wires were named ``parts[4][2]``."""
    cfg = Config(rows=2, cols=3, in_fmt="bf16", spad_kib=1, acc_kib=1,
                 pipeline=Pipeline(add=5))
    _, verilog = verilog_text(cfg, "engine")
    assert not _INDEXED_NAME.findall(verilog)
    # The fields are still there, by their plain names.
    assert re.search(r"\\parts\.4\.2 ", verilog)
