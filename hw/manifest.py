"""The JSON manifest written beside generated Verilog: every parameter, port and timing fact.

Tools (cocotb benches, the host drivers, a user's own flow) read the manifest rather than
re-deriving widths and latencies. It depends only on the configuration: no dates, no paths.
"""

import json

from amaranth import Value
from amaranth.lib import data, wiring

from .array import array_signature, operand_layout, result_layout
from .timing import ArrayTiming

__all__ = ["MANIFEST_VERSION", "port_list", "layout_fields", "array_manifest", "dumps"]

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


def dumps(manifest):
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
