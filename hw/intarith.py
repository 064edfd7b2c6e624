"""Integer arithmetic units: the exact INT8 multiplier and the wrapping INT32 adder."""

from amaranth import Cat, Module, Mux, Signal, signed
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
        (``clear``) out of the carry chain's cycle; stages beyond those go at the output. An
        output-stationary PE keeps one accumulator context per stage.
    clear : bool
        Add the input ``clear``: ``b`` reads 0 while it is high (``o = a``), an
        output-stationary PE's restart (its sum's feedback multiplexer, inside the adder so
        synthesis maps the two together).
    narrow : int or None
        ``a`` is the sign extension of its low ``narrow`` bits (a PE's product; its upper
        bits are not read): ``narrow`` bits are added by an adder and the upper ``width -
        narrow`` bits of ``b`` are incremented, decremented or kept by that adder's carry and
        ``a``'s sign (``Config.int_adder == "split"``). ``None``: one ``width``-bit adder.
        Same sums either way.

    Throughput one sum per cycle.
    """

    LEAST_LATENCY = INT_ADD

    @classmethod
    def check(cls, width, latency, clear, narrow):
        _check_width("width", width, 1, 128)
        check_latency(latency, cls.LEAST_LATENCY)
        if not isinstance(clear, bool):
            raise TypeError(f"clear must be a bool, not {clear!r}")
        if narrow is not None:
            _check_width("narrow", narrow, 1, width - 1)

    def __init__(self, width=32, *, latency=INT_ADD, clear=False, narrow=None):
        self._width = width
        self._latency = latency
        self._clear = clear
        self._narrow = narrow
        members = {
            "a": In(signed(width)),
            "b": In(signed(width)),
            "o": Out(signed(width)),
        }
        if clear:
            members["clear"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        split = min(self.extra_latency, 1)
        b = Mux(self.clear, 0, self.b) if self._clear else self.b
        a = delay(m, self.a, split, name="a_reg", reset_less=True)
        b = delay(m, b, split, name="b_reg", reset_less=True)
        total = Signal(signed(self._width))
        if self._narrow is None:
            m.d.comb += total.eq(a + b)  # truncation here is the wrap-around
        else:
            m.d.comb += total.eq(self._split_sum(m, a, b))
        self.output(m, self.o, delay(m, total, self.extra_latency - split, name="retime",
                                     reset_less=True))
        return m

    def _split_sum(self, m, a, b):
        """``a + b`` with ``a`` sign-extended from ``narrow`` bits: the low bits' sum, and
        above it ``b``'s upper bits plus the carry out of it minus ``a``'s sign (+1, -1 or 0:
        an incrementer and a decrementer, no carry chain across the whole width)."""
        n = self._narrow
        low = Signal(n + 1, name="low")
        m.d.comb += low.eq(a[:n] + b[:n])
        carry, sign = low[n], a[n - 1]
        high = b[n:]
        high = Mux(carry & ~sign, high + 1, Mux(sign & ~carry, high - 1, high))
        return Cat(low[:n], high)
