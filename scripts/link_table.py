"""The README's host-link tables, written from :mod:`hw.fpga.protocol`.

    python -m scripts.link_table

prints the Markdown tables of every frame type (who sends it, its payload's fields with their
bit ranges, what it does) and every error code; the README carries exactly this text (a test
checks it).
"""

from hw.fpga import protocol

from .markdown import bit_range, run

__all__ = ["markdown"]


def _payload(payload):
    if isinstance(payload, str):
        return payload
    fields = ", ".join(f"`{name}` {bit_range(field)}" for name, field in payload
                       if name != "reserved")
    size = protocol.layout_bytes(payload)
    return f"{size} byte{'s' if size > 1 else ''}: {fields}"


def markdown():
    """The tables, as Markdown lines joined with newlines (no trailing newline)."""
    lines = ["| TYPE | from | payload (bits) | does |", "| --- | --- | --- | --- |"]
    for kind in protocol.FrameType:
        sender = "host" if kind in protocol.HOST_TYPES else "board"
        lines.append(f"| `{kind.value:#04x}` {kind.name} | {sender} | "
                     f"{_payload(protocol.PAYLOADS[kind])} | {protocol.DOES[kind]} |")
    lines += ["", "| ERROR `code` | dropped when |", "| --- | --- |"]
    for code in protocol.ErrorCode:
        lines.append(f"| `{code.value}` {code.name} | {protocol.ERROR_MEANS[code]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    run(markdown)
