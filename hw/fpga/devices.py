"""The FPGA families and parts the out-of-context flow targets, and how the open tools
(Yosys, nextpnr) address each.

One :class:`Family` per family: its Yosys synthesis command, whether nextpnr places and routes
it out of context (otherwise the design goes inside a :class:`~hw.fpga.harness.Harness`), the
parts by short name, and which nextpnr cell types count as which kind of resource.
"""

from dataclasses import dataclass, field

from ..config import ConfigError

__all__ = ["KINDS", "Device", "Family", "FAMILIES", "family", "device"]

#: Kinds of resource a report sums cell types into, in the order it prints them.
KINDS = ("lut", "ff", "dsp", "bram", "spram", "lutram", "io")


@dataclass(frozen=True)
class Device:
    """One part.

    Parameters
    ----------
    name : str
        The short name ``--device`` takes (``"85k"``, ``"up5k"``, ``"GW1NR-9"``).
    part : str
        The vendor's part number, for the report.
    nextpnr_args : tuple of str
        nextpnr options selecting the part (and package, speed grade).
    synth_args : tuple of str
        Extra options of the family's Yosys synthesis command for this part.
    board : str
        A board that carries the part (for the reader).
    """
    name: str
    part: str
    nextpnr_args: tuple
    synth_args: tuple = ()
    board: str = ""


@dataclass(frozen=True)
class Family:
    """One FPGA family.

    Parameters
    ----------
    name : str
        ``--family`` value and :data:`sim.tools.NEXTPNR` key.
    synth : str
        The Yosys synthesis command (``synth_ecp5``).
    synth_args : tuple of str
        Options it always gets.
    out_of_context : bool
        nextpnr has ``--out-of-context`` for this family: no I/O buffers, ports left
        unplaced. Otherwise the design is wrapped in a three-pin harness.
    devices : dict of str to Device
        The parts, by short name.
    default : str
        The part used when ``--device`` is not given.
    kinds : dict of str to str
        nextpnr cell (BEL) type to resource kind (a member of :data:`KINDS`); the first type
        of each kind is its headline and is always reported, the others only when used.
    pins : dict of str to str
        Package pins for the harness's ports, where nextpnr wants every I/O constrained.
    before_synth : tuple of str
        Yosys commands run on the design after it is read and before :attr:`synth`, in both
        flows (``hw.fpga.ooc`` and ``hw.build``).
    """
    name: str
    synth: str
    synth_args: tuple
    out_of_context: bool
    devices: dict
    default: str
    kinds: dict
    pins: dict = field(default_factory=dict)
    before_synth: tuple = ()

    def device(self, name=None):
        """The :class:`Device` called ``name`` (``None``: the default).

        Raises
        ------
        ConfigError
            Naming the parameter ``device``, the value and the devices of the family.
        """
        name = self.default if name is None else name
        if name not in self.devices:
            raise ConfigError("device", name, "one of " + ", ".join(map(repr, self.devices)),
                              when={"family": self.name})
        return self.devices[name]


_ECP5_DEVICES = {
    size: Device(size, f"LFE5U-{size[:-1]}F-6BG381C",
                 (f"--{size}", "--package", "CABGA381", "--speed", "6"),
                 board=f"ULX3S {size[:-1]}F")
    for size in ("25k", "45k", "85k")
}

FAMILIES = {
    "ecp5": Family(
        name="ecp5", synth="synth_ecp5", synth_args=("-noiopad",), out_of_context=True,
        devices=_ECP5_DEVICES, default="85k",
        kinds={"TRELLIS_COMB": "lut", "TRELLIS_FF": "ff", "MULT18X18D": "dsp",
               "ALU54B": "dsp", "DP16KD": "bram", "TRELLIS_RAMW": "lutram",
               "TRELLIS_IO": "io"}),
    "ice40": Family(
        name="ice40", synth="synth_ice40", synth_args=(), out_of_context=False,
        devices={
            # -dsp: the UltraPlus has SB_MAC16 blocks; -device u times ABC for its LUTs.
            "up5k": Device("up5k", "iCE40UP5K-SG48", ("--up5k", "--package", "sg48"),
                           ("-dsp", "-device", "u"), board="iCEBreaker, UPduino 3"),
            "hx8k": Device("hx8k", "iCE40HX8K-CT256", ("--hx8k", "--package", "ct256"),
                           ("-device", "hx"), board="iCE40-HX8K breakout"),
        },
        default="up5k",
        # An ICESTORM_LC is one LUT4 with its carry and flip-flop; the flip-flops are counted
        # from the netlist (see hw.fpga.report).
        kinds={"ICESTORM_LC": "lut", "ICESTORM_DSP": "dsp", "ICESTORM_RAM": "bram",
               "ICESTORM_SPRAM": "spram", "SB_IO": "io"},
        # nextpnr-ice40 places unconstrained pins itself.
        pins={},
        # Every memory in block RAM (EBR), also the small FIFOs Yosys would otherwise build
        # from logic cells (the array's result FIFO, the bridge's reply queue): an iCE40 logic
        # cell is one LUT and one flip-flop, and the engines that fit leave most EBR unused.
        # The 1x1 INT8 engine on the iCEBreaker: 104 flip-flops and 55 LUTs fewer, 4 EBR more.
        before_synth=('setattr -set ram_style "block" m:*',)),
    "gowin": Family(
        name="gowin", synth="synth_gowin", synth_args=("-family", "gw1n"),
        out_of_context=False,
        devices={
            "GW1NR-9": Device("GW1NR-9", "GW1NR-LV9QN88PC6/I5",
                              ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"),
                              board="Sipeed Tang Nano 9K"),
        },
        default="GW1NR-9",
        kinds={"LUT4": "lut", "ALU": "lut", "DFF": "ff", "MULT18X18": "dsp",
               "MULT9X9": "dsp", "MULT36X36": "dsp", "MULTALU18X18": "dsp",
               "MULTALU36X18": "dsp", "MULTADDALU18X18": "dsp", "ALU54D": "dsp",
               "PADD18": "dsp", "PADD9": "dsp", "BSRAM": "bram", "RAM16SDP4": "lutram",
               "IOB": "io"},
        # himbaechel-gowin wants every I/O constrained: the Tang Nano 9K's 27 MHz
        # oscillator pin and two free pins of its header.
        pins={"clk": "52", "si": "25", "so": "26"}),
}


def family(name):
    """The :class:`Family` called ``name``.

    Raises
    ------
    ConfigError
        Naming the parameter ``family``, the value and the families there are.
    """
    if name not in FAMILIES:
        raise ConfigError("family", name, "one of " + ", ".join(map(repr, FAMILIES)))
    return FAMILIES[name]


def device(family_name, device_name=None):
    """``(Family, Device)`` for a family and a device short name (``None``: its default)."""
    fam = family(family_name)
    return fam, fam.device(device_name)
