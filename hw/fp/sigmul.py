"""The significand multiplier, apart so that synthesis maps it onto a DSP block."""

from amaranth import Cat, Module
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..dsp import ECP5_MULT_WIDTH, check_dsp
from ..intarith import IntMul
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
    6.5 ns: README, *ASIC estimates*) for the same four ECP5 ``MULT18X18D``; with latency 2
    or more the operands are registered too (the cut ``"operands"``, before the split), and
    further registers go at the output.

    With ``dsp="ecp5"`` each partial product is an instantiated MULT18X18D
    (:class:`~hw.intarith.IntMul`, :mod:`hw.dsp`) holding the ``"operands"`` and
    ``"product"`` registers as its own input and output registers, so neither the route to
    the few DSP rows nor the block itself shares a path with fabric logic; the same
    registers, the same latency, the same product. Its registers run freely (clock enable
    high): stall it with ``EnableInserter`` only in simulation, where the block is a model
    of the same registers.

    Parameters
    ----------
    width : int
        Width of each operand (a significand with its hidden bit).
    latency : int
        Register stages, 0 (the default) to 16 (:mod:`hw.latency`).
    dsp : str
        ``"infer"`` (the default): ``a * b`` per partial product, mapped as synthesis likes.
        ``"ecp5"``: an instantiated MULT18X18D per partial product, for latency 1 or more
        and halves (or a ``width``) of at most 17 bits; otherwise as ``"infer"``.

    Members
    -------
    a, b : In(width)
        Operands.
    o : Out(2 * width)
        ``a * b``, exact, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If ``width`` is not an integer >= 1, ``latency`` is out of range or ``dsp`` is not
        one of :data:`~hw.dsp.DSP_CHOICES`.
    """

    LEAST_LATENCY = 0
    CUTS = ("product", "operands")

    @classmethod
    def check(cls, width, latency, dsp):
        check_width("width", width, 1)
        check_latency(latency, cls.LEAST_LATENCY)
        check_dsp(dsp)

    def __init__(self, width, *, latency=0, dsp="infer"):
        self._latency = latency
        self._width = width
        self._dsp = dsp
        super().__init__({"a": In(width), "b": In(width), "o": Out(2 * width)})

    @property
    def width(self):
        return self._width

    @property
    def dsp(self):
        """``"ecp5"`` where the partial products are instantiated MULT18X18D, else
        ``"infer"``."""
        part = self._width if self._width <= PART_WIDTH else (self._width + 1) // 2
        fits = part + 1 <= ECP5_MULT_WIDTH    # unsigned, so one bit more as a signed operand
        return "ecp5" if self._dsp == "ecp5" and self.cuts and fits else "infer"

    def _part(self, m, x, y, name):
        """``x * y`` through the ``"product"`` cut, the operands (cut already) in the fabric;
        or a block with the cuts as its own registers."""
        if self.dsp == "infer":
            return self.cut(m, x * y, "product")
        w = max(len(x), len(y)) + 1               # unsigned, as signed operands
        mul = m.submodules[name] = IntMul(w, 2 * w, latency=len(self.cuts), dsp="ecp5")
        m.d.comb += [mul.a.eq(x), mul.b.eq(y)]
        return mul.o.as_unsigned()[:len(x) + len(y)]

    def elaborate(self, platform):
        m = Module()
        a, b, w = self.a, self.b, self._width
        if self.dsp == "infer":
            a, b = self.cut(m, a, "operands"), self.cut(m, b, "operands")
        if w <= PART_WIDTH:
            product = self._part(m, a, b, "part")
        else:
            lo = (w + 1) // 2
            parts = [self._part(m, x, y, f"part{n}")
                     for n, (x, y) in enumerate(((a[:lo], b[:lo]), (a[:lo], b[lo:]),
                                                 (a[lo:], b[:lo]), (a[lo:], b[lo:])))]
            # parts[0] < 2**(2 * lo): it and parts[3] << 2 * lo side by side need no adder,
            # and the sum of three is one carry-save tree and one adder.
            product = Cat(parts[0], parts[3]) + (parts[1] << lo) + (parts[2] << lo)
        m.d.comb += self.o.eq(self.retime(m, product))
        return m
