"""Leading-zero count: how far to shift a significand left to normalise it."""

from amaranth import Cat, Const, Module, Mux
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ._check import check_width

__all__ = ["LeadingZeroCount"]


class LeadingZeroCount(CheckedComponent):
    """Count the leading zeros of an unsigned value.

    Combinational (latency 0, throughput one value per cycle), built as a balanced tree: each
    node joins the (all-zero, count) pairs of two halves, so the depth grows with
    ``log2(width)`` rather than with ``width`` (a priority chain of ``width`` multiplexers,
    which synthesis does not rebalance, was the longest path of the post-processing unit).

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
        width = self._width
        size = 1 << (width - 1).bit_length()
        # Ones below the value: the count of a nonzero value is unchanged, and a zero value
        # counts exactly ``width`` leading zeros, with no special case.
        padded = Cat(Const((1 << (size - width)) - 1, size - width), self.i)
        # One (zero, count) pair per bit, joined pairwise up to the root; a count has
        # log2(span) bits and is meaningful when zero is clear.
        nodes = [(~padded[bit], Const(0, 0)) for bit in range(size)]
        while len(nodes) > 1:
            joined = []
            for lo, hi in zip(nodes[0::2], nodes[1::2], strict=True):
                zero = hi[0] & lo[0]
                count = Mux(hi[0], Cat(lo[1], Const(1, 1)), Cat(hi[1], Const(0, 1)))
                joined.append((zero, count))
            nodes = joined
        zero, count = nodes[0]
        m.d.comb += self.o.eq(Mux(zero, size, count))
        return m
