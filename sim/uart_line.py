"""A UART line from the testbench side: send bytes on a pin and read them off one, 8N1, in
simulated time (``ctx.delay``), independent of the design's own UART.

The one place that knows the 8N1 bit order for the simulator: the UART tests and the
simulated board's transport (:mod:`sim.backends.amaranth_uart`) both use it.
"""

__all__ = ["FramingError", "line_bits", "line_send", "line_receive"]


class FramingError(ValueError):
    """A byte on the line had a stop bit of 0."""


def line_bits(byte, *, stop=1):
    """The ten bits of ``byte`` on the line: start (0), data LSB first, ``stop``."""
    return (0, *((byte >> n) & 1 for n in range(8)), stop)


async def line_send(ctx, pin, octets, bit_time, *, stop=1):
    """Drive ``octets`` onto ``pin``, ``bit_time`` seconds a bit, back to back; the line is
    left at ``stop`` (1: idle). ``stop=0`` sends bad stop bits (a framing error)."""
    for byte in bytes(octets):
        for bit in line_bits(byte, stop=stop):
            ctx.set(pin, bit)
            await ctx.delay(bit_time)


async def line_receive(ctx, pin, bit_time):
    """Wait for a start bit on ``pin`` and return the byte, sampling each bit in its middle.
    A low pulse gone by the middle of the start bit is a glitch and is skipped.

    Raises
    ------
    FramingError
        If the stop bit is 0.
    """
    while True:
        await ctx.negedge(pin)
        await ctx.delay(bit_time / 2)
        if not ctx.get(pin):
            break
    byte = 0
    for n in range(8):
        await ctx.delay(bit_time)
        byte |= ctx.get(pin) << n
    await ctx.delay(bit_time)
    if not ctx.get(pin):
        raise FramingError(f"byte {byte:#04x} with a stop bit of 0")
    return byte
