"""Fixed-latency units: the latency is a class fact, readable without building the unit."""

__all__ = ["FixedLatency"]


class FixedLatency:
    """Mixin for a plain pipeline whose output at cycle ``t + LATENCY`` depends only on its
    inputs at cycle ``t``. Subclasses set ``LATENCY``; timing models read the class attribute
    (no hardware is built), designs read :attr:`latency`."""

    LATENCY = None

    @property
    def latency(self):
        """Register stages from the inputs to the output."""
        return self.LATENCY
