"""The significand multiplier, apart so that synthesis maps it onto a DSP block."""

from amaranth import Module
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..latency import Pipelined, check_latency
from ._check import check_width

__all__ = ["SigMul", "PART_WIDTH"]

#: Widest operand of one partial product when the product is split (an ECP5 MULT18X18D's).
PART_WIDTH = 18


class SigMul(Pipelined, CheckedComponent):
    """Exact unsigned product of two significands.

    Combinational at the least latency, 0 (throughput one product per cycle);
    :class:`~hw.fp.mul.FPMul` registers the product. With latency 1 or more, operands wider
    than :data:`PART_WIDTH` are split into a low part of that width and a high part, and the
    four partial products (one multiplier block each) are registered (the cut
    ``"product"``) before they are summed, so a multiplier block's output drives a flip-flop
    and the sum is a path of its own; further registers go at the output.

    Parameters
    ----------
    width : int
        Width of each operand (a significand with its hidden bit).
    latency : int
        Register stages, 0 (the default) to 16 (:mod:`hw.latency`).

    Members
    -------
    a, b : In(width)
        Operands.
    o : Out(2 * width)
        ``a * b``, exact, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If ``width`` is not an integer >= 1 or ``latency`` is out of range.
    """

    LEAST_LATENCY = 0
    CUTS = ("product",)

    @classmethod
    def check(cls, width, latency):
        check_width("width", width, 1)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, width, *, latency=0):
        self._latency = latency
        self._width = width
        super().__init__({"a": In(width), "b": In(width), "o": Out(2 * width)})

    @property
    def width(self):
        return self._width

    def elaborate(self, platform):
        m = Module()
        a, b, w = self.a, self.b, self._width
        if w <= PART_WIDTH:
            product = self.cut(m, a * b, "product")
        else:
            lo = PART_WIDTH
            parts = [self.cut(m, x * y, "product")
                     for x, y in ((a[:lo], b[:lo]), (a[:lo], b[lo:]), (a[lo:], b[:lo]),
                                  (a[lo:], b[lo:]))]
            product = parts[0] + ((parts[1] + parts[2]) << lo) + (parts[3] << 2 * lo)
        m.d.comb += self.o.eq(self.retime(m, product))
        return m
