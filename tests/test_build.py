"""``python -m hw.build``: the PLL solvers, the DFU suffix, the boards' tops as the platforms
prepare them, bad options, and real bitstream builds on an iCE40 and an ECP5 board."""

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from importlib import metadata
from pathlib import Path

import pytest
from amaranth.hdl import Fragment

from hw.build import build, check_options, format_build, host_command, peak_gops
from hw.config import Config, ConfigError
from hw.fpga.board import BoardTop
from hw.fpga.boards import BOARDS
from hw.fpga.dfu import SUFFIX_LENGTH, add_dfu_suffix, dfu_suffix
from hw.fpga.pll import MAX_ERROR, RANGES, solve
from scripts import board_table
from sim.tools import PACKERS, find_nextpnr, find_packer, find_yosys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The smallest engine: 1 KiB buffers, the least each shape needs.
SMALL = dict(spad_kib=1, acc_kib=1)


def _hw_build(*args):
    return subprocess.run([sys.executable, "-m", "hw.build", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})


# --- PLL solvers ------------------------------------------------------------------------

def _output(setting):
    """The output frequency the primitive's parameters make, by the vendor's formula."""
    p, fin = setting.params, setting.input_mhz
    if setting.family == "ice40":
        return fin / (p["p_DIVR"] + 1) * (p["p_DIVF"] + 1) / 2 ** p["p_DIVQ"]
    if setting.family == "ecp5":
        return fin / p["p_CLKI_DIV"] * p["p_CLKFB_DIV"]
    return fin * (p["p_FBDIV_SEL"] + 1) / (p["p_IDIV_SEL"] + 1)


def _vco(setting):
    p = setting.params
    if setting.family == "ice40":
        return setting.input_mhz / (p["p_DIVR"] + 1) * (p["p_DIVF"] + 1)
    if setting.family == "ecp5":
        return setting.output_mhz * p["p_CLKOP_DIV"]
    return setting.output_mhz * p["p_ODIV_SEL"]


@pytest.mark.parametrize("family, fin", [("ice40", 12), ("ecp5", 25), ("ecp5", 48),
                                         ("gowin", 27)])
@pytest.mark.parametrize("fout", [20, 30, 33.3, 40, 62.5, 75, 100, 150])
def test_pll_reaches_the_clock_within_ranges(family, fin, fout):
    s = solve(family, fin, fout)
    r = RANGES[family]
    assert s.family == family and s.input_mhz == fin
    assert abs(s.output_mhz - fout) <= MAX_ERROR * fout
    assert _output(s) == pytest.approx(s.output_mhz, rel=1e-12)
    assert _vco(s) == pytest.approx(s.vco_mhz, rel=1e-12)
    for value, bounds in ((s.pfd_mhz, r.pfd), (s.vco_mhz, r.vco), (s.output_mhz, r.output)):
        assert bounds[0] <= value <= bounds[1], (value, bounds)


@pytest.mark.parametrize("family, fin, fout, params", [
    # icepll -i 12 -o 24 / -o 30.
    ("ice40", 12, 24, {"p_DIVR": 0, "p_DIVF": 63, "p_DIVQ": 5, "p_FILTER_RANGE": 1}),
    ("ice40", 12, 30, {"p_DIVR": 0, "p_DIVF": 79, "p_DIVQ": 5, "p_FILTER_RANGE": 1}),
    # 25 MHz * 2 = 50 MHz, VCO 400 MHz (the lowest that works).
    ("ecp5", 25, 50, {"p_CLKI_DIV": 1, "p_CLKFB_DIV": 2, "p_CLKOP_DIV": 8}),
    # 27 MHz * 2 / 1 = 54 MHz, VCO 432 MHz with ODIV_SEL 8.
    ("gowin", 27, 54, {"p_IDIV_SEL": 0, "p_FBDIV_SEL": 1, "p_ODIV_SEL": 8}),
])
def test_pll_known_settings(family, fin, fout, params):
    s = solve(family, fin, fout)
    assert s.output_mhz == fout
    assert {k: s.params[k] for k in params} == params


def test_pll_exact_when_it_can_be():
    # 48 MHz to 24 MHz on the OrangeCrab, 12 to 36 on the iCEBreaker: exact ratios.
    assert solve("ecp5", 48, 24).output_mhz == 24
    assert solve("ice40", 12, 36).output_mhz == 36


def test_pll_pfd_floor_limits_the_ratios():
    # ECP5 from 25 MHz: 24 MHz would need 25 * 24 / 25, a 1 MHz PFD (below 3.125 MHz); the
    # nearest ratios with a deep enough PFD are more than 2 % off.
    with pytest.raises(ConfigError, match="freq must be a clock the ecp5 PLL makes"):
        solve("ecp5", 25, 24)


def test_pll_nearest_when_not_exact():
    # 12 MHz * 53 / 32 = 19.875 MHz is the iCE40's nearest to 20 MHz.
    s = solve("ice40", 12, 20)
    assert s.output_mhz == 19.875 and s.params["p_DIVF"] == 52


@pytest.mark.parametrize("family, fin, fout, limits", [
    ("ice40", 12, 8, "from 16 to 275 MHz"),
    ("ice40", 12, 400, "from 16 to 275 MHz"),
    ("ecp5", 25, 500, "from 3.125 to 400 MHz"),
    ("gowin", 27, 1, "from 3.125 to 600 MHz"),
])
def test_pll_unreachable_clock(family, fin, fout, limits):
    with pytest.raises(ConfigError) as e:
        solve(family, fin, fout)
    assert e.value.param == "freq" and e.value.value == fout
    assert str(e.value) == (f"freq must be a clock the {family} PLL makes from {fin} MHz "
                            f"({limits}, within 2%), not {fout!r}")


def test_pll_bad_family_and_input():
    with pytest.raises(ConfigError, match="family must be one of 'ice40', 'ecp5', 'gowin', "
                                          "not 'xilinx'"):
        solve("xilinx", 100, 50)
    with pytest.raises(ConfigError, match=r"input_mhz must be from 10 to 133 MHz \(the PLL's "
                                          r"input\) when family is 'ice40', not 5"):
        solve("ice40", 5, 50)


def test_pll_as_dict():
    d = solve("ice40", 12, 24).as_dict()
    assert d["primitive"] == "SB_PLL40_PAD" and d["output_mhz"] == 24
    assert d["params"]["DIVF"] == 63 and d["params"]["FEEDBACK_PATH"] == "SIMPLE"


# --- DFU suffix -------------------------------------------------------------------------

def test_dfu_suffix_layout_and_crc(tmp_path):
    data = bytes(range(256)) * 5
    suffix = dfu_suffix(data, vendor=0x1209, product=0x5AF0)
    assert len(suffix) == SUFFIX_LENGTH
    device, product, vendor, bcd_dfu, sig, length, crc = struct.unpack("<HHHH3sBI", suffix)
    assert (device, product, vendor, bcd_dfu, sig, length) == \
        (0xFFFF, 0x5AF0, 0x1209, 0x0100, b"UFD", 16)
    # dfu-util's check: its CRC-32 (no final inversion) of all but the last four bytes.
    assert crc == zlib.crc32(data + suffix[:-4]) ^ 0xFFFFFFFF
    path = tmp_path / "x.bit"
    path.write_bytes(data)
    add_dfu_suffix(path, vendor=0x1209, product=0x5AF0)
    assert path.read_bytes() == data + suffix


def test_dfu_suffix_bad_id():
    with pytest.raises(ValueError, match="vendor must be an integer from 0 to 0xFFFF, "
                                         "not 65536"):
        dfu_suffix(b"", vendor=0x10000, product=1)


# --- the board tops, as the platforms prepare them (no tools) ---------------------------

@pytest.mark.parametrize("name", list(BOARDS))
def test_board_top_prepares(name, tmp_path):
    board, device, pll, clock = check_options(name, None, None, 115200)
    platform = board.platform(device)
    cfg = Config(rows=1, **SMALL)
    top = BoardTop(cfg, board, pll, baud=115200)
    plan = platform.prepare(top, "top", emit_src=False)
    files = plan.files
    script = json.loads(files["build_top.json"])["commands"]
    tools = [argv[0] for argv in script]
    assert tools[0] == "yosys" and tools[1].startswith("nextpnr-")
    assert "dfu-suffix" not in tools and "nextpnr-gowin" not in tools
    rtlil = files["top.il"]
    if pll:
        assert pll.primitive in rtlil
    if name == "tangnano9k":
        pnr = script[1]
        assert tools[1] == "nextpnr-himbaechel"
        assert "--vopt" in pnr and "family=GW1N-9C" in pnr and "cst=top.cst" in pnr
        assert "--write" in pnr and "--family" not in pnr
    if name == "orangecrab":
        # The UART on header pins io 0 and 1.
        assert re.search(r'LOCATE COMP "uart_0__rx__io" SITE "N17"', files["top.lpf"])
        assert re.search(r'LOCATE COMP "uart_0__tx__io" SITE "M18"', files["top.lpf"])
        # 48 MHz to the default 24 MHz through EHXPLLL, constrained at 24 MHz.
        assert "EHXPLLL" in rtlil and "FREQUENCY NET" in files["top.lpf"]
        assert "24000000.0 HZ" in files["top.lpf"]


def test_board_top_ice40_pll_constraint():
    board, device, pll, clock = check_options("icebreaker", None, 24, 115200)
    assert pll.primitive == "SB_PLL40_PAD" and clock == 24
    platform = board.platform(device)
    plan = platform.prepare(BoardTop(Config(rows=1, **SMALL), board, pll, baud=115200),
                            "top", emit_src=False)
    assert "SB_PLL40_PAD" in plan.files["top.il"]
    assert re.search(r"set_frequency \S+ 24\.0", plan.files["top.pcf"])


@pytest.mark.parametrize("name, freq, primitive", [("tangnano9k", 54, "rPLL"),
                                                     ("ulx3s", 50, "EHXPLLL")])
def test_board_top_pll(name, freq, primitive):
    board, device, pll, clock = check_options(name, None, freq, 115200)
    assert pll.primitive == primitive and clock == freq
    plan = board.platform(device).prepare(
        BoardTop(Config(rows=1, **SMALL), board, pll, baud=115200), "top", emit_src=False)
    assert primitive in plan.files["top.il"]
    if name == "ulx3s":
        assert "FREQUENCY NET" in plan.files["top.lpf"] and "50000000.0 HZ" in plan.files["top.lpf"]


def test_divisor_and_host_command():
    board, device, pll, clock = check_options("orangecrab", None, None, 115200)
    cfg = Config(rows=2, cols=3, pipeline={"post_mul": 3}, **SMALL)
    top = BoardTop(cfg, board, pll, baud=115200)
    assert top.clock_mhz == 24 and top.divisor == round(24e6 / 115200)
    Fragment.get(top, board.platform(device))
    cmd = host_command(cfg, board, 115200, 1024)
    assert cmd.startswith("python -m hw.host --port ")
    assert "--rows 2 --cols 3" in cmd and "--spad-kib 1 --acc-kib 1" in cmd
    assert "--baud 115200" in cmd and "--pipeline post_mul=3" in cmd
    assert "--post-delay" not in cmd
    ram = Config(rows=1, post_delay="ram", **SMALL)
    assert host_command(ram, board, 115200, 1024).endswith(" --post-delay ram")
    assert peak_gops(cfg, 20.0, 24) == pytest.approx(2 * 6 * 20 / 1e3)
    assert peak_gops(cfg, 30.0, 24) == pytest.approx(2 * 6 * 24 / 1e3)


# --- bad options --------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--board", "arty"],
     "--board must be one of 'icebreaker', 'ulx3s', 'orangecrab', 'tangnano9k', not 'arty'"),
    (["--board", "ulx3s", "--device", "100F"],
     "--device must be one of '12F', '25F', '45F', '85F' when --board is 'ulx3s', not '100F'"),
    (["--board", "icebreaker", "--device", "hx8k"],
     "--device must be one of 'up5k' when --board is 'icebreaker', not 'hx8k'"),
    (["--board", "icebreaker", "--freq", "0"],
     "--freq must be a clock in MHz above 0 and at most 1000, not 0.0"),
    (["--board", "icebreaker", "--freq", "8"],
     "--freq must be a clock the ice40 PLL makes from 12 MHz (from 16 to 275 MHz, within "
     "2%), not 8.0"),
    (["--board", "ulx3s", "--freq", "fast"], "argument --freq: invalid float value: 'fast'"),
    (["--board", "ulx3s", "--baud", "12"], "--baud must be an integer from 300 to 3000000"),
    (["--board", "icebreaker", "--baud", "2500000"],
     "--baud must be a rate a 12 MHz clock makes within 2% at 4 or more cycles a bit, not "
     "2500000"),
    (["--board", "ulx3s", "--rows", "0"], "--rows must be an integer from 1 to 256, not 0"),
    (["--board", "ulx3s", "--array"], "--array cannot be built for a board"),
    (["--rows", "2"], "the following arguments are required: --board"),
    (["--board", "icebreaker", "--placer", "fast"],
     "argument --placer: invalid choice: 'fast' (choose from 'heap', 'sa', 'static')"),
    (["--board", "icebreaker", "--seed", "-3"],
     "--seed must be an integer from 0 to 2147483647, not -3"),
    (["--board", "icebreaker", "--seeds", "4-2"],
     "--seeds must be a list of 1 to 64 distinct integers from 0 to 2147483647 (1-5, 1,3,7), "
     "not '4-2'"),
    (["--board", "icebreaker", "--seed", "1", "--seeds", "2"],
     "argument --seeds: not allowed with argument --seed"),
    (["--board", "icebreaker", "--no-widelut"],
     "--no-widelut applies to the ecp5 and gowin families (wide LUTs), not --board icebreaker "
     "(ice40)"),
])
def test_bad_options_one_line_exit_2(args, message, tmp_path):
    r = _hw_build(*args, "--out", str(tmp_path))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert lines[0].startswith("python -m hw.build: error: ")
    assert not any(tmp_path.iterdir())


def test_bad_placer_or_seed_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="placer must be one of heap, sa, static or None, "
                                          "not 'fast'"):
        build(Config(rows=1, **SMALL), "icebreaker", out=tmp_path, placer="fast")
    with pytest.raises(ConfigError, match="^seed must be an integer from 0 to 2147483647, "
                                          "not '1'$"):
        build(Config(rows=1, **SMALL), "icebreaker", out=tmp_path, seed="1")
    assert not any(tmp_path.iterdir())


# --- tools ------------------------------------------------------------------------------

@pytest.mark.parametrize("packer", list(PACKERS))
def test_packers_come_with_their_packages(packer, require_tool):
    # The test and fpga extras name the nextpnr packages and Apicula; each brings its packer.
    pypi, _, package = PACKERS[packer]
    require_tool(lambda: find_packer(packer))
    try:
        scripts = {e.name for e in metadata.distribution(package).entry_points
                   if e.group == "console_scripts"}
    except metadata.PackageNotFoundError:
        pytest.skip(f"{package} not installed (a native {packer} is in use)")
    assert pypi in scripts


# --- real builds --------------------------------------------------------------------------

def _require_tools(require_tool, family, packer):
    require_tool(find_yosys)
    require_tool(lambda: find_nextpnr(family))
    require_tool(lambda: find_packer(packer))


def _check_build(report, out, board, bitstream_ext):
    folder = out / report["design"] / f"{board}-{report['device']}"
    on_disk = json.loads((folder / "report.json").read_text())
    assert on_disk == report
    assert report["fits"] and report["error"] is None
    bitstream = folder / f"{report['design']}.{bitstream_ext}"
    assert report["bitstream"] == str(bitstream)
    assert bitstream.stat().st_size > 0
    for kind in ("lut", "ff", "dsp", "bram", "io"):
        assert kind in report["resources"], kind
        for use in report["resources"][kind].values():
            assert 0 <= use["used"] <= use["available"]
    t = report["timing"]
    assert t["fmax_mhz"] > 0 and t["requested_mhz"] == report["clock"]["clock_mhz"]
    cfg = report["config"]
    assert report["peak_gops"] == pytest.approx(
        2 * cfg["rows"] * cfg["cols"] * min(t["fmax_mhz"], t["requested_mhz"]) / 1e3,
        abs=1e-4)
    assert set(report["tools"]) == {"yosys", "nextpnr", "pack"}
    assert report["host_command"].startswith("python -m hw.host --port")
    table = format_build(report)
    for text in ("Fmax", "peak", "GOP/s", "bitstream", "python -m hw.host", "UART 115200"):
        assert text in table


@pytest.mark.slow
def test_icebreaker_bitstream(tmp_path, require_tool, one_pnr_at_a_time):
    _require_tools(require_tool, "ice40", "icepack")
    lines = []
    # The board table's 1x1 engine for the UP5K (scripts.board_table.UP5K_PIPELINE, every
    # register costs an iCE40 logic cell): post-processing cut where its paths were longest,
    # its RAW delay line and every small FIFO in block RAM. It fills 95-97 % of the logic
    # cells, which nextpnr's default placer (HeAP) takes minutes to legalise; the static placer
    # takes seconds (hw.build.PLACERS).
    cfg = Config(rows=1, pipeline={"post_convert": 2, "post_mul": 5, "post_round": 2},
                 post_delay="ram", dispatch="registered", **SMALL)
    assert cfg == board_table.config_of(board_table.RUNS[0])[0]
    report = build(cfg, "icebreaker", out=tmp_path, placer="static", seed=3, log=lines.append)
    _check_build(report, tmp_path, "icebreaker", "bin")
    assert report["clock"]["pll"] is None and report["clock"]["clock_mhz"] == 12
    assert report["part"].startswith("iCE40UP5K")
    assert report["resources"]["io"]["SB_IO"]["used"] == 5   # clock, UART, two LEDs
    # The scratchpad 2, the accumulator memory 4, the bridge's payload buffer 2, the data-out
    # FIFO 3; the array's result FIFO 2, the reply queue 2, the RAW delay line 2 (iCE40 only).
    assert report["resources"]["bram"]["ICESTORM_RAM"]["used"] == 17
    assert report["placer"] == "static" and report["seed"] == 3
    # nextpnr was given both, and the progress line says so.
    script = next(Path(report["bitstream"]).parent.glob("build_*.sh")).read_text()
    assert "--placer static --seed 3" in script
    assert any("placer static, seed 3" in line for line in lines)
    # Progress: each step as it starts, with its log, then its time.
    assert [line[:5] for line in lines if line.startswith("[")] == \
        ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert any("(log " in line for line in lines)
    assert sum("done in" in line for line in lines) == 4


@pytest.mark.slow
def test_ecp5_bitstream_command_line(tmp_path, require_tool, one_pnr_at_a_time):
    """The OrangeCrab's bitstream from the command line, with a sweep of two seeds: the
    bitstream is packed from the faster placement."""
    _require_tools(require_tool, "ecp5", "ecppack")
    r = _hw_build("--board", "orangecrab", "--rows", "1", "--spad-kib", "1", "--acc-kib", "1",
                  "--seeds", "1,2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr + r.stdout
    # hw.build registers the controller's range checks unless told otherwise (FPGA_DEFAULTS).
    design = "engine_os_1x1_int8_int32_s1k_a1k_regdispatch"
    folder = tmp_path / design / "orangecrab-25F"
    report = json.loads((folder / "report.json").read_text())
    _check_build(report, tmp_path, "orangecrab", "bit")
    sweep = report["seed_sweep"]
    assert [t["seed"] for t in sweep] == [1, 2]
    best = max(sweep, key=lambda t: t["fmax_mhz"])
    assert report["seed"] == best["seed"]
    assert report["timing"]["fmax_mhz"] == best["fmax_mhz"]
    # The packer read the kept placement: its configuration under the single run's name.
    for ext in ("config", "tim", "nextpnr.json"):
        assert (folder / f"{design}.{ext}").read_bytes() == \
            (folder / f"{design}.seed{best['seed']}.{ext}").read_bytes(), ext
    assert f"kept seed {best['seed']}" in r.stdout
    assert "seed 1 (1 of 2 tried)" in r.stdout and "seed 2 (2 of 2 tried)" in r.stdout
    assert report["clock"]["pll"]["primitive"] == "EHXPLLL"
    assert report["clock"]["clock_mhz"] == 24
    # The DFU suffix, last.
    bit = (tmp_path / design / "orangecrab-25F" / f"{design}.bit").read_bytes()
    assert bit[-16:-4] == struct.pack("<HHHH3sB", 0xFFFF, 0x5AF0, 0x1209, 0x0100, b"UFD", 16)
    for text in ("[1/6]", "[6/6]", "TRELLIS_COMB", "Fmax", "GOP/s", "python -m hw.host",
                 "seed sweep, kept seed", "report.json"):
        assert text in r.stdout
