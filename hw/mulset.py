"""One PE multiplier for a set of operand formats: the GEMM's format is a static select input.

An engine generated with several operand formats (``Config.in_fmt = "int8,bf16,fp8e4m3"``)
builds one multiplier per PE that serves every member at one product per cycle, rather than
one multiplier per member behind a select:

* :class:`FPMulSet` (a float accumulator, FP32): each member unpacks to one common
  ``(sign, exponent, significand, class)`` form (:func:`common_format`) and a single
  significand product, normalisation and rounding into FP32 serves them all. It is
  :class:`~hw.fp.mul.FPMul`'s pipeline with a different unpacking stage, so its latency,
  cuts and rounding are FPMul's. An integer member (INT8) enters as a float whose
  significand is its magnitude: its products are exact in FP32, as
  :class:`~hw.arith.IntMulToFloat`'s are.
* :class:`IntMulSet` (an integer accumulator, INT32; INT8 and INT4): each member's operand is
  sign-extended from the low bits of its lane and one integer multiplier of the lane's width
  serves all (``dsp`` as a single-format engine's).

Every member's product is bit for bit what a single-format engine's multiplier gives
(``tests/test_mulset.py``): a member's value is the same number in the common form, and the
product is rounded once (or not at all). The select ``fmt`` is CONFIG's ``in_fmt`` field
(:attr:`~hw.config.Config.in_fmts` order), constant during a GEMM.

Lanes are :attr:`~hw.config.Config.lane_width` bits, the widest member's; a narrower member's
value sits in a lane's low bits (one product per lane per cycle: a narrow format does not
run faster than a wide one, but no member is slower than on its own engine).
"""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from .checked import CheckedComponent
from .formats import FloatFormat, IntFormat
from .fp._check import check_bool
from .fp.mul import FPMul
from .fp.unpack import FPUnpack, unpacked_layout
from .intarith import IntMul
from .latency import FP_MUL, INT_MUL, Pipelined, check_latency

__all__ = ["common_format", "FPMulSet", "IntMulSet"]


def _check_formats(name, formats, kinds):
    if not isinstance(formats, tuple) or len(formats) < 2 or \
            not all(isinstance(f, (IntFormat, FloatFormat)) and f.kind in kinds
                    for f in formats) or len(set(formats)) != len(formats):
        raise TypeError(f"{name} must be a tuple of at least two different formats of kind "
                        f"{' or '.join(kinds)}, not {formats!r}")


def common_format(formats):
    """The float format every member of ``formats`` converts to exactly: the widest exponent
    of the float members (so the largest bias, and room above for every member's top binade
    rebased to it) and the widest significand (an integer member counts its width, which
    holds its largest magnitude ``2 ** (width - 1)``)."""
    floats = [f for f in formats if f.kind == "float"]
    exp_width = max([f.exp_width for f in floats] + [4])
    sig_width = max(f.sig_width if f.kind == "float" else f.width for f in formats)
    return FloatFormat("common", exp_width=exp_width, sig_width=sig_width,
                       numpy_dtype="float32")


def _select(m, out, fmt, values):
    """``out`` = ``values[fmt]`` (``values[0]`` for an index past the end)."""
    with m.Switch(fmt):
        for n, value in enumerate(values):
            with m.Case(n):
                m.d.comb += out.eq(value)
        with m.Default():
            m.d.comb += out.eq(values[0])


class FPMulSet(FPMul):
    """Multiply two operands of the member ``fmt`` of ``in_fmts``, rounding the exact product
    once to ``out_fmt``: :class:`~hw.fp.mul.FPMul` (same latency, ``CUTS``, rounding and
    special values) with every member unpacked to :func:`common_format`.

    Stage 0 (combinational, before FPMul's ``"operands"`` cut): each member's unpacking
    (:class:`~hw.fp.unpack.FPUnpack`, or the magnitude of an integer), rebased to the common
    exponent bias and shifted so the significands' hidden bits line up, then a select by
    ``fmt``. Latency :attr:`latency` (2 by default), one product per cycle.

    Parameters
    ----------
    in_fmts : tuple of FloatFormat or IntFormat
        At least two formats; integer ones must fit (INT8).
    out_fmt : FloatFormat
    ftz : bool
    latency : int

    Members
    -------
    a, b : In(lane width)
        Operands in the low bits of the lane.
    fmt : In(range(len(in_fmts)))
        The members' index; held constant while products of that format flow.
    o : Out(out_fmt.width)
    """

    @classmethod
    def check(cls, in_fmts, out_fmt, ftz, latency):
        _check_formats("in_fmts", in_fmts, ("int", "float"))
        if not isinstance(out_fmt, FloatFormat):
            raise TypeError(f"out_fmt must be a FloatFormat, not {out_fmt!r}")
        check_bool("ftz", ftz)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, in_fmts, out_fmt, *, ftz=False, latency=FP_MUL):
        self._latency = latency
        self._in_fmts = in_fmts
        self._in_fmt = self._core = common_format(in_fmts)
        self._out_fmt = out_fmt
        self._ftz = ftz
        self._dsp = "infer"
        width = max(f.width for f in in_fmts)
        CheckedComponent.__init__(self, {
            "a": In(width),
            "b": In(width),
            "fmt": In(range(len(in_fmts))),
            "o": Out(out_fmt.width),
        })

    @property
    def in_fmts(self):
        return self._in_fmts

    @property
    def core_fmt(self):
        return self._core

    def _member(self, m, fmt, lane, name):
        """``lane`` holding a ``fmt`` value, unpacked into the common format's layout."""
        core = self._core
        out = Signal(unpacked_layout(core), name=name)
        shift = core.sig_width - (fmt.sig_width if fmt.kind == "float" else fmt.width)
        if fmt.kind == "float":
            unpack = FPUnpack(fmt, ftz=self._ftz)
            m.submodules[name] = unpack
            m.d.comb += [
                unpack.i.eq(lane[:fmt.width]),
                out.sign.eq(unpack.o.sign),
                # value = sig · 2^(exp − bias − sig_width + 1) in either form: shifting the
                # significand up by ``shift`` keeps the exponent, less the change of bias.
                out.exp.eq(unpack.o.exp + (core.bias - fmt.bias)),
                out.sig.eq(unpack.o.sig << shift),
                out.is_zero.eq(unpack.o.is_zero),
                out.is_sub.eq(unpack.o.is_sub),
                out.is_inf.eq(unpack.o.is_inf),
                out.is_nan.eq(unpack.o.is_nan),
            ]
        else:
            value = lane[:fmt.width].as_signed()
            m.d.comb += [
                out.sign.eq(value < 0),
                # |x| · 2^0 = (|x| << shift) · 2^(exp − bias − sig_width + 1)
                out.exp.eq(core.bias + fmt.width - 1),
                out.sig.eq(Mux(value < 0, -value, value)[:fmt.width] << shift),
                out.is_zero.eq(value == 0),
            ]
        return out

    def unpack(self, m):
        result = []
        for port in ("a", "b"):
            lane = getattr(self, port)
            members = [self._member(m, fmt, lane, f"unpack_{port}_{fmt.name}")
                       for fmt in self._in_fmts]
            out = Signal(unpacked_layout(self._core), name=f"unpacked_{port}")
            _select(m, out, self.fmt, members)
            result.append(out)
        return tuple(result)

    def product_sign(self, a, b):
        # An integer zero times a negative integer is +0, as IntMulToFloat's converted
        # integer product is, not the −0 of a float product's sign rule.
        ints = [n for n, f in enumerate(self._in_fmts) if f.kind == "int"]
        if not ints:
            return a.sign ^ b.sign
        int_zero = Cat(self.fmt == n for n in ints).any() & (a.is_zero | b.is_zero)
        return (a.sign ^ b.sign) & ~int_zero


class IntMulSet(Pipelined, CheckedComponent):
    """Integer product for a set of integer formats (INT8 and INT4): the member ``fmt``'s
    operand sign-extended from the low bits of its lane, then one
    :class:`~hw.intarith.IntMul` of the lane's width. Latency and ``dsp`` as IntMul's.

    Members
    -------
    a, b : In(signed(lane width))
    fmt : In(range(len(in_fmts)))
    o : Out(signed(out_width))
    en : In(1, init=1)
        Only with ``dsp="ecp5"``.
    """

    LEAST_LATENCY = INT_MUL

    @classmethod
    def check(cls, in_fmts, out_width, latency, dsp, logic):
        _check_formats("in_fmts", in_fmts, ("int",))
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, in_fmts, out_width, *, latency=INT_MUL, dsp="infer", logic=False):
        self._in_fmts = in_fmts
        self._latency = latency
        width = max(f.width for f in in_fmts)
        self._mul = IntMul(width, out_width, latency=latency, dsp=dsp, logic=logic)
        members = {
            "a": In(signed(width)),
            "b": In(signed(width)),
            "fmt": In(range(len(in_fmts))),
            "o": Out(signed(out_width)),
        }
        if "en" in self._mul.signature.members:
            members["en"] = In(1, init=1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self._mul
        for port in ("a", "b"):
            lane = getattr(self, port)
            _select(m, getattr(mul, port), self.fmt,
                    [lane[:f.width].as_signed() for f in self._in_fmts])
        m.d.comb += self.o.eq(mul.o)
        if "en" in self.signature.members:
            m.d.comb += mul.en.eq(self.en)
        return m
