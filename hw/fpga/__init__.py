"""Real FPGAs: what a generated design costs on ECP5, iCE40 and Gowin parts.

:mod:`hw.fpga.ooc` (``python -m hw.fpga.ooc``) synthesises, places and routes a design out of
context with the open tools and writes a build report; :mod:`hw.fpga.devices` describes the
families and parts, :mod:`hw.fpga.harness` the three-pin wrapper for families without an
out-of-context mode, :mod:`hw.fpga.report` reads the tools' output.
"""
