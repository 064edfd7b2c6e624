# amaranth: UnusedElaboratable=no
""":mod:`hw.export`: modules written once, named from the prefix, each converted once, and the
same units elaborated in place when not exporting."""

import re

import pytest
from amaranth import Module
from amaranth.hdl import Fragment
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.array.blackbox import BlackBox
from hw.dsp import VERILOG_EXPORT
from hw.export import ModuleSet, written_once


class _Reg(wiring.Component):
    i: In(4)
    o: Out(4)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(self.i)
        return m


class _Two(wiring.Component):
    """Two registers through :func:`written_once`."""

    i: In(4)
    o: Out(4)

    def __init__(self, modules):
        self._modules = modules
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        first = written_once(m, platform, self._modules, "first", _Reg, "reg")
        second = written_once(m, platform, self._modules, "second", _Reg, "reg")
        m.d.comb += [first.i.eq(self.i), second.i.eq(first.o), self.o.eq(second.o)]
        return m


def test_one_module_for_every_instance():
    modules = ModuleSet("top")
    modules.add("ram_8x4_r", lambda: "module top_ram_8x4_r();\nendmodule\n")
    text = modules.verilog("top", _Two(modules))
    assert modules.names == ["top_ram_8x4_r", "top_reg"]
    assert text.count("module top_reg(") == 1
    assert len(re.findall(r"^  top_reg \S+ \(", text, re.MULTILINE)) == 2
    assert text.count("module top_ram_8x4_r(") == 1
    assert text.index("module top_reg(") < text.index("module top_ram_8x4_r(")


def test_add_builds_a_module_once():
    modules = ModuleSet("top")
    made = []
    for _ in range(3):
        assert modules.add("x", lambda: made.append(1) or "text") == "top_x"
    assert made == [1]
    with pytest.raises(KeyError):
        modules.component("top_x")


@pytest.mark.parametrize("platform, modules", [(None, ModuleSet("top")),
                                               (VERILOG_EXPORT, None)])
def test_elaborated_in_place_unless_exporting(platform, modules):
    m = Module()
    unit = written_once(m, platform, modules, "u", _Reg, "reg")
    assert isinstance(unit, _Reg)
    assert modules is None or modules.names == []
    Fragment.get(m, platform)


def test_exported_as_an_instance():
    m = Module()
    modules = ModuleSet("top")
    unit = written_once(m, VERILOG_EXPORT, modules, "u", _Reg, "reg")
    assert isinstance(unit, BlackBox) and unit.module_name == "top_reg"
    Fragment.get(m, VERILOG_EXPORT)
    Fragment.get(modules.component("top_reg"), VERILOG_EXPORT)


@pytest.mark.parametrize("prefix", ["", None, 3])
def test_bad_prefix(prefix):
    with pytest.raises(ValueError, match=f"prefix must be a non-empty string, not {prefix!r}"):
        ModuleSet(prefix)


def test_streamed_yosys_writes_what_verilog_convert_writes():
    """The Yosys run that reads each module as it is netlisted (``hw.export._YosysStream``)
    writes the same text as Amaranth's own conversion of the whole RTLIL at once."""
    from amaranth.back import rtlil, verilog

    def convert(component, name):
        return rtlil.convert(component, name=name, emit_src=False, platform=VERILOG_EXPORT)

    modules = ModuleSet("top")
    text = modules.verilog("top", _Two(modules))
    other = ModuleSet("top")
    whole = convert(_Two(other), "top")
    whole += "\n" + convert(other.component("top_reg"), "top_reg")
    assert text == verilog._convert_rtlil_text(whole)


def test_a_yosys_error_is_raised():
    from amaranth.back.verilog import YosysError

    from hw.export import _YosysStream

    with _YosysStream() as yosys:
        yosys.add("module \\broken\n  wire width 4 \\w\n")
        with pytest.raises(YosysError):
            yosys.verilog()
