"""Real FPGAs: the board-independent pieces a board build wraps.

:mod:`hw.fpga.uart` (8N1 receiver and transmitter), :mod:`hw.fpga.protocol` (the host link's
frames, defined once for the hardware and the host), :mod:`hw.fpga.crc` (its CRC,
byte-serial), :mod:`hw.fpga.frames` and :mod:`hw.fpga.bridge` (frames to and from the
engine's streams; the protocol is described there) and :mod:`hw.fpga.top` (the engine behind
a UART, with status LEDs).
"""
