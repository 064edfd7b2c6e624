"""The host link's CRC in hardware: CRC-16/CCITT-FALSE a byte a cycle (:mod:`hw.fpga.protocol`
defines it and holds the reference, :func:`~hw.fpga.protocol.crc16`)."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import BYTE_WIDTH, CRC_INIT, CRC_POLY, CRC_WIDTH

__all__ = ["Crc16", "crc16_step"]


def crc16_step(crc, byte):
    """The CRC after one more byte, as logic: :func:`~hw.fpga.protocol.crc16_byte` unrolled
    over the byte's bits, MSB first (one XOR network, no clock)."""
    for n in reversed(range(BYTE_WIDTH)):
        feedback = crc[CRC_WIDTH - 1] ^ byte[n]
        crc = Cat(Const(0, 1), crc[:CRC_WIDTH - 1]) ^ Mux(feedback, CRC_POLY, 0)
    return crc


class Crc16(wiring.Component):
    """CRC-16/CCITT-FALSE of the bytes since the last ``clear``.

    Members
    -------
    i : ``In(stream.Signature(8, always_ready=True))``
        Bytes to add, one a cycle at most.
    clear : ``In(1)``
        Start again from the initial value; a byte taken in the same cycle is the first of the
        new run.
    crc : ``Out(16)``
        The CRC so far.

    Latency one cycle (a byte taken at cycle ``t`` is in ``crc`` from ``t + 1``); throughput
    one byte a cycle.
    """

    i: In(stream.Signature(BYTE_WIDTH, always_ready=True))
    clear: In(1)
    crc: Out(CRC_WIDTH, init=CRC_INIT)

    def elaborate(self, platform):
        m = Module()
        crc = Signal(CRC_WIDTH, init=CRC_INIT)
        start = Mux(self.clear, CRC_INIT, crc)
        with m.If(self.i.valid):
            m.d.sync += crc.eq(crc16_step(start, self.i.payload))
        with m.Elif(self.clear):
            m.d.sync += crc.eq(CRC_INIT)
        m.d.comb += self.crc.eq(crc)
        return m
