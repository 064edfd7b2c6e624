"""What the README-table printers share: bit ranges as the tables write them, and the
command-line entry that prints a table."""

import sys

__all__ = ["bit_range", "run"]


def bit_range(field):
    """A ``data.Field``'s bits, ``top:offset`` (or the one bit's index)."""
    top = field.offset + field.width - 1
    return f"{top}:{field.offset}" if field.width > 1 else f"{field.offset}"


def run(markdown):
    """The scripts' ``python -m`` entry: print ``markdown()`` and exit with status 0."""
    print(markdown())
    sys.exit(0)
