"""Delay lines: the one helper every skew, de-skew, pipeline and flag-alignment register chain
uses, and the rule for which of those registers take the synchronous reset.

**Which registers need a reset.** A register needs the ``sync`` domain's reset when its value
after a reset can change what the design does or outputs: FSM states, counters, valid, ready
and busy flags, the flags that travel with data and decide what is written (a PE's
``first``/``last``/``done``, a beat's ``tlast``), error bits. A register whose value is only
read when such a reset-driven flag says it is valid (an operand, a product, a partial sum, an
accumulator slot, a memory's read data, a data-out word) needs none: after a reset it holds
whatever it held, the flag that qualifies it is clear, and it is written before it is read
again. Those are ``reset_less`` (``delay(..., reset_less=True)``, every register of a
:class:`hw.latency.Pipelined` unit, the datapath registers of the PE and the engine), which
in silicon saves the reset gate in front of each of their flip-flops. ``hw.gen --asic``
writes the Verilog without initial values, so a simulator that shows X (Icarus) proves the
split: a datapath register that needed its reset would turn results into X
(``tests/test_cocotb_engine.py``'s ``--asic`` reset case).
"""

from amaranth import Signal, Value
from amaranth.hdl import ValueCastable

__all__ = ["delay", "drive_registered"]


def delay(m, value, cycles, *, domain="sync", name=None, reset_less=False):
    """Return ``value`` delayed by ``cycles`` registers of ``domain`` (``cycles = 0``: itself),
    with the same shape (a ``data`` or ``enum`` view stays one).

    The registers are plain ``m.d[domain]`` flip-flops, so an ``EnableInserter`` around the
    module that owns ``m`` stalls them with everything else. ``reset_less``: the registers
    ignore the domain's reset (data only read under a reset flag, see the module's
    docstring); otherwise they reset to ``value``'s ``init`` (a signal's, else 0).
    """
    if cycles < 0:
        raise ValueError(f"cycles must be 0 or more, not {cycles!r}")
    # Keep a layout or enum view a view, so ``delay(m, row, n)[lane]`` still means a lane.
    if not isinstance(value, ValueCastable):
        value = Value.cast(value)
    for n in range(cycles):
        reg = Signal.like(value, name=f"{name or 'dly'}_{n}", reset_less=reset_less,
                          src_loc_at=1)
        m.d[domain] += reg.eq(value)
        value = reg
    return value


def drive_registered(m, port, value, *, name=None):
    """Drive the output ``port`` with ``value`` one reset-less ``sync`` register later (data,
    see the module's docstring): a component's ports cannot be reset-less themselves, so the
    register is an internal signal (``name``, default ``<port>_reg``) driving ``port``."""
    m.d.comb += port.eq(delay(m, value, 1, name=name or f"{port.name}_reg", reset_less=True))
