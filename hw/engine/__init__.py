"""The MAC engine around the array: buffers, the units that move data, post-processing and the
controller that dispatches the instruction set (:mod:`hw.isa`) to them.

``memory`` (scratchpad, accumulator memory), ``loader``, ``feeder``, ``writeback``,
``reducer``, ``storer``, ``postproc``, ``controller``; ``links`` (the signatures that join
them), ``engine`` (the units joined) and ``top`` (the AXI4-Stream top level).
"""

from .engine import Engine, engine_signature
from .top import AxiEngine

__all__ = ["Engine", "AxiEngine", "engine_signature"]
