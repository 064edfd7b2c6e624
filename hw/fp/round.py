"""Rounding and packing: the one place a float result is rounded to nearest even and packed."""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ._check import check_bool, check_float_format, check_width

__all__ = ["round_input_layout", "FPRound"]


def round_input_layout(sig_width, exp_width):
    """The layout of a value waiting to be rounded.

    Fields
    ------
    sign : 1
        Sign of the result, also for zero and infinite results.
    exp : signed(exp_width)
        Biased exponent (in the output format's bias) of the significand's top bit: the value
        is ``sig / 2**(sig_width - 1) * 2**(exp - bias)``. It may lie below 1 (a result in or
        below the subnormal range) or at or above the all-ones exponent (overflow).
    sig : unsigned(sig_width)
        Normalised significand (top bit set) with as many bits below the output precision as
        the producer has; ignored when one of the ``is_*`` flags is set.
    sticky : 1
        Whether any nonzero bit lies below ``sig``'s least significant bit.
    is_zero, is_inf, is_nan : 1
        Bypass: the result is a zero / an infinity of sign ``sign`` / the canonical quiet NaN.
    """
    return data.StructLayout({
        "sign": 1,
        "exp": signed(exp_width),
        "sig": sig_width,
        "sticky": 1,
        "is_zero": 1,
        "is_inf": 1,
        "is_nan": 1,
    })


class FPRound(CheckedComponent):
    """Round an exact or sticky-extended result to nearest, ties to even, and pack it.

    Combinational (latency 0, throughput one value per cycle): the operators register its
    output. Handles, in the output format:

    * results below the normal range: the significand is shifted right to the subnormal
      position, with the bits shifted out joining the sticky bit, then rounded once, so a tie
      at half the smallest subnormal rounds to zero and a value just below the smallest normal
      may round up into it;
    * overflow: a result whose rounded exponent reaches the all-ones exponent becomes an
      infinity of the result's sign;
    * flush to zero (``ftz``): a result whose exponent field is 0 *after* rounding becomes a
      zero of the same sign, which is what flushing an IEEE-rounded subnormal result gives;
    * the ``is_nan`` / ``is_inf`` / ``is_zero`` bypass, in that priority.

    Parameters
    ----------
    fmt : FloatFormat
        Output format.
    sig_width : int
        Width of the incoming significand. Narrower than ``fmt.sig_width + 2`` is fine (an
        integer conversion): the missing low bits are zero.
    exp_width : int
        Width of the incoming signed biased exponent; it must hold every exponent the producer
        can emit.
    ftz : bool
        Flush subnormal results to zero of the same sign.
    denormalize : bool
        Shift a result below the normal range right into the subnormal position (the
        default). ``False`` when the producer never passes an exponent below 1 and delivers
        a subnormal result already denormalised at exponent 1 (top bit of ``sig`` clear), as
        an adder that limits its normalisation shift does: that drops the shifter.

    Members
    -------
    i : In(round_input_layout(sig_width, exp_width))
        The value to round.
    o : Out(fmt.width)
        The packed, rounded result.

    Raises
    ------
    TypeError, ValueError
        If ``fmt`` is not a :class:`~hw.formats.FloatFormat`, a width is not a positive
        integer, or ``ftz`` is not a bool.
    """

    @staticmethod
    def check(fmt, sig_width, exp_width, ftz, denormalize):
        check_float_format("fmt", fmt)
        check_width("sig_width", sig_width, 1)
        check_width("exp_width", exp_width, 2)
        check_bool("ftz", ftz)
        check_bool("denormalize", denormalize)

    def __init__(self, fmt, sig_width, exp_width, *, ftz=False, denormalize=True):
        self._fmt = fmt
        self._sig_width = sig_width
        self._exp_width = exp_width
        self._ftz = ftz
        self._denormalize = denormalize
        super().__init__({
            "i": In(round_input_layout(sig_width, exp_width)),
            "o": Out(fmt.width),
        })

    @property
    def fmt(self):
        return self._fmt

    @property
    def sig_width(self):
        return self._sig_width

    @property
    def exp_width(self):
        return self._exp_width

    @property
    def ftz(self):
        return self._ftz

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        p = fmt.sig_width
        i = self.i

        # Work on at least p + 2 bits (the kept bits, the round bit and one sticky position) so
        # that the slices below are never empty; padding with zeros below is exact.
        width = max(self._sig_width, p + 2)
        sig = Cat(Const(0, width - self._sig_width), i.sig)

        # A result whose exponent is below 1 is subnormal: shift it right to exponent 1. Any
        # shift beyond p + 1 leaves every bit below the round bit, where it only sets sticky.
        tiny = (i.exp < 1) if self._denormalize else Const(0)
        max_shift = p + 1 if self._denormalize else 0
        if self._denormalize:
            shift = Signal(range(max_shift + 1))
            with m.If(tiny):
                with m.If(i.exp < 1 - max_shift):
                    m.d.comb += shift.eq(max_shift)
                with m.Else():
                    m.d.comb += shift.eq(1 - i.exp)
            wide = Cat(Const(0, max_shift), sig) >> shift
        else:
            wide = sig
        aligned = wide[max_shift:]
        sticky = Signal()
        m.d.comb += sticky.eq(
            i.sticky | wide[:max_shift].any() | aligned[:width - p - 1].any())
        kept = aligned[width - p:]
        round_bit = aligned[width - p - 1]
        round_up = round_bit & (sticky | kept[0])
        rounded = Signal(p + 1)
        m.d.comb += rounded.eq(kept + round_up)

        # The rounded significand's top two bits say by how much the exponent field exceeds
        # exp - 1: by 1 normally, by 2 when rounding carried out of the top, and for a subnormal
        # (field base 0) by 0, or by 1 when rounding carried it up into the smallest normal.
        exp_field = Signal(signed(self._exp_width + 2))
        m.d.comb += exp_field.eq(Mux(tiny, 0, i.exp - 1) + rounded[p - 1:])
        frac = rounded[:p - 1]

        with m.If(i.is_nan):
            m.d.comb += self.o.eq(fmt.qnan)
        with m.Elif(i.is_inf | (exp_field >= fmt.exp_max)):
            m.d.comb += self.o.eq(Cat(Const(fmt.inf, fmt.width - 1), i.sign))
        with m.Elif(i.is_zero | ((exp_field == 0) if self._ftz else 0)):
            m.d.comb += self.o.eq(Cat(Const(0, fmt.width - 1), i.sign))
        with m.Else():
            m.d.comb += self.o.eq(Cat(frac, exp_field[:fmt.exp_width], i.sign))
        return m
