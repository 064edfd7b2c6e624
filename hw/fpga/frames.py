"""The two ends of the host link's framing (:mod:`hw.fpga.bridge` has the protocol): the
receiver that checks frames from the host, and the sender that frames replies and data-out
rows.

The links between them and the bridge's forwarder, named once:

* :data:`job_layout` — a checked CMD, DIN or RESET frame whose payload is in the buffer:
  its ``type`` and ``length``. The receiver holds the job's ``valid`` until the forwarder
  has finished with it, so ``job.valid`` is also "the buffer is in use".
* :data:`reply_layout` — a short reply to send: ``type`` (ACK, STATUS or ERROR) and one
  payload per variant (``ack``, ``error``; a STATUS reply's payload is read when it is sent).
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..config import check_config
from ..engine.links import address_shape
from ..engine.storer import dout_layout
from .crc import Crc16
from .protocol import (
    BYTE_WIDTH,
    COMMAND_BYTES,
    CRC_BYTES,
    HEADER_BYTES,
    HOST_TYPES,
    LENGTH_WIDTH,
    SYNC,
    ErrorCode,
    FrameType,
    ack_layout,
    check_max_payload,
    din_bytes,
    dout_reply_layout,
    error_reply_layout,
    header_layout,
    layout_bytes,
    status_layout,
)

__all__ = ["job_layout", "reply_layout", "FrameReceiver", "FrameSender", "check_timeout"]

#: A checked frame for the forwarder.
job_layout = data.StructLayout({"type": FrameType, "length": LENGTH_WIDTH})
#: A short reply for the sender.
reply_layout = data.StructLayout({
    "type": FrameType,
    "payload": data.UnionLayout({"ack": ack_layout, "error": error_reply_layout}),
})


def check_timeout(timeout):
    """Return ``timeout`` if it is a positive integer (cycles).

    Raises
    ------
    ValueError
        Naming the value and what is allowed.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout (cycles without a byte inside a frame) must be a positive "
                         f"integer, not {timeout!r}")
    return timeout


def _is(value, *types):
    result = Const(0)
    for t in types:
        result = result | (value == t.value)
    return result


class FrameReceiver(CheckedComponent):
    """Checks the frames arriving on the byte stream ``i`` and stores their payload.

    A frame whose header, length and CRC check becomes a job (STATUS_QUERY: a STATUS reply);
    any other is dropped with an ERROR reply, and the receiver hunts for the next SYNC byte
    (:mod:`hw.fpga.bridge` lists the errors). The payload of a CMD or DIN frame is written to
    the buffer as it arrives, but only while no job holds the buffer (else the frame ends as
    BUSY), and the forwarder reads it only once the job is issued, after the CRC: a frame
    that fails has no effect.

    Parameters
    ----------
    cfg : hw.config.Config
        Sets the data-in beat's size.
    max_payload : int
        The buffer's size in bytes: the longest payload taken.
    timeout : int
        Cycles without a byte inside a frame before it is dropped as TRUNCATED.

    Members
    -------
    i : ``In(stream.Signature(8))``
        Bytes from the host; always ready.
    write : ``In(memory.WritePort.Signature(addr_width=..., shape=8))``
        The payload buffer.
    job : ``Out(stream.Signature(job_layout))``
        Checked frames; ``valid`` is held until the forwarder is done with the payload.
    reply : ``Out(stream.Signature(reply_layout))``
        STATUS and ERROR replies. One is held; a reply issued while it still waits is
        dropped and pulses ``dropped``.
    dropped : ``Out(1)``

    Latency: a frame is checked, and its job or reply issued, the cycle its last CRC byte
    arrives. Throughput: a byte a cycle.

    Raises
    ------
    TypeError, ValueError
        For a bad ``cfg``, ``max_payload`` or ``timeout``.
    """

    @staticmethod
    def check(cfg, max_payload, timeout):
        check_config(cfg)
        check_max_payload(cfg, max_payload)
        check_timeout(timeout)

    def __init__(self, cfg, *, max_payload, timeout):
        self._cfg = cfg
        self._max_payload = max_payload
        self._timeout = timeout
        super().__init__({
            "i": In(stream.Signature(BYTE_WIDTH)),
            "write": In(memory.WritePort.Signature(
                addr_width=address_shape(max_payload).width, shape=BYTE_WIDTH)),
            "job": Out(stream.Signature(job_layout)),
            "reply": Out(stream.Signature(reply_layout)),
            "dropped": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        byte = self.i.payload
        take = Signal()
        m.d.comb += [self.i.ready.eq(1), take.eq(self.i.valid)]

        ftype = Signal(header_layout["type"].width)   # as received: may be no FrameType
        length = Signal(LENGTH_WIDTH)
        count = Signal(LENGTH_WIDTH)                  # payload bytes so far
        unit = Signal(range(max(COMMAND_BYTES, din_bytes(self._cfg))))  # bytes into an item
        crc_lo = Signal(BYTE_WIDTH)
        store = Signal()                              # the buffer was free at the header
        timer = Signal(range(self._timeout + 1))
        has_payload = _is(ftype, FrameType.CMD, FrameType.DIN)
        unit_size = Mux(ftype == FrameType.CMD.value, COMMAND_BYTES, din_bytes(self._cfg))

        with m.If(self.job.ready):
            m.d.sync += self.job.valid.eq(0)
        with m.If(self.reply.ready):
            m.d.sync += self.reply.valid.eq(0)

        def reply(kind, code=None, about=ftype):
            """Issue a reply of ``kind`` (an ERROR with ``code`` about a frame of TYPE
            ``about``), unless one still waits."""
            with m.If(self.reply.valid & ~self.reply.ready):
                m.d.comb += self.dropped.eq(1)
            with m.Else():
                p = self.reply.payload
                m.d.sync += [self.reply.valid.eq(1), p.type.eq(kind)]
                if code is not None:
                    m.d.sync += [p.payload.error.code.eq(code), p.payload.error.type.eq(about)]

        def time_out():
            """Drop a frame cut short: no byte for ``timeout`` cycles since the last."""
            with m.If(~take & (timer == self._timeout)):
                reply(FrameType.ERROR, ErrorCode.TRUNCATED)
                m.next = "HUNT"

        m.d.comb += [
            self.write.addr.eq(count),
            self.write.data.eq(byte),
            crc.i.payload.eq(byte),
        ]
        with m.FSM() as fsm:
            with m.State("HUNT"):
                with m.If(take & (byte == SYNC)):
                    m.d.sync += ftype.eq(0)
                    m.next = "TYPE"
            with m.State("TYPE"):
                m.d.comb += [crc.i.valid.eq(take), crc.clear.eq(1)]
                with m.If(take):
                    m.d.sync += ftype.eq(byte)
                    with m.If(_is(byte, *HOST_TYPES)):
                        m.next = "LENGTH_LO"
                    with m.Else():
                        reply(FrameType.ERROR, ErrorCode.UNKNOWN_TYPE, about=byte)
                        m.next = "HUNT"
                time_out()
            with m.State("LENGTH_LO"):
                m.d.comb += crc.i.valid.eq(take)
                with m.If(take):
                    m.d.sync += length[:BYTE_WIDTH].eq(byte)
                    m.next = "LENGTH_HI"
                time_out()
            with m.State("LENGTH_HI"):
                m.d.comb += crc.i.valid.eq(take)
                stated = Cat(length[:BYTE_WIDTH], byte)
                bad = Mux(has_payload, (stated == 0) | (stated > self._max_payload),
                          stated != 0)
                with m.If(take):
                    m.d.sync += [length.eq(stated), count.eq(0), unit.eq(0),
                                 store.eq(~self.job.valid)]
                    with m.If(bad):
                        reply(FrameType.ERROR, ErrorCode.BAD_LENGTH)
                        m.next = "HUNT"
                    with m.Elif(stated == 0):
                        m.next = "CRC_LO"
                    with m.Else():
                        m.next = "PAYLOAD"
                time_out()
            with m.State("PAYLOAD"):
                m.d.comb += [crc.i.valid.eq(take), self.write.en.eq(take & store)]
                with m.If(take):
                    m.d.sync += [count.eq(count + 1),
                                 unit.eq(Mux(unit == unit_size - 1, 0, unit + 1))]
                    with m.If(count + 1 == length):
                        m.next = "CRC_LO"
                time_out()
            with m.State("CRC_LO"):
                with m.If(take):
                    m.d.sync += crc_lo.eq(byte)
                    m.next = "CRC_HI"
                time_out()
            with m.State("CRC_HI"):
                with m.If(take):
                    with m.If(Cat(crc_lo, byte) != crc.crc):
                        reply(FrameType.ERROR, ErrorCode.BAD_CRC)
                    with m.Elif(has_payload & (unit != 0)):
                        reply(FrameType.ERROR, ErrorCode.BAD_LENGTH)
                    with m.Elif(ftype == FrameType.STATUS_QUERY.value):
                        reply(FrameType.STATUS)
                    with m.Elif(~store):
                        reply(FrameType.ERROR, ErrorCode.BUSY)
                    with m.Else():
                        m.d.sync += [self.job.valid.eq(1), self.job.payload.type.eq(ftype),
                                     self.job.payload.length.eq(length)]
                    m.next = "HUNT"
                time_out()

        with m.If(fsm.ongoing("HUNT") | take):
            m.d.sync += timer.eq(0)
        with m.Elif(timer != self._timeout):
            m.d.sync += timer.eq(timer + 1)
        return m


class FrameSender(CheckedComponent):
    """Frames the replies and the engine's data-out rows into bytes for the host.

    When idle it takes, in this order of priority, a reply from ``reply`` (STATUS or ERROR),
    an ACK from ``ack``, or a row from ``dout``, and sends it as one frame: SYNC, TYPE,
    LENGTH, the payload (a STATUS reply's is ``status`` as it is that cycle, and
    ``status_read`` pulses so the link's flags can restart), CRC.

    Parameters
    ----------
    cfg : hw.config.Config
        Sets the data-out row's size.

    Members
    -------
    reply, ack : ``In(stream.Signature(reply_layout))``
    dout : ``In(stream.Signature(dout_layout(cfg)))``
        The engine's data-out rows.
    status : ``In(status_layout)``
    status_read : ``Out(1)``
    o : ``Out(stream.Signature(8))``
        Bytes to the host.

    Latency: a frame's first byte is offered the cycle after its source is taken.
    Throughput: a byte a cycle, and one idle cycle between frames.

    Raises
    ------
    TypeError
        If ``cfg`` is not a :class:`~hw.config.Config`.
    """

    @staticmethod
    def check(cfg):
        check_config(cfg)

    def __init__(self, cfg):
        self._cfg = cfg
        super().__init__({
            "reply": In(stream.Signature(reply_layout)),
            "ack": In(stream.Signature(reply_layout)),
            "dout": In(stream.Signature(dout_layout(self._cfg))),
            "status": In(status_layout),
            "status_read": Out(1),
            "o": Out(stream.Signature(BYTE_WIDTH)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.crc = crc = Crc16()
        dout_reply = dout_reply_layout(cfg)
        body_width = max(dout_reply.size, status_layout.size, reply_layout["payload"].width)
        frame = Signal(HEADER_BYTES * BYTE_WIDTH + body_width)  # shifts out from bit 0
        length = Signal(LENGTH_WIDTH)
        pos = Signal(LENGTH_WIDTH + 1)                          # bytes of the frame sent
        crc_at = HEADER_BYTES + length                          # the first CRC byte
        header = Signal(header_layout)
        row = Signal(dout_reply)
        m.d.comb += [
            row.as_value().eq(0),
            row.last.eq(self.dout.payload.last),
            row.data.eq(self.dout.payload.data),
        ]

        def start(kind, body, size):
            m.d.comb += [header.sync.eq(SYNC), header.type.eq(kind), header.length.eq(size),
                         crc.clear.eq(1)]
            m.d.sync += [frame.eq(Cat(header, body)), length.eq(size), pos.eq(0)]
            m.next = "SEND"

        with m.FSM():
            with m.State("IDLE"):
                short = {FrameType.ACK: layout_bytes(ack_layout),
                         FrameType.ERROR: layout_bytes(error_reply_layout)}
                with m.If(self.reply.valid):
                    m.d.comb += self.reply.ready.eq(1)
                    kind = self.reply.payload.type
                    with m.If(kind == FrameType.STATUS):
                        m.d.comb += self.status_read.eq(1)
                        start(kind, self.status, layout_bytes(status_layout))
                    with m.Else():
                        start(kind, self.reply.payload.payload, short[FrameType.ERROR])
                with m.Elif(self.ack.valid):
                    m.d.comb += self.ack.ready.eq(1)
                    start(FrameType.ACK, self.ack.payload.payload, short[FrameType.ACK])
                with m.Elif(self.dout.valid):
                    m.d.comb += self.dout.ready.eq(1)
                    start(FrameType.DOUT, row, layout_bytes(dout_reply))
            with m.State("SEND"):
                in_body = pos < crc_at
                m.d.comb += [
                    self.o.valid.eq(1),
                    self.o.payload.eq(Mux(in_body, frame[:BYTE_WIDTH],
                                          Mux(pos == crc_at, crc.crc[:BYTE_WIDTH],
                                              crc.crc[BYTE_WIDTH:]))),
                    crc.i.payload.eq(frame[:BYTE_WIDTH]),
                ]
                with m.If(self.o.ready):
                    m.d.comb += crc.i.valid.eq(in_body & (pos != 0))
                    m.d.sync += [pos.eq(pos + 1), frame.eq(frame >> BYTE_WIDTH)]
                    with m.If(pos == crc_at + CRC_BYTES - 1):
                        m.next = "IDLE"
        return m
