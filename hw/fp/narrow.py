"""Float narrowing: a float rounded into a format with fewer significand or exponent bits."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..delay import delay
from ..latency import FLOAT_NARROW, Pipelined, check_latency
from ._check import check_bool, check_float_format
from .lzc import LeadingZeroCount
from .round import FPRound
from .unpack import FPUnpack

__all__ = ["FloatNarrow"]


class FloatNarrow(Pipelined, CheckedComponent):
    """Round a float of ``in_fmt`` into the narrower ``out_fmt``, to nearest, ties to even.

    For FP32 to BF16 (same exponent range) the only rounding is of the significand: a value
    that rounds past the largest finite BF16 becomes an infinity of its sign (the largest
    FP32 overflows), a subnormal input becomes a BF16 subnormal rounded once (and may round
    up into the smallest normal). The rounding itself is :class:`~hw.fp.round.FPRound`'s.

    Special cases: a NaN gives the canonical quiet NaN ``out_fmt.qnan`` whatever its payload
    or sign; infinities and zeros keep their sign.

    Unpack, normalise (a subnormal input leaves leading zeros) and round. At the least
    latency, 1, they are one combinational path into the output register; each cycle more
    puts a register at the next of :attr:`CUTS`: between normalisation and rounding
    (``"normalised"``), inside the rounding after the subnormal shift (``"aligned"``, see
    :class:`~hw.fp.round.FPRound`), after the leading-zero count (``"counted"``), inside the
    rounding before the subnormal shift (``"shifting"``); any further ones go at the output.
    Throughput one value per cycle; ``o`` depends only on ``a`` from :attr:`latency` cycles
    before.

    When both formats have the same exponent field and infinities (FP32 to BF16,
    :attr:`bit_rounding`), the same result comes from the bits themselves, without unpacking:
    the magnitude's bits kept, plus one when the dropped bits are above half of the last kept
    one's weight or exactly half with that bit odd; the carry of that increment moves a value
    into the next binade, a subnormal into the normals and the largest finite values into
    infinity, as the IEEE encoding orders them. That is a 15-bit increment and a few gates
    (for FP32 to BF16 on ECP5, 22 LUT4 and 8 CCU2C against 160 LUT4 and 23 CCU2C at latency
    1), and its registers all go at the output.

    Parameters
    ----------
    in_fmt : FloatFormat
        Format of the input.
    out_fmt : FloatFormat
        Format of the result: no more exponent or significand bits than ``in_fmt``.
    ftz : bool
        Flush to zero: a subnormal input reads as a zero of the same sign, and a result that
        is subnormal after rounding becomes a zero of the same sign.
    latency : int
        Register stages, 1 (the default) to 16 (:mod:`hw.latency`).

    Members
    -------
    a : In(in_fmt.width)
        The value.
    o : Out(out_fmt.width)
        The rounded value, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If a format is not a :class:`~hw.formats.FloatFormat`, ``out_fmt`` is wider than
        ``in_fmt`` in either field, or ``ftz`` is not a bool.
    """

    @classmethod
    def check(cls, in_fmt, out_fmt, ftz, latency):
        check_float_format("in_fmt", in_fmt)
        check_float_format("out_fmt", out_fmt)
        if out_fmt.exp_width > in_fmt.exp_width or out_fmt.sig_width > in_fmt.sig_width:
            raise ValueError(
                f"out_fmt must have no more exp_width or sig_width than in_fmt "
                f"({in_fmt.exp_width}, {in_fmt.sig_width}), not {out_fmt!r}")
        check_bool("ftz", ftz)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, in_fmt, out_fmt, *, ftz=False, latency=FLOAT_NARROW):
        self._latency = latency
        self._in_fmt = in_fmt
        self._out_fmt = out_fmt
        self._ftz = ftz
        super().__init__({"a": In(in_fmt.width), "o": Out(out_fmt.width)})

    @property
    def in_fmt(self):
        return self._in_fmt

    @property
    def out_fmt(self):
        return self._out_fmt

    @property
    def ftz(self):
        return self._ftz

    LEAST_LATENCY = FLOAT_NARROW
    CUTS = ("normalised", "aligned", "counted", "shifting")

    @property
    def bit_rounding(self):
        """Whether the rounding works on the bits themselves (see the class docstring): both
        formats have the same exponent field (width and bias) and infinities."""
        fi, fo = self._in_fmt, self._out_fmt
        return fi.exp_width == fo.exp_width and fi.bias == fo.bias and fi.has_inf and \
            fo.has_inf

    def _round_bits(self, m):
        """The rounded value from ``a``'s bits (:attr:`bit_rounding`), combinational."""
        fi, fo = self._in_fmt, self._out_fmt
        drop = fi.sig_width - fo.sig_width
        a = self.a
        sign, mag = a[fi.width - 1], a[:fi.width - 1]
        exp, frac = mag[fi.frac_width:], mag[:fi.frac_width]
        if self._ftz:
            # A subnormal input reads as zero; no normal one rounds to a subnormal.
            mag = Mux(exp == 0, 0, mag)
        if drop:
            odd, half, rest = mag[drop], mag[drop - 1], mag[:drop - 1].any()
            up = half & (rest | odd)
        else:
            up = 0
        rounded = Signal(fo.width - 1)
        m.d.comb += rounded.eq(mag[drop:] + up)
        nan = (exp == fi.exp_max) & frac.any()
        return Mux(nan, fo.qnan, Cat(rounded, sign))

    def elaborate(self, platform):
        m = Module()
        fi, fo = self._in_fmt, self._out_fmt
        p = fi.sig_width
        if self.bit_rounding:
            result = delay(m, self._round_bits(m), self.extra_latency, name="retime",
                           reset_less=True)
            self.output(m, self.o, result)
            return m

        m.submodules.unpack = u = FPUnpack(fi, ftz=self._ftz)
        m.d.comb += u.i.eq(self.a)
        a = u.o

        # Only a subnormal input has leading zeros (with ftz there are none to count).
        lz = Signal(range(p + 1))
        if not self._ftz:
            m.submodules.lzc = lzc = LeadingZeroCount(p)
            m.d.comb += [lzc.i.eq(a.sig), lz.eq(lzc.o)]
        a = self.cut(m, a, "counted")
        lz = self.cut(m, lz, "counted")

        # Rebias; the exponent may fall below 1 (a subnormal result) but never overflows the
        # range below, which holds every input exponent from 1 - (p - 1) to exp_max.
        offset = fo.bias - fi.bias
        exp = Signal(range(min(1 - p + offset, -1), fi.exp_max + offset + 2))
        m.d.comb += exp.eq(a.exp + offset - lz)

        # The rounding's own cuts (FPRound.CUTS, in the same order here) at this depth.
        rnd = FPRound(fo, p, len(exp), ftz=self._ftz,
                      latency=sum(cut in FPRound.CUTS for cut in self.cuts))
        m.submodules.round = rnd
        normalised = Signal(rnd.i.shape())
        m.d.comb += [
            normalised.sign.eq(a.sign),
            normalised.exp.eq(exp),
            normalised.sig.eq(a.sig << lz),
            normalised.sticky.eq(0),
            normalised.is_zero.eq(a.is_zero),
            normalised.is_inf.eq(a.is_inf),
            normalised.is_nan.eq(a.is_nan),
        ]
        m.d.comb += rnd.i.eq(self.cut(m, normalised, "normalised"))
        self.output(m, self.o, self.retime(m, rnd.o))
        return m
