"""A delay line in one RAM: ``cycles`` words of a circular buffer in place of ``cycles``
registers, for a wide value delayed long where flip-flops are dear (an iCE40 logic cell is one
LUT and one flip-flop; its block RAM is not).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from .ram import Ram

__all__ = ["DelayRam", "MIN_CYCLES"]

#: The shortest delay :class:`DelayRam` builds: with fewer words the read would meet the write.
MIN_CYCLES = 2


class DelayRam(CheckedComponent):
    """``o`` is ``i`` from ``cycles`` cycles before, like ``cycles`` reset-less registers
    (:func:`hw.delay.delay`), held in a :class:`~hw.engine.ram.Ram` of ``cycles`` words.

    Each cycle the word at the pointer is written with ``i`` and the word after it (the
    oldest, written ``cycles - 1`` cycles before) is read into the RAM's output register, so
    ``o`` is ``i`` from ``cycles`` cycles before. Before ``cycles`` words have been written
    since the start, ``o`` is the RAM's initial contents (zero, like the registers' initial
    values; none in an exported or ASIC RAM). Only the pointer takes the ``sync`` domain's
    reset, so after a reset ``o`` holds meaningless words for ``cycles`` cycles: the delay
    line is for data a reset-driven flag qualifies (see :mod:`hw.delay`). An
    ``EnableInserter`` around it stalls the pointer and both ports, as it stalls a register
    chain. Latency ``cycles``, one word per cycle.

    Parameters
    ----------
    shape : shape-castable
        The value delayed.
    cycles : int
        The delay, at least :data:`MIN_CYCLES`.

    Members
    -------
    i : In(shape)
    o : Out(shape)

    Raises
    ------
    ValueError
        If ``cycles`` is not an integer of at least :data:`MIN_CYCLES`.
    """

    @staticmethod
    def check(shape, cycles):
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < MIN_CYCLES:
            raise ValueError(f"cycles must be an integer of at least {MIN_CYCLES}, "
                             f"not {cycles!r}")

    def __init__(self, shape, cycles):
        self._shape = shape
        self._cycles = cycles
        super().__init__({"i": In(shape), "o": Out(shape)})

    @property
    def latency(self):
        return self._cycles

    def elaborate(self, platform):
        m = Module()
        n = self._cycles
        m.submodules.ram = ram = Ram(self._shape, n)
        ptr = Signal(range(n))
        nxt = Signal(range(n))
        m.d.comb += nxt.eq(Mux(ptr == n - 1, 0, ptr + 1))
        m.d.sync += ptr.eq(nxt)
        read = ram.read[0]
        m.d.comb += [
            ram.write.addr.eq(ptr), ram.write.data.eq(self.i), ram.write.en.eq(1),
            read.addr.eq(nxt), read.en.eq(1),
            self.o.eq(read.data),
        ]
        return m
