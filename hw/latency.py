"""Pipeline depth as a parameter: the least each arithmetic unit needs, and the mixin that
gives every unit a ``latency`` of its own.

Each unit takes its depth as the constructor argument ``latency`` (its least by default) and
exposes it as :attr:`Pipelined.latency`; the configuration (:class:`hw.config.Pipeline`)
says which depth each unit of a design gets, and the timing model, the post-processing
latency and the manifest read it from there. So giving one unit a deeper pipeline (the
post-processing multiplier, say) changes that unit's latency alone, never another unit that
happens to be of the same class.

A unit's own registers (its least latency) sit where its stages divide; registers beyond
those go where the unit's docstring says: between its longest combinational steps where it
has a place for them, otherwise at its output, where a retiming synthesis flow can move them
into the logic.
"""

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
    inputs at cycle ``t``. Subclasses set ``LEAST_LATENCY`` and store the constructor's
    ``latency`` (checked with :func:`check_latency`) as ``self._latency``."""

    LEAST_LATENCY = None

    @property
    def latency(self):
        """Register stages from the inputs to the output."""
        return self._latency

    @property
    def extra_latency(self):
        """Registers beyond the unit's own (``latency - LEAST_LATENCY``)."""
        return self._latency - self.LEAST_LATENCY
