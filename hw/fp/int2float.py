"""Integer to float conversion: a signed integer rounded (when it must be) into a float format."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..latency import INT_TO_FLOAT, Pipelined, check_latency
from ._check import check_float_format, check_width
from .lzc import LeadingZeroCount
from .round import FPRound

__all__ = ["IntToFloat"]


class IntToFloat(Pipelined, CheckedComponent):
    """Convert a signed two's complement integer to a float, round to nearest even.

    Exact whenever the integer's magnitude fits the format's significand (a 16-bit integer,
    such as an int8 × int8 product, always fits FP32); otherwise rounded once to nearest, ties
    to even, through :class:`~hw.fp.round.FPRound`, overflowing to an infinity if the format's
    range is too small. Zero converts to +0.

    Four steps: the magnitude (a negation), its leading-zero count, the normalising shift,
    rounding and packing. At the least latency, 1, they are one combinational path into the
    output register; each cycle more puts a register at the next of :attr:`CUTS`: after the
    count (``"counted"``), after the shift (``"shifted"``), after the magnitude
    (``"magnitude"``), so latency 4 registers every step; any further ones go at the output.
    Throughput one conversion per cycle; ``o`` depends only on ``a`` from :attr:`latency`
    cycles before.

    Parameters
    ----------
    int_width : int
        Width of the integer, sign included, at least 2.
    fmt : FloatFormat
        Result format.
    latency : int
        Register stages, 1 (the default) to 16 (:mod:`hw.latency`).

    Members
    -------
    a : In(signed(int_width))
        The integer.
    o : Out(fmt.width)
        The float, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If ``int_width`` is not an integer >= 2 or ``fmt`` is not a
        :class:`~hw.formats.FloatFormat`.
    """

    @classmethod
    def check(cls, int_width, fmt, latency):
        check_width("int_width", int_width, 2)
        check_float_format("fmt", fmt)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, int_width, fmt, *, latency=INT_TO_FLOAT):
        self._latency = latency
        self._int_width = int_width
        self._fmt = fmt
        super().__init__({"a": In(signed(int_width)), "o": Out(fmt.width)})

    @property
    def int_width(self):
        return self._int_width

    @property
    def fmt(self):
        return self._fmt

    LEAST_LATENCY = INT_TO_FLOAT
    CUTS = ("counted", "shifted", "magnitude")

    def elaborate(self, platform):
        m = Module()
        n, fmt = self._int_width, self._fmt

        # The most negative integer's magnitude, 2**(n - 1), still fits n unsigned bits.
        mag = Signal(n)
        m.d.comb += mag.eq(Mux(self.a < 0, -self.a, self.a))
        sign = self.cut(m, self.a < 0, "magnitude")
        mag = self.cut(m, mag, "magnitude")

        m.submodules.lzc = lzc = LeadingZeroCount(n)
        m.d.comb += lzc.i.eq(mag)
        sign = self.cut(m, sign, "counted")
        lz = self.cut(m, lzc.o, "counted")
        mag = self.cut(m, mag, "counted")

        exp = Signal(range(fmt.bias - 1, fmt.bias + n))
        m.d.comb += exp.eq(fmt.bias + n - 1 - lz)
        # A nonzero integer's exponent is at least the bias: never a subnormal result.
        rnd = FPRound(fmt, n, len(exp) + 1, exp_min=fmt.bias)
        m.submodules.round = rnd
        # A register here powers up (in simulation) as what a zero input gives (+0); it has no
        # reset (data, see hw.delay).
        normalised = Signal(rnd.i.shape(), init={"is_zero": 1})
        m.d.comb += [
            normalised.sign.eq(sign),
            normalised.exp.eq(exp),
            normalised.sig.eq(mag << lz),
            normalised.sticky.eq(0),
            normalised.is_zero.eq(mag == 0),
            normalised.is_inf.eq(0),
            normalised.is_nan.eq(0),
        ]
        m.d.comb += rnd.i.eq(self.cut(m, normalised, "shifted"))
        self.output(m, self.o, self.retime(m, rnd.o))
        return m
