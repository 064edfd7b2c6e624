"""The ASIC flow (``python -m hw.asic``): a generated design synthesised to a standard-cell
library, its memories as SRAM macros or flip-flops, timed with OpenSTA, reported as area,
Fmax and GOP/s.

Modules: :mod:`~hw.asic.liberty` (the library), :mod:`~hw.asic.macros` (memories),
:mod:`~hw.asic.synth` (Yosys and ABC scripts), :mod:`~hw.asic.fanout` (buffer trees),
:mod:`~hw.asic.sta` (OpenSTA), :mod:`~hw.asic.report` (area breakdown, PE, table),
:mod:`~hw.asic.flow` (:func:`run`).
"""

from .flow import run

__all__ = ["run"]
