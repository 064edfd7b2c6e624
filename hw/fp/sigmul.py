"""The significand multiplier, apart so that synthesis maps it onto a DSP block."""

from amaranth import Cat, Module
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..latency import Pipelined, check_latency
from ._check import check_width

__all__ = ["SigMul", "PART_WIDTH"]

#: Widest operand of one multiplier block (an ECP5 MULT18X18D's): wider operands are split.
PART_WIDTH = 18


class SigMul(Pipelined, CheckedComponent):
    """Exact unsigned product of two significands.

    Combinational at the least latency, 0 (throughput one product per cycle);
    :class:`~hw.fp.mul.FPMul` registers the product. With latency 1 or more, operands wider
    than :data:`PART_WIDTH` are split into two halves (the low one ``ceil(width / 2)`` bits:
    12 and 12 for FP32's 24, each half product fits one multiplier block), and the four
    partial products are registered (the cut ``"product"``) before they are summed, so a
    multiplier block's output drives a flip-flop and the sum is a path of its own: the low
    and high products side by side (no adder: the low one is below ``2 ** width``) plus the
    two middle ones, one carry-save layer and one adder. Halves rather than 18 + 6 bits make
    the slowest partial product 12 x 12 instead of 18 x 18 (in SKY130, 4.8 ns instead of
    6.5 ns: README, *ASIC estimates*) for the same four ECP5 ``MULT18X18D``; further
    registers go at the output.

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
            lo = (w + 1) // 2
            parts = [self.cut(m, x * y, "product")
                     for x, y in ((a[:lo], b[:lo]), (a[:lo], b[lo:]), (a[lo:], b[:lo]),
                                  (a[lo:], b[lo:]))]
            # parts[0] < 2**(2 * lo): it and parts[3] << 2 * lo side by side need no adder,
            # and the sum of three is one carry-save tree and one adder.
            product = Cat(parts[0], parts[3]) + (parts[1] << lo) + (parts[2] << lo)
        m.d.comb += self.o.eq(self.retime(m, product))
        return m
