"""The board top on the Amaranth simulator, as a byte transport for :class:`sim.link.HostLink`:
the ``uart-sim`` backend.

:class:`SimUartTransport` drives the simulated :class:`hw.fpga.top.UartTop`'s ``rx`` pin bit by
bit (8N1, ``divisor`` cycles a bit) and decodes its ``tx`` pin the same way, independently of
the design's own UART, so the whole path a real board takes (pins, UART, bridge, engine) is
the one simulated. The simulation advances only while the host waits in ``read``.
"""

import math
import os
from collections import deque

from amaranth.sim import Simulator

from hw.fpga.top import UartTop
from hw.fpga.uart import FRAME_BITS

from ..uart_line import FramingError, line_receive, line_send

__all__ = ["SIM_DIVISOR", "SIM_CLOCK_HZ", "SIM_TIMEOUT_CYCLES", "SimUartTransport",
           "rtl_uart_gemm"]

#: Clock cycles a bit on the simulated line: few, so simulations are short.
SIM_DIVISOR = 4
#: The simulated clock (it sets what the transport's seconds mean).
SIM_CLOCK_HZ = 100e6
#: Cycles the simulated board may stay silent while a reply is due.
SIM_TIMEOUT_CYCLES = 100_000


class SimUartTransport:
    """Bytes to and from a simulated :class:`~hw.fpga.top.UartTop` through its pins.

    Parameters
    ----------
    top : hw.fpga.top.UartTop
    clock_hz : float
        The simulated clock frequency: ``read``'s ``timeout`` is in simulated seconds.
    vcd_name : str or None
        With ``SIM_VCD`` naming a folder, write the waveforms there under this name.

    Members
    -------
    cycles : int
        Cycles simulated so far.

    Raises
    ------
    RuntimeError
        From ``read``, when the board sends a byte whose stop bit is 0.
    """

    def __init__(self, top, *, clock_hz=SIM_CLOCK_HZ, vcd_name=None):
        if not isinstance(top, UartTop):
            raise TypeError(f"top must be a hw.fpga.top.UartTop, not {top!r}")
        self._top = top
        self._divisor = top.divisor
        self._period = 1 / clock_hz
        self._clock_hz = clock_hz
        self._to_board = deque()
        self._from_board = bytearray()
        self.cycles = 0
        self._sim = Simulator(top)
        self._sim.add_clock(self._period)
        self._sim.add_testbench(self._drive_rx, background=True)
        self._sim.add_testbench(self._watch_tx, background=True)
        self._vcd = None
        vcd_dir = os.environ.get("SIM_VCD")
        if vcd_dir and vcd_name:
            os.makedirs(vcd_dir, exist_ok=True)
            self._vcd = self._sim.write_vcd(os.path.join(vcd_dir, vcd_name + ".vcd"))
            self._vcd.__enter__()

    @property
    def baud(self):
        return self._clock_hz / self._divisor

    def write(self, data):
        """Queue ``data`` for the ``rx`` pin; it goes out as the simulation runs."""
        self._to_board.extend(bytes(data))

    def read(self, n, timeout):
        """Run the simulation until ``n`` bytes have come from ``tx`` or ``timeout``
        simulated seconds have passed; return what came, at most ``n`` bytes."""
        limit = self.cycles + max(1, math.ceil(timeout * self._clock_hz))
        step = FRAME_BITS * self._divisor
        while len(self._from_board) < n and self.cycles < limit:
            self.run(min(step, limit - self.cycles))
        data = bytes(self._from_board[:n])
        del self._from_board[:n]
        return data

    def run(self, cycles):
        """Simulate ``cycles`` more cycles."""
        self.cycles += cycles
        self._sim.run_until(self.cycles * self._period)

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None

    async def _drive_rx(self, ctx):
        # The line is asynchronous to the board's clock (the board synchronises it): change
        # it in the middle of a cycle, clear of the clock edges.
        bit_time = self._divisor * self._period
        ctx.set(self._top.rx, 1)
        await ctx.delay(self._period / 2)
        while True:
            if self._to_board:
                await line_send(ctx, self._top.rx, [self._to_board.popleft()], bit_time)
            else:
                await ctx.delay(FRAME_BITS * bit_time)

    async def _watch_tx(self, ctx):
        bit_time = self._divisor * self._period
        while True:
            try:
                self._from_board.append(await line_receive(ctx, self._top.tx, bit_time))
            except FramingError as e:
                raise RuntimeError(f"the board sent a {e}") from None


def rtl_uart_gemm(prog, *, divisor=SIM_DIVISOR):
    """Run an :class:`~sim.program.EngineProgram` on a simulated board top through
    :class:`~sim.link.HostLink` and check the run. Returns ``(C, cycles)``; ``cycles`` counts
    the cycles the engine was busy, which the simulated line's speed dominates."""
    from ..link import link_gemm

    transport = SimUartTransport(UartTop(prog.cfg, divisor=divisor),
                                 vcd_name=f"uart_{prog.cfg.engine_name}")
    try:
        return link_gemm(prog, transport, timeout=SIM_TIMEOUT_CYCLES / SIM_CLOCK_HZ)
    finally:
        transport.close()
