"""Leading-zero count: how far to shift a significand left to normalise it."""

from amaranth import Module
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ._check import check_width

__all__ = ["LeadingZeroCount"]


class LeadingZeroCount(CheckedComponent):
    """Count the leading zeros of an unsigned value.

    Combinational (latency 0, throughput one value per cycle).

    Parameters
    ----------
    width : int
        Width of the value, at least 1.

    Members
    -------
    i : In(width)
        The value.
    o : Out(range(width + 1))
        Number of zero bits above the most significant one; ``width`` when ``i`` is zero.

    Raises
    ------
    TypeError, ValueError
        If ``width`` is not an integer >= 1.
    """

    @staticmethod
    def check(width):
        check_width("width", width, 1)

    def __init__(self, width):
        self._width = width
        super().__init__({"i": In(width), "o": Out(range(width + 1))})

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self._width)
        # Later assignments win, so scanning upwards leaves the highest set bit in charge: a
        # priority encoder that synthesis is free to rebalance into a tree.
        for bit in range(self._width):
            with m.If(self.i[bit]):
                m.d.comb += self.o.eq(self._width - 1 - bit)
        return m
