"""Rounding and packing: the one place a float result is rounded to nearest even and packed."""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..latency import Pipelined, check_latency
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


class FPRound(Pipelined, CheckedComponent):
    """Round an exact or sticky-extended result to nearest, ties to even, and pack it.

    Combinational at the least latency, 0 (the operators register its output); each cycle
    more puts a register at the next of :attr:`CUTS`: after the subnormal shift and the
    sticky bit (``"aligned"``), before the shift (``"shifting"``, after the exponent's
    comparisons), after the increment that rounds (``"rounded"``: the rounded significand and
    the exponent field of each possible carry, worked out beside the shift and the
    rounding), which leaves only the exponent select by the carry and the packing after the
    last cut. Throughput one value per cycle. Handles, in the output format:

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
    exp_min : int or None
        The least ``i.exp`` the producer emits for a value that no ``is_*`` flag bypasses
        (``None``: any). From 1 up the subnormal shift (a barrel shifter and its sticky bits)
        is left out: a result below the normal range can only arrive already denormalised at
        exponent 1, its significand's top bit clear, and packs with exponent field 0. An
        integer conversion never makes one; the FP32 adder, whose normalisation shift stops
        at exponent 1, hands its subnormal sums over that way.
    latency : int
        Register stages, 0 (the default) to 16 (:mod:`hw.latency`); 3 registers every cut.

    Members
    -------
    i : In(round_input_layout(sig_width, exp_width))
        The value to round.
    o : Out(fmt.width)
        The packed, rounded result, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If ``fmt`` is not a :class:`~hw.formats.FloatFormat`, a width is not a positive
        integer, ``ftz`` is not a bool, ``exp_min`` is neither ``None`` nor an integer, or
        ``latency`` is out of range.
    """

    LEAST_LATENCY = 0
    CUTS = ("aligned", "shifting", "rounded")

    @classmethod
    def check(cls, fmt, sig_width, exp_width, ftz, exp_min, latency):
        check_latency(latency, cls.LEAST_LATENCY)
        check_float_format("fmt", fmt)
        check_width("sig_width", sig_width, 1)
        check_width("exp_width", exp_width, 2)
        check_bool("ftz", ftz)
        if exp_min is not None and (isinstance(exp_min, bool) or not isinstance(exp_min, int)):
            raise TypeError(f"exp_min must be None or an integer, not {exp_min!r}")

    def __init__(self, fmt, sig_width, exp_width, *, ftz=False, exp_min=None, latency=0):
        self._latency = latency
        self._fmt = fmt
        self._sig_width = sig_width
        self._exp_width = exp_width
        self._ftz = ftz
        self._exp_min = exp_min
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

    @property
    def exp_min(self):
        return self._exp_min

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        p = fmt.sig_width
        i = self.i

        # Work on at least p + 2 bits (the kept bits, the round bit and one sticky position) so
        # that the slices below are never empty; padding with zeros below is exact.
        width = max(self._sig_width, p + 2)
        sig = Cat(Const(0, width - self._sig_width), i.sig)

        # From the exponent alone. A result whose exponent is below 1 is subnormal: shift it
        # right to exponent 1. Any shift beyond p + 1 leaves every bit below the round bit,
        # where it only sets sticky.
        tiny = Const(0) if self._exp_min is not None and self._exp_min >= 1 else i.exp < 1
        max_shift = p + 1
        shift = Signal(range(max_shift + 1))
        with m.If(tiny):
            with m.If(i.exp < 1 - max_shift):
                m.d.comb += shift.eq(max_shift)
            with m.Else():
                m.d.comb += shift.eq(1 - i.exp)
        # The rounded significand's top two bits (``carry``, 0 to 2) say by how much the
        # exponent field exceeds exp - 1: by 1 normally, by 2 when rounding carried out of the
        # top, and for a subnormal (field base 0) by 0, or by 1 when rounding carried it up
        # into the smallest normal. Each of the three fields, and whether it overflows or
        # (ftz) is zero, is worked out here, beside the shift and the rounding, not after; and
        # each straight from the exponent (an adder, or a comparison with a constant), chosen
        # by ``tiny`` last, rather than from the field (``tiny ? carry : exp - 1 + carry``), so
        # no carry chain waits on another: a field overflows when ``exp - 1 + carry >=
        # exp_max`` (never a subnormal's, ``exp_max > 2``) and is zero when ``exp == 1 -
        # carry`` (a subnormal's when ``carry == 0``).
        field, over, flush = [], [], []
        for carry in range(3):
            f = Signal(signed(self._exp_width + 2), name=f"field{carry}")
            m.d.comb += f.eq(Mux(tiny, carry, i.exp - 1 + carry))
            field.append(f[:fmt.exp_width])
            over.append(~tiny & (i.exp >= fmt.exp_max + 1 - carry))
            flush.append(Mux(tiny, carry == 0, i.exp == 1 - carry) if self._ftz else Const(0))
        sign, is_zero, is_inf, is_nan = i.sign, i.is_zero, i.is_inf, i.is_nan
        ends = Signal(data.StructLayout({
            "field": data.ArrayLayout(fmt.exp_width, 3), "over": 3, "flush": 3,
            "sign": 1, "is_zero": 1, "is_inf": 1, "is_nan": 1}))
        m.d.comb += [ends.field[k].eq(field[k]) for k in range(3)]
        m.d.comb += [ends.over.eq(Cat(*over)), ends.flush.eq(Cat(*flush)), ends.sign.eq(sign),
                     ends.is_zero.eq(is_zero), ends.is_inf.eq(is_inf), ends.is_nan.eq(is_nan)]
        ends = self.cut(m, ends, "shifting")
        sig, shift, sticky_in = (self.cut(m, v, "shifting") for v in (sig, shift, i.sticky))

        wide = Cat(Const(0, max_shift), sig) >> shift
        aligned = wide[max_shift:]
        sticky = Signal()
        m.d.comb += sticky.eq(
            sticky_in | wide[:max_shift].any() | aligned[:width - p - 1].any())
        kept = aligned[width - p:]
        round_bit = aligned[width - p - 1]
        ends, kept, round_bit, sticky = (self.cut(m, v, "aligned")
                                         for v in (ends, kept, round_bit, sticky))

        round_up = round_bit & (sticky | kept[0])
        rounded = Signal(p + 1)
        m.d.comb += rounded.eq(kept + round_up)
        ends, rounded = (self.cut(m, v, "rounded") for v in (ends, rounded))
        carry_out, top = rounded[p], rounded[p - 1]
        exp_field = Mux(carry_out, ends.field[2], Mux(top, ends.field[1], ends.field[0]))
        overflow = Mux(carry_out, ends.over[2], Mux(top, ends.over[1], ends.over[0]))
        zero = Mux(carry_out, ends.flush[2], Mux(top, ends.flush[1], ends.flush[0]))
        frac = rounded[:p - 1]

        result = Signal(fmt.width)
        with m.If(ends.is_nan):
            m.d.comb += result.eq(fmt.qnan)
        with m.Elif(ends.is_inf | overflow):
            m.d.comb += result.eq(Cat(Const(fmt.inf, fmt.width - 1), ends.sign))
        with m.Elif(ends.is_zero | zero):
            m.d.comb += result.eq(Cat(Const(0, fmt.width - 1), ends.sign))
        with m.Else():
            m.d.comb += result.eq(Cat(frac, exp_field, ends.sign))
        m.d.comb += self.o.eq(self.retime(m, result))
        return m
