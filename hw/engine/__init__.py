"""The MAC engine around the array: buffers, the units that move data, post-processing and the
controller that dispatches the instruction set (:mod:`hw.isa`) to them.

``memory`` (scratchpad, accumulator memory), ``loader``, ``feeder``, ``writeback``,
``reducer``, ``storer``, ``postproc``, ``controller``, and ``engine`` (the units joined, and
the AXI4-Stream top).
"""

from .engine import AxiEngine, Engine, status_layout

__all__ = ["Engine", "AxiEngine", "status_layout"]
