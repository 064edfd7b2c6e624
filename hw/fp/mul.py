"""Floating-point multiplication: the exact product, rounded once into the output format."""

from amaranth import Cat, Module, Signal
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..dsp import check_dsp
from ..latency import FP_MUL, Pipelined, check_latency
from ._check import check_bool, check_float_format
from .lzc import LeadingZeroCount
from .round import FPRound
from .sigmul import SigMul
from .unpack import FPUnpack

__all__ = ["FPMul"]


class FPMul(Pipelined, CheckedComponent):
    """Multiply two ``in_fmt`` floats, rounding the exact product once to ``out_fmt``.

    Round to nearest, ties to even. For BF16 operands and an FP32 result the product's 16-bit
    significand always fits, so the only rounding is at the ends of FP32's exponent range:
    small products become FP32 subnormals (or zero, or the smallest subnormal, per round to
    nearest even) and large ones overflow to infinity. The same holds for TF32 (22-bit
    products, FP32's exponent range); FP16 and FP8 products (22, 8 and 6 bits) are always
    normal FP32 numbers, exact. Any ``(exp_width, sig_width)`` pair is accepted; when the
    product does not fit ``out_fmt`` it is rounded correctly. The operands' special values are
    ``in_fmt``'s (:class:`~hw.fp.unpack.FPUnpack`): OCP E4M3 has no infinities.

    Special cases: a NaN operand, and Inf × 0, give the canonical quiet NaN
    ``out_fmt.qnan``; Inf × finite nonzero gives an infinity; zero × finite gives a zero; the
    sign of every non-NaN result is the exclusive or of the operands' signs.

    Pipeline: stage 1 unpacks and multiplies the significands (:class:`~hw.fp.sigmul.SigMul`)
    into a register; stage 2 normalises, rounds (:class:`~hw.fp.round.FPRound`) and packs
    into the output register. Latency :attr:`latency`, 2 cycles by default; each cycle more
    puts a register at the next of :attr:`CUTS`: between normalisation and rounding
    (``"normalised"``), inside the rounding after the subnormal shift (``"aligned"``, see
    :class:`~hw.fp.round.FPRound`), after the leading-zero count of the product
    (``"counted"``), between the multiplier blocks' partial products and their sum
    (``"product"``, see :class:`~hw.fp.sigmul.SigMul`), between the unpacked operands and the
    significand multiplier (``"operands"``, the multiplier blocks' input registers), inside
    the rounding before the subnormal shift (``"shifting"``), inside the rounding after the
    increment that rounds (``"rounded"``, before the exponent select and the packing); any
    further ones go at the output. Throughput one product per cycle; ``o`` depends only on
    ``a`` and ``b`` from :attr:`latency` cycles before, so the enclosing design may stall the
    pipeline with ``EnableInserter``.

    Parameters
    ----------
    in_fmt : FloatFormat
        Operand format.
    out_fmt : FloatFormat
        Result format.
    ftz : bool
        Flush to zero: subnormal operands read as zeros of the same sign, and results that are
        subnormal after rounding become zeros of the same sign.
    latency : int
        Register stages, 2 (the default) to 16 (:mod:`hw.latency`).
    dsp : str
        ``"infer"`` (the default) or ``"ecp5"``: the significand multiplier's partial products
        as instantiated ECP5 MULT18X18D holding the ``"operands"`` and ``"product"`` cuts'
        registers (:class:`~hw.fp.sigmul.SigMul`); the same registers and latency.

    Members
    -------
    a, b : In(in_fmt.width)
        Operands.
    o : Out(out_fmt.width)
        Product, :attr:`latency` cycles later.

    Raises
    ------
    TypeError, ValueError
        If a format is not a :class:`~hw.formats.FloatFormat` or ``ftz`` is not a bool.
    """

    @classmethod
    def check(cls, in_fmt, out_fmt, ftz, latency, dsp):
        check_float_format("in_fmt", in_fmt)
        check_float_format("out_fmt", out_fmt)
        check_bool("ftz", ftz)
        check_latency(latency, cls.LEAST_LATENCY)
        check_dsp(dsp)

    def __init__(self, in_fmt, out_fmt, *, ftz=False, latency=FP_MUL, dsp="infer"):
        self._latency = latency
        self._in_fmt = in_fmt
        self._out_fmt = out_fmt
        self._ftz = ftz
        self._dsp = dsp
        super().__init__({
            "a": In(in_fmt.width),
            "b": In(in_fmt.width),
            "o": Out(out_fmt.width),
        })

    @property
    def in_fmt(self):
        return self._in_fmt

    @property
    def out_fmt(self):
        return self._out_fmt

    @property
    def ftz(self):
        return self._ftz

    @property
    def dsp(self):
        return self._dsp

    LEAST_LATENCY = FP_MUL
    CUTS = ("normalised", "aligned", "counted", "product", "operands", "shifting", "rounded")

    @property
    def core_fmt(self):
        """The format the product stages see: the operands' own
        (:class:`~hw.mulset.FPMulSet` widens it to cover several)."""
        return self._in_fmt

    def unpack(self, m):
        """The unpacked operands, ``unpacked_layout(core_fmt)`` values (combinational)."""
        m.submodules.unpack_a = ua = FPUnpack(self._in_fmt, ftz=self._ftz)
        m.submodules.unpack_b = ub = FPUnpack(self._in_fmt, ftz=self._ftz)
        m.d.comb += [ua.i.eq(self.a), ub.i.eq(self.b)]
        return ua.o, ub.o

    def product_sign(self, a, b):
        """The sign of a non-NaN product of the unpacked operands ``a``, ``b``."""
        return a.sign ^ b.sign

    def elaborate(self, platform):
        m = Module()
        fi, fo = self.core_fmt, self._out_fmt
        pw = 2 * fi.sig_width

        ua, ub = self.unpack(m)
        # With DSP blocks the significand multiplier holds the "operands" cut of the
        # significands itself, as the blocks' input registers.
        blocks = self._dsp == "ecp5"
        inside = ("product", "operands") if blocks else ("product",)
        m.submodules.sigmul = sigmul = SigMul(
            fi.sig_width, latency=sum(cut in self.cuts for cut in inside), dsp=self._dsp)
        a = self.cut(m, ua, "operands")
        b = self.cut(m, ub, "operands")
        sig_from = (ua, ub) if blocks else (a, b)
        m.d.comb += [sigmul.a.eq(sig_from[0].sig), sigmul.b.eq(sig_from[1].sig)]

        # Stage 1: the exact significand product and the operands' classification, which
        # waits for the product where the multiplier registers its partial products.
        prod = Signal(pw, reset_less=True)
        exp_sum = Signal(fi.exp_width + 1, reset_less=True)
        sign = Signal(reset_less=True)
        is_nan = Signal(reset_less=True)
        is_inf = Signal(reset_less=True)
        is_zero = Signal(reset_less=True)
        classes = Cat(a.exp + b.exp, self.product_sign(a, b),
                      a.is_nan | b.is_nan | (a.is_inf & b.is_zero) | (a.is_zero & b.is_inf),
                      a.is_inf | b.is_inf, a.is_zero | b.is_zero)
        m.d.sync += [
            prod.eq(sigmul.o),
            Cat(exp_sum, sign, is_nan, is_inf, is_zero).eq(self.cut(m, classes, "product")),
        ]

        # Stage 2: normalise the product (a subnormal operand leaves leading zeros), round once.
        m.submodules.lzc = lzc = LeadingZeroCount(pw)
        m.d.comb += lzc.i.eq(prod)
        lz = self.cut(m, lzc.o, "counted")
        prod = self.cut(m, prod, "counted")
        exp_sum = self.cut(m, exp_sum, "counted")
        flags = self.cut(m, Cat(sign, is_zero, is_inf, is_nan), "counted")
        sign, is_zero, is_inf, is_nan = flags[0], flags[1], flags[2], flags[3]
        # The product of two significands read as 1.f has its binary point below bit pw - 2; the
        # normalised one below bit pw - 1, which is one exponent step up per leading zero less.
        exp_lo = 2 - 2 * fi.bias + fo.bias + 1 - pw
        exp_hi = 2 * fi.exp_max - 2 * fi.bias + fo.bias + 1
        exp = Signal(range(min(exp_lo, -1), exp_hi + 1))
        m.d.comb += exp.eq(exp_sum - 2 * fi.bias + fo.bias + 1 - lz)

        # The rounding's own cuts (FPRound.CUTS, in the same order here) at this depth.
        rnd = FPRound(fo, pw, len(exp), ftz=self._ftz,
                      latency=sum(cut in FPRound.CUTS for cut in self.cuts))
        m.submodules.round = rnd
        normalised = Signal(rnd.i.shape())
        m.d.comb += [
            normalised.sign.eq(sign),
            normalised.exp.eq(exp),
            normalised.sig.eq(prod << lz),
            normalised.sticky.eq(0),
            normalised.is_zero.eq(is_zero),
            normalised.is_inf.eq(is_inf),
            normalised.is_nan.eq(is_nan),
        ]
        m.d.comb += rnd.i.eq(self.cut(m, normalised, "normalised"))
        self.output(m, self.o, self.retime(m, rnd.o))
        return m
