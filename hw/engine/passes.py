"""A row through fewer units than it has columns: ``passes`` parts of ``lanes`` columns each.

The storer's post-processing lanes (``Config.post_lanes``) and the accumulator memory's
accumulate-on-write adders (``Config.acc_lanes``) both take a row this way: a counter of its
parts, the part's columns selected into registers (so the selection is not in the units'
first stage), and the units' outputs of every part but the last held until the last comes.
"""

from amaranth import Module, Mux, Signal

__all__ = ["part_counter", "select_part", "gather_parts"]


def part_counter(m: Module, passes, advance, *, name="part"):
    """A row's part, 0 to ``passes - 1``, stepping on ``advance`` and back to 0 after the
    last: ``(part, last)``, ``last`` high in the last part."""
    part = Signal(range(passes), name=name)
    last = part == passes - 1
    with m.If(advance):
        m.d.sync += part.eq(Mux(last, 0, part + 1))
    return part, last


def select_part(m: Module, row, part, passes, lanes, *, name):
    """Columns ``part·lanes`` to ``(part+1)·lanes - 1`` of ``row`` (anything indexed by
    column), in reset-less registers (data) a cycle later: a list of ``lanes`` signals."""
    picked = [Signal.like(row[n], name=f"{name}{n}", reset_less=True) for n in range(lanes)]
    with m.Switch(part):
        for p in range(passes):
            with m.Case(p):
                m.d.sync += [reg.eq(row[p * lanes + n]) for n, reg in enumerate(picked)]
    return picked


def gather_parts(m: Module, value, part, passes, *, valid=None, name="waiting"):
    """``value`` in each part but the last, held in a register (written where ``valid``,
    or whenever ``part`` names it when ``None``: a row's parts come on consecutive cycles),
    and the last part's as it is: the ``passes`` parts' values, in order."""
    width = len(value)
    waiting = Signal((passes - 1) * width, name=name)
    kept = [waiting[p * width:(p + 1) * width] for p in range(passes - 1)]
    with m.If(1 if valid is None else valid):
        with m.Switch(part):
            for p, reg in enumerate(kept):
                with m.Case(p):
                    m.d.sync += reg.eq(value)
    return [*kept, value]
