"""The JSON manifest written beside generated Verilog: every parameter, port and timing fact.

Tools (cocotb benches, the host drivers, a user's own flow) read the manifest rather than
re-deriving widths and latencies. It depends only on the configuration: no dates, no paths.
"""

import json

from amaranth import Value
from amaranth.lib import data, enum, wiring

from .array import array_signature, operand_layout, result_layout
from .timing import ArrayTiming

__all__ = ["MANIFEST_VERSION", "port_list", "layout_fields", "array_manifest",
           "isa_manifest", "engine_manifest", "dumps"]

MANIFEST_VERSION = 1


def port_list(signature):
    """Top-level ports of a component with ``signature``, as Verilog names them:
    ``[{name, direction, width}]``."""
    ports = []
    for path, member, value in signature.flatten(signature.create()):
        name = "__".join(str(p) for p in path)
        direction = "input" if member.flow == wiring.In else "output"
        ports.append({"name": name, "direction": direction, "width": len(Value.cast(value))})
    ports += [{"name": "clk", "direction": "input", "width": 1},
              {"name": "rst", "direction": "input", "width": 1}]
    return ports


def layout_fields(layout):
    """Bit fields of a payload layout: ``{name: {offset, width[, lanes, lane_width]}}``."""
    fields = {}
    items = layout if isinstance(layout, data.StructLayout) else [("", data.Field(layout, 0))]
    for name, field in items:
        entry = {"offset": field.offset, "width": field.width}
        if isinstance(field.shape, data.ArrayLayout):
            entry["lanes"] = field.shape.length
            entry["lane_width"] = field.width // field.shape.length
        fields[name or "value"] = entry
    return fields


def array_manifest(cfg, module_name):
    """Manifest for a bare :class:`~hw.array.SystolicArray`."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "top": module_name,
        "kind": "array",
        "config": cfg.as_dict(),
        "ports": port_list(array_signature(cfg)),
        "streams": {
            "i": {"direction": "input", "fields": layout_fields(operand_layout(cfg)),
                  "width": operand_layout(cfg).size},
            "o": {"direction": "output", "fields": layout_fields(result_layout(cfg)),
                  "width": result_layout(cfg).size},
        },
        "timing": ArrayTiming(cfg).as_dict(),
    }


def isa_manifest(cfg):
    """The instruction set as :mod:`hw.isa` defines it: every opcode's fields with their bit
    offsets and widths, the out modes ``cfg`` can produce, its operand formats (CONFIG's
    ``in_fmt`` values), the error bits."""
    from . import isa

    def field(f):
        entry = {"offset": f.offset, "width": f.width}
        if isinstance(f.shape, type) and issubclass(f.shape, enum.Enum):
            entry["values"] = {member.name: member.value for member in f.shape}
        return entry

    return {
        "version": isa.ISA_VERSION,
        "command_width": isa.COMMAND_WIDTH,
        "opcode": {"offset": 0, "width": isa.OPCODE_WIDTH},
        "reserved": {"offset": isa.RESERVED_OFFSET,
                     "width": isa.COMMAND_WIDTH - isa.RESERVED_OFFSET},
        "opcodes": {op.name: op.value for op in isa.Opcode},
        "fields": {op.name: {name: field(f) for name, f in layout}
                   for op, layout in isa.LAYOUTS.items()},
        "out_modes": {mode.name: mode.value for mode in isa.allowed_modes(cfg)},
        # CONFIG's in_fmt values: the engine's operand formats.
        "in_fmts": {name: n for n, name in enumerate(cfg.in_fmts)},
        "errors": {err.name: err.value for err in isa.Error},
    }


def engine_manifest(cfg, module_name):
    """Manifest for an :class:`~hw.engine.AxiEngine` top level."""
    from .engine import AxiEngine
    from .engine.loader import din_width
    from .engine.postproc import postproc_latency
    from .engine.storer import dout_width, store_latency
    from .isa import COMMAND_WIDTH, allowed_modes, out_width

    in_bits = cfg.lane_width
    acc_bytes = cfg.acc_format.width // 8
    return {
        "manifest_version": MANIFEST_VERSION,
        "top": module_name,
        "kind": "engine",
        "config": cfg.as_dict(),
        "ports": port_list(AxiEngine.signature_for(cfg)),
        "streams": {
            "s_axis_cmd": {"direction": "input", "width": COMMAND_WIDTH},
            "s_axis_data": {"direction": "input", "width": din_width(cfg),
                            "lane_width": cfg.lane_width,
                            "lanes": {"a": cfg.rows, "b": cfg.cols}},
            "m_axis_data": {"direction": "output", "width": dout_width(cfg),
                            "lanes": cfg.cols,
                            "lane_width": {mode.name.lower(): out_width(mode)
                                           for mode in allowed_modes(cfg)}},
        },
        "buffers": {
            "spad_a": {"lines": cfg.spad_a_lines, "line_bytes": -(-cfg.rows * in_bits // 8)},
            "spad_b": {"lines": cfg.spad_b_lines, "line_bytes": -(-cfg.cols * in_bits // 8)},
            "acc": {"rows": cfg.acc_rows, "row_bytes": cfg.cols * acc_bytes},
        },
        "isa": isa_manifest(cfg),
        "timing": {**ArrayTiming(cfg).as_dict(), "postproc_latency": postproc_latency(cfg),
                   "store_latency": store_latency(cfg)},
    }


def dumps(manifest):
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
