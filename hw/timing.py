"""Cycle facts of a configuration's array, computed from the configuration alone.

The hardware (:class:`~hw.array.SystolicArray` exposes these as properties), the golden
schedule (:func:`sim.array_program.due_cycles`), the manifest and the cycle model all read this
one description, so none of them re-derives a latency. It builds no hardware: every unit's
depth is the configuration's (:class:`hw.config.Pipeline`).
"""

__all__ = ["ArrayTiming", "RESULT_FIFO_LATENCY"]

#: Cycles the array's result FIFO adds between the grid and ``o.valid``.
RESULT_FIFO_LATENCY = 2


class ArrayTiming:
    """Timing of a ``cfg`` array, in enabled cycles, with its output stream always ready.

    Parameters
    ----------
    cfg : hw.config.Config
    """

    #: The facts, by property name.
    FACTS = ("mul_latency", "add_latency", "pe_latency", "enable_delay", "contexts", "latency",
             "row_interval", "tile_spacing", "load_holdoff")

    def __init__(self, cfg):
        self._cfg = cfg

    @property
    def mul_latency(self):
        """Multiplier pipeline depth (``cfg.pipeline.mul``)."""
        return self._cfg.pipeline.mul

    @property
    def add_latency(self):
        """Accumulator adder pipeline depth (``cfg.pipeline.add``)."""
        return self._cfg.pipeline.add

    @property
    def pe_latency(self):
        """Cycles from a PE's operands to their multiply-add result."""
        return self.mul_latency + self.add_latency

    @property
    def enable_delay(self):
        """Register stages between the array's stall decision (and the beat it accepts) and
        the grid (``cfg.pipeline.enable``): the register tree that carries the enable to every
        register of the grid."""
        return self._cfg.pipeline.enable

    @property
    def contexts(self):
        """Output-stationary: interleaved accumulator contexts per PE (the adder's depth), so an
        OS tile is ``contexts × rows`` rows of C tall. Weight-stationary: 1."""
        return self.add_latency if self._cfg.dataflow == "os" else 1

    @property
    def ws_result_delay(self):
        """Weight-stationary: cycles from the grid's input register to a de-skewed result row
        (``rows`` adder hops down a column, the multiplier, and the column de-skew)."""
        cfg = self._cfg
        return cfg.rows * self.add_latency + self.mul_latency + cfg.cols - 1

    @property
    def latency(self):
        """OS: cycles from accepting a tile's final beat to its first result row on ``o``.
        WS: cycles from accepting a ``compute`` beat to its result row on ``o``."""
        if self._cfg.dataflow == "os":
            return self.pe_latency + self._cfg.cols + 1 + self.enable_delay + RESULT_FIFO_LATENCY
        return self.ws_result_delay + 1 + self.enable_delay + RESULT_FIFO_LATENCY

    @property
    def row_interval(self):
        """OS: cycles between drained row ``i`` and row ``i+1`` of a tile: through the drain
        chains, ``contexts`` rows back to back, then one idle cycle; on a drain bus
        (``cfg.drain``), 1. WS: 1."""
        if self._cfg.dataflow != "os" or self._cfg.drain == "bus":
            return 1
        return self.contexts + 1

    @property
    def tile_spacing(self):
        """OS: least cycles between the first beats of two tiles, so their drained rows never
        collide; a tile of ``K`` steps takes ``K·contexts`` cycles, so only tiles with
        ``K·contexts`` under this wait for it: ``rows·(contexts+1) - 1`` through the drain
        chains, ``rows`` on a drain bus (a column's PEs finish one a cycle, and the next
        tile's first must come after the last). WS: 1."""
        if self._cfg.dataflow != "os":
            return 1
        if self._cfg.drain == "bus":
            return self._cfg.rows
        return self._cfg.rows * (self.contexts + 1) - 1

    @property
    def load_holdoff(self):
        """WS: cycles after a ``compute`` beat before a weight load may overwrite the bank it
        used (the activation's wave must have passed every PE). OS: 0."""
        if self._cfg.dataflow != "ws":
            return 0
        return (self._cfg.rows - 1) * self.add_latency + self._cfg.cols

    def as_dict(self):
        """Every fact by name (the manifest's ``timing``)."""
        return {name: getattr(self, name) for name in self.FACTS}
