# amaranth: UnusedElaboratable=no
"""INT8 multiplier (exhaustive) and INT32 adder (wrap-around) on the Amaranth simulator."""

import numpy as np
import pytest

from hw.intarith import IntAdd, IntMul
from sim.pipeline import rtl_pipeline


def _stream(dut, pairs):
    pairs = np.asarray(pairs)
    return rtl_pipeline(dut, {"a": pairs[:, 0], "b": pairs[:, 1]}, dtype=np.int64)


def test_int8_multiply_exhaustive():
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    pairs = np.stack([a.ravel(), b.ravel()], axis=1)
    got = _stream(IntMul(8, 16), pairs)
    assert (got == pairs[:, 0] * pairs[:, 1]).all()


@pytest.mark.parametrize("kwargs", [
    {"logic": True}, {"logic": True, "latency": 2}, {"dsp": "ecp5"},
    {"dsp": "ecp5", "latency": 2}, {"dsp": "ecp5", "latency": 3}, {"dsp": "ecp5", "latency": 5},
    {"latency": 2},
])
def test_int8_multiply_exhaustive_every_kind(kwargs):
    # The logic (Booth) multiplier, and the simulation model of the ECP5 block's registers.
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    pairs = np.stack([a.ravel(), b.ravel()], axis=1)
    dut = IntMul(8, 32, **kwargs)
    got = _stream(dut, pairs)
    assert (got == pairs[:, 0] * pairs[:, 1]).all()
    assert dut.latency == kwargs.get("latency", 1)


@pytest.mark.parametrize("wa, wb", [(1, 1), (2, 3), (3, 2), (5, 5), (4, 7), (6, 6)])
def test_booth_product_every_width(wa, wb):
    from amaranth import Module, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out
    from amaranth.sim import Simulator

    from hw.booth import booth_product

    class Mul(wiring.Component):
        a: In(signed(wa))
        b: In(signed(wb))
        o: Out(signed(wa + wb))

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.o.eq(booth_product(m, self.a, self.b))
            return m

    dut = Mul()
    wrong = []

    async def bench(ctx):
        for x in range(-(1 << wa - 1), 1 << wa - 1):
            for y in range(-(1 << wb - 1), 1 << wb - 1):
                ctx.set(dut.a, x)
                ctx.set(dut.b, y)
                if ctx.get(dut.o) != x * y:
                    wrong.append((x, y))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert wrong == []


def test_ecp5_model_stalls_with_en():
    # With dsp="ecp5" the registers (the block's, in Verilog) advance only while en is high.
    from amaranth.sim import Simulator
    dut = IntMul(8, 32, latency=3, dsp="ecp5")
    seen = []

    async def bench(ctx):
        for a, en in [(3, 1), (5, 0), (5, 1), (7, 1), (0, 0), (0, 1), (0, 1), (0, 1)]:
            ctx.set(dut.a, a)
            ctx.set(dut.b, 2)
            ctx.set(dut.en, en)
            await ctx.tick()
            seen.append(ctx.get(dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # Edges 0, 2, 3, 5, ... are enabled and take a = 3, 5, 7, 0; a product shows after the
    # third enabled edge from its operands' (3·2 after edge 3, 5·2 after edge 5, ...).
    assert seen == [0, 0, 0, 6, 6, 10, 14, 0]


def test_ecp5_verilog_instantiates_the_registered_block():
    from amaranth.back import verilog

    from hw.dsp import VERILOG_EXPORT
    text = verilog.convert(IntMul(8, 32, latency=2, dsp="ecp5"), name="mul", emit_src=False,
                           platform=VERILOG_EXPORT)
    assert "MULT18X18D" in text
    for reg, clock in [("INPUTA", "CLK0"), ("INPUTB", "CLK0"), ("PIPELINE", "NONE"),
                       ("OUTPUT", "CLK0")]:
        assert f'.REG_{reg}_CLK("{clock}")' in text
    assert ".CE0(en)" in text


def test_int8_multiply_widened_to_32():
    pairs = np.array([[-128, -128], [-128, 127], [127, 127], [-1, 1], [0, -128]])
    got = _stream(IntMul(8, 32), pairs)
    assert (got == pairs[:, 0] * pairs[:, 1]).all()


def _wrap32(values):
    return ((values + 2**31) % 2**32) - 2**31


def test_int32_add_wraps():
    rng = np.random.default_rng(1)
    edge = [[2**31 - 1, 1], [-2**31, -1], [-2**31, -2**31], [2**31 - 1, 2**31 - 1], [0, 0],
            [-1, 1]]
    pairs = np.concatenate([edge, rng.integers(-2**31, 2**31, (2000, 2))])
    got = _stream(IntAdd(32), pairs)
    assert (got == _wrap32(pairs[:, 0] + pairs[:, 1])).all()


@pytest.mark.parametrize("latency", [1, 2, 3])
@pytest.mark.parametrize("narrow", [None, 16, 1, 31])
def test_int32_add_split_and_clear(narrow, latency):
    # Config.int_adder "split": a narrow a (sign-extended from `narrow` bits) on an adder that
    # wide, b's upper bits incremented, decremented or kept; with `clear`, b reads 0. Every
    # carry and sign meets every upper half near its wrap-around.
    rng = np.random.default_rng(narrow or 0)
    n = narrow or 32
    low, high = -2**(n - 1), 2**(n - 1)
    a_edges = np.clip([low, high - 1, -1, 0, 1, low, high - 1, -1], low, high - 1)
    a = np.concatenate([np.tile(a_edges, 4), rng.integers(low, high, 3000)])
    b_edges = [2**31 - 1, -2**31, -1, 0, 2**16 - 1, 2**16, -2**16, 2**31 - 2**16]
    b = np.concatenate([np.repeat(b_edges, 4)[:32], rng.integers(-2**31, 2**31, 3000)])
    clear = rng.integers(0, 2, len(a))
    dut = IntAdd(32, latency=latency, clear=True, narrow=narrow)
    got = rtl_pipeline(dut, {"a": a, "b": b, "clear": clear}, dtype=np.int64)
    assert (got == _wrap32(a + np.where(clear == 1, 0, b))).all()
    assert dut.latency == latency
    assert "clear" not in IntAdd(32, narrow=narrow).signature.members


@pytest.mark.parametrize("make, pattern", [
    (lambda: IntMul(0), r"^width must be an integer from 1 to 64, not 0$"),
    (lambda: IntMul(8, 12), r"^out_width must be an integer from 16 to 128, not 12$"),
    (lambda: IntAdd("32"), r"^width must be an integer from 1 to 128, not '32'$"),
    (lambda: IntAdd(32, narrow=32), r"^narrow must be an integer from 1 to 31, not 32$"),
    (lambda: IntAdd(32, narrow=0), r"^narrow must be an integer from 1 to 31, not 0$"),
    (lambda: IntMul(8, 16, dsp="xilinx"), r"^dsp must be one of 'infer', 'ecp5', not 'xilinx'$"),
    (lambda: IntMul(20, 40, dsp="ecp5"), r"^width must be an integer from 1 to 18, not 20$"),
])
def test_constructor_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_clear_must_be_bool():
    with pytest.raises(TypeError, match=r"^clear must be a bool, not 1$"):
        IntAdd(32, clear=1)


def test_logic_must_be_bool():
    with pytest.raises(TypeError, match=r"^logic must be a bool, not 1$"):
        IntMul(8, 16, logic=1)
