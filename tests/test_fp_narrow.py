# amaranth: UnusedElaboratable=no
"""FloatNarrow (FP32 to BF16) against ml_dtypes' cast, bit for bit, in IEEE and ftz modes."""

import re
import subprocess

import numpy as np
import pytest
from amaranth.back import verilog

from hw.formats import BF16, FP32, INT8, FloatFormat
from hw.fp.narrow import FloatNarrow
from sim.golden import from_bits, ref_narrow, same_bits
from sim.pipeline import rtl_impulse, rtl_pipeline
from sim.tools import find_yosys

# Per mode (ieee, ftz): 60 directed FP32 patterns, 10,000 uniformly random patterns, 10,000
# subnormals and smallest normals, 5,000 values at BF16 ties; and 10,000 FP32 to FP8 E5M2.
N_RANDOM = 10_000

#: FP32 bit patterns at every boundary of the narrowing, paired with both signs.
DIRECTED_MAGNITUDES = [
    0x00000000,                                     # zero
    0x3F800000, 0x3F808000, 0x3F818000,             # 1.0; ties to even down and up
    0x3F807FFF, 0x3F808001, 0x3F817FFF, 0x3F818001,  # just below and above the ties
    0x3FFF8000, 0x3FFFFFFF,                         # ties and carries into the next binade
    0x7F7F0000, 0x7F7F7FFF, 0x7F7F8000, 0x7F7FFFFF,  # around the largest BF16: overflow
    0x00000001, 0x00007FFF, 0x00008000, 0x00008001,  # half the smallest BF16 subnormal
    0x00018000, 0x00028000, 0x00010000,             # subnormal ties to even up and down
    0x007F7FFF, 0x007F8000, 0x007FFFFF, 0x00800000,  # into the smallest normal
    0x7F800000,                                     # infinity
    0x7FC00000, 0x7F800001, 0x7F80FFFF, 0x7FFFFFFF,  # NaNs, one that truncates to Inf
]
DIRECTED = DIRECTED_MAGNITUDES + [b | FP32.sign_mask for b in DIRECTED_MAGNITUDES]

#: Expected BF16 bits in IEEE mode for some of them, independent of the golden model.
EXPECTED_IEEE = {
    0x3F808000: 0x3F80, 0x3F818000: 0x3F82, 0x3F808001: 0x3F81, 0x3F807FFF: 0x3F80,
    0x7F7F7FFF: 0x7F7F, 0x7F7F8000: 0x7F80, 0x7F7FFFFF: 0x7F80, 0xFF7FFFFF: 0xFF80,
    0x00008000: 0x0000, 0x00008001: 0x0001, 0x00018000: 0x0002, 0x00028000: 0x0002,
    0x007F8000: 0x0080, 0x80008001: 0x8001, 0x80000000: 0x8000,
    0x7F800001: BF16.qnan, 0xFFFFFFFF: BF16.qnan,
}
#: And in ftz mode: subnormal results flush to zero of their sign, subnormal inputs read as 0.
EXPECTED_FTZ = {
    0x00008001: 0x0000, 0x80018000: 0x8000, 0x007F7FFF: 0x0000, 0x007FFFFF: 0x0000,
    0x00800000: 0x0080, 0x3F818000: 0x3F82,
}


def check(bits, ftz, out_fmt=BF16):
    bits = np.asarray(bits, dtype=np.uint64)
    got = rtl_pipeline(FloatNarrow(FP32, out_fmt, ftz=ftz), {"a": bits}, len(bits))
    want = ref_narrow(from_bits(bits, FP32), out_fmt, ftz)
    bad = np.flatnonzero(~same_bits(from_bits(got, out_fmt), want, out_fmt))
    assert bad.size == 0, [(hex(bits[i]), hex(got[i]), str(want[i])) for i in bad[:8]]
    # The one NaN the hardware emits is the canonical one.
    nan = np.isnan(from_bits(got, out_fmt).astype(np.float32))
    assert np.all(got[nan] == out_fmt.qnan)
    return dict(zip(bits.tolist(), got.tolist(), strict=True))


@pytest.fixture(params=[False, True], ids=["ieee", "ftz"])
def ftz(request):
    return request.param


def test_latency():
    dut = FloatNarrow(FP32, BF16)
    seen = rtl_impulse(dut, {"a": 0xC0400000}, dut.latency + 2)
    assert dut.latency == FloatNarrow.LEAST_LATENCY == 1
    assert seen == [0xC040 if k == dut.latency else 0 for k in range(dut.latency + 2)]


def test_directed(ftz):
    got = check(DIRECTED, ftz)
    expected = EXPECTED_FTZ if ftz else EXPECTED_IEEE
    assert {b: got[b] for b in expected} == expected


def random_set(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.integers(0, 1 << 32, N_RANDOM, dtype=np.uint64)
    sign = rng.integers(0, 2, N_RANDOM, dtype=np.uint64) << 31
    if kind == "subnormal":
        # Exponent field 0 (subnormal) or 1 (smallest normal), any fraction.
        exp = rng.integers(0, 2, N_RANDOM, dtype=np.uint64)
        frac = rng.integers(0, 1 << FP32.frac_width, N_RANDOM, dtype=np.uint64)
        return sign | exp << FP32.frac_width | frac
    # "ties": the 16 dropped bits exactly 0x8000, any exponent but the all-ones one.
    n = N_RANDOM // 2
    exp = rng.integers(0, FP32.exp_max, n, dtype=np.uint64)
    kept = rng.integers(0, 1 << 7, n, dtype=np.uint64)
    return sign[:n] | exp << FP32.frac_width | kept << 16 | 0x8000


@pytest.mark.parametrize("kind", ["uniform", "subnormal", "ties"])
def test_random(kind, ftz):
    check(random_set(kind, seed=len(kind) + ftz), ftz)


def test_fp8_e5m2():
    # A narrower exponent too: rebiasing, deep subnormals and overflow of the exponent.
    e5m2 = FloatFormat("fp8e5m2", exp_width=5, sig_width=3, numpy_dtype="float8_e5m2")
    rng = np.random.default_rng(5)
    exp = rng.integers(FP32.bias - 20, FP32.bias + 18, N_RANDOM, dtype=np.uint64)
    frac = rng.integers(0, 1 << FP32.frac_width, N_RANDOM, dtype=np.uint64)
    sign = rng.integers(0, 2, N_RANDOM, dtype=np.uint64) << 31
    check(sign | exp << FP32.frac_width | frac, False, out_fmt=e5m2)


class _Unpacking(FloatNarrow):
    """FloatNarrow that unpacks, normalises and rounds even where the bits would do."""
    bit_rounding = False


def test_bit_rounding_where_the_exponent_fields_agree():
    assert FloatNarrow(FP32, BF16).bit_rounding
    e5m2 = FloatFormat("fp8e5m2", exp_width=5, sig_width=3, numpy_dtype="float8_e5m2")
    assert not FloatNarrow(FP32, e5m2).bit_rounding


@pytest.mark.parametrize("latency", [1, 3])
def test_both_roundings_agree_in_simulation(latency, ftz):
    bits = np.concatenate([DIRECTED, random_set("uniform", 11 + latency),
                           random_set("subnormal", 12), random_set("ties", 13)])
    bits = np.asarray(bits, dtype=np.uint64)
    for dut in (FloatNarrow(FP32, BF16, ftz=ftz, latency=latency),
                _Unpacking(FP32, BF16, ftz=ftz, latency=latency)):
        got = rtl_pipeline(dut, {"a": bits}, len(bits))
        want = ref_narrow(from_bits(bits, FP32), BF16, ftz)
        assert same_bits(from_bits(got, BF16), want, BF16).all()
        assert np.all(got[np.isnan(from_bits(got, BF16).astype(np.float32))] == BF16.qnan)


def test_bit_rounding_proven_equal_to_unpacking(ftz, tmp_path, require_tool):
    """Yosys's SAT solver proves the two FP32 to BF16 roundings equal for every one of the
    2^32 inputs: a miter of the two, whose output registers start equal, can never assert."""
    yosys = require_tool(find_yosys)
    for name, dut in (("gold", _Unpacking(FP32, BF16, ftz=ftz)),
                      ("gate", FloatNarrow(FP32, BF16, ftz=ftz))):
        (tmp_path / f"{name}.v").write_text(verilog.convert(dut, name=name, emit_src=False))
    script = ("read_verilog gold.v gate.v; proc; "
              "miter -equiv -flatten -make_assert gold gate miter; hierarchy -top miter; "
              "sat -verify -prove-asserts -seq 2 -set-init-zero miter")
    r = subprocess.run([*yosys, "-q", "-p", script], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]


def test_constructor_errors():
    with pytest.raises(TypeError, match=re.escape("in_fmt must be a FloatFormat, not IntFormat(")):
        FloatNarrow(INT8, BF16)
    with pytest.raises(TypeError, match=re.escape("out_fmt must be a FloatFormat, not 'bf16'")):
        FloatNarrow(FP32, "bf16")
    with pytest.raises(ValueError, match=r"out_fmt must have no more exp_width or sig_width "
                                         r"than in_fmt \(8, 8\), not FloatFormat\(name='fp32'"):
        FloatNarrow(BF16, FP32)
    with pytest.raises(TypeError, match="ftz must be a bool, not 1"):
        FloatNarrow(FP32, BF16, ftz=1)


def test_verilog():
    text = verilog.convert(FloatNarrow(FP32, BF16, ftz=True), name="fp32_to_bf16",
                           emit_src=False)
    assert "module fp32_to_bf16" in text
