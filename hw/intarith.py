"""Integer arithmetic units: the exact INT8 multiplier and the wrapping INT32 adder."""

from amaranth import Module, Signal, signed
from amaranth.lib.wiring import In, Out

from .booth import booth_product
from .checked import CheckedComponent
from .delay import delay
from .dsp import ECP5_MULT_WIDTH, VERILOG_EXPORT, check_dsp, ecp5_multiplier, ecp5_registers
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
        Register stages, 1 (the default: the product is registered) to 16. A second stage
        registers the operands, where a DSP block's input registers sit; stages beyond those
        go at the output.
    dsp : str
        ``"infer"`` (the default): ``a * b``, which synthesis maps as it likes. ``"ecp5"``: an
        ECP5 MULT18X18D with the stages as its own registers (:mod:`hw.dsp`; ``width`` at
        most 18), which adds the clock-enable input ``en``.
    logic : bool
        Build the product from LUTs and carry chains (:func:`hw.booth.booth_product`)
        instead, for arrays with more PEs than the FPGA has DSP blocks; ``dsp`` is then
        unused. Same registers, same latency.

    Members
    -------
    a, b : In(signed(width))
    o : Out(signed(out_width))
        ``a * b`` from ``latency`` cycles before.
    en : In(1, init=1)
        Only with ``dsp="ecp5"``: the registers advance while it is high (the block's
        clock enable; the grid drives it with its stall enable).

    Throughput one product per cycle.
    """

    LEAST_LATENCY = INT_MUL

    @classmethod
    def check(cls, width, out_width, latency, dsp, logic):
        _check_width("width", width, 1, 64)
        _check_width("out_width", out_width, 2 * width, 128)
        check_latency(latency, cls.LEAST_LATENCY)
        check_dsp(dsp)
        if dsp == "ecp5" and not logic:
            _check_width("width", width, 1, ECP5_MULT_WIDTH)
        if not isinstance(logic, bool):
            raise TypeError(f"logic must be a bool, not {logic!r}")

    def __init__(self, width=8, out_width=16, *, latency=INT_MUL, dsp="infer", logic=False):
        self._width = width
        self._out_width = out_width
        self._latency = latency
        self._dsp = "infer" if logic else dsp
        self._logic = logic
        members = {
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(out_width)),
        }
        if self._dsp == "ecp5":
            members["en"] = In(1, init=1)
        super().__init__(members)

    @property
    def dsp(self):
        return self._dsp

    @property
    def logic(self):
        return self._logic

    def elaborate(self, platform):
        m = Module()
        if self._dsp == "ecp5":
            return self._elaborate_ecp5(m, platform)
        split = min(self.extra_latency, 1)
        a = delay(m, self.a, split, name="a_reg", reset_less=True)
        b = delay(m, self.b, split, name="b_reg", reset_less=True)
        product = booth_product(m, a, b) if self._logic else a * b
        self.output(m, self.o, delay(m, product, self.extra_latency - split, name="retime",
                                     reset_less=True))
        return m

    def _elaborate_ecp5(self, m, platform):
        (reg_in, reg_pipe, _), fabric = ecp5_registers(self._latency)

        def stage(value, name):
            reg = Signal.like(value, name=name, reset_less=True)
            with m.If(self.en):
                m.d.sync += reg.eq(value)
            return reg

        if platform is VERILOG_EXPORT:
            product = Signal(signed(self._out_width), name="product")
            ecp5_multiplier(m, self.a, self.b, product, self.en, self._latency)
        else:
            # The block's registers, as the Amaranth simulator can run them.
            a = stage(self.a, "a_reg") if reg_in else self.a
            b = stage(self.b, "b_reg") if reg_in else self.b
            product = Signal(signed(self._out_width), name="product")
            m.d.comb += product.eq(a * b)
            if reg_pipe:
                product = stage(product, "pipe_reg")
            product = stage(product, "out_reg")
        for n in range(fabric):
            product = stage(product, f"retime_{n}")
        m.d.comb += self.o.eq(product)
        return m


class IntAdd(Pipelined, CheckedComponent):
    """Two's complement adder that wraps: ``o = (a + b) mod 2**width``, as a signed value.

    Parameters
    ----------
    width : int
        Operand and result width.
    latency : int
        Register stages, 1 (the default: the sum is registered) to 16. A second stage
        registers the operands, which takes an output-stationary PE's restart multiplexer
        (``first ? 0 : o``) out of the carry chain's cycle; stages beyond those go at the
        output. An output-stationary PE keeps one accumulator context per stage.

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
        split = min(self.extra_latency, 1)
        a = delay(m, self.a, split, name="a_reg", reset_less=True)
        b = delay(m, self.b, split, name="b_reg", reset_less=True)
        total = Signal(signed(self._width))
        m.d.comb += total.eq(a + b)  # truncation here is the wrap-around
        self.output(m, self.o, delay(m, total, self.extra_latency - split, name="retime",
                                     reset_less=True))
        return m
