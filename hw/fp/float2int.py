"""Float to integer conversion: round to nearest even, saturating at the integer's range."""

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..latency import FLOAT_TO_INT, Pipelined, check_latency
from ._check import check_float_format, check_width
from .unpack import FPUnpack

__all__ = ["FloatToInt"]


class FloatToInt(Pipelined, CheckedComponent):
    """Convert a float to a signed two's complement integer, round to nearest, ties to even.

    The result saturates to ``[-2**(int_width - 1), 2**(int_width - 1) - 1]``: a finite value
    that rounds outside the range, and an infinity, give the bound of its sign; a NaN gives 0.
    Zeros of either sign give 0. Subnormals convert like any other value; in FP32 and BF16
    they all lie far below one half and give 0, so flush-to-zero would change no result and
    the unit has no such option.

    Three steps: the shift that puts the binary point in place, rounding, saturation and
    the sign. At the least latency, 1, they are one combinational path into the output
    register; each cycle more puts a register at the next of :attr:`CUTS`: after the shift
    (``"shifted"``), after rounding (``"rounded"``), between the shift amount (the exponent's
    subtraction and range compares, a carry chain) and the shift's multiplexers
    (``"amount"``); any further ones go at the output.
    Throughput one conversion per cycle; ``o`` depends only on ``a`` from :attr:`latency`
    cycles before.

    Parameters
    ----------
    fmt : FloatFormat
        Format of the float.
    int_width : int
        Width of the integer, sign included, at least 2.
    latency : int
        Register stages, 1 (the default) to 16 (:mod:`hw.latency`).

    Members
    -------
    a : In(fmt.width)
        The float's bits.
    o : Out(signed(int_width))
        The integer, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If ``fmt`` is not a :class:`~hw.formats.FloatFormat` or ``int_width`` is not an
        integer >= 2.
    """

    @classmethod
    def check(cls, fmt, int_width, latency):
        check_float_format("fmt", fmt)
        check_width("int_width", int_width, 2)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, fmt, int_width, *, latency=FLOAT_TO_INT):
        self._latency = latency
        self._fmt = fmt
        self._int_width = int_width
        super().__init__({"a": In(fmt.width), "o": Out(signed(int_width))})

    @property
    def fmt(self):
        return self._fmt

    @property
    def int_width(self):
        return self._int_width

    LEAST_LATENCY = FLOAT_TO_INT
    CUTS = ("shifted", "rounded", "amount")

    def elaborate(self, platform):
        m = Module()
        result = Signal.like(self.o)
        fmt, w = self._fmt, self._int_width
        p = fmt.sig_width

        m.submodules.unpack = u = FPUnpack(fmt)
        m.d.comb += u.i.eq(self.a)
        a = u.o

        # The value is sig * 2**(e - (p - 1)) with e the unbiased exponent of sig's top bit.
        e = Signal(signed(fmt.exp_width + 2))
        m.d.comb += e.eq(a.exp - fmt.bias)
        # e >= w - 1: the magnitude is at least 2**(w - 1), out of range (or exactly the most
        # negative integer, which is also the negative bound). e < -1: below one half, 0.
        big = e >= w - 1
        small = e < -1

        # Shifting sig left by e + 1 (0 .. w - 1) puts the binary point below bit p: the bits
        # above are the integer part, bit p - 1 the round bit, the rest the sticky bit.
        shift = Signal(range(w))
        m.d.comb += shift.eq(Mux(big | small, 0, e + 1))
        # What the rest needs of the value: its sign, whether it is a NaN or below one half
        # (0), whether it is out of range (the bound of its sign).
        sign = Signal()
        zero = Signal()
        bound = Signal()
        m.d.comb += [sign.eq(a.sign), zero.eq(a.is_nan | small), bound.eq(a.is_inf | big)]
        sig, shift, sign, zero, bound = (self.cut(m, v, "amount")
                                         for v in (a.sig, shift, sign, zero, bound))
        fixed = Signal(p + w)
        m.d.comb += fixed.eq(sig << shift)
        fixed, sign, zero, bound = (self.cut(m, v, "shifted") for v in (fixed, sign, zero, bound))

        whole = fixed[p:]
        round_bit = fixed[p - 1]
        sticky = fixed[:p - 1].any()
        # At most 2**(w - 1): whole < 2**(w - 1) as e <= w - 2, and rounding adds one.
        mag = Signal(w)
        m.d.comb += mag.eq(whole + (round_bit & (sticky | whole[0])))
        mag, sign, zero, bound = (self.cut(m, v, "rounded") for v in (mag, sign, zero, bound))

        too_big = mag[w - 1] & ~sign   # 2**(w - 1) only fits as a negative number
        max_int = Const((1 << (w - 1)) - 1, signed(w))
        min_int = Const(-(1 << (w - 1)), signed(w))
        with m.If(zero):
            m.d.comb += result.eq(0)
        with m.Elif(bound | too_big):
            m.d.comb += result.eq(Mux(sign, min_int, max_int))
        with m.Else():
            m.d.comb += result.eq(Mux(sign, -mag, mag))
        self.output(m, self.o, self.retime(m, result))
        return m
