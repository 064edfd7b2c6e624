# amaranth: UnusedElaboratable=no
"""PostProc against ref_postproc, bit for bit, with the mode and ReLU changing freely and each
lane's scale of its own, changed between bursts of rows (as the controller does, only with
no row in flight)."""

import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hw.config import Config
from hw.engine.postproc import PostProc, postproc_latency
from hw.formats import BF16, FP32, INT8, INT32
from hw.isa import OutMode, allowed_modes, out_width
from sim.golden import from_bits, ref_postproc, same_bits, to_bits

# Per configuration, 3 lanes: ROWS_PER_BLOCK rows for every (mode, ReLU, scale) (RAW and
# BF16 with one scale set each, INT8 with every scale in every lane), then N_MIXED rows whose
# mode and ReLU are drawn at random on every cycle and whose lanes' scales are drawn for every
# ROWS_PER_BLOCK of them: 3,600 (int32) / 3,800 (fp32) rows in all.
ROWS_PER_BLOCK = 100
N_MIXED = 2_000

CONFIGS = {
    "int8_int32": Config(rows=2, cols=3, in_fmt="int8", acc_fmt="int32"),
    "int8_fp32": Config(rows=2, cols=3, in_fmt="int8", acc_fmt="fp32"),
    "bf16_fp32": Config(rows=2, cols=3, in_fmt="bf16", acc_fmt="fp32"),
    "bf16_fp32_ftz": Config(rows=2, cols=3, in_fmt="bf16", acc_fmt="fp32", subnormals="ftz"),
    # The RAW and BF16 delay lines in RAMs (Config.post_delay): the same bits and cycles
    # (tests/test_engine.py runs an int32 engine with them).
    "bf16_fp32_ram": Config(rows=2, cols=3, in_fmt="bf16", acc_fmt="fp32", post_delay="ram"),
}

#: Requantization scales: unity, a typical one, negative, tiny, huge, subnormal, infinite.
SCALES = [1.0, 0.0123, -0.5, 1e-30, 3e38, 1e-40, np.inf]

INT32_SPECIALS = [0, 1, -1, 127, 128, -128, -129, 2**24 + 1, 2**31 - 1, -(2**31), -(2**31) + 1]
FP32_SPECIALS = [
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,     # zeros, infinities
    0x7FC00000, 0xFFC00000, 0x7F800001,                 # NaNs (canonical, negative, signalling)
    0x00000001, 0x807FFFFF, 0x00400000, 0x00800000,     # subnormals, smallest normal
    0x7F7FFFFF, 0xFF7FFFFF, 0x3F000000, 0xBFC00000,     # largest, 0.5, -1.5
]


def random_values(cfg, rng, n):
    """``n`` accumulator values: specials, values that land in int8's range after scaling,
    and anything at all."""
    kind = rng.integers(0, 5, n)
    if cfg.is_float:
        special = rng.choice(np.array(FP32_SPECIALS, dtype=np.uint64), n)
        uniform = rng.integers(0, 1 << 32, n, dtype=np.uint64)
        exp = rng.integers(FP32.bias - 4, FP32.bias + 12, n, dtype=np.uint64)
        frac = rng.integers(0, 1 << FP32.frac_width, n, dtype=np.uint64)
        sign = rng.integers(0, 2, n, dtype=np.uint64)
        moderate = sign << 31 | exp << FP32.frac_width | frac
        subnormal = sign << 31 | frac
        # Half-integers: ties for the int8 rounding at scale 1.0.
        halves = to_bits((rng.integers(-300, 300, n) + 0.5).astype(np.float32), FP32)
        bits = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                         [special, uniform, subnormal, halves], moderate)
        return from_bits(bits, FP32)
    special = rng.choice(np.array(INT32_SPECIALS, dtype=np.int64), n)
    uniform = rng.integers(-(1 << 31), 1 << 31, n)
    small = rng.integers(-(1 << 14), 1 << 14, n)
    shifted = uniform >> rng.integers(0, 31, n)
    values = np.select([kind == 0, kind == 1, kind <= 3], [special, uniform, small], shifted)
    return values.astype(np.int32)


def pack(row, fmt):
    """One row of values as the integer ``i`` takes: lane ``n`` at bits ``[n*w, (n+1)*w)``."""
    bits = to_bits(np.asarray(row, dtype=fmt.dtype), fmt)
    return sum(int(b) << (n * fmt.width) for n, b in enumerate(bits))


def unpack(word, cols, mode, acc_fmt):
    """The lanes of an output row as values, and the bits above them (which must be 0)."""
    fmt = {OutMode.RAW: acc_fmt, OutMode.INT8: INT8, OutMode.BF16: BF16}[mode]
    w = out_width(mode)
    lanes = [(word >> (n * w)) & ((1 << w) - 1) for n in range(cols)]
    return from_bits(np.array(lanes, dtype=np.uint64), fmt), word >> (cols * w), fmt


def rtl_postproc(dut, rows, settings):
    """Stream ``rows`` (packed ints) with their (mode, relu, lanes' scale bits), one per
    cycle; before the lanes' scales change, every row in flight leaves first."""
    out = []
    schedule = []           # per cycle: a row's index, or None (a bubble)
    for k, (_, _, scales) in enumerate(settings):
        if k and scales != settings[k - 1][2]:
            schedule += [None] * dut.latency
        schedule.append(k)
    cols = len(settings[0][2])

    async def testbench(ctx):
        for c in range(len(schedule) + dut.latency - 1):
            k = schedule[c] if c < len(schedule) else None
            if k is not None:
                mode, relu, scales = settings[k]
                ctx.set(dut.i.as_value(), rows[k])
                ctx.set(dut.mode, mode)
                ctx.set(dut.relu, relu)
                ctx.set(dut.scale.as_value(),
                        sum(bits << (32 * n) for n, bits in enumerate(scales)))
            else:
                ctx.set(dut.i.as_value(), 0)
                ctx.set(dut.mode, OutMode.RAW)
            await ctx.tick()
            first = c + 1 - dut.latency
            if first >= 0 and schedule[first] is not None:
                out.append(ctx.get(dut.o))

    assert cols == dut.cfg.cols
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return out


def scale_bits(scale):
    return int(to_bits([scale], FP32)[0])


def lane_scales(cfg, first):
    """Every lane a scale of its own: lane ``n`` gets ``SCALES[first + n]`` (cyclically)."""
    return tuple(SCALES[(first + n) % len(SCALES)] for n in range(cfg.cols))


def make_settings(cfg, rng):
    """Blocks of every (mode, relu, scale), then random mode and ReLU on every cycle."""
    settings = []
    for mode in allowed_modes(cfg):
        for relu in (False, True):
            firsts = range(len(SCALES)) if mode == OutMode.INT8 else [rng.integers(len(SCALES))]
            for first in firsts:
                settings += [(mode, relu, lane_scales(cfg, first))] * ROWS_PER_BLOCK
    modes = allowed_modes(cfg)
    for k in range(N_MIXED):
        if k % ROWS_PER_BLOCK == 0:
            scales = tuple(SCALES[i] for i in rng.integers(len(SCALES), size=cfg.cols))
        settings.append((modes[rng.integers(len(modes))], bool(rng.integers(2)), scales))
    return settings


@pytest.mark.parametrize("name", list(CONFIGS))
def test_against_golden(name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(sorted(CONFIGS).index(name))
    settings = make_settings(cfg, rng)
    acc_fmt = cfg.acc_format
    rows = random_values(cfg, rng, len(settings) * cfg.cols).reshape(-1, cfg.cols)

    dut = PostProc(cfg)
    got = rtl_postproc(dut, [pack(r, acc_fmt) for r in rows],
                       [(m, int(r), tuple(map(scale_bits, s))) for m, r, s in settings])
    assert len(got) == len(rows)
    bad = []
    for k, (row, (mode, relu, scale), word) in enumerate(zip(rows, settings, got, strict=True)):
        lanes, high, fmt = unpack(word, cfg.cols, mode, acc_fmt)
        want = ref_postproc(row, cfg, relu=relu, mode=mode, scale=np.array(scale))
        assert want.dtype == fmt.dtype
        if high != 0 or not np.all(same_bits(lanes, want, fmt)):
            bad.append((k, mode.name, relu, scale, [hex(b) for b in to_bits(row, acc_fmt)],
                        hex(word), want.tolist()))
    assert not bad, bad[:5]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_latency(name):
    # One row enters, in each mode, between zero rows in RAW mode: its result shows after
    # exactly `latency` clock edges, whatever the mode.
    cfg = CONFIGS[name]
    dut = PostProc(cfg)
    # The default depths (hw.config.POST_DEFAULTS): the int32 path's conversion, multiply and
    # rounding (4 + 9 + 4); the fp32 path's multiply and rounding (9 + 4), above its narrowing's 5.
    assert dut.latency == postproc_latency(cfg) == (13 if cfg.is_float else 17)
    value = 0x3FC00000 if cfg.is_float else 3     # 1.5 or 3: nonzero in every mode
    acc_fmt = cfg.acc_format
    row = pack(from_bits([value] * cfg.cols, acc_fmt), acc_fmt)
    seen = {}

    async def testbench(ctx):
        for mode in dut.modes:
            trace = []
            for k in range(dut.latency + 3):
                ctx.set(dut.i.as_value(), row if k == 0 else 0)
                ctx.set(dut.mode, mode if k == 0 else OutMode.RAW)
                ctx.set(dut.scale.as_value(), sum(scale_bits(2.0) << (32 * n)
                                                  for n in range(cfg.cols)))
                trace.append(ctx.get(dut.o) != 0)
                await ctx.tick()
            seen[mode] = trace

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    want = [k == dut.latency for k in range(dut.latency + 3)]
    assert seen == {mode: want for mode in dut.modes}


def test_unsupported_mode_gives_zeros():
    # BF16 from int32 accumulators is rejected by the controller; the unit sends zeros.
    cfg = CONFIGS["int8_int32"]
    dut = PostProc(cfg)
    row = pack([5, -7, 1 << 30], INT32)
    got = rtl_postproc(dut, [row] * 4, [(OutMode.BF16, 0, (scale_bits(1.0),) * 3)] * 4)
    assert got == [0] * 4


def golden_and_rtl(cfg, values, *, relu=False, mode=OutMode.RAW, scale=1.0):
    """``values`` (accumulator format) post-processed by ``ref_postproc`` and by a
    :class:`PostProc`, ``cols`` lanes a row (the last row zero-padded). Returns both, as
    arrays of the output format."""
    acc_fmt = cfg.acc_format
    values = np.asarray(values, dtype=acc_fmt.dtype)
    padded = np.concatenate([values, np.zeros(-len(values) % cfg.cols, acc_fmt.dtype)])
    rows = [pack(row, acc_fmt) for row in padded.reshape(-1, cfg.cols)]
    setting = (mode, int(relu), (scale_bits(scale),) * cfg.cols)
    words = rtl_postproc(PostProc(cfg), rows, [setting] * len(rows))
    lanes = []
    for word in words:
        row, high, fmt = unpack(word, cfg.cols, mode, acc_fmt)
        assert high == 0, hex(word)
        lanes.append(row)
    want = ref_postproc(values, cfg, relu=relu, mode=mode, scale=scale)
    got = np.concatenate(lanes)[:len(values)]
    assert same_bits(got, want, fmt).all(), (to_bits(got, fmt), to_bits(want, fmt))
    return want, got


def test_directed_semantics():
    # The rules spelled out, independent of random data: the golden model and the hardware
    # (same bits, checked in golden_and_rtl) both give the values written here.
    cfg = CONFIGS["bf16_fp32"]
    x = from_bits(np.array([0x80000000, 0xFFC00000, 0xFF800000, 0x3FC00000, 0x7F7FFFFF],
                           dtype=np.uint64), FP32)
    for relu in golden_and_rtl(cfg, x, relu=True):
        assert to_bits(relu, FP32).tolist() == [0, FP32.qnan, 0, 0x3FC00000, 0x7F7FFFFF]
    for int8 in golden_and_rtl(cfg, x, mode=OutMode.INT8):
        assert int8.tolist() == [0, 0, -128, 2, 127]
    for bf16 in golden_and_rtl(cfg, x, mode=OutMode.BF16):
        assert to_bits(bf16, BF16).tolist()[3:] == [0x3FC0, 0x7F80]
    icfg = CONFIGS["int8_int32"]
    c = np.array([-(2**31), 2**31 - 1, 250, 254, -3], dtype=np.int32)
    for int8 in golden_and_rtl(icfg, c, mode=OutMode.INT8, scale=0.5):
        assert int8.tolist() == [-128, 127, 125, 127, -2]
    for relu in golden_and_rtl(icfg, c, relu=True):
        assert relu.tolist() == [0, 2**31 - 1, 250, 254, 0]


def test_helpers():
    assert [out_width(m) for m in OutMode] == [32, 8, 16]
    assert out_width(1) == 8
    assert allowed_modes(CONFIGS["int8_int32"]) == (OutMode.RAW, OutMode.INT8)
    assert allowed_modes(CONFIGS["bf16_fp32"]) == (OutMode.RAW, OutMode.INT8, OutMode.BF16)
    dut = PostProc(CONFIGS["bf16_fp32_ftz"])
    assert dut.cfg is CONFIGS["bf16_fp32_ftz"]
    assert len(dut.o) == 3 * 32 and len(dut.scale) == 3


def test_errors():
    with pytest.raises(TypeError, match=re.escape("cfg must be a Config, not 'int8'")):
        PostProc("int8")
    with pytest.raises(TypeError, match="cfg must be a Config, not None"):
        postproc_latency(None)
    with pytest.raises(TypeError, match=re.escape("cfg must be a Config, not {'cols': 3}")):
        allowed_modes({"cols": 3})
    with pytest.raises(ValueError, match="mode must be one of .raw., .int8., .bf16., not 3"):
        out_width(3)
    with pytest.raises(ValueError, match="mode must be one of 'raw', 'int8', 'bf16', not 'fp8'"):
        ref_postproc([1], CONFIGS["int8_int32"], mode="fp8")
    with pytest.raises(ValueError, match="mode must be RAW or INT8 for int32 accumulation, "
                                         "not BF16"):
        ref_postproc([1], CONFIGS["int8_int32"], mode=OutMode.BF16)


@pytest.mark.parametrize("name", ["int8_int32", "bf16_fp32_ftz"])
def test_verilog(name):
    cfg = CONFIGS[name]
    text = verilog.convert(PostProc(cfg), name=f"postproc_{cfg.name}", emit_src=False)
    assert f"module postproc_{cfg.name}" in text


@pytest.mark.parametrize("in_fmt, acc_fmt", [("int8", "int32"), ("bf16", "fp32")])
def test_shared_lanes_take_each_values_scale(in_fmt, acc_fmt):
    # With lanes shared by columns (Config.post_lanes < cols) the scale comes with each value,
    # a new one every cycle and no bubble: the lane delays it to meet the value at the
    # multiplier (int32: past the conversion's 4 cycles), so each INT8 output is its own
    # value times its own scale.
    cfg = Config(rows=2, cols=4, in_fmt=in_fmt, acc_fmt=acc_fmt, post_lanes=2)
    dut = PostProc(cfg)
    assert len(dut.i) == len(dut.scale) == 2 and len(dut.o) == 2 * 32
    rng = np.random.default_rng(21)
    n = 400
    values = random_values(cfg, rng, 2 * n).reshape(n, 2)
    scales = rng.choice(np.array(SCALES, dtype=np.float32), (n, 2))
    acc = cfg.acc_format
    got = []

    async def testbench(ctx):
        for c in range(n + dut.latency):
            k = min(c, n - 1)
            ctx.set(dut.i.as_value(), pack(values[k], acc))
            ctx.set(dut.mode, OutMode.INT8)
            ctx.set(dut.relu, k % 3 == 0)
            ctx.set(dut.scale.as_value(), pack(scales[k], FP32))
            await ctx.tick()
            if c + 1 >= dut.latency and len(got) < n:
                got.append(ctx.get(dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    for k, word in enumerate(got):
        lanes, high, fmt = unpack(word, 2, OutMode.INT8, acc)
        want = ref_postproc(values[k], cfg, relu=k % 3 == 0, mode=OutMode.INT8, scale=scales[k])
        assert high == 0 and same_bits(lanes, want, fmt).all(), (k, lanes, want)
