"""Pipeline depth as a parameter: the least each arithmetic unit needs, and the mixin that
gives every unit a ``latency`` of its own.

Each unit takes its depth as the constructor argument ``latency`` (its least by default) and
exposes it as :attr:`Pipelined.latency`; the configuration (:class:`hw.config.Pipeline`)
says which depth each unit of a design gets, and the timing model, the post-processing
latency and the manifest read it from there. So giving one unit a deeper pipeline (the
post-processing multiplier, say) changes that unit's latency alone, never another unit that
happens to be of the same class.

A unit's own registers (its least latency) sit where its stages divide; registers beyond
those go to the unit's :attr:`Pipelined.CUTS`, the places between its combinational steps
where a register shortens its longest path, most useful first, so each depth from the least
up to ``LEAST_LATENCY + len(CUTS)`` cuts the logic once more. Only registers beyond that go
at the output, where they help a retiming synthesis flow alone (Yosys's ECP5 and iCE40 flows
do not retime).

Every register of a pipelined unit is data (its value is read only when the valid flag that
travels beside the unit says so), so none takes the synchronous reset: :meth:`Pipelined.cut`,
:meth:`Pipelined.retime` and :meth:`Pipelined.output` make them ``reset_less`` (the rule is in
:mod:`hw.delay`), and a unit's own stage registers are declared ``reset_less``.
"""

from amaranth import Mux, Signal

from .delay import delay, drive_registered

__all__ = ["MAX_LATENCY", "INT_MUL", "INT_ADD", "INT_TO_FLOAT", "FLOAT_TO_INT", "FLOAT_NARROW",
           "FP_MUL", "FP_ADD", "check_latency", "Pipelined"]

#: The deepest pipeline any unit takes.
MAX_LATENCY = 16

# The least latency of each unit: its own register stages.
#: :class:`hw.intarith.IntMul`: the registered product.
INT_MUL = 1
#: :class:`hw.intarith.IntAdd`: the registered sum.
INT_ADD = 1
#: :class:`hw.fp.int2float.IntToFloat`: the registered conversion.
INT_TO_FLOAT = 1
#: :class:`hw.fp.float2int.FloatToInt`: the registered conversion.
FLOAT_TO_INT = 1
#: :class:`hw.fp.narrow.FloatNarrow`: the registered rounding.
FLOAT_NARROW = 1
#: :class:`hw.fp.mul.FPMul`: the significand product, then the rounded result.
FP_MUL = 2
#: :class:`hw.fp.add.FPAdd`: alignment, addition, rounding.
FP_ADD = 3


def check_latency(latency, least, name="latency"):
    """Raise ``ValueError`` unless ``latency`` is an integer from ``least`` to
    :data:`MAX_LATENCY`."""
    if isinstance(latency, bool) or not isinstance(latency, int) or \
            not least <= latency <= MAX_LATENCY:
        raise ValueError(f"{name} must be an integer from {least} to {MAX_LATENCY}, "
                         f"not {latency!r}")


class Pipelined:
    """Mixin for a plain pipeline whose output at cycle ``t + latency`` depends only on its
    inputs at cycle ``t``. Subclasses set ``LEAST_LATENCY`` and ``CUTS`` and store the
    constructor's ``latency`` (checked with :func:`check_latency`) as ``self._latency``; their
    ``elaborate`` passes the value at each cut through :meth:`cut` and the result through
    :meth:`retime` and :meth:`output` (its output register). Every one of
    these registers is reset-less (data, see :mod:`hw.delay`)."""

    LEAST_LATENCY = None
    #: Names of the places a register beyond the unit's own may go, most useful first.
    CUTS = ()

    @property
    def latency(self):
        """Register stages from the inputs to the output."""
        return self._latency

    @property
    def extra_latency(self):
        """Registers beyond the unit's own (``latency - LEAST_LATENCY``)."""
        return self._latency - self.LEAST_LATENCY

    @property
    def cuts(self):
        """The :attr:`CUTS` this unit's depth gives a register (the first ``extra_latency``)."""
        return self.CUTS[:self.extra_latency]

    def cut(self, m, value, name):
        """``value`` through one register if the cut ``name`` (one of :attr:`CUTS`) has one at
        this depth, otherwise ``value`` itself."""
        if name not in self.CUTS:
            raise ValueError(f"name must be one of {self.CUTS!r}, not {name!r}")
        return delay(m, value, 1 if name in self.cuts else 0, name=name, reset_less=True)

    def retime(self, m, value):
        """``value`` through the registers beyond the unit's own and its cuts' (at the output,
        for a retiming flow; none below ``LEAST_LATENCY + len(CUTS)``)."""
        return delay(m, value, self.extra_latency - len(self.cuts), name="retime",
                     reset_less=True)

    def output(self, m, port, value):
        """Drive the output ``port`` with ``value`` one register later: the unit's output
        register, a reset-less one driving ``port`` combinationally (a component's ports
        cannot be reset-less themselves)."""
        drive_registered(m, port, value, name="o_reg")

    def feedback(self, m, port, value, restart):
        """Drive ``port`` like :meth:`output` drives the output, from a second register that
        reads +0 (every bit clear) in each cycle after one where ``restart`` was high: an
        output-stationary PE's accumulator feedback, its restart a synchronous reset of this
        register (the flip-flops' own reset input on an FPGA) instead of a multiplexer on the
        loop between the output register and the unit's first stage."""
        reg = Signal.like(value, name="fb_reg", reset_less=True)
        m.d.sync += reg.eq(Mux(restart, 0, value))
        m.d.comb += port.eq(reg)
