"""Integer arithmetic units: the exact INT8 multiplier and the wrapping INT32 adder."""

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .latency import FixedLatency

__all__ = ["IntMul", "IntAdd"]


def _check_width(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")


class IntMul(FixedLatency, wiring.Component):
    """Exact signed multiplier: ``o = a * b``, widened to ``out_width`` bits.

    Parameters
    ----------
    width : int
        Operand width (8 for INT8). The exact product needs ``2 * width`` bits.
    out_width : int
        Output width, at least ``2 * width``; the product is sign-extended to it.

    Latency 1 (the product is registered), throughput one product per cycle.
    """

    def __init__(self, width=8, out_width=16):
        _check_width("width", width, 1, 64)
        _check_width("out_width", out_width, 2 * width, 128)
        self._width = width
        self._out_width = out_width
        super().__init__({
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(out_width)),
        })

    LATENCY = 1

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(self.a * self.b)
        return m


class IntAdd(FixedLatency, wiring.Component):
    """Two's complement adder that wraps: ``o = (a + b) mod 2**width``, as a signed value.

    Latency 1 (the sum is registered), throughput one sum per cycle.
    """

    def __init__(self, width=32):
        _check_width("width", width, 1, 128)
        self._width = width
        super().__init__({
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(width)),
        })

    LATENCY = 1

    def elaborate(self, platform):
        m = Module()
        total = Signal(signed(self._width))
        m.d.comb += total.eq(self.a + self.b)  # truncation here is the wrap-around
        m.d.sync += self.o.eq(total)
        return m
