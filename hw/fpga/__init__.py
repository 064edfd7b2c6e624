"""Real FPGAs: what a generated design costs on ECP5, iCE40 and Gowin parts, and the
board-independent pieces a board build wraps.

Measuring: :mod:`hw.fpga.ooc` (``python -m hw.fpga.ooc``) synthesises, places and routes a
design out of context with the open tools and writes a build report; :mod:`hw.fpga.devices`
describes the families and parts, :mod:`hw.fpga.harness` the three-pin wrapper for families
without an out-of-context mode, :mod:`hw.fpga.report` reads the tools' output.

The host link: :mod:`hw.fpga.uart` (8N1 receiver and transmitter), :mod:`hw.fpga.protocol`
(the host link's frames, defined once for the hardware and the host), :mod:`hw.fpga.crc` (its
CRC, byte-serial), :mod:`hw.fpga.frames` and :mod:`hw.fpga.bridge` (frames to and from the
engine's streams; the protocol is described there) and :mod:`hw.fpga.top` (the engine behind
a UART, with status LEDs).

Boards: :mod:`hw.build` (``python -m hw.build``) builds a bitstream for a dev board from
:mod:`hw.fpga.board` (the board top: clock through the PLL, reset until lock, UART pins,
LEDs), :mod:`hw.fpga.boards` (the boards and their platforms), :mod:`hw.fpga.pll` (the PLL
divider solvers) and :mod:`hw.fpga.dfu` (the DFU file suffix); :mod:`hw.fpga.flow` runs the
tools for both flows.
"""
