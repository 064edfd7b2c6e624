"""The arithmetic a configuration asks for: which multiplier and which accumulator adder.

Every unit built here is a plain pipeline with ports ``a``, ``b`` (inputs) and ``o`` (output)
and a ``latency`` property: ``o`` at cycle ``t + latency`` is the result of ``a``, ``b`` at
cycle ``t``, one result per cycle, no other state. The processing elements rely on that.
"""

from amaranth import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp.add import FPAdd
from .fp.int2float import IntToFloat
from .fp.mul import FPMul
from .intarith import IntAdd, IntMul
from .latency import FixedLatency

__all__ = ["operand_shape", "acc_shape", "make_multiplier", "make_adder", "IntMulToFloat",
           "mul_latency", "add_latency"]


def operand_shape(cfg):
    """Shape of one operand lane: ``signed(8)`` for int8, the raw bits for a float format."""
    fmt = cfg.in_format
    return signed(fmt.width) if fmt.kind == "int" else unsigned(fmt.width)


def acc_shape(cfg):
    """Shape of one accumulator value: ``signed(32)`` for int32, the raw bits for fp32."""
    fmt = cfg.acc_format
    return signed(fmt.width) if fmt.kind == "int" else unsigned(fmt.width)


class IntMulToFloat(FixedLatency, wiring.Component):
    """Exact integer product converted to a float accumulator format (exact for int8 → fp32).

    Latency: the multiplier's 1 plus the converter's.
    """

    def __init__(self, in_fmt, acc_fmt):
        self._mul = IntMul(in_fmt.width, 2 * in_fmt.width)
        self._cvt = IntToFloat(2 * in_fmt.width, acc_fmt)
        super().__init__({
            "a": In(signed(in_fmt.width)),
            "b": In(signed(in_fmt.width)),
            "o": Out(unsigned(acc_fmt.width)),
        })

    LATENCY = IntMul.LATENCY + IntToFloat.LATENCY

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = self._mul
        m.submodules.cvt = self._cvt
        m.d.comb += [
            self._mul.a.eq(self.a),
            self._mul.b.eq(self.b),
            self._cvt.a.eq(self._mul.o),
            self.o.eq(self._cvt.o),
        ]
        return m


def _multiplier_class(cfg):
    if cfg.in_format.kind == "int":
        return IntMul if cfg.acc_format.kind == "int" else IntMulToFloat
    return FPMul


def _adder_class(cfg):
    return IntAdd if cfg.acc_format.kind == "int" else FPAdd


def mul_latency(cfg):
    """Latency of ``make_multiplier(cfg)``, without building it."""
    return _multiplier_class(cfg).LATENCY


def add_latency(cfg):
    """Latency of ``make_adder(cfg)``, without building it."""
    return _adder_class(cfg).LATENCY


def make_multiplier(cfg):
    """The multiplier for ``cfg``: operand lanes in, an accumulator-format product out."""
    in_fmt, acc_fmt = cfg.in_format, cfg.acc_format
    cls = _multiplier_class(cfg)
    if cls is IntMul:
        return IntMul(in_fmt.width, acc_fmt.width)
    if cls is IntMulToFloat:
        return IntMulToFloat(in_fmt, acc_fmt)
    return FPMul(in_fmt, acc_fmt, ftz=cfg.ftz)


def make_adder(cfg):
    """The accumulator adder for ``cfg``."""
    if _adder_class(cfg) is IntAdd:
        return IntAdd(cfg.acc_format.width)
    return FPAdd(cfg.acc_format, ftz=cfg.ftz)
