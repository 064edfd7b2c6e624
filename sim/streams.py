"""Stream helpers for Amaranth-simulator test benches: put and get with random stalls.

The one place that knows the ``amaranth.lib.stream`` handshake from the testbench side. Stall
patterns are drawn from a seeded ``random.Random`` so every failure reproduces.
"""

from amaranth import Value

__all__ = ["stream_put", "stream_get"]


def _bits(payload):
    """The payload as a plain value, so integers go in and come out whatever its layout."""
    return Value.cast(payload)


async def stream_put(ctx, port, payloads, *, rng=None, p_valid=1.0):
    """Send each of ``payloads`` (integers) on stream ``port``; before each beat, idle while a
    draw from ``rng`` exceeds ``p_valid``. Returns when the last beat has been accepted."""
    for payload in payloads:
        while rng is not None and rng.random() >= p_valid:
            ctx.set(port.valid, 0)
            await ctx.tick()
        ctx.set(_bits(port.payload), payload)
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def stream_get(ctx, port, count, *, rng=None, p_ready=1.0, limit=None):
    """Receive ``count`` payloads (as integers) from stream ``port``, dropping ``ready`` on
    cycles where a draw from ``rng`` exceeds ``p_ready``. Returns the list and the number of
    cycles it took. Fails after ``limit`` cycles, if given, rather than wait forever."""
    got = []
    cycles = 0
    while len(got) < count:
        if limit is not None and cycles >= limit:
            raise TimeoutError(f"stream_get: {len(got)} of {count} beats after {cycles} cycles")
        ready = rng is None or rng.random() < p_ready
        ctx.set(port.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(port.valid, _bits(port.payload))
        cycles += 1
        if ready and valid:
            got.append(payload)
    ctx.set(port.ready, 0)
    return got, cycles
