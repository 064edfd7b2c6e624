"""A RAM with one write port and synchronous read ports: the engine's buffers.

In simulation it is an ``amaranth.lib.memory.Memory``. For Verilog export
(:mod:`hw.export`) it is an instance of a module written once per shape, with no initial
contents (the engine never reads a word it has not written: the golden model does not define
them), in the plain style Yosys maps to block RAM (``DP16KD`` on ECP5, ``SB_RAM40_4K`` on
iCE40) and an ASIC flow replaces with a memory macro of the same ports:

==============  =====  ============================================================
port            width  meaning
==============  =====  ============================================================
``clk``         1      every port's clock (rising edge)
``w_addr``      AW     write address
``w_data``      W      write data
``w_en``        1      write ``w_data`` to ``w_addr`` at the clock edge
``r<n>_addr``   AW     read port ``n``'s address
``r<n>_en``     1      read at the clock edge; ``r<n>_data`` holds while low
``r<n>_data``   W      the word at ``r<n>_addr`` the cycle after (synchronous read)
==============  =====  ============================================================

``AW`` is ``max(1, ceil(log2(depth)))``. A read port is either *old-data* (a read of the word
written in the same cycle gives the word before the write) or *transparent* (it gives the new
word), as :attr:`Ram.transparent` says, which the module name spells: ``<prefix>_ram_
<W>x<depth>_<ports>`` with one letter per read port, ``r`` old-data and ``t`` transparent
(``engine_..._ram_128x4096_r``, ``engine_..._ram_512x1024_tr``).
"""

from amaranth import ClockSignal, Const, Instance, Module, Shape
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out

from ..checked import CheckedComponent
from ..dsp import VERILOG_EXPORT

__all__ = ["Ram", "ram_verilog"]


def _addr_width(depth):
    return Shape.cast(range(depth)).width


class Ram(CheckedComponent):
    """``depth`` words of ``shape``, one write port and ``len(transparent)`` read ports.

    Parameters
    ----------
    shape : shape-castable
        One word (a layout is fine: the ports carry views of it).
    depth : int
        Words, at least 1.
    transparent : tuple of bool
        Per read port: ``True`` if a read of the address being written in the same cycle gives
        the new word, ``False`` if it gives the old one.
    modules : hw.export.ModuleSet or None
        Where the Verilog export records the RAM's module (``None``: always a ``Memory``).

    Members
    -------
    write : ``Out(memory.WritePort.Signature(addr_width=..., shape=shape))``
        The write port (``addr``, ``data``, ``en``), from the memory's side.
    read : ``Out(memory.ReadPort.Signature(addr_width=..., shape=shape)).array(n)``
        The read ports (``addr``, ``en``, ``data``): ``data`` is the word at ``addr`` one
        cycle after ``en``, held while ``en`` is low. Latency 1, one read per port per cycle.

    Raises
    ------
    ValueError
        If ``depth`` is not a positive integer or ``transparent`` is empty.
    """

    @staticmethod
    def check(shape, depth, transparent, modules):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        if not tuple(transparent):
            raise ValueError(f"transparent must name at least one read port, not "
                             f"{tuple(transparent)!r}")

    def __init__(self, shape, depth, transparent=(False,), *, modules=None):
        transparent = tuple(bool(t) for t in transparent)
        self._shape = shape
        self._depth = depth
        self._transparent = transparent
        self._modules = modules
        aw = _addr_width(depth)
        super().__init__({
            "write": Out(memory.WritePort.Signature(addr_width=aw, shape=shape)),
            "read": Out(memory.ReadPort.Signature(addr_width=aw, shape=shape)).array(
                len(transparent)),
        })

    @property
    def depth(self):
        return self._depth

    @property
    def width(self):
        """Bits per word."""
        return Shape.cast(self._shape).width

    @property
    def transparent(self):
        return self._transparent

    @property
    def suffix(self):
        """The module name's part after the prefix: ``ram_<W>x<depth>_<ports>``."""
        ports = "".join("t" if t else "r" for t in self._transparent)
        return f"ram_{self.width}x{self._depth}_{ports}"

    def elaborate(self, platform):
        m = Module()
        if platform is VERILOG_EXPORT and self._modules is not None:
            name = self._modules.add(self.suffix, lambda: ram_verilog(
                self._modules.name(self.suffix), self.width, self._depth, self._transparent))
            m.submodules.ram = Instance(name, **self._instance_ports())
            return m
        mem = memory.Memory(shape=self._shape, depth=self._depth, init=[])
        # Not "mem": the accumulator memory names its Ram so, and Verilator warns when a
        # name hides the instance it is in (VARHIDDEN).
        m.submodules.storage = mem
        wr = mem.write_port()
        wiring.connect(m, wiring.flipped(self.write), wr)
        for port, transparent in zip(self.read, self._transparent, strict=True):
            wiring.connect(m, wiring.flipped(port),
                           mem.read_port(transparent_for=(wr,) if transparent else ()))
        return m

    def _instance_ports(self):
        def addr(value):
            # The module's address is at least one bit wide; a one-word RAM's is constant.
            return value if len(value) else Const(0, 1)
        ports = {
            "i_clk": ClockSignal(), "i_w_addr": addr(self.write.addr),
            "i_w_data": self.write.data.as_value(), "i_w_en": self.write.en,
        }
        for n, port in enumerate(self.read):
            ports[f"i_r{n}_addr"] = addr(port.addr)
            ports[f"i_r{n}_en"] = port.en
            ports[f"o_r{n}_data"] = port.data.as_value()
        return ports


def ram_verilog(name, width, depth, transparent):
    """The Verilog text of RAM module ``name`` (the ports in the module docstring): ``depth``
    words of ``width`` bits, one read port per entry of ``transparent``."""
    aw = max(1, _addr_width(depth))
    ports = ["clk", "w_addr", "w_data", "w_en"]
    decls = [
        "  input clk;",
        f"  input [{aw - 1}:0] w_addr;",
        f"  input [{width - 1}:0] w_data;",
        "  input w_en;",
    ]
    reads = []
    for n, t in enumerate(transparent):
        ports += [f"r{n}_addr", f"r{n}_en", f"r{n}_data"]
        decls += [
            f"  input [{aw - 1}:0] r{n}_addr;",
            f"  input r{n}_en;",
            f"  output reg [{width - 1}:0] r{n}_data;",
        ]
        word = (f"(w_en && w_addr == r{n}_addr) ? w_data : mem[r{n}_addr]" if t
                else f"mem[r{n}_addr]")
        reads.append(f"    if (r{n}_en)\n      r{n}_data <= {word};")
    kinds = ", ".join("transparent" if t else "old-data" for t in transparent)
    return "\n".join([
        f"// {depth} words of {width} bits: one write port, synchronous read ports ({kinds}).",
        "// No initial contents. See hw/engine/ram.py for the ports.",
        f"module {name}({', '.join(ports)});",
        *decls,
        f"  reg [{width - 1}:0] mem [0:{depth - 1}];",
        "  always @(posedge clk) begin",
        "    if (w_en)",
        "      mem[w_addr] <= w_data;",
        "  end",
        "  always @(posedge clk) begin",
        *reads,
        "  end",
        "endmodule",
        "",
    ])
