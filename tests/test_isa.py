"""The instruction encoding: each opcode's fields land where its layout (and the README's
table) says, encode and decode are inverses, and bad fields fail with a clear message."""

import pytest

from hw import isa


def test_field_positions():
    w = isa.encode_compute(0x1234, 0x5678, 0x9ABC, 0xDEF0, accumulate=True)
    assert w & 0xFF == isa.Opcode.COMPUTE.value == 4
    assert (w >> 8) & 0xFF == 1
    assert [(w >> s) & 0xFFFF for s in (16, 32, 48, 64)] == [0x1234, 0x5678, 0x9ABC, 0xDEF0]
    assert w >> 80 == 0
    assert isa.decode(w) == {"opcode": isa.Opcode.COMPUTE, "accumulate": 1, "a_addr": 0x1234,
                             "b_addr": 0x5678, "acc_row": 0x9ABC, "count": 0xDEF0,
                             "reserved": 0}


def test_each_opcode():
    assert isa.encode_nop() == 0
    assert isa.encode_fence() == 6
    assert isa.encode_load("b", 7, 9) == 2 | 1 << 8 | 7 << 16 | 9 << 32
    assert isa.encode_preload(5) == 3 | 5 << 16
    assert isa.encode_store(3, 4) == 5 | 3 << 16 | 4 << 32
    cfg = isa.encode_config(relu=True, out_mode=isa.OutMode.INT8, scale_bits=0x3C23D70A)
    assert cfg & 0xFF == 1 and (cfg >> 8) & 0xFF == 0b011
    assert (cfg >> 32) & 0xFFFFFFFF == 0x3C23D70A and (cfg >> 16) & 0xFFFF == 0
    assert isa.encode_config(in_fmt=2) == isa.encode_config() | 2 << 16
    assert isa.encode_scale(5, 0x3C23D70A) == 7 | 5 << 16 | 0x3C23D70A << 32
    assert isa.ISA_VERSION == 2


def test_layouts_match_the_word():
    # Version 2's word (version 1's plus CONFIG's in_fmt and SCALE): opcode 7:0, reserved
    # 127:80; each opcode's fields in between.
    assert isa.command_layout.size == isa.COMMAND_WIDTH == 128
    assert isa.command_layout["opcode"].offset == 0
    assert isa.command_layout["reserved"].offset == isa.RESERVED_OFFSET == 80
    offsets = {op.name: {name: (f.offset, f.width) for name, f in layout}
               for op, layout in isa.LAYOUTS.items()}
    assert offsets == {
        "NOP": {}, "FENCE": {},
        "CONFIG": {"relu": (8, 1), "out_mode": (9, 2), "in_fmt": (16, 3),
                   "scale": (32, 32)},
        "LOAD": {"buffer": (8, 1), "addr": (16, 16), "count": (32, 16)},
        "PRELOAD": {"b_addr": (16, 16)},
        "COMPUTE": {"accumulate": (8, 1), "a_addr": (16, 16), "b_addr": (32, 16),
                    "acc_row": (48, 16), "count": (64, 16)},
        "STORE": {"acc_row": (16, 16), "count": (32, 16)},
        "SCALE": {"lane": (16, 16), "scale": (32, 32)},
    }
    # The hardware's view of a command names every opcode's fields at the same offsets.
    for op, layout in isa.LAYOUTS.items():
        assert isa.command_layout[op.name.lower()].shape is layout
    assert set(isa.LAYOUTS) == set(isa.Opcode) == set(isa.DOES)


@pytest.mark.parametrize("opcode", list(isa.Opcode))
def test_encode_decode_round_trip(opcode):
    layout = isa.LAYOUTS[opcode]
    fields = {}
    for n, (name, field) in enumerate(layout):
        shape = field.shape
        if isinstance(shape, type):
            fields[name] = list(shape)[-1]
        else:
            fields[name] = ((1 << field.width) - 1) - n
    word = isa.encode(opcode, **fields)
    assert isa.decode(word) == {"opcode": opcode, **fields, "reserved": 0}


def test_decode_unknown_opcode_and_reserved_bits():
    assert isa.decode(0x7F | 1 << 100) == {"opcode": 0x7F, "reserved": 1 << 20}


def test_error_bits_by_name():
    assert [name for name, _ in isa.error_layout] == \
        ["bad_opcode", "bad_address", "bad_count", "bad_mode"]
    assert isa.ERROR_BITS == 4
    for n, (name, field) in enumerate(isa.error_layout):
        assert field.offset == n and isa.Error[name.upper()] == 1 << n


def test_out_modes():
    from hw.config import Config
    from hw.formats import BF16, FP32, INT8, INT32
    assert [isa.out_width(m) for m in isa.OutMode] == [32, 8, 16]
    assert isa.out_mode("Bf16") is isa.OutMode.BF16 and isa.out_mode(1) is isa.OutMode.INT8
    assert isa.out_format("raw", INT32) is INT32 and isa.out_format("raw", FP32) is FP32
    assert isa.out_format("int8", FP32) is INT8 and isa.out_format(2, FP32) is BF16
    assert isa.allowed_modes(Config(rows=1)) == (isa.OutMode.RAW, isa.OutMode.INT8)
    with pytest.raises(ValueError, match=r"^mode must be one of 'raw', 'int8', 'bf16', not 3$"):
        isa.out_mode(3)
    with pytest.raises(ValueError, match=r"^mode must be one of .*, not True$"):
        isa.out_mode(True)


@pytest.mark.parametrize("call, pattern", [
    (lambda: isa.encode_load("c", 0, 1), r"^buffer must be 'a' or 'b', not 'c'$"),
    (lambda: isa.encode_store(-1, 1),
     r"^STORE field acc_row must be an integer from 0 to 65535, not -1$"),
    (lambda: isa.encode_compute(0, 0, 0, 1 << 16),
     r"^COMPUTE field count must be an integer from 0 to 65535, not 65536$"),
    (lambda: isa.encode_config(scale_bits=1 << 32), r"^scale_bits must be a 32-bit pattern"),
    (lambda: isa.encode_config(out_mode=3), r"3 is not a valid OutMode"),
    (lambda: isa.encode_scale(0, -1), r"^scale_bits must be a 32-bit pattern, not -1$"),
    (lambda: isa.encode_scale(1 << 16, 0),
     r"^SCALE field lane must be an integer from 0 to 65535, not 65536$"),
    (lambda: isa.encode_config(in_fmt=8), r"^CONFIG field in_fmt must be an integer from 0 to "
                                          r"7, not 8$"),
    (lambda: isa.encode(isa.Opcode.LOAD, lines=3),
     r"^LOAD has no field 'lines'; its fields are buffer, addr, count$"),
    (lambda: isa.encode(isa.Opcode.LOAD, buffer=2),
     r"^LOAD field buffer must be one of A \(0\), B \(1\), not 2$"),
    (lambda: isa.encode(9), r"^opcode must be one of NOP, CONFIG, .*, not 9$"),
])
def test_encoding_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_readme_table_is_the_layouts():
    from pathlib import Path

    from scripts.isa_table import markdown
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("<!-- isa-table -->\n") + len("<!-- isa-table -->\n")
    end = readme.index("\n<!-- /isa-table -->")
    assert readme[start:end] == markdown(), "README's ISA table is stale: python -m " \
                                            "scripts.isa_table prints the current one"
