"""Where a PE's integer multiplier goes: what synthesis infers, or an instantiated DSP block.

Synthesis maps ``a * b`` onto a hard multiplier but, for the ECP5, never moves registers into
it: a product registered in the fabric leaves the MULT18X18D combinational, and the path from
a fabric register through the block and back (about 4 ns in the block, 5 ns of routing to the
few DSP rows) caps an INT8 array near 100 MHz. ``dsp="ecp5"`` instantiates the MULT18X18D
with its own input and output registers, stalled by the same enable as the rest of the grid.

The Amaranth simulator cannot run a vendor primitive: elaborated without
:data:`VERILOG_EXPORT` as its platform (which :mod:`hw.gen` passes) the multiplier is a model
of the same registers, so simulation checks every cycle count and value of the design whose
Verilog instantiates the block.
"""

from amaranth import ClockSignal, Const, Instance

__all__ = ["DSP_CHOICES", "VERILOG_EXPORT", "ECP5_MULT_WIDTH", "check_dsp", "ecp5_registers",
           "ecp5_multiplier"]

#: Values of :attr:`hw.config.Config.dsp`.
DSP_CHOICES = ("infer", "ecp5")
#: Operand width of one ECP5 MULT18X18D.
ECP5_MULT_WIDTH = 18


def check_dsp(dsp):
    """Return ``dsp`` if it is one of :data:`DSP_CHOICES`.

    Raises
    ------
    ValueError
        Naming the value and what is allowed.
    """
    if dsp not in DSP_CHOICES:
        raise ValueError(f"dsp must be one of {', '.join(map(repr, DSP_CHOICES))}, "
                         f"not {dsp!r}")
    return dsp


class _VerilogExport:
    """The platform :mod:`hw.gen` elaborates with: only says "this is Verilog export"."""

    def __repr__(self):
        return "VERILOG_EXPORT"


#: Platform object for Verilog export: units that instantiate vendor primitives do so only
#: when elaborated with it.
VERILOG_EXPORT = _VerilogExport()


def ecp5_registers(latency):
    """Which of the MULT18X18D's registers a ``latency``-stage multiplier uses, as
    ``(input, pipeline, output)`` flags, and how many stages remain for the fabric.

    1 stage: the output register. 2: the input registers too (nextpnr's fully registered
    timing, ``MULT18X18D_REGS_ALL``). 3: the pipeline register between them as well. Stages
    beyond 3 go into the fabric at the output.
    """
    inside = min(latency, 3)
    return (inside >= 2, inside >= 3, True), latency - inside


def ecp5_multiplier(m, a, b, o, en, latency, name="dsp"):
    """Add one MULT18X18D to ``m`` computing the signed ``o = a * b``, ``min(latency, 3)``
    stages deep (see :func:`ecp5_registers`), with clock enable ``en`` on every register.

    ``a`` and ``b`` are signed and at most :data:`ECP5_MULT_WIDTH` bits; ``o`` takes the low
    ``len(o)`` bits (at most 36) of the sign-extended product.
    """
    (reg_in, reg_pipe, reg_out), _ = ecp5_registers(latency)
    clock = {True: "CLK0", False: "NONE"}
    params = {
        "REG_INPUTA_CLK": clock[reg_in], "REG_INPUTB_CLK": clock[reg_in],
        "REG_PIPELINE_CLK": clock[reg_pipe], "REG_OUTPUT_CLK": clock[reg_out],
        "RESETMODE": "SYNC", "GSR": "DISABLED",
    }
    ports = {
        "i_CLK0": ClockSignal(), "i_CE0": en,
        "i_SIGNEDA": Const(1), "i_SIGNEDB": Const(1),
        "i_SOURCEA": Const(0), "i_SOURCEB": Const(0),
    }
    # The inputs synthesis's own mapping (``dsp_map_18x18.v``) ties off; the other clocks,
    # enables, every reset (the block's registers hold data: no reset, see hw.delay) and the
    # shift-chain inputs stay unconnected (nextpnr fails to route a
    # constant to some of them).
    wide_a, wide_b = a.as_signed(), b.as_signed()
    for n in range(ECP5_MULT_WIDTH):
        ports[f"i_A{n}"] = wide_a[min(n, len(a) - 1)]
        ports[f"i_B{n}"] = wide_b[min(n, len(b) - 1)]
        ports[f"i_C{n}"] = Const(0)
    for n in range(len(o)):
        ports[f"o_P{n}"] = o[n]
    m.submodules[name] = Instance("MULT18X18D", **{f"p_{k}": v for k, v in params.items()},
                                  **ports)
