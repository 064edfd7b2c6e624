"""The array's edge delay lines, written once per width and depth for Verilog export.

Skewing operands into the diagonal wavefront and de-skewing results takes a triangle of
registers: row ``r`` waits ``r`` cycles, column ``c`` ``cols - 1 - c``, so a 256×256 array
holds about 65 000 delay registers in its top module, as many nets as all its tile instances.
For Verilog export :func:`edge_delay` builds a delay of ``cycles`` from instances of
:class:`DelayLine` modules of power-of-two depths (at least :data:`MIN_SHARED`), each written
once per width and depth (:func:`delay_module_name`), and the remainder from plain registers.
The registers, and so the timing, are the same as :func:`hw.delay.delay`'s; only where they
sit in the module hierarchy differs. A line of data (operands, results) is reset-less, a line
of flags takes the synchronous reset (the rule is in :mod:`hw.delay`): the two are different
modules.
"""

from amaranth import Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..delay import delay
from .blackbox import BlackBox

__all__ = ["MIN_SHARED", "DelayLine", "delay_module_name", "delay_chunks", "delay_kinds",
           "edge_delay"]

#: The shortest delay line written as a module of its own; shorter remainders are registers
#: in place.
MIN_SHARED = 8


def delay_module_name(pe_module, width, depth, reset_less=False):
    """The Verilog module of a ``width``-bit, ``depth``-cycle :class:`DelayLine` in an array
    whose PEs are ``pe_module``: ``<pe_module>_delay<width>x<depth>``, or
    ``<pe_module>_data<width>x<depth>`` for a ``reset_less`` one."""
    return f"{pe_module}_{'data' if reset_less else 'delay'}{width}x{depth}"


def delay_chunks(cycles):
    """``(remainder, depths)``: ``cycles`` as registers in place (``remainder``, less than
    :data:`MIN_SHARED`) and delay lines of the power-of-two ``depths``, longest first."""
    if cycles < 0:
        raise ValueError(f"cycles must be 0 or more, not {cycles!r}")
    remainder = cycles % MIN_SHARED
    depths = [1 << k for k in reversed(range(cycles.bit_length()))
              if (1 << k) >= MIN_SHARED and cycles & (1 << k)]
    return remainder, depths


def delay_kinds(delays):
    """The sorted ``(width, depth, reset_less)`` delay lines that ``delays``, an iterable of
    ``(width, cycles, reset_less)``, are built from."""
    return sorted({(width, depth, reset_less) for width, cycles, reset_less in delays
                   for depth in delay_chunks(cycles)[1]})


class DelayLine(wiring.Component):
    """``o`` is ``i`` ``depth`` cycles later: ``depth`` registers of ``width`` bits, without
    the synchronous reset if ``reset_less``.

    Members
    -------
    i : ``In(width)``
    o : ``Out(width)``

    Latency: ``depth`` cycles. Throughput: one value per cycle.
    """

    def __init__(self, width, depth, reset_less=False):
        self._depth = depth
        self._reset_less = reset_less
        super().__init__({"i": In(width), "o": Out(width)})

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(delay(m, self.i, self._depth, name="dly",
                                    reset_less=self._reset_less))
        return m


def edge_delay(m, value, cycles, *, en, pe_module, name, kinds=None, reset_less=False):
    """``value`` (as plain bits) delayed by ``cycles`` registers of ``m``'s ``sync`` domain,
    all advancing while ``en``: :func:`hw.delay.delay` if ``pe_module`` is ``None``, else
    instances of the shared :class:`DelayLine` modules of an array whose PEs are
    ``pe_module`` after the remainder's registers in place. ``kinds``, if given, is the
    ``(width, depth, reset_less)`` list the exporter writes (:func:`delay_kinds`); a line
    outside it is an error rather than a module missing from the Verilog. ``reset_less``: a
    line of data, whose registers ignore the reset."""
    value = Value.cast(value)
    if pe_module is None:
        return delay(m, value, cycles, name=name, reset_less=reset_less)
    width = len(value)
    remainder, depths = delay_chunks(cycles)
    value = delay(m, value, remainder, name=name, reset_less=reset_less)
    for depth in depths:
        if kinds is not None and (width, depth, reset_less) not in kinds:
            raise ValueError(f"delay line {width}x{depth} (reset_less={reset_less}) of "
                             f"{name!r} is not among the shared modules {kinds!r}")
        line = BlackBox({"i": In(width), "o": Out(width)},
                        delay_module_name(pe_module, width, depth, reset_less))
        m.submodules[f"{name}_x{depth}"] = line
        m.d.comb += [line.i.eq(value), line.en.eq(en)]
        value = line.o
    return value
