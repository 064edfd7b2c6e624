"""Emitting one Verilog module for many identical instances.

Amaranth writes a separate Verilog module for every elaboratable it meets, so a 64×64 array
would carry 4096 copies of the PE. For Verilog export the array instead instantiates PEs as
:class:`BlackBox` (an ``Instance`` of one module), and that module is converted once from a
:class:`Gated` PE. Simulation in Amaranth uses the PEs directly; the cocotb tests run the
exported Verilog, so both paths are checked against the golden model.
"""

from amaranth import ClockSignal, Instance, Module, ResetSignal
from amaranth.hdl import EnableInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["Gated", "BlackBox"]


def _port_members(component):
    members = component.signature.members
    for name, member in members.items():
        if not member.is_port:
            raise TypeError(f"member {name!r} of {component!r} is not a plain port")
    return members


class Gated(wiring.Component):
    """``inner`` with one more input, ``en``: every register of ``inner`` advances only while
    ``en`` is high (an ``EnableInserter`` made into a port, so an instance of the module can
    be stalled from outside)."""

    def __init__(self, inner):
        self._inner = inner
        super().__init__({**_port_members(inner), "en": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = EnableInserter(self.en)(self._inner)
        for name, member in self._inner.signature.members.items():
            ours, theirs = getattr(self, name), getattr(self._inner, name)
            if member.flow == wiring.In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        return m


class BlackBox(wiring.Component):
    """An instance of Verilog module ``module_name``, whose ports are ``members`` (a signature
    member dict) plus ``en`` (``In(1)`` unless ``members`` has its own), ``clk`` and ``rst``:
    the module :class:`Gated` converts from a component with those members, or a component
    with an ``en`` of its own (:class:`~hw.array.tile.PETile`)."""

    def __init__(self, members, module_name):
        self._module_name = module_name
        super().__init__({**members, "en": members.get("en", In(1))})

    @property
    def module_name(self):
        return self._module_name

    def elaborate(self, platform):
        # The instance itself, not a module holding it: the parent's Verilog instantiates
        # ``module_name`` directly, with no wrapper module per instance.
        ports = {}
        for name, member in self.signature.members.items():
            prefix = "i_" if member.flow == wiring.In else "o_"
            ports[prefix + name] = getattr(self, name)
        return Instance(self._module_name, i_clk=ClockSignal(), i_rst=ResetSignal(), **ports)
