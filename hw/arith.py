"""The arithmetic a configuration asks for: which multiplier and which accumulator adder.

Every unit built here is a plain pipeline with ports ``a``, ``b`` (inputs) and ``o`` (output)
and a ``latency`` property: ``o`` at cycle ``t + latency`` is the result of ``a``, ``b`` at
cycle ``t``, one result per cycle, no other state. The processing elements rely on that.
"""

from amaranth import Module, signed, unsigned
from amaranth.lib.wiring import In, Out

from .checked import CheckedComponent
from .fp.add import FPAdd
from .fp.int2float import IntToFloat
from .fp.mul import FPMul
from .intarith import IntAdd, IntMul
from .latency import INT_MUL, INT_TO_FLOAT, Pipelined, check_latency
from .mulset import FPMulSet, IntMulSet

__all__ = ["operand_shape", "acc_shape", "make_multiplier", "make_adder", "IntMulToFloat"]


def operand_shape(cfg):
    """Shape of one operand lane: ``signed(width)`` for integer formats (int8, int4), the raw
    bits for a float format or a set with one (``cfg.lane_width`` bits)."""
    return signed(cfg.lane_width) if cfg.mul_kind == "int" else unsigned(cfg.lane_width)


def acc_shape(cfg):
    """Shape of one accumulator value: ``signed(32)`` for int32, the raw bits for fp32."""
    fmt = cfg.acc_format
    return signed(fmt.width) if fmt.kind == "int" else unsigned(fmt.width)


class IntMulToFloat(Pipelined, CheckedComponent):
    """Exact integer product converted to a float accumulator format (exact for int8 → fp32).

    Parameters
    ----------
    in_fmt : IntFormat
    acc_fmt : FloatFormat
    latency : int
        Register stages: the multiplier's 1 plus the converter's, 2 (the default) to 16;
        registers beyond those two go to the converter.
    dsp, logic :
        The integer multiplier's (:class:`~hw.intarith.IntMul`); ``dsp="ecp5"`` adds the
        clock-enable input ``en``.
    """

    LEAST_LATENCY = INT_MUL + INT_TO_FLOAT

    @classmethod
    def check(cls, in_fmt, acc_fmt, latency, dsp, logic):
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, in_fmt, acc_fmt, *, latency=INT_MUL + INT_TO_FLOAT, dsp="infer",
                 logic=False):
        self._latency = latency
        self._mul = IntMul(in_fmt.width, 2 * in_fmt.width, dsp=dsp, logic=logic)
        self._cvt = IntToFloat(2 * in_fmt.width, acc_fmt, latency=latency - INT_MUL)
        members = {
            "a": In(signed(in_fmt.width)),
            "b": In(signed(in_fmt.width)),
            "o": Out(unsigned(acc_fmt.width)),
        }
        if "en" in self._mul.signature.members:
            members["en"] = In(1, init=1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = self._mul
        m.submodules.cvt = self._cvt
        m.d.comb += [
            self._mul.a.eq(self.a),
            self._mul.b.eq(self.b),
            self._cvt.a.eq(self._mul.o),
            *([self._mul.en.eq(self.en)] if "en" in self.signature.members else []),
            self.o.eq(self._cvt.o),
        ]
        return m


def make_multiplier(cfg, *, logic=False):
    """The PE multiplier for ``cfg``: operand lanes in, an accumulator-format product out,
    ``cfg.pipeline.mul`` stages deep; an integer one built from logic if ``logic``
    (``cfg.logic_mul``), else as ``cfg.dsp`` says. With ``cfg.dsp == "ecp5"`` it has the
    clock-enable input ``en``. An engine with a set of formats gets :mod:`hw.mulset`'s, with
    the select input ``fmt``."""
    in_fmt, acc_fmt = cfg.in_format, cfg.acc_format
    latency = cfg.pipeline.mul
    if cfg.is_set:      # one multiplier for every format, with the select input ``fmt``
        if cfg.mul_kind == "int":
            return IntMulSet(cfg.in_formats, acc_fmt.width, latency=latency, dsp=cfg.dsp,
                             logic=logic)
        return FPMulSet(cfg.in_formats, acc_fmt, ftz=cfg.ftz, latency=latency)
    if in_fmt.kind == "int":
        if acc_fmt.kind == "int":
            return IntMul(in_fmt.width, acc_fmt.width, latency=latency, dsp=cfg.dsp,
                          logic=logic)
        return IntMulToFloat(in_fmt, acc_fmt, latency=latency, dsp=cfg.dsp, logic=logic)
    return FPMul(in_fmt, acc_fmt, ftz=cfg.ftz, latency=latency)


def make_adder(cfg, *, restart=False, product=False):
    """The accumulator adder for ``cfg`` (PEs, the context reducer, accumulate-on-write),
    ``cfg.pipeline.add`` stages deep.

    ``restart`` (an output-stationary PE's): the adder restarts a sum. A float adder gets
    its ``restart`` input and ``fb`` output (:class:`~hw.fp.add.FPAdd`), so the PE restarts
    with a register's synchronous reset rather than a multiplexer in front of the adder's
    first stage, unless ``cfg.restart`` is ``"mux"`` (then the adder has neither port: the
    PE's multiplexer). An integer adder gets the input ``clear`` (:class:`~hw.intarith.IntAdd`:
    the multiplexer on ``b``, one LUT level in front of a carry chain, taken off it by
    ``add = 2``; a second 32-bit output register would cost every INT PE 32 flip-flops).

    ``product``: ``a`` is a PE's integer product, the sign extension of ``2·lane_width`` bits,
    which ``cfg.int_adder == "split"`` adds on an adder that narrow."""
    if cfg.acc_format.kind == "int":
        narrow = 2 * cfg.lane_width if product and cfg.int_adder == "split" else None
        return IntAdd(cfg.acc_format.width, latency=cfg.pipeline.add, clear=restart,
                      narrow=narrow)
    return FPAdd(cfg.acc_format, ftz=cfg.ftz, latency=cfg.pipeline.add,
                 restart=restart and cfg.restart == "reset")
