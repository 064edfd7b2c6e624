"""Real FPGAs: the board-independent pieces a board build wraps.

:mod:`hw.fpga.uart` (8N1 receiver and transmitter), :mod:`hw.fpga.protocol` (the host link's
frames, defined once for the hardware and the host) and :mod:`hw.fpga.crc` (its CRC,
byte-serial).
"""
