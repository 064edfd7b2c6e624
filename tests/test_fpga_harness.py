# amaranth: UnusedElaboratable=no
"""The three-pin harness: its ports, its cost, and its constructor's errors."""

import re

import pytest
from amaranth.back import verilog

from hw.config import Config
from hw.fpga.harness import Harness
from hw.fpga.ooc import design_ports

PORTS = [{"name": "a", "direction": "input", "width": 5},
         {"name": "b", "direction": "output", "width": 3},
         {"name": "c", "direction": "output", "width": 2},
         {"name": "clk", "direction": "input", "width": 1},
         {"name": "rst", "direction": "input", "width": 1}]


def test_three_pins_and_every_design_port_driven():
    h = Harness("blk", PORTS)
    assert (h.input_bits, h.output_bits) == (6, 5)
    assert h.overhead == {"ff": 11, "lut": 5}
    text = verilog.convert(h, name="ooc_blk", emit_src=False)
    header = re.search(r"module ooc_blk\(([^)]*)\);", text)[1]
    assert sorted(p.strip() for p in header.split(",")) == ["clk", "si", "so"]
    instance = text[text.index("blk dut ("):]
    for port in ("a", "b", "c", "clk", "rst"):
        assert f".{port}(" in instance
    assert ".clk(clk)" in instance
    # rst comes from the input chain like any other input.
    assert ".rst(harness_in" in instance


def test_engine_ports():
    cfg = Config(rows=2, spad_kib=1, acc_kib=1)
    h = Harness("engine", design_ports(cfg, "engine"))
    # 128-bit command, 16-bit data in and its valid/last, data-out ready, rst.
    assert h.input_bits == 128 + 1 + 16 + 1 + 1 + 1 + 1
    assert h.output_bits == 1 + 1 + 2 * 32 + 1 + 1 + 1 + 4


@pytest.mark.parametrize("ports, pattern", [
    ([p for p in PORTS if p["name"] != "clk"], r"^ports must include 'clk', not only a, b"),
    ([*PORTS[:3], {"name": "d", "direction": "inout", "width": 1}, *PORTS[3:]],
     r"^port 'd' direction must be 'input' or 'output', not 'inout'$"),
    ([p for p in PORTS if p["direction"] == "input"],
     r"^ports must include at least one input besides 'clk' and one output$"),
])
def test_constructor_errors(ports, pattern):
    with pytest.raises(ValueError, match=pattern):
        Harness("blk", ports)
