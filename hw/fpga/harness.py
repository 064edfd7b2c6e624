"""A three-pin harness: any design's top module placed and routed on a real FPGA package.

Place and route needs every top-level port on a pin, and a generated engine has hundreds of
port bits (a 128-bit command alone), far more than an iCE40 UP5K's 39 pins. Where nextpnr
has no out-of-context mode (iCE40, Gowin), :class:`Harness` wraps the design instead: every
input bit (``rst`` included) comes from a register of one shift chain fed by the pin ``si``,
and every output bit is folded into a second register chain (``q[i] <= out[i] ^ q[i-1]``)
that ends at the pin ``so``. Nothing is left unobserved, so synthesis keeps the whole design,
and every path into or out of the design starts and ends at a register, as it would inside a
real system; no control net fans out to many bits. The cost is one flip-flop per port bit
and one 2-input LUT per output bit (:attr:`Harness.overhead`), which the build report states.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent

__all__ = ["Harness"]


class Harness(CheckedComponent):
    """Module ``module_name`` with ports ``ports`` behind two register chains.

    Parameters
    ----------
    module_name : str
        The Verilog module to instantiate (defined in other Verilog text).
    ports : list of dict
        Its ports as :func:`hw.manifest.port_list` lists them (``name``, ``direction``,
        ``width``); ``clk`` is the harness's own clock, every other input (``rst`` too) is
        driven from the input chain.

    Raises
    ------
    ValueError
        ``ports`` has no ``clk``, no other input, no output, or a direction other than
        ``"input"`` or ``"output"``.

    Members
    -------
    clk : In(1)
        The clock of the harness and the design.
    si : In(1)
        Serial input: the head of the input chain.
    so : Out(1)
        Serial output: the tail of the output chain.

    The harness's own registers have no reset.
    """

    clk: In(1)
    si: In(1)
    so: Out(1)

    @staticmethod
    def check(module_name, ports):
        names = [p["name"] for p in ports]
        if "clk" not in names:
            raise ValueError(f"ports must include 'clk', not only {', '.join(names)}")
        for p in ports:
            if p["direction"] not in ("input", "output"):
                raise ValueError(f"port {p['name']!r} direction must be 'input' or 'output', "
                                 f"not {p['direction']!r}")
        directions = {p["direction"] for p in ports if p["name"] != "clk"}
        if directions != {"input", "output"}:
            raise ValueError("ports must include at least one input besides 'clk' and one "
                             "output")

    def __init__(self, module_name, ports):
        self._module_name = module_name
        self._inputs = [p for p in ports if p["direction"] == "input" and p["name"] != "clk"]
        self._outputs = [p for p in ports if p["direction"] == "output"]
        super().__init__()

    @property
    def module_name(self):
        return self._module_name

    @property
    def input_bits(self):
        """Design input bits driven from the input chain (``clk`` excluded)."""
        return sum(p["width"] for p in self._inputs)

    @property
    def output_bits(self):
        """Design output bits folded into the output chain."""
        return sum(p["width"] for p in self._outputs)

    @property
    def overhead(self):
        """What the harness adds to the design: ``{"ff": ..., "lut": ...}`` (at most; synthesis
        may merge an output XOR into the design's last LUT)."""
        return {"ff": self.input_bits + self.output_bits, "lut": self.output_bits}

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain(reset_less=True)
        m.d.comb += sync.clk.eq(self.clk)
        chain_in = Signal(self.input_bits, name="harness_in")
        chain_out = Signal(self.output_bits, name="harness_out")
        outs = Signal(self.output_bits)
        m.d.sync += chain_in.eq(Cat(self.si, chain_in[:-1]))
        m.d.sync += chain_out.eq(outs ^ Cat(Const(0, 1), chain_out[:-1]))
        m.d.comb += self.so.eq(chain_out[-1])

        ports = {"i_clk": ClockSignal()}
        offset = 0
        for p in self._inputs:
            ports["i_" + p["name"]] = chain_in[offset:offset + p["width"]]
            offset += p["width"]
        offset = 0
        for p in self._outputs:
            ports["o_" + p["name"]] = outs[offset:offset + p["width"]]
            offset += p["width"]
        m.submodules.dut = Instance(self._module_name, **ports)
        return m
