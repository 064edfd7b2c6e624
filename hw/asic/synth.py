"""The Yosys side of the ASIC flow: the Verilog it reads, its scripts and ABC's.

Synthesis keeps the design's hierarchy: every module written once (the PE, each kind of PE
tile, the post-processing lane, the RAM modules, ...) is synthesised once however many
instances it has, so a 16x16 engine costs little more than a 4x4 one, and ``stat -top``
sums the area over the instances. The steps (:func:`synth_script`):

1. ``synth`` (generic, hierarchy kept; multipliers Booth-encoded, ``-booth``, and carry
   chains as Kogge-Stone prefix trees), then ``dfflibmap`` to the library's flip-flops;
2. ABC to the library's gates with a delay target (the clock period) and a script of our
   own, shaped like OpenLane's timing-driven one (:data:`ABC_SCRIPT`): structural choices,
   delay-oriented mapping (``&nf``), then ``buffer`` (fanout), ``upsize`` and ``dnsize``
   (gate sizing against the target) and ``stime`` (ABC's own timing report, in the log);
3. the netlist goes out as JSON for :mod:`hw.asic.fanout`, which buffers what ABC cannot see
   (nets into flip-flops and other modules), and :func:`finish_script` reads it back to write
   the Verilog netlist and the area statistics.
"""

import re

from .liberty import DONT_USE

__all__ = ["ABC_SCRIPT", "ABC_SCRIPT_FAST", "asic_verilog", "drop_modules", "synth_script",
           "finish_script"]

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


def synth_script(top, verilog, liberty, period_ps, macro_lib=None):
    """The first Yosys script: map ``verilog`` (top module ``top``) to ``liberty`` with ABC at
    a ``period_ps`` delay target; writes ``mapped.json``. ``macro_lib``: the Liberty file of
    the SRAM cells (:func:`hw.asic.macros.liberty_text`), or ``None``."""
    lines = []
    if macro_lib:
        lines.append(f"read_liberty -lib {macro_lib}")
    lines += [
        f"read_verilog {verilog}",
        f"hierarchy -check -top {top}",
        # The carry chains of adders and comparators as Kogge-Stone prefix trees (log2(n)
        # levels) instead of Yosys's default ripple: what a timing-driven ASIC flow picks.
        f"synth -top {top} -booth -run :fine",
        "techmap -map +/techmap.v -map +/choices/kogge-stone.v",
        f"synth -top {top} -run fine:",
        f"dfflibmap {_dont_use()} -liberty {liberty}",
        f"abc {_dont_use()} -liberty {liberty} -D {period_ps} -constr abc.constr "
        "-script abc.script",
        "setundef -zero",
        "opt_clean -purge",
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
        # The JSON holds the SRAM cells already, as black boxes: only the library is read.
        f"read_liberty -lib {liberty}",
        "read_json buffered.json",
        f"hierarchy -top {top}",
        f"tee -q -o stat.json {stat.replace('stat ', 'stat -json ', 1)}",
        f"tee -q -o stat.txt {stat}",
        "write_verilog -noattr -noexpr -nohex -nodec netlist.v",
        "",
    ])
