# amaranth: UnusedElaboratable=no
"""The engine's RAM (:mod:`hw.engine.ram`): the exported Verilog module does what the
``amaranth.lib.memory.Memory`` it stands for does, and Yosys maps it to block RAM.

The same random stimulus (writes and reads colliding on few addresses, read enables dropping)
drives the Amaranth simulation of :class:`~hw.engine.ram.Ram` and the module
:func:`~hw.engine.ram.ram_verilog` writes, run by Icarus; the read data must agree on every
cycle. The module has no initial contents, so a read of a word never written is ``x`` there
(0 in Amaranth): only those reads may differ, and the engine makes none (its cocotb benches
run the exported engine, ``x`` included, on Icarus).
"""

import random
import re
import subprocess

import pytest
from amaranth.sim import Simulator

from hw.engine.ram import Ram, ram_verilog
from sim.tools import find_iverilog, find_yosys

WIDTH = 8
CYCLES = 200


def _stimulus(depth, ports, seed):
    """Per cycle: ``(w_addr, w_data, w_en, [(r_addr, r_en), ...])`` on ``min(depth, 3)``
    addresses, so reads and writes meet often."""
    rng = random.Random(seed)
    span = min(depth, 3)
    return [(rng.randrange(span), rng.randrange(1 << WIDTH), rng.random() < 0.6,
             [(rng.randrange(span), rng.random() < 0.8) for _ in range(ports)])
            for _ in range(CYCLES)]


def _amaranth(depth, transparent, stimulus):
    """Read data of every port after every clock edge, from the Amaranth simulation."""
    dut = Ram(WIDTH, depth, transparent)
    seen = []

    async def bench(ctx):
        for w_addr, w_data, w_en, reads in stimulus:
            ctx.set(dut.write.addr, w_addr)
            ctx.set(dut.write.data, w_data)
            ctx.set(dut.write.en, w_en)
            for port, (r_addr, r_en) in zip(dut.read, reads, strict=True):
                ctx.set(port.addr, r_addr)
                ctx.set(port.en, r_en)
            await ctx.tick()
            seen.append([ctx.get(port.data) for port in dut.read])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _icarus(depth, transparent, stimulus, tmp_path):
    """The same from the exported module under Icarus (``None`` for an ``x`` word)."""
    ports = len(transparent)
    aw = max(1, (depth - 1).bit_length())
    lines = [
        "`timescale 1ns/1ns",
        "module tb;",
        "  reg clk = 0;",
        f"  reg [{aw - 1}:0] w_addr; reg [{WIDTH - 1}:0] w_data; reg w_en;",
    ]
    conns = [".clk(clk)", ".w_addr(w_addr)", ".w_data(w_data)", ".w_en(w_en)"]
    for n in range(ports):
        lines.append(f"  reg [{aw - 1}:0] r{n}_addr; reg r{n}_en; wire [{WIDTH - 1}:0] r{n}_data;")
        conns += [f".r{n}_addr(r{n}_addr)", f".r{n}_en(r{n}_en)", f".r{n}_data(r{n}_data)"]
    lines.append(f"  ram dut({', '.join(conns)});")
    lines.append("  initial begin")
    shows = " ".join(["%b"] * ports)
    datas = ", ".join(f"r{n}_data" for n in range(ports))
    for w_addr, w_data, w_en, reads in stimulus:
        sets = [f"w_addr = {w_addr};", f"w_data = {w_data};", f"w_en = {int(w_en)};"]
        for n, (r_addr, r_en) in enumerate(reads):
            sets += [f"r{n}_addr = {r_addr};", f"r{n}_en = {int(r_en)};"]
        lines.append("    " + " ".join(sets))
        lines.append(f'    #1 clk = 1; #1 $display("{shows}", {datas}); clk = 0;')
    lines += ["    $finish;", "  end", "endmodule", ""]
    (tmp_path / "tb.v").write_text("\n".join(lines))
    (tmp_path / "ram.v").write_text(ram_verilog("ram", WIDTH, depth, transparent))
    subprocess.run([find_iverilog(), "-o", "tb.vvp", "tb.v", "ram.v"], cwd=tmp_path,
                   check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines() if re.fullmatch(r"[01xz ]+", line)]
    return [[None if "x" in word or "z" in word else int(word, 2) for word in row]
            for row in rows]


@pytest.mark.parametrize("depth, transparent", [
    (5, (False,)),              # the scratchpad's buffers: one old-data read port
    (5, (True, False)),         # the accumulator memory: read-modify-write, then the storer
    (1, (True,)),               # one word: a constant address
])
@pytest.mark.parametrize("seed", [1, 2])
def test_module_matches_amaranth_memory(depth, transparent, seed, tmp_path, require_tool):
    require_tool(find_iverilog)
    stimulus = _stimulus(depth, len(transparent), seed)
    want = _amaranth(depth, transparent, stimulus)
    got = _icarus(depth, transparent, stimulus, tmp_path)
    assert len(got) == len(want) == CYCLES
    # Whether each port's data is a word that was written (else x in Verilog, 0 in Amaranth).
    written, known, compared = set(), [False] * len(transparent), 0
    for cycle, ((w_addr, _, w_en, reads), mine, theirs) in enumerate(
            zip(stimulus, got, want, strict=True)):
        for port, (r_addr, r_en) in enumerate(reads):
            if r_en:
                sees_write = transparent[port] and w_en and w_addr == r_addr
                known[port] = r_addr in written or sees_write
        for port, (g, w) in enumerate(zip(mine, theirs, strict=True)):
            if known[port]:
                assert g == w, f"cycle {cycle}, read port {port}: {g} != {w}"
                compared += 1
            else:
                assert g is None, f"cycle {cycle}, read port {port}: {g} from no write"
        if w_en:
            written.add(w_addr)
    assert compared > CYCLES * len(transparent) // 2


def test_module_has_no_initial_contents():
    text = ram_verilog("ram", 32, 1024, (True, False))
    assert "initial" not in text.replace("No initial contents", "")
    assert "module ram(clk, w_addr, w_data, w_en, r0_addr, r0_en, r0_data, r1_addr, r1_en, " \
           "r1_data);" in text


def test_names_spell_the_shape_and_ports():
    from hw.export import ModuleSet
    assert Ram(8, 4096).suffix == "ram_8x4096_r"
    assert Ram(512, 1024, (True, False), modules=ModuleSet("top")).suffix == "ram_512x1024_tr"


@pytest.mark.parametrize("kwargs, message", [
    (dict(depth=0), "depth must be a positive integer, not 0"),
    (dict(depth=4, transparent=()), r"transparent must name at least one read port, not \(\)"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Ram(8, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("synth, cell", [
    ("synth_ecp5", "DP16KD"), ("synth_ice40", "SB_RAM40_4K"), ("synth_gowin", "(SDPX9B|SDPB)"),
])
def test_yosys_maps_it_to_block_ram(synth, cell, tmp_path, require_tool):
    """Both port kinds (the accumulator memory's shape, scaled down) become block RAM, not
    flip-flops."""
    yosys = require_tool(find_yosys)
    (tmp_path / "ram.v").write_text(ram_verilog("ram", 64, 256, (True, False)))
    r = subprocess.run([*yosys, "-q", "-p", f"read_verilog ram.v; {synth} -top ram; "
                        "tee -o stat.txt stat"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    stat = (tmp_path / "stat.txt").read_text()
    assert re.search(rf"\s(\d+)\s+{cell}\b", stat), stat
    # Only the transparency bypass and the read registers stay in the fabric.
    ffs = sum(int(n) for n, _ in re.findall(r"\s(\d+)\s+(TRELLIS_FF|SB_DFF\w*|DFF\w*)\b", stat))
    assert ffs < 64 * 256 // 8, stat
