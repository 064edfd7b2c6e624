"""The instruction encoding: fields land where the README's table says, and bad fields fail."""

import pytest

from hw import isa


def test_field_positions():
    w = isa.encode_compute(0x1234, 0x5678, 0x9ABC, 0xDEF0, accumulate=True)
    assert w & 0xFF == isa.Opcode.COMPUTE.value == 4
    assert (w >> 8) & 0xFF == 1
    assert [(w >> s) & 0xFFFF for s in (16, 32, 48, 64)] == [0x1234, 0x5678, 0x9ABC, 0xDEF0]
    assert w >> 80 == 0
    assert isa.decode(w) == {"opcode": isa.Opcode.COMPUTE, "flags": 1, "arg0": 0x1234,
                             "arg1": 0x5678, "arg2": 0x9ABC, "arg3": 0xDEF0, "reserved": 0}


def test_each_opcode():
    assert isa.encode_nop() == 0
    assert isa.encode_fence() == 6
    assert isa.encode_load("b", 7, 9) == 2 | 1 << 8 | 7 << 16 | 9 << 32
    assert isa.encode_preload(5) == 3 | 5 << 16
    assert isa.encode_store(3, 4) == 5 | 3 << 16 | 4 << 32
    cfg = isa.encode_config(relu=True, out_mode=isa.OutMode.INT8, scale_bits=0x3C23D70A)
    assert cfg & 0xFF == 1 and (cfg >> 8) & 0xFF == 0b011
    assert (cfg >> 32) & 0xFFFFFFFF == 0x3C23D70A


def test_layout_matches_encoding():
    assert isa.command_layout.size == isa.COMMAND_WIDTH == 128
    offsets = {name: field.offset for name, field in isa.command_layout}
    assert offsets == {"opcode": 0, "flags": 8, "arg0": 16, "arg1": 32, "arg2": 48,
                       "arg3": 64, "reserved": 80}


@pytest.mark.parametrize("call, pattern", [
    (lambda: isa.encode_load("c", 0, 1), r"^buffer must be 'a' or 'b', not 'c'$"),
    (lambda: isa.encode_store(-1, 1), r"^arg0 must be an integer from 0 to 65535, not -1$"),
    (lambda: isa.encode_compute(0, 0, 0, 1 << 16),
     r"^arg3 must be an integer from 0 to 65535, not 65536$"),
    (lambda: isa.encode_config(scale_bits=1 << 32), r"^scale_bits must be a 32-bit pattern"),
    (lambda: isa.encode_config(out_mode=3), r"3 is not a valid OutMode"),
])
def test_encoding_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
