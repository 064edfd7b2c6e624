"""Real FPGAs: the board-independent pieces a board build wraps.

:mod:`hw.fpga.uart` (8N1 receiver and transmitter).
"""
