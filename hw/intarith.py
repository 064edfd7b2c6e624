"""Integer arithmetic units: the exact INT8 multiplier and the wrapping INT32 adder."""

from amaranth import Module, Signal, signed
from amaranth.lib.wiring import In, Out

from .checked import CheckedComponent
from .delay import delay
from .latency import INT_ADD, INT_MUL, Pipelined, check_latency

__all__ = ["IntMul", "IntAdd"]


def _check_width(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")


class IntMul(Pipelined, CheckedComponent):
    """Exact signed multiplier: ``o = a * b``, widened to ``out_width`` bits.

    Parameters
    ----------
    width : int
        Operand width (8 for INT8). The exact product needs ``2 * width`` bits.
    out_width : int
        Output width, at least ``2 * width``; the product is sign-extended to it.
    latency : int
        Register stages, 1 (the default: the product is registered) to 16; registers beyond
        the first go at the output, where a retiming flow (or a DSP block's pipeline
        registers) takes them.

    Throughput one product per cycle.
    """

    LEAST_LATENCY = INT_MUL

    @classmethod
    def check(cls, width, out_width, latency):
        _check_width("width", width, 1, 64)
        _check_width("out_width", out_width, 2 * width, 128)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, width=8, out_width=16, *, latency=INT_MUL):
        self._width = width
        self._out_width = out_width
        self._latency = latency
        super().__init__({
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(out_width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(delay(m, self.a * self.b, self.extra_latency, name="retime"))
        return m


class IntAdd(Pipelined, CheckedComponent):
    """Two's complement adder that wraps: ``o = (a + b) mod 2**width``, as a signed value.

    Parameters
    ----------
    width : int
        Operand and result width.
    latency : int
        Register stages, 1 (the default: the sum is registered) to 16; registers beyond the
        first go at the output. An output-stationary PE keeps one accumulator context per
        stage.

    Throughput one sum per cycle.
    """

    LEAST_LATENCY = INT_ADD

    @classmethod
    def check(cls, width, latency):
        _check_width("width", width, 1, 128)
        check_latency(latency, cls.LEAST_LATENCY)

    def __init__(self, width=32, *, latency=INT_ADD):
        self._width = width
        self._latency = latency
        super().__init__({
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        total = Signal(signed(self._width))
        m.d.comb += total.eq(self.a + self.b)  # truncation here is the wrap-around
        m.d.sync += self.o.eq(delay(m, total, self.extra_latency, name="retime"))
        return m
