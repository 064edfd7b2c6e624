"""The README's instruction-set table, written from :mod:`hw.isa`'s layouts.

    python -m scripts.isa_table

prints the Markdown table of every opcode, its fields with their bit ranges, and what it
does; the README carries exactly this text (a test checks it).
"""

from amaranth.lib import enum

from hw import isa

from .markdown import bit_range, run

__all__ = ["markdown"]


def _field(name, field):
    text = f"`{name}` {bit_range(field)}"
    if isinstance(field.shape, type) and issubclass(field.shape, enum.Enum):
        text += " (" + ", ".join(f"{m.value} {m.name}" for m in field.shape) + ")"
    return text


def markdown():
    """The table, as Markdown lines joined with newlines (no trailing newline)."""
    lines = [
        f"| opcode (bits {isa.OPCODE_WIDTH - 1}:0) | fields (bits) | does |",
        "| --- | --- | --- |",
    ]
    for op, layout in isa.LAYOUTS.items():
        fields = ", ".join(_field(name, field) for name, field in layout)
        lines.append(f"| `{op.value}` {op.name} | {fields} | {isa.DOES[op]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    run(markdown)
