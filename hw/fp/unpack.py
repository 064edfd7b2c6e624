"""Unpacking: a packed float (IEEE-style, or OCP E4M3's) split into the fields the arithmetic
works on."""

from amaranth import Cat, Module, Mux
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ._check import check_bool, check_float_format

__all__ = ["unpacked_layout", "FPUnpack"]


def unpacked_layout(fmt):
    """The layout of one unpacked value of ``fmt``.

    Fields
    ------
    sign : 1
        The sign bit, kept for zeros, infinities and NaNs too.
    exp : unsigned(fmt.exp_width)
        Biased exponent, with zeros and subnormals reading as 1: then ``sig * 2**(exp - bias -
        sig_width + 1)`` is the value of every finite input, with no case for subnormals.
    sig : unsigned(fmt.sig_width)
        Significand including the hidden bit (0 for zeros and subnormals).
    is_zero, is_sub, is_inf, is_nan : 1
        Classification. ``is_sub`` is never set when flushing subnormals to zero.
    """
    return data.StructLayout({
        "sign": 1,
        "exp": fmt.exp_width,
        "sig": fmt.sig_width,
        "is_zero": 1,
        "is_sub": 1,
        "is_inf": 1,
        "is_nan": 1,
    })


class FPUnpack(CheckedComponent):
    """Split a packed float into sign, biased exponent, significand and classification.

    Combinational (latency 0, throughput one value per cycle). Every operator unpacks its
    operands with this one component, so subnormal and flush-to-zero handling on input is the
    same everywhere. Special values follow ``fmt.has_inf``: IEEE's, or OCP E4M3's (no
    infinities; the all-ones exponent holds normal numbers, and NaN with an all-ones fraction),
    where NaN and normal numbers of the top binade unpack like any other NaN or normal.

    Parameters
    ----------
    fmt : FloatFormat
        Format of the packed value.
    ftz : bool
        Flush to zero: a subnormal input reads as a zero of the same sign.

    Members
    -------
    i : In(fmt.width)
        The packed value.
    o : Out(unpacked_layout(fmt))
        The unpacked value.

    Raises
    ------
    TypeError
        If ``fmt`` is not a :class:`~hw.formats.FloatFormat` or ``ftz`` is not a bool.
    """

    @staticmethod
    def check(fmt, ftz):
        check_float_format("fmt", fmt)
        check_bool("ftz", ftz)

    def __init__(self, fmt, *, ftz=False):
        self._fmt = fmt
        self._ftz = ftz
        super().__init__({"i": In(fmt.width), "o": Out(unpacked_layout(fmt))})

    @property
    def fmt(self):
        return self._fmt

    @property
    def ftz(self):
        return self._ftz

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        fw = fmt.frac_width
        frac = self.i[:fw]
        exp = self.i[fw:fw + fmt.exp_width]
        exp_zero = exp == 0
        exp_ones = exp == fmt.exp_max
        frac_zero = frac == 0
        sub = exp_zero & ~frac_zero

        if fmt.has_inf:     # IEEE: the all-ones exponent is Inf or NaN
            is_inf, is_nan = exp_ones & frac_zero, exp_ones & ~frac_zero
        else:               # OCP E4M3: no Inf; the all-ones exponent is normal bar one NaN
            is_inf, is_nan = 0, exp_ones & (frac == fmt.frac_max)
        m.d.comb += [
            self.o.sign.eq(self.i[-1]),
            # A subnormal's scale is that of the smallest normal exponent, not of exponent 0.
            self.o.exp.eq(Mux(exp_zero, 1, exp)),
            self.o.is_inf.eq(is_inf),
            self.o.is_nan.eq(is_nan),
        ]
        if self._ftz:
            m.d.comb += [
                self.o.sig.eq(Mux(exp_zero, 0, Cat(frac, 1))),
                self.o.is_zero.eq(exp_zero),
                self.o.is_sub.eq(0),
            ]
        else:
            m.d.comb += [
                self.o.sig.eq(Cat(frac, ~exp_zero)),
                self.o.is_zero.eq(exp_zero & frac_zero),
                self.o.is_sub.eq(sub),
            ]
        return m
