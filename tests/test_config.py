import pytest

from hw.config import Config, ConfigError
from hw.formats import BF16, FP32, INT8, INT32, by_name


def test_defaults():
    cfg = Config()
    assert (cfg.rows, cfg.cols, cfg.in_fmt, cfg.acc_fmt, cfg.dataflow, cfg.subnormals) == \
        (4, 4, "int8", "int32", "os", "ieee")
    assert Config(in_fmt="bf16").acc_fmt == "fp32"
    assert Config(rows=3).cols == 3
    assert Config(rows=1, cols=256).cols == 256


def test_frozen():
    with pytest.raises(AttributeError):
        Config().rows = 8


def test_name_carries_key_parameters():
    assert Config(rows=3, cols=5, in_fmt="bf16", dataflow="ws").name == "ws_3x5_bf16_fp32"
    assert Config(in_fmt="bf16", subnormals="ftz").name.endswith("_ftz")
    # ftz means nothing for integer accumulation, so it does not split the name space.
    assert Config(subnormals="ftz").name == Config().name


@pytest.mark.parametrize("kwargs, pattern", [
    ({"rows": 0}, r"^rows must be an integer from 1 to 256, not 0$"),
    ({"rows": 257}, r"^rows must be an integer from 1 to 256, not 257$"),
    ({"rows": 2.0}, r"^rows must be an integer from 1 to 256, not 2\.0$"),
    ({"rows": True}, r"^rows must be an integer from 1 to 256, not True$"),
    ({"rows": "4"}, r"^rows must be an integer from 1 to 256, not '4'$"),
    ({"cols": 0}, r"^cols must be an integer from 1 to 256, not 0$"),
    ({"cols": 300}, r"^cols must be an integer from 1 to 256, not 300$"),
    ({"in_fmt": "fp8"}, r"^in_fmt must be one of 'int8', 'bf16', 'fp16', 'fp8e4m3', 'fp8e5m2', "
     r"'tf32', 'int4', not 'fp8'$"),
    ({"acc_fmt": "int16"}, r"^acc_fmt must be one of 'int32', 'fp32', not 'int16'$"),
    ({"in_fmt": "bf16", "acc_fmt": "int32"},
     r"^acc_fmt must be one of 'fp32' when in_fmt is 'bf16', not 'int32'$"),
    ({"dataflow": "is"}, r"^dataflow must be one of 'os', 'ws', not 'is'$"),
    ({"subnormals": "daz"}, r"^subnormals must be one of 'ieee', 'ftz', not 'daz'$"),
    ({"dsp": "ice40"}, r"^dsp must be one of 'infer', 'ecp5', not 'ice40'$"),
    ({"in_fmt": "bf16", "dsp": "ecp5"}, r"^dsp must be 'infer' when in_fmt is 'bf16', not 'ecp5'$"),
    ({"dsp_muls": 17}, r"^dsp_muls must be an integer from 0 to 16 \(rows × cols\), not 17$"),
    ({"dsp_muls": -1}, r"^dsp_muls must be an integer from 0 to 16 \(rows × cols\), not -1$"),
    ({"in_fmt": "bf16", "dsp_muls": 3},
     r"^dsp_muls must be None or 16 when in_fmt is 'bf16', not 3$"),
    ({"in_fmt": "bf16", "restart": "clear"},
     r"^restart must be one of 'reset', 'mux', not 'clear'$"),
    ({"post_delay": "bram"}, r"^post_delay must be one of 'ff', 'ram', not 'bram'$"),
    ({"cols": 6, "post_lanes": 4},
     r"^post_lanes must be a divisor of cols \(1, 2, 3, 6\) when cols is 6, not 4$"),
    ({"post_lanes": 0},
     r"^post_lanes must be a divisor of cols \(1, 2, 4\) when cols is 4, not 0$"),
    ({"cols": 3, "acc_lanes": 2},
     r"^acc_lanes must be a divisor of cols \(1, 3\) when cols is 3, not 2$"),
    ({"post_lanes": True},
     r"^post_lanes must be a divisor of cols \(1, 2, 4\) when cols is 4, not True$"),
    ({"restart": "reset"},
     r"^restart must be 'mux' or None \(not given\) when acc_fmt is 'int32', not 'reset'$"),
    ({"drain": "pipe"}, r"^drain must be one of 'chain', 'bus', not 'pipe'$"),
    ({"drain": "bus", "pipeline": {"add": 2}},
     r"^drain must be 'chain' \(a bus drains one accumulator context, which needs an integer "
     r"accumulator with pipeline.add 1\) when pipeline.add is 2, not 'bus'$"),
    ({"dataflow": "ws", "drain": "bus"},
     r"^drain must be None \(not given: a WS array has no drain\) when dataflow is 'ws', "
     r"not 'bus'$"),
    ({"int_adder": "csa"}, r"^int_adder must be one of 'full', 'split', not 'csa'$"),
    ({"dispatch": "late"}, r"^dispatch must be one of 'direct', 'registered', not 'late'$"),
    ({"in_fmt": "bf16", "int_adder": "full"},
     r"^int_adder must be None \(not given: the accumulator is float\) when acc_fmt is "
     r"'fp32', not 'full'$"),
    ({"in_fmt": "bf16", "dataflow": "ws", "restart": "mux"},
     r"^restart must be None \(not given: a WS PE never restarts\) when dataflow is 'ws', "
     r"not 'mux'$"),
])
def test_errors_name_parameter_value_and_allowed(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        Config(**kwargs)
    assert info.value.param in pattern


def test_restart():
    # A float OS accumulator restarts by a register's reset unless told "mux"; an integer one
    # always by a multiplexer; a WS PE never. Only the float choice other than the default
    # changes the name, and the resolved value reads back.
    assert Config(in_fmt="bf16").restart == "reset"
    assert Config(in_fmt="bf16", restart="mux").name == "os_4x4_bf16_fp32_mux"
    assert Config().restart == "mux" and Config(restart="mux").name == Config().name
    assert Config(in_fmt="bf16", dataflow="ws").restart is None
    for cfg in (Config(in_fmt="int8", acc_fmt="fp32", restart="mux"), Config(dataflow="ws")):
        assert Config(**cfg.as_dict()) == cfg


def test_drain_and_int_adder():
    # OS arrays drain through the chain and integer accumulators add on a full adder unless
    # told otherwise; the other choices name the design; the resolved values read back.
    assert (Config().drain, Config().int_adder) == ("chain", "full")
    assert Config(dataflow="ws").drain is None and Config(in_fmt="bf16").int_adder is None
    cfg = Config(drain="bus", int_adder="split")
    assert cfg.name == "os_4x4_int8_int32_bus_split"
    assert Config(drain="chain", int_adder="full").name == Config().name
    assert Config(**cfg.as_dict()) == cfg
    assert Config(dataflow="ws", int_adder="split").name == "ws_4x4_int8_int32_split"


def test_dispatch():
    # The controller's range checks as a command goes unless told "registered", which names
    # the engine (not the array: it has no controller); the resolved value reads back.
    assert Config().dispatch == "direct"
    cfg = Config(rows=2, dispatch="registered")
    assert cfg.name == Config(rows=2).name == "os_2x2_int8_int32"
    assert cfg.engine_name == Config(rows=2).engine_name + "_regdispatch"
    assert Config(**cfg.as_dict()) == cfg


def test_post_delay():
    # Registers unless told "ram"; only the RAM changes the engine's name, not the array's.
    assert Config().post_delay == "ff"
    cfg = Config(rows=1, spad_kib=1, acc_kib=1, post_delay="ram")
    assert cfg.name == Config(rows=1).name
    assert cfg.engine_name == "os_1x1_int8_int32_s1k_a1k_postram"
    assert Config(**cfg.as_dict()) == cfg


def test_post_lanes():
    # A lane per column unless told fewer; only fewer lanes change the engine's name, and a
    # STORE then spends cols / post_lanes cycles on a row.
    assert Config(rows=3, cols=6).post_lanes == 6 and Config(rows=3, cols=6).post_passes == 1
    cfg = Config(rows=1, cols=6, spad_kib=1, acc_kib=1, post_lanes=2)
    assert cfg.post_passes == 3 and cfg.name == Config(rows=1, cols=6).name
    assert cfg.engine_name == "os_1x6_int8_int32_s1k_a1k_lanes2"
    assert Config(rows=1, cols=6, spad_kib=1, acc_kib=1, post_lanes=6).engine_name == \
        "os_1x6_int8_int32_s1k_a1k"
    assert Config(**cfg.as_dict()) == cfg


def test_acc_lanes():
    # An adder per column unless told fewer; fewer change the engine's name.
    assert Config(rows=2).acc_lanes == 2 and Config(rows=2).acc_passes == 1
    cfg = Config(rows=1, cols=4, spad_kib=1, acc_kib=1, acc_lanes=1, post_lanes=2)
    assert cfg.acc_passes == 4 and cfg.post_passes == 2
    assert cfg.engine_name == "os_1x4_int8_int32_s1k_a1k_lanes2_acc1"
    assert Config(**cfg.as_dict()) == cfg


def test_dsp_multipliers():
    # Integer PEs multiply on DSP blocks up to DEFAULT_DSP_MULS, the rest build theirs from
    # logic, in row-major order; only a choice other than the default changes the name.
    assert Config(rows=8).dsp_muls == 64 and Config(rows=16).dsp_muls == 64
    assert Config(rows=16).name == "os_16x16_int8_int32"
    cfg = Config(rows=3, cols=4, dsp_muls=5, dsp="ecp5")
    assert cfg.name == "os_3x4_int8_int32_ecp5_dsp5"
    assert [cfg.logic_mul(r, c) for r in range(3) for c in range(4)] == [False] * 5 + [True] * 7
    assert Config(rows=4, in_fmt="bf16").dsp_muls == 16


def test_formats():
    assert (FP32.width, FP32.bias, FP32.frac_width, FP32.qnan) == (32, 127, 23, 0x7FC00000)
    assert (BF16.width, BF16.bias, BF16.frac_width, BF16.qnan) == (16, 127, 7, 0x7FC0)
    assert (INT8.min, INT8.max, INT32.width) == (-128, 127, 32)
    assert by_name("bf16") is BF16
    with pytest.raises(ValueError, match=r"^Format must be one of .*, not 'fp64'$"):
        by_name("fp64")
