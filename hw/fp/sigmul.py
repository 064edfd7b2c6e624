"""The significand multiplier, apart so that synthesis maps it onto a DSP block."""

from amaranth import Module
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ._check import check_width

__all__ = ["SigMul"]


class SigMul(CheckedComponent):
    """Exact unsigned product of two significands.

    Combinational (latency 0, throughput one product per cycle); :class:`~hw.fp.mul.FPMul`
    registers the product, which is the register a DSP block's multiplier output absorbs.

    Parameters
    ----------
    width : int
        Width of each operand (a significand with its hidden bit).

    Members
    -------
    a, b : In(width)
        Operands.
    o : Out(2 * width)
        ``a * b``, exact.

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
        super().__init__({"a": In(width), "b": In(width), "o": Out(2 * width)})

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.a * self.b)
        return m
