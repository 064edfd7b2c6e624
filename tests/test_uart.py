# amaranth: UnusedElaboratable=no
"""The 8N1 UART: transmitter to receiver round trips under stalls, each end against the
testbench's own line model (:mod:`sim.uart_line`), baud-rate mismatch, the exact bit timing,
framing errors, glitches, overrun, and the constructors' errors."""

import random
import re

import pytest
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.fpga.uart import FRAME_BITS, MIN_DIVISOR, RxErrors, UartRx, UartTx
from sim.streams import stream_get, stream_put
from sim.uart_line import FramingError, line_bits, line_receive, line_send

PERIOD = 1e-8


class _Loop(wiring.Component):
    """A transmitter wired to a receiver."""
    i: In(stream.Signature(8))
    o: Out(stream.Signature(8))
    errors: Out(RxErrors())

    def __init__(self, divisor):
        self.tx = UartTx(divisor)
        self.rx = UartRx(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        wiring.connect(m, wiring.flipped(self.i), self.tx.i)
        wiring.connect(m, self.rx.o, wiring.flipped(self.o))
        wiring.connect(m, self.rx.errors, wiring.flipped(self.errors))
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


def _run(dut, *benches, background=()):
    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    for bench in background:
        sim.add_testbench(bench, background=True)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()


def _count_errors(dut, seen):
    async def watch(ctx):
        async for _, _, framing, overrun in ctx.tick().sample(dut.errors.framing,
                                                               dut.errors.overrun):
            seen["framing"] += framing
            seen["overrun"] += overrun
    return watch


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 5, 7])
def test_round_trip_under_stalls(divisor):
    dut = _Loop(divisor)
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(40)] + [0x00, 0xFF, 0x55, 0xAA]
    seen = {"framing": 0, "overrun": 0}
    got = []

    async def send(ctx):
        await stream_put(ctx, dut.i, data, rng=random.Random(1), p_valid=0.3)

    async def receive(ctx):
        # A receiver's reader stalls briefly, never for a byte's time: nothing is lost.
        rows, _ = await stream_get(ctx, dut.o, len(data), rng=random.Random(2), p_ready=0.5,
                                   limit=len(data) * 40 * FRAME_BITS * divisor)
        got.extend(rows)

    _run(dut, send, receive, background=[_count_errors(dut, seen)])
    assert got == data
    assert seen == {"framing": 0, "overrun": 0}


@pytest.mark.parametrize("skew", [0.97, 1.0, 1.03])
def test_receiver_against_the_line_model_with_baud_mismatch(skew):
    # The far end's clock is 3 % off: mid-bit sampling still lands inside every bit.
    divisor = 16
    dut = UartRx(divisor)
    data = bytes([0x00, 0xFF, 0x5A, 0xA5, 0x01, 0x80, 0x3C])
    got = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(3.3 * PERIOD)
        await line_send(ctx, dut.rx, data, divisor * PERIOD * skew)

    async def receive(ctx):
        rows, _ = await stream_get(ctx, dut.o, len(data),
                                   limit=2 * len(data) * FRAME_BITS * divisor)
        got.extend(rows)

    _run(dut, receive, background=[line])
    assert bytes(got) == data


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 6])
def test_transmitter_bit_timing_is_exact(divisor):
    # Every bit lasts exactly `divisor` cycles, start bit the cycle after the byte is taken,
    # and the next byte's start bit straight after the stop bit.
    dut = UartTx(divisor)
    data = [0x96, 0x01]
    trace = []

    async def send(ctx):
        await stream_put(ctx, dut.i, data)

    async def probe(ctx):
        async for _, _, tx in ctx.tick().sample(dut.tx):
            trace.append(tx)
            if len(trace) > 2 * FRAME_BITS * divisor + 4:
                return

    _run(dut, probe, background=[send])
    # The first byte is taken at the first edge; from then on, tx is the bits in order.
    want = [1] + [bit for byte in data for bit in line_bits(byte) for _ in range(divisor)]
    assert trace[1:len(want)] == want[1:]
    assert trace[len(want):] == [1] * (len(trace) - len(want))


def test_transmitter_against_the_line_model():
    divisor = 5
    dut = UartTx(divisor)
    data = bytes(range(0, 256, 17))
    got = []

    async def send(ctx):
        await stream_put(ctx, dut.i, data, rng=random.Random(3), p_valid=0.5)

    async def listen(ctx):
        for _ in data:
            got.append(await line_receive(ctx, dut.tx, divisor * PERIOD))

    _run(dut, listen, background=[send])
    assert bytes(got) == data


def test_framing_error_drops_the_byte_and_recovers():
    divisor = 8
    dut = UartRx(divisor)
    seen = {"framing": 0, "overrun": 0}
    got = []
    bit = divisor * PERIOD

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2.5 * PERIOD)
        await line_send(ctx, dut.rx, b"\x41", bit)
        await line_send(ctx, dut.rx, b"\x42", bit, stop=0)   # bad stop bit
        await ctx.delay(5 * bit)                               # ... and a break after it
        ctx.set(dut.rx, 1)
        await ctx.delay(2 * bit)
        await line_send(ctx, dut.rx, b"\x43\x00", bit)         # 0x00: all zeros, good stop

    async def receive(ctx):
        rows, _ = await stream_get(ctx, dut.o, 3, limit=60 * FRAME_BITS * divisor)
        got.extend(rows)

    _run(dut, receive, background=[line, _count_errors(dut, seen)])
    assert got == [0x41, 0x43, 0x00]
    assert seen == {"framing": 1, "overrun": 0}


def test_a_glitch_is_not_a_start_bit():
    divisor = 8
    dut = UartRx(divisor)
    got = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2.5 * PERIOD)
        ctx.set(dut.rx, 0)                  # low for under half a bit
        await ctx.delay(2 * PERIOD)
        ctx.set(dut.rx, 1)
        await ctx.delay(3 * divisor * PERIOD)
        await line_send(ctx, dut.rx, b"\x7e", divisor * PERIOD)

    async def receive(ctx):
        rows, _ = await stream_get(ctx, dut.o, 1, limit=20 * FRAME_BITS * divisor)
        got.extend(rows)
        for _ in range(3 * FRAME_BITS * divisor):
            await ctx.tick()
        assert not ctx.get(dut.o.valid)

    _run(dut, receive, background=[line])
    assert got == [0x7E]


def test_overrun_keeps_the_first_byte():
    divisor = MIN_DIVISOR
    dut = UartRx(divisor)
    seen = {"framing": 0, "overrun": 0}
    got = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2.5 * PERIOD)
        await line_send(ctx, dut.rx, b"\x11\x22", divisor * PERIOD)

    async def receive(ctx):
        for _ in range(3 * FRAME_BITS * divisor):     # nobody reads while both arrive
            await ctx.tick()
        rows, _ = await stream_get(ctx, dut.o, 1, limit=10)
        got.extend(rows)
        for _ in range(2 * FRAME_BITS * divisor):
            await ctx.tick()
        assert not ctx.get(dut.o.valid)

    _run(dut, receive, background=[line, _count_errors(dut, seen)])
    assert got == [0x11]
    assert seen == {"framing": 0, "overrun": 1}


def test_line_model_reports_a_framing_error():
    # The testbench's own line model, which the simulated board's transport relies on.
    bit = MIN_DIVISOR * PERIOD
    line_pin = Signal(init=1)

    async def bench(ctx):
        with pytest.raises(FramingError, match="0x42"):
            await line_receive(ctx, line_pin, bit)

    async def drive(ctx):
        await ctx.delay(2.5 * PERIOD)
        await line_send(ctx, line_pin, b"\x42", bit, stop=0)

    m = Module()
    m.d.sync += Signal().eq(line_pin)
    sim = Simulator(m)
    sim.add_clock(PERIOD)
    sim.add_testbench(drive, background=True)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("cls", [UartRx, UartTx])
@pytest.mark.parametrize("divisor", [0, 3, -8, 4.0, True, "8", None])
def test_bad_divisor(cls, divisor):
    with pytest.raises(ValueError, match=rf"^divisor .* at least {MIN_DIVISOR}, not "
                                         rf"{re.escape(repr(divisor))}$"):
        cls(divisor)


def test_divisor_property():
    assert UartRx(9).divisor == 9
    assert UartTx(MIN_DIVISOR).divisor == MIN_DIVISOR
