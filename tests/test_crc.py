"""The host link's CRC: the reference against the standard's check value and Python's own
CRC-CCITT (``binascii.crc_hqx``), and the byte-serial hardware against the reference, with
idle cycles and restarts."""

import binascii
import random

import pytest
from amaranth.sim import Simulator

from hw.fpga.crc import Crc16
from hw.fpga.protocol import CRC_INIT, crc16, crc16_byte


def test_reference_check_value():
    # CRC-16/CCITT-FALSE's catalogued check value and two by hand.
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == CRC_INIT
    assert crc16(b"\x00") == 0xE1F0
    assert crc16(b"789", crc16(b"123456")) == 0x29B1
    assert crc16_byte(CRC_INIT, ord("1")) == crc16(b"1")


def test_reference_against_binascii():
    # binascii.crc_hqx is CRC-CCITT, polynomial 0x1021 MSB first, from a given start value.
    rng = random.Random(5)
    for _ in range(200):
        octets = rng.randbytes(rng.randrange(0, 40))
        assert crc16(octets) == binascii.crc_hqx(octets, CRC_INIT)


@pytest.mark.parametrize("seed", [0, 1])
def test_hardware_matches_reference(seed):
    rng = random.Random(seed)
    runs = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))) for _ in range(6)]
    runs.append(b"123456789")
    dut = Crc16()
    got = []

    async def bench(ctx):
        for run in runs:
            # The first byte of each run comes with `clear`: a restart without a lost cycle.
            for n, byte in enumerate(run):
                while rng.random() < 0.3:
                    ctx.set(dut.i.valid, 0)
                    ctx.set(dut.clear, 0)
                    await ctx.tick()
                ctx.set(dut.clear, n == 0)
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, byte)
                await ctx.tick()
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.clear, 0)
            got.append(ctx.get(dut.crc))   # one cycle after the last byte
        ctx.set(dut.clear, 1)
        await ctx.tick()
        got.append(ctx.get(dut.crc))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [crc16(run) for run in runs] + [CRC_INIT]
