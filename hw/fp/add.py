"""Floating-point addition: IEEE-754 sum of two values of one format, rounded to nearest even."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..delay import delay
from ..latency import FP_ADD, Pipelined, check_latency
from ._check import check_bool, check_float_format
from .lzc import LeadingZeroCount
from .round import FPRound
from .unpack import FPUnpack

__all__ = ["FPAdd"]

#: Bits kept below the significand while aligning and adding: guard, round and sticky. With
#: them the sum is rounded as if computed exactly (the classic G/R/S argument: a left shift of
#: more than one place only follows an exponent difference of at most one, which is exact).
_EXTRA = 3


class FPAdd(Pipelined, CheckedComponent):
    """Add two floats of ``fmt``, IEEE 754 round to nearest, ties to even.

    Subnormal operands and results are handled in full (``ftz=False``). ``+0 + -0`` is
    ``+0``, ``-0 + -0`` is ``-0`` and ``x + -x`` is ``+0``. A NaN operand, and Inf - Inf,
    give the canonical quiet NaN ``fmt.qnan``; overflow gives an infinity of the sum's sign.

    Pipeline, one register after each stage:

    1. unpack both operands, order them by magnitude, align the smaller one to the larger
       one's exponent (the bits shifted out collapse into a sticky bit);
    2. add or subtract the significands, count the sum's leading zeros;
    3. normalise, round (:class:`~hw.fp.round.FPRound`) and pack. The normalisation shift
       stops at exponent 1, so a subnormal sum (always exact) leaves denormalised and the
       rounder needs no right shift.

    Registers beyond the least 3 go where the logic is longest: the 4th between
    normalisation and rounding, the 5th between ordering and alignment, the 6th between
    the addition and the leading-zero count; any further ones at the output.

    Latency :attr:`latency` (3 by default), throughput one sum per cycle. The pipeline holds
    no state besides its registers: ``o`` depends only on ``a`` and ``b`` from
    :attr:`latency` cycles before. An output-stationary PE relies on this to interleave
    :attr:`latency` independent accumulations through one adder.

    Parameters
    ----------
    fmt : FloatFormat
        Format of operands and result.
    ftz : bool
        Flush to zero: subnormal operands read as zeros of the same sign, and results that are
        subnormal after rounding become zeros of the same sign.
    latency : int
        Register stages, 3 (the default) to 16 (:mod:`hw.latency`).
    restart : bool
        Add the ports ``restart`` and ``fb`` (an output-stationary PE's accumulator loop,
        :meth:`~hw.latency.Pipelined.feedback`): a second output register, 32 flip-flops and
        no logic, that takes the restart multiplexer off the loop.

    Members
    -------
    a, b : In(fmt.width)
        Operands.
    o : Out(fmt.width)
        Sum, :attr:`latency` cycles later.
    restart : In(1)
        With ``restart``: ``fb`` reads +0 in the next cycle.
    fb : Out(fmt.width)
        With ``restart``: ``o`` again, or +0 in each cycle after one where ``restart`` was
        high.

    Raises
    ------
    TypeError, ValueError
        If ``fmt`` is not a :class:`~hw.formats.FloatFormat` or ``ftz`` or ``restart`` is
        not a bool.
    """

    @classmethod
    def check(cls, fmt, ftz, latency, restart):
        check_float_format("fmt", fmt)
        check_bool("ftz", ftz)
        check_latency(latency, cls.LEAST_LATENCY)
        check_bool("restart", restart)

    def __init__(self, fmt, *, ftz=False, latency=FP_ADD, restart=False):
        self._latency = latency
        self._fmt = fmt
        self._ftz = ftz
        self._restart = restart
        members = {
            "a": In(fmt.width),
            "b": In(fmt.width),
            "o": Out(fmt.width),
        }
        if restart:
            members.update({"restart": In(1), "fb": Out(fmt.width)})
        super().__init__(members)

    @property
    def fmt(self):
        return self._fmt

    @property
    def ftz(self):
        return self._ftz

    LEAST_LATENCY = FP_ADD

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        p = fmt.sig_width
        ext_width = p + _EXTRA          # significand with guard, round and sticky bits
        sum_width = ext_width + 1       # and a carry
        # Where the registers beyond the least three go (see the class docstring).
        extra = self.extra_latency
        cut_round, cut_align, cut_lzc = extra >= 1, extra >= 2, extra >= 3
        retime = extra - cut_round - cut_align - cut_lzc

        def cut(on, name, *values):
            return [delay(m, v, int(on), name=f"{name}{n}", reset_less=True)
                    for n, v in enumerate(values)]

        # Stage 1: order by magnitude, align the smaller operand.
        m.submodules.unpack_a = ua = FPUnpack(fmt, ftz=self._ftz)
        m.submodules.unpack_b = ub = FPUnpack(fmt, ftz=self._ftz)
        m.d.comb += [ua.i.eq(self.a), ub.i.eq(self.b)]
        a, b = ua.o, ub.o

        # With zeros and subnormals at exponent 1, (exp, sig) orders finite magnitudes, also
        # after flushing; ordering makes the difference of significands non-negative.
        swap = Cat(b.sig, b.exp) > Cat(a.sig, a.exp)
        big_sign = Mux(swap, b.sign, a.sign)
        big_exp = Mux(swap, b.exp, a.exp)
        big_sig = Mux(swap, b.sig, a.sig)
        small_sig = Mux(swap, a.sig, b.sig)

        # A shift of ext_width or more leaves nothing but sticky; capping it keeps the shifter
        # as narrow as the significand whatever the exponent width. Both orders' differences,
        # capped, are made beside the magnitude comparison, which then only picks one: the
        # comparison, the subtractions and the caps' comparisons are carry chains side by side
        # rather than one after another.
        def capped(name, big, small):
            diff = Signal(fmt.exp_width, name=name)     # wraps when not picked
            m.d.comb += diff.eq(big - small)
            return Mux(diff > ext_width, ext_width, diff)
        shift = Signal(range(ext_width + 1))
        m.d.comb += shift.eq(Mux(swap, capped("diff_ba", b.exp, a.exp),
                                 capped("diff_ab", a.exp, b.exp)))
        flags = Signal(5)
        m.d.comb += flags.eq(Cat(
            a.sign ^ b.sign,
            a.is_nan | b.is_nan | (a.is_inf & b.is_inf & (a.sign ^ b.sign)),
            a.is_inf | b.is_inf,
            Mux(a.is_inf, a.sign, b.sign),
            # An exact zero sum is -0 only when both operands are -0 (round to nearest).
            a.sign & b.sign,
        ))
        big_sign, big_exp, big_sig, small_sig, shift, flags = cut(
            cut_align, "ordered", big_sign, big_exp, big_sig, small_sig, shift, flags)
        wide = Cat(Const(0, ext_width), Const(0, _EXTRA), small_sig) >> shift
        aligned = wide[ext_width:] | wide[:ext_width].any()

        s1_sign = Signal(reset_less=True)
        s1_exp = Signal(fmt.exp_width, reset_less=True)
        s1_big = Signal(ext_width, reset_less=True)
        s1_small = Signal(ext_width, reset_less=True)
        s1_flags = Signal.like(flags, reset_less=True)
        m.d.sync += [
            s1_sign.eq(big_sign),
            s1_exp.eq(big_exp),
            s1_big.eq(Cat(Const(0, _EXTRA), big_sig)),
            s1_small.eq(aligned),
            s1_flags.eq(flags),
        ]

        # Stage 2: add or subtract, count leading zeros.
        total = Signal(sum_width)
        m.d.comb += total.eq(Mux(s1_flags[0], s1_big - s1_small, s1_big + s1_small))
        total, t_sign, t_exp, t_flags = cut(cut_lzc, "total", total, s1_sign, s1_exp, s1_flags)
        m.submodules.lzc = lzc = LeadingZeroCount(sum_width)
        m.d.comb += lzc.i.eq(total)

        s2_sum = Signal(sum_width, reset_less=True)
        s2_lz = Signal.like(lzc.o, reset_less=True)
        s2_sign = Signal(reset_less=True)
        s2_exp = Signal(fmt.exp_width, reset_less=True)
        s2_flags = Signal.like(flags, reset_less=True)
        m.d.sync += [
            s2_sum.eq(total),
            s2_lz.eq(lzc.o),
            s2_sign.eq(t_sign),
            s2_exp.eq(t_exp),
            s2_flags.eq(t_flags),
        ]
        nan, inf, inf_sign, zero_sign = s2_flags[1], s2_flags[2], s2_flags[3], s2_flags[4]

        # Stage 3: normalise, round, pack. The sum's top bit is the carry, one exponent step
        # above the significand's hidden bit, so each leading zero beyond the first lowers it;
        # the shift stops where the exponent reaches 1 (a subnormal sum stays denormalised).
        is_zero = s2_lz == sum_width
        norm = Signal(range(sum_width + 1))
        m.d.comb += norm.eq(Mux(s2_lz > s2_exp, s2_exp, s2_lz))
        exp = Signal(range(1, fmt.exp_max + 2))
        m.d.comb += exp.eq(s2_exp + 1 - norm)
        m.submodules.round = rnd = FPRound(fmt, sum_width, len(exp) + 1, ftz=self._ftz,
                                           exp_min=1)
        normalised = Signal(rnd.i.shape())
        m.d.comb += [
            normalised.sign.eq(Mux(inf, inf_sign, Mux(is_zero, zero_sign, s2_sign))),
            normalised.exp.eq(exp),
            normalised.sig.eq(s2_sum << norm),
            normalised.sticky.eq(0),
            normalised.is_zero.eq(is_zero),
            normalised.is_inf.eq(inf),
            normalised.is_nan.eq(nan),
        ]
        m.d.comb += rnd.i.eq(delay(m, normalised, int(cut_round), name="normalised",
                                   reset_less=True))
        result = delay(m, rnd.o, retime, name="retime", reset_less=True)
        self.output(m, self.o, result)
        if self._restart:
            self.feedback(m, self.fb, result, self.restart)
        return m
