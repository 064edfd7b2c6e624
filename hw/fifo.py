"""A synchronous FIFO whose ports are typed streams: the one place where a FIFO meets a stream.

``amaranth.lib.fifo``'s FIFOs carry plain ``width``-bit words (their ``w_stream`` and
``r_stream`` too), while the engine's streams carry ``data`` layouts; :class:`StreamFIFO`
views the words as the layout, so a unit joins its output stream to the FIFO with one
``wiring.connect``.
"""

from amaranth import Module, Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """``amaranth.lib.fifo.SyncFIFOBuffered`` with stream ports of payload ``shape``.

    Parameters
    ----------
    shape : shape-castable
        The payload (a ``data`` layout, an enum, or a plain shape).
    depth : int
        Entries.

    Members
    -------
    w : ``In(stream.Signature(shape))``
        Writes; ``w.ready`` is high while there is room.
    r : ``Out(stream.Signature(shape))``
        Reads, in order.
    level : ``Out(range(depth + 1))``
        Words held.

    Latency: a word written at cycle ``t`` is on ``r`` from cycle ``t + 2`` (the buffered
    FIFO's output register); throughput one word per cycle.
    """

    def __init__(self, shape, depth):
        self._shape = shape
        self._fifo = fifo.SyncFIFOBuffered(width=Shape.cast(shape).width, depth=depth)
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    @property
    def depth(self):
        return self._fifo.depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = inner = self._fifo
        m.d.comb += self.level.eq(inner.level)
        # The FIFO's words are the payload's bits: only the view differs.
        for source, sink in ((self.w, inner.w_stream), (inner.r_stream, self.r)):
            m.d.comb += [
                sink.payload.eq(source.payload),
                sink.valid.eq(source.valid),
                source.ready.eq(sink.ready),
            ]
        return m
