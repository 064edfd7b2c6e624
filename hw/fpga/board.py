"""A board's top level: :class:`~hw.fpga.top.UartTop` with the board's clock, UART pins and
LEDs.

::

    oscillator pin ─> PLL (or straight through) ─> sync clock ─┬─> UartTop ─> uart tx, LEDs
                                     LOCK ─> reset timer ──────┘       <─ uart rx

The engine's clock comes from the board's oscillator through the family's PLL
(``SB_PLL40_PAD``, ``EHXPLLL``, ``rPLL``, dividers from :func:`hw.fpga.pll.solve`) when the
wanted clock differs from the oscillator's, and the PLL's output carries a clock constraint
so nextpnr times the clock the design runs at. The design is held in reset until the PLL
locks and for :data:`RESET_US` after (iCE40 block RAMs read as zero for a few microseconds
after configuration).
"""

import math

from amaranth import ClockDomain, ClockSignal, Const, Module, ResetSignal, Signal
from amaranth.hdl import Instance
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer

from .protocol import DEFAULT_MAX_PAYLOAD
from .top import UartTop

__all__ = ["RESET_US", "BoardTop"]

#: How long the design stays in reset after the PLL locks, microseconds (5 times the iCE40's
#: block RAM start-up time, as Amaranth's own iCE40 reset does).
RESET_US = 15


class BoardTop(wiring.Component):
    """The engine of ``cfg`` behind a UART, on one board.

    Parameters
    ----------
    cfg : hw.config.Config
    board : hw.fpga.boards.Board
    pll : hw.fpga.pll.PllSetting or None
        The PLL making the clock from the oscillator (``None``: the oscillator's own clock).
    baud : int
        The UART's bit rate.
    max_payload : int
        The bridge's payload buffer in bytes.

    The component has no ports of its own: it requests the board's pins from the platform.
    """

    def __init__(self, cfg, board, pll, *, baud, max_payload=DEFAULT_MAX_PAYLOAD):
        self._cfg = cfg
        self._board = board
        self._pll = pll
        self._baud = baud
        self._max_payload = max_payload
        super().__init__({})

    @property
    def clock_mhz(self):
        """The engine's clock, MHz."""
        return self._pll.output_mhz if self._pll else self._board.osc_mhz

    @property
    def divisor(self):
        """Clock cycles per UART bit."""
        return round(self.clock_mhz * 1e6 / self._baud)

    def _clock(self, m, platform):
        """The engine's clock and the PLL's lock (``Const(1)`` without a PLL)."""
        pin = platform.request(self._board.clock, dir="-")
        pll = self._pll
        if pll is not None and pll.family == "ice40":
            # The PLL takes the pad itself: no input buffer between.
            clk, lock = Signal(), Signal()
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", **pll.params, p_PLLOUT_SELECT="GENCLK",
                i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk, o_LOCK=lock)
            platform.add_clock_constraint(clk, pll.output_mhz * 1e6)
            return clk, lock
        m.submodules.clk_buf = buf = io.Buffer("i", pin)
        if pll is None:
            return buf.i, Const(1)
        clk, lock = Signal(), Signal()
        if pll.family == "ecp5":
            m.submodules.pll = Instance(
                "EHXPLLL", **pll.params,
                a_FREQUENCY_PIN_CLKI=f"{pll.input_mhz:g}",
                a_FREQUENCY_PIN_CLKOP=f"{pll.output_mhz:.6g}",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                i_CLKI=buf.i, i_CLKFB=clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=clk, o_LOCK=lock)
        else:
            m.submodules.pll = Instance(
                "rPLL", **pll.params, p_DEVICE=platform.family,
                i_CLKIN=buf.i, i_CLKFB=0, i_RESET=0, i_RESET_P=0, i_FBDSEL=Const(0, 6),
                i_IDSEL=Const(0, 6), i_ODSEL=Const(0, 6), i_PSDA=Const(0, 4),
                i_DUTYDA=Const(0, 4), i_FDLY=Const(0, 4), o_CLKOUT=clk, o_LOCK=lock)
        platform.add_clock_constraint(clk, pll.output_mhz * 1e6)
        return clk, lock

    def _output(self, m, platform, role, requested):
        """The output buffer's ``o`` of the LED the board shows ``role`` on (``requested``:
        the resources requested so far, by name and number, as a resource is requested
        once)."""
        resource, number, *sub = self._board.leds[role]
        if (resource, number) not in requested:
            requested[resource, number] = platform.request(resource, number, dir="-")
        pins = requested[resource, number]
        buf = io.Buffer("o", getattr(pins, sub[0]) if sub else pins)
        m.submodules[f"led_{role}"] = buf
        return buf.o

    def elaborate(self, platform):
        m = Module()
        clk, lock = self._clock(m, platform)

        # Reset: held while the PLL is unlocked and for RESET_US after. The timer's own domain
        # has no reset; it counts up from its initial zero. The reset is a register of its own
        # (set from power-up), so the net that fans out to every control register starts at a
        # flip-flop and not at the timer's comparison (that path, the comparison and the
        # fan-out, was the ULX3S 4x4 build's longest, 11.7 ns).
        m.domains.sync = ClockDomain("sync")
        m.domains.por = ClockDomain("por", reset_less=True)
        m.d.comb += [ClockSignal("sync").eq(clk), ClockSignal("por").eq(clk)]
        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(lock, locked, o_domain="por")
        hold = math.ceil(RESET_US * self.clock_mhz)
        timer = Signal(range(hold + 1))
        with m.If(~locked):
            m.d.por += timer.eq(0)
        with m.Elif(timer != hold):
            m.d.por += timer.eq(timer + 1)
        reset = Signal(init=1)
        m.d.por += reset.eq(timer != hold)
        m.d.comb += ResetSignal("sync").eq(reset)

        m.submodules.top = top = UartTop(self._cfg, divisor=self.divisor,
                                         max_payload=self._max_payload)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [top.rx.eq(rx.i), tx.o.eq(top.tx)]
        requested = {}
        for role in self._board.leds:
            m.d.comb += self._output(m, platform, role, requested).eq(
                getattr(top, f"led_{role}"))
        return m
