"""The Yosys side of the ASIC flow: the Verilog it reads, its scripts and ABC's.

Synthesis keeps the design's hierarchy: every module written once (the PE, each kind of PE
tile, the post-processing lane, the RAM modules, ...) is synthesised once however many
instances it has, so a 16x16 engine costs little more than a 4x4 one, and ``stat -top``
sums the area over the instances. The steps (:func:`synth_script`):

1. ``synth`` (generic, hierarchy kept; multipliers Booth-encoded, ``-booth``, and carry
   chains as Kogge-Stone prefix trees; ``-hieropt``: a constant that every instance of a
   module ties to one of its inputs, such as the post-processing lanes' enable, goes into
   the module); with clock gating, every set of at least ``clock_gating`` flip-flops of a
   module sharing one enable gets an integrated clock-gating cell (Yosys's ``clockgate``)
   and becomes plain flip-flops on its gated clock; then ``dfflibmap`` to the library's
   flip-flops;
2. ABC to the library's gates with a delay target (the clock period) and a script of our
   own, shaped like OpenLane's timing-driven one (:data:`ABC_SCRIPT`): structural choices,
   delay-oriented mapping (``&nf``), then ``buffer`` (fanout), ``upsize`` and ``dnsize``
   (gate sizing against the target) and ``stime`` (ABC's own timing report, in the log);
3. the netlist goes out as JSON for :mod:`hw.asic.fanout`, which buffers what ABC cannot see
   (nets into flip-flops and other modules), and :func:`finish_script` reads it back to write
   the Verilog netlist and the area statistics.
"""

import re

from .liberty import CLOCK_GATES, DONT_USE

__all__ = ["ABC_SCRIPT", "ABC_SCRIPT_FAST", "CLOCK_GATING_MIN", "FF_TYPES_GATED",
           "asic_verilog", "drop_modules", "synth_script", "finish_script"]

#: The fewest flip-flops sharing an enable that get a clock-gating cell (``clockgate
#: -min_net_size``): a gate (SKY130 ``dlclkp_1``, 17.5 µm²) costs what the enables of two
#: flip-flops save (``edfxtp_1`` 30.0 µm² against ``dfxtp_1`` 20.0 µm²) and is one more
#: branch of the clock tree; three is Design Compiler's default least width. Smaller sets keep
#: their enable in the flip-flop.
CLOCK_GATING_MIN = 3

#: The flip-flop kinds the design is legalised to before clock gating: every kind but those
#: with a synchronous reset, which becomes logic before the flip-flop as ``dfflibmap`` would
#: make it anyway (SKY130 has no such flip-flop). So no flip-flop whose reset wins over its
#: enable (``$_SDFFE_``) is gated: its reset must act while the enable is low.
FF_TYPES_GATED = ("$_DFF_?_", "$_DFFE_??_", "$_DFF_???_", "$_DFFE_????_", "$_DFFSR_???_",
                  "$_DFFSRE_????_")

# Mapping for delay, then fanout buffering and gate sizing against the target: the end of
# both scripts.
_MAP_AND_SIZE = """\
&nf {D}
&put
buffer -N {fanout}
upsize {D}
dnsize {D}
stime -p
"""

#: ABC's script; ``{D}`` is the delay target Yosys fills in (the period in ps).
ABC_SCRIPT = """\
strash
&get -n
&fraig -x
&put
scorr
dc2
strash
&get -n
&dch -f
""" + _MAP_AND_SIZE

#: A quicker ABC script for tests: the same mapping, buffering and sizing without the
#: structural optimisations and choices before it (about a third of ABC's time, a few per cent
#: more area and delay).
ABC_SCRIPT_FAST = """\
strash
&get -n
""" + _MAP_AND_SIZE

_INITIAL = re.compile(r"^\s*initial begin\n(?:.*\n)*?\s*end\n", re.M)
_INIT_ATTR = re.compile(r"^\s*\(\* init = [^*]*\*\)\n", re.M)
# The whitespace before "=" stays: it ends an escaped identifier (``\$1 = 0;``).
_REG_INIT = re.compile(r"^(\s*reg\b[^=;\n]*?)(\s*)=\s*[^;\n]+;", re.M)


def asic_verilog(text):
    """``text`` (Verilog from :func:`hw.gen.verilog_text`) without initial values: no
    ``initial`` blocks (Amaranth writes a FIFO memory's zero contents so), no ``reg x =
    value;`` initialisers and no ``(* init = ... *)`` attributes. A chip's registers and
    memories power up unknown; the design resets what must be known (its synchronous reset)
    and never reads a memory word it has not written, so nothing depends on them."""
    return _REG_INIT.sub(r"\1\2;", _INIT_ATTR.sub("", _INITIAL.sub("", text)))


def drop_modules(text, names):
    """``text`` without the modules ``names`` (and the comment lines just before each): the
    RAM modules an SRAM macro replaces, which become cells of the macro library."""
    for name in names:
        text, n = re.subn(r"(?:^//[^\n]*\n)*^module " + re.escape(name) + r"\(.*?^endmodule\n",
                          "", text, flags=re.M | re.S)
        if n != 1:
            raise ValueError(f"module {name!r} appears {n} times in the Verilog, not once")
    return text


def _dont_use(patterns=DONT_USE):
    return " ".join(f"-dont_use {p}" for p in patterns)


def synth_script(top, verilog, liberty, period_ps, macro_lib=None, clock_gating=0):
    """The first Yosys script: map ``verilog`` (top module ``top``) to ``liberty`` with ABC at
    a ``period_ps`` delay target; writes ``mapped.json``. ``macro_lib``: the Liberty file of
    the SRAM cells (:func:`hw.asic.macros.liberty_text`), or ``None``. ``clock_gating``: the
    fewest flip-flops sharing an enable that get a clock-gating cell (0: no clock gating)."""
    # The library's cells as black boxes, so the netlist written for hw.asic.fanout gives the
    # direction of every cell's pins (and clockgate's cell is known to the passes after it).
    lines = [f"read_liberty -lib {liberty}"]
    if macro_lib:
        lines.append(f"read_liberty -lib {macro_lib}")
    lines += [
        f"read_verilog {verilog}",
        f"hierarchy -check -top {top}",
        # The carry chains of adders and comparators as Kogge-Stone prefix trees (log2(n)
        # levels) instead of Yosys's default ripple: what a timing-driven ASIC flow picks.
        f"synth -top {top} -booth -hieropt -run :fine",
        "techmap -map +/techmap.v -map +/choices/kogge-stone.v",
        f"synth -top {top} -hieropt -run fine:",
    ]
    if clock_gating:
        gates_ok = [p for p in DONT_USE if p not in CLOCK_GATES]
        lines += [
            "dfflegalize " + " ".join(f"-cell {t} 01" for t in FF_TYPES_GATED),
            f"clockgate -liberty {liberty} {_dont_use(gates_ok)} "
            f"-min_net_size {clock_gating}",
        ]
    lines += [
        f"dfflibmap {_dont_use()} -liberty {liberty}",
        f"abc {_dont_use()} -liberty {liberty} -D {period_ps} -constr abc.constr "
        "-script abc.script",
        "setundef -zero",
        "opt_clean -purge",
        # Of the library cells read as black boxes, those the netlist uses stay (their pins'
        # directions go with each instance anyway).
        f"hierarchy -top {top} -purge_lib",
        "write_json mapped.json",
        "",
    ]
    return "\n".join(lines)


def finish_script(top, liberty, macro_lib=None):
    """The second Yosys script: read ``buffered.json`` back, write ``netlist.v`` and the area
    statistics (``stat.json``, ``stat.txt``), summed over the hierarchy from ``top``."""
    libs = [liberty] + ([macro_lib] if macro_lib else [])
    stat = f"stat {' '.join(f'-liberty {lib}' for lib in libs)} -top {top}"
    return "\n".join([
        # The JSON holds the SRAM cells already, as black boxes, and the library's cells it
        # uses: only the library's other cells are read.
        "read_json buffered.json",
        f"read_liberty -lib -nooverwrite {liberty}",
        f"hierarchy -top {top}",
        f"tee -q -o stat.json {stat.replace('stat ', 'stat -json ', 1)}",
        f"tee -q -o stat.txt {stat}",
        "write_verilog -noattr -noexpr -nohex -nodec netlist.v",
        "",
    ])
