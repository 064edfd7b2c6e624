"""Delay lines: the one helper every skew, de-skew and flag-alignment register chain uses."""

from amaranth import Signal, Value
from amaranth.hdl import ValueCastable

__all__ = ["delay"]


def delay(m, value, cycles, *, domain="sync", name=None):
    """Return ``value`` delayed by ``cycles`` registers of ``domain`` (``cycles = 0``: itself),
    with the same shape (a ``data`` or ``enum`` view stays one).

    The registers are plain ``m.d[domain]`` flip-flops, so an ``EnableInserter`` around the
    module that owns ``m`` stalls them with everything else.
    """
    if cycles < 0:
        raise ValueError(f"cycles must be 0 or more, not {cycles!r}")
    # Keep a layout or enum view a view, so ``delay(m, row, n)[lane]`` still means a lane.
    if not isinstance(value, ValueCastable):
        value = Value.cast(value)
    for n in range(cycles):
        reg = Signal.like(value, name=f"{name or 'dly'}_{n}", src_loc_at=1)
        m.d[domain] += reg.eq(value)
        value = reg
    return value
