"""The board-independent top: the engine behind a UART, with status LEDs.

::

    rx pin ─> UartRx ─> UartBridge ─> Engine (cmd, din)
    tx pin <─ UartTx <─ UartBridge <─ Engine (dout, status)

A board build wraps :class:`UartTop` with its clock (``divisor`` = clock / baud), its pins and
its LEDs; the host runs GEMMs through it with :class:`sim.link.HostLink` (``python -m
hw.host``). The protocol is :mod:`hw.fpga.bridge`'s.
"""

from amaranth import Module, Signal
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..config import check_config
from ..engine import Engine
from .bridge import UartBridge
from .protocol import DEFAULT_MAX_PAYLOAD, DEFAULT_TIMEOUT_BITS, check_max_payload
from .uart import FRAME_BITS, UartRx, UartTx, check_divisor

__all__ = ["ACTIVITY_BITS", "UartTop"]

#: How long the activity LED stays lit after a byte, in bit times: 256 bytes' time, 22 ms at
#: 115200 baud, long enough to see.
ACTIVITY_BITS = 256 * FRAME_BITS


class UartTop(CheckedComponent):
    """``Engine(cfg)`` driven over a UART by :class:`~hw.fpga.bridge.UartBridge`.

    Parameters
    ----------
    cfg : hw.config.Config
    divisor : int
        Clock cycles per bit (clock / baud), at least :data:`~hw.fpga.uart.MIN_DIVISOR`.
    timeout : int or None
        Cycles without a byte inside a frame before the bridge drops it as TRUNCATED: more
        than a byte's time (``10 * divisor``). ``None``:
        :data:`~hw.fpga.protocol.DEFAULT_TIMEOUT_BITS` bit times.
    max_payload : int
        The bridge's payload buffer in bytes.
    pe_module : str or None
        As for :class:`~hw.engine.engine.Engine`.

    Members
    -------
    rx : ``In(1, init=1)``
        The UART line from the host.
    tx : ``Out(1, init=1)``
        The UART line to the host.
    led_idle : ``Out(1)``
        The engine is idle.
    led_error : ``Out(1)``
        The engine has error bits set, or the link has dropped a frame, a byte or a reply,
        since the last RESET frame.
    led_activity : ``Out(1)``
        A byte went either way in the last :data:`ACTIVITY_BITS` bit times.

    Raises
    ------
    TypeError, ValueError
        For a bad ``cfg``, ``divisor``, ``timeout`` or ``max_payload``.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    led_idle: Out(1)
    led_error: Out(1)
    led_activity: Out(1)

    @staticmethod
    def check(cfg, divisor, timeout, max_payload, pe_module):
        check_config(cfg)
        check_divisor(divisor)
        if timeout is not None:
            byte_time = FRAME_BITS * divisor
            if isinstance(timeout, bool) or not isinstance(timeout, int) or \
                    timeout <= byte_time:
                raise ValueError(f"timeout must be an integer of more than a byte's time "
                                 f"({byte_time} cycles at divisor {divisor}), not {timeout!r}")
        check_max_payload(cfg, max_payload)

    def __init__(self, cfg, *, divisor, timeout=None, max_payload=DEFAULT_MAX_PAYLOAD,
                 pe_module=None):
        self._cfg = cfg
        self._divisor = divisor
        self._timeout = DEFAULT_TIMEOUT_BITS * divisor if timeout is None else timeout
        self._max_payload = max_payload
        self._pe_module = pe_module
        super().__init__()

    @property
    def cfg(self):
        return self._cfg

    @property
    def divisor(self):
        return self._divisor

    @property
    def timeout(self):
        return self._timeout

    @property
    def max_payload(self):
        return self._max_payload

    def elaborate(self, platform):
        m = Module()
        engine = Engine(self._cfg, pe_module=self._pe_module)
        bridge = UartBridge(self._cfg, max_payload=self._max_payload, timeout=self._timeout)
        m.submodules.uart_rx = rx = UartRx(self._divisor)
        m.submodules.uart_tx = tx = UartTx(self._divisor)
        m.submodules.bridge = bridge
        # A RESET frame resets the engine alone; the link carries on.
        m.submodules.engine = ResetInserter({"sync": bridge.engine_rst})(engine)

        connect = wiring.connect
        connect(m, rx.o, bridge.rx)
        connect(m, rx.errors, bridge.rx_errors)
        connect(m, bridge.tx, tx.i)
        connect(m, bridge.engine, engine)
        m.d.comb += [
            rx.rx.eq(self.rx),
            self.tx.eq(tx.tx),
            self.led_idle.eq(engine.status.idle),
            self.led_error.eq((engine.status.error != 0) | bridge.link_error),
        ]

        lit = Signal(range(ACTIVITY_BITS * self._divisor + 1))
        with m.If((rx.o.valid & rx.o.ready) | (tx.i.valid & tx.i.ready)):
            m.d.sync += lit.eq(ACTIVITY_BITS * self._divisor)
        with m.Elif(lit != 0):
            m.d.sync += lit.eq(lit - 1)
        m.d.comb += self.led_activity.eq(lit != 0)
        return m
