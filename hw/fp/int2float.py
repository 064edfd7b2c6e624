"""Integer to float conversion: a signed integer rounded (when it must be) into a float format."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..delay import delay
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

    Combinational conversion into an output register: latency :attr:`latency` = 1 cycle by
    default, throughput one conversion per cycle. A second stage splits the leading-zero count
    from the shift and rounding; stages beyond go at the output.

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

    def elaborate(self, platform):
        m = Module()
        n, fmt = self._int_width, self._fmt

        # The most negative integer's magnitude, 2**(n - 1), still fits n unsigned bits.
        mag = Signal(n)
        m.d.comb += mag.eq(Mux(self.a < 0, -self.a, self.a))
        m.submodules.lzc = lzc = LeadingZeroCount(n)
        m.d.comb += lzc.i.eq(mag)

        # A first register beyond the unit's own splits the leading-zero count from the shift
        # and rounding (two halves of the one long path, for a flow without retiming); any
        # further ones go at the output, for retiming.
        split = min(self.extra_latency, 1)
        neg = delay(m, self.a < 0, split, name="neg")
        mag_s = delay(m, mag, split, name="mag")
        lz = delay(m, lzc.o, split, name="lz")

        exp = Signal(range(fmt.bias - 1, fmt.bias + n))
        m.d.comb += exp.eq(fmt.bias + n - 1 - lz)
        m.submodules.round = rnd = FPRound(fmt, n, len(exp) + 1)
        m.d.comb += [
            rnd.i.sign.eq(neg),
            rnd.i.exp.eq(exp),
            rnd.i.sig.eq(mag_s << lz),
            rnd.i.sticky.eq(0),
            rnd.i.is_zero.eq(mag_s == 0),
            rnd.i.is_inf.eq(0),
            rnd.i.is_nan.eq(0),
        ]
        m.d.sync += self.o.eq(delay(m, rnd.o, self.extra_latency - split, name="retime"))
        return m
