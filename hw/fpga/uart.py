"""A UART: 8N1 receiver and transmitter, ``divisor`` clock cycles per bit.

8N1 is a start bit (0), eight data bits least significant first, and a stop bit (1); the line
idles at 1. ``divisor`` is the clock frequency over the baud rate, an integer of at least
:data:`MIN_DIVISOR`; both ends must agree on it to within about 4 % for mid-bit sampling to
land inside every bit.
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent

__all__ = ["MIN_DIVISOR", "FRAME_BITS", "RxErrors", "UartRx", "UartTx", "check_divisor"]

#: The fewest clock cycles a bit: the receiver waits half a bit (at least two cycles) from
#: the start bit's edge to its middle.
MIN_DIVISOR = 4
#: Bits on the line per byte: start, eight data, stop.
FRAME_BITS = 10
_DATA_BITS = 8


def check_divisor(divisor):
    """Return ``divisor`` if it is an integer of at least :data:`MIN_DIVISOR`.

    Raises
    ------
    ValueError
        Naming the value and what is allowed.
    """
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor (clock cycles per bit, clock / baud) must be an integer of "
                         f"at least {MIN_DIVISOR}, not {divisor!r}")
    return divisor


class RxErrors(wiring.Signature):
    """What a receiver could not deliver, from its side: ``framing`` pulses for a byte dropped
    for a bad stop bit, ``overrun`` for a byte dropped because the previous one had not been
    taken."""

    def __init__(self):
        super().__init__({"framing": Out(1), "overrun": Out(1)})

    def __eq__(self, other):
        return type(other) is type(self)

    def __repr__(self):
        return "RxErrors()"


class _UartEnd(CheckedComponent):
    """What both ends of the line share: the ``divisor`` (clock cycles per bit), checked
    before the component exists."""

    @staticmethod
    def check(divisor):
        check_divisor(divisor)

    def __init__(self, divisor):
        self._divisor = divisor
        super().__init__()

    @property
    def divisor(self):
        return self._divisor


class UartRx(_UartEnd):
    """8N1 receiver: the ``rx`` line in, bytes out.

    ``rx`` passes a two-flop synchroniser (it comes from another clock's world). A falling
    edge starts a byte; the line is sampled in the middle of every bit: the start bit (still
    0, else the edge was a glitch and is ignored), eight data bits, and the stop bit. A stop
    bit of 0 drops the byte, pulses ``errors.framing`` and waits for the line to return to 1
    (a break) before looking for the next start bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock / baud), at least :data:`MIN_DIVISOR`.

    Members
    -------
    rx : ``In(1, init=1)``
        The line.
    o : ``Out(stream.Signature(8))``
        Received bytes. One byte is held; a byte completed while the previous one is still
        waiting is dropped and pulses ``errors.overrun``.
    errors : ``Out(RxErrors())``

    Raises
    ------
    ValueError
        For a bad ``divisor``.

    Latency: a byte is on ``o`` ``2 + divisor // 2 + 9 * divisor`` cycles (the synchroniser,
    then to the middle of the stop bit) after its start bit's falling edge reaches ``rx``.
    Throughput: one byte per :data:`FRAME_BITS` bit times, back to back.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(_DATA_BITS))
    errors: Out(RxErrors())


    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(divisor))
        bit = Signal(range(_DATA_BITS))
        shift = Signal(_DATA_BITS)
        expired = timer == 0
        with m.If(~expired):
            m.d.sync += timer.eq(timer - 1)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(expired):
                    with m.If(line):  # gone by the middle of the bit: a glitch
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(divisor - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(expired):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(divisor - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == _DATA_BITS - 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(expired):
                    with m.If(~line):
                        m.d.comb += self.errors.framing.eq(1)
                        m.next = "BREAK"
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.comb += self.errors.overrun.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        m.next = "IDLE"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(_UartEnd):
    """8N1 transmitter: bytes in, the ``tx`` line out (a register, so the pin never glitches).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock / baud), at least :data:`MIN_DIVISOR`.

    Members
    -------
    i : ``In(stream.Signature(8))``
        Bytes to send; ``ready`` while the line is free.
    tx : ``Out(1, init=1)``
        The line.

    Raises
    ------
    ValueError
        For a bad ``divisor``.

    Latency: the start bit begins the cycle after a byte is taken. Throughput: one byte every
    ``FRAME_BITS * divisor`` cycles, back to back (the next start bit follows the stop bit).
    """

    i: In(stream.Signature(_DATA_BITS))
    tx: Out(1, init=1)


    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor
        timer = Signal(range(divisor))
        left = Signal(range(FRAME_BITS + 1))       # bit times still to run
        shift = Signal(_DATA_BITS + 1)             # data, then the stop bit
        line = Signal(init=1)
        # Ready in the stop bit's last cycle too, so the next start bit follows it at once.
        m.d.comb += [self.tx.eq(line),
                     self.i.ready.eq((left == 0) | ((left == 1) & (timer == 0)))]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [line.eq(0), shift.eq(Cat(self.i.payload, Const(1, 1))),
                         left.eq(FRAME_BITS), timer.eq(divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [left.eq(left - 1), timer.eq(divisor - 1)]
                with m.If(left != 1):
                    m.d.sync += [line.eq(shift[0]), shift.eq(shift >> 1)]
        return m
