"""The systolic array: processing elements, the grid with its edge skew and de-skew, and the
black-box export that writes the PE once.

``pe`` (one multiply-accumulate cell per dataflow), ``systolic`` (the array with stream
ports), ``blackbox`` (one Verilog module for many identical instances), ``tile`` (tiles of PEs,
each kind written once), ``delayline`` (the edges' long delays from shared delay lines).
"""

from .systolic import (
    RESULT_FIFO_DEPTH,
    SystolicArray,
    array_signature,
    operand_layout,
    result_layout,
)

__all__ = ["SystolicArray", "array_signature", "operand_layout", "result_layout",
           "RESULT_FIFO_DEPTH"]
