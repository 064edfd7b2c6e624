"""The host link: a bridge between a byte stream pair (a UART's) and the engine's streams.

The protocol
------------

Every frame, in either direction::

    SYNC (0xA5) | TYPE | LENGTH (2 bytes) | payload (LENGTH bytes) | CRC (2 bytes)

Every multi-byte field is little-endian. ``CRC`` is CRC-16/CCITT-FALSE (polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR; check value 0x29B1 for ``b"123456789"``)
over ``TYPE``, ``LENGTH`` and the payload. A SYNC byte inside a frame means nothing: frames
are delimited by ``LENGTH``; SYNC only marks where to look after an error. Types, layouts
and constants are in :mod:`hw.fpga.protocol`, which the host (:mod:`sim.link`) uses too.

Frames from the host (a command word is 16 bytes, a data-in beat
:func:`~hw.fpga.protocol.din_bytes` bytes, each little-endian as :mod:`hw.isa` and
:func:`hw.engine.loader.din_width` lay it out):

==================  ============================  ==========================================
TYPE                payload                       effect; reply
==================  ============================  ==========================================
``CMD`` 0x01        one or more command words     to the engine's ``cmd`` stream, in order;
                                                  ``ACK``
``DIN`` 0x02        one or more data-in beats     to the engine's ``din`` stream, ``last`` on
                                                  the frame's final beat; ``ACK``
``STATUS_QUERY``    none                          ``STATUS``
0x03
``RESET`` 0x04      none                          resets the engine (its state, its error
                                                  bits) and the cycle counter; ``ACK``
==================  ============================  ==========================================

Frames from the board, one payload layout each:

=============  ==========================  =================================================
TYPE           payload layout              meaning
=============  ==========================  =================================================
``ACK`` 0x81   ``ack_layout``: ``type``    the frame of ``type`` has been forwarded to the
                                           engine in full (the buffer is free again)
``DOUT`` 0x82  ``dout_reply_layout(cfg)``  one data-out row: a byte of flags (bit 0
                                           ``last``, on each STORE's final row), the row
``STATUS``     ``status_layout``           a byte: the engine's ``idle`` and ``error``
0x83                                       bits, the link's ``framing``, ``overrun`` and
                                           ``dropped`` flags (each: it happened since the
                                           previous STATUS); then ``cycles`` (6 bytes): the
                                           cycles the engine was not idle since the last
                                           reset. Read when the frame starts.
``ERROR``      ``error_reply_layout``:     a frame was dropped, why (``ErrorCode``), and the
0x84           ``code``, ``type``          ``TYPE`` byte it had
=============  ==========================  =================================================

**Malformed frames never reach the engine.** A CMD or DIN payload is buffered whole (up to
``max_payload`` bytes, :data:`~hw.fpga.protocol.DEFAULT_MAX_PAYLOAD`) and forwarded only
after its CRC checks, so the engine never sees a partial command or beat, and a frame that
fails has no effect on it at all. The bridge drops a bad frame, replies ``ERROR``, and hunts
for the next SYNC byte (other bytes are skipped without a reply):

* ``UNKNOWN_TYPE`` as soon as ``TYPE`` is not one of the host's;
* ``BAD_LENGTH`` as soon as ``LENGTH`` is zero for CMD or DIN, not zero for STATUS_QUERY or
  RESET, or above ``max_payload``; or, after a good CRC, when a CMD or DIN payload is not a
  whole number of command words or beats;
* ``BAD_CRC`` when the CRC does not match;
* ``TRUNCATED`` when no byte arrives for ``timeout`` cycles inside a frame: a frame cut short
  never leaves the bridge waiting for the rest;
* ``BUSY`` when a CMD, DIN or RESET frame arrives (its ``LENGTH``) while the previous one is
  still being forwarded, that is before its ACK.

After a header error (unknown type, bad length) the rest of that frame is hunted through like
any garbage; a SYNC byte in it starts a frame that fails in turn, so one bad frame may bring
more than one ERROR. The replies wait in a queue of :data:`REPLY_QUEUE`; one that finds the
queue full is dropped (``dropped`` in the next STATUS).

**Flow control** is stop and wait: the host sends a CMD, DIN or RESET frame only after the
previous one's ACK. STATUS_QUERY may come at any time (it is answered even while a frame is
being forwarded). The engine takes data-in beats only while a LOAD runs, so the host ends a
CMD frame at each LOAD and sends that LOAD's beats next, before any later command; otherwise
a frame can wait forever for the engine. DOUT frames come whenever the engine sends a row,
between any other replies.

The bridge
----------

::

    rx bytes ─> FrameReceiver ─> payload buffer ─> Forwarder ─> engine cmd / din
                     │ replies (queue)                 │ ACK
    tx bytes <─ FrameSender <──────────────────────────┴──── engine dout, status
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..checked import CheckedComponent
from ..config import check_config
from ..engine.engine import engine_signature
from ..engine.links import address_shape
from ..engine.loader import din_layout
from ..fifo import StreamFIFO
from ..isa import COMMAND_WIDTH, command_layout
from .frames import FrameReceiver, FrameSender, job_layout, reply_layout
from .protocol import (
    BYTE_WIDTH,
    COMMAND_BYTES,
    CYCLES_WIDTH,
    DEFAULT_MAX_PAYLOAD,
    LENGTH_WIDTH,
    FrameType,
    check_max_payload,
    din_bytes,
)
from .uart import RxErrors

__all__ = ["REPLY_QUEUE", "Forwarder", "UartBridge"]

#: Replies (STATUS, ERROR) that may wait for the sender.
REPLY_QUEUE = 4


class Forwarder(CheckedComponent):
    """Forwards a checked frame's payload from the buffer to the engine: each command word to
    ``cmd`` and each data-in beat to ``din`` (bytes little-endian, ``last`` on the frame's
    final beat), or, for RESET, pulses ``engine_rst``; then sends the ACK and releases the
    job (and with it the buffer).

    Parameters
    ----------
    cfg : hw.config.Config
    max_payload : int
        The buffer's size in bytes.

    Members
    -------
    job : ``In(stream.Signature(job_layout))``
        Taken (``ready``) when the frame is done.
    read : ``In(memory.ReadPort.Signature(addr_width=..., shape=8))``
        The payload buffer.
    cmd : ``Out(stream.Signature(command_layout))``
    din : ``Out(stream.Signature(din_layout(cfg)))``
    ack : ``Out(stream.Signature(reply_layout))``
    engine_rst : ``Out(1)``

    Throughput: a payload byte a cycle, and a cycle for each word or beat handed over.
    """

    @staticmethod
    def check(cfg, max_payload):
        check_config(cfg)
        check_max_payload(cfg, max_payload)

    def __init__(self, cfg, *, max_payload):
        self._cfg = cfg
        self._max_payload = max_payload
        super().__init__({
            "job": In(stream.Signature(job_layout)),
            "read": In(memory.ReadPort.Signature(
                addr_width=address_shape(max_payload).width, shape=BYTE_WIDTH)),
            "cmd": Out(stream.Signature(command_layout)),
            "din": Out(stream.Signature(din_layout(cfg))),
            "ack": Out(stream.Signature(reply_layout)),
            "engine_rst": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        beat_bytes = din_bytes(self._cfg)
        word = Signal(max(COMMAND_BYTES, beat_bytes) * BYTE_WIDTH)  # bytes enter at the top
        idx = Signal(LENGTH_WIDTH)                  # the payload byte on read.data
        have = Signal(range(max(COMMAND_BYTES, beat_bytes) + 1))
        advance = Signal()
        job = self.job.payload
        is_cmd = job.type == FrameType.CMD
        size = Mux(is_cmd, COMMAND_BYTES, beat_bytes)
        # The read port gives the byte at `idx` every cycle: it reads ahead when `idx` moves.
        m.d.comb += [
            self.read.en.eq(1),
            self.read.addr.eq(Mux(advance, idx + 1, idx)),
            self.cmd.payload.eq(word[len(word) - COMMAND_WIDTH:]),
            self.din.payload.data.eq(word[len(word) - beat_bytes * BYTE_WIDTH:]),
            self.din.payload.last.eq(idx == job.length),
            self.ack.payload.type.eq(FrameType.ACK),
            self.ack.payload.payload.ack.type.eq(job.type),
        ]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.job.valid):
                    m.d.sync += have.eq(0)
                    with m.If(job.type == FrameType.RESET):
                        m.next = "RESET"
                    with m.Else():
                        m.next = "FILL"
            with m.State("FILL"):
                with m.If(have == size):
                    m.d.comb += [self.cmd.valid.eq(is_cmd), self.din.valid.eq(~is_cmd)]
                    with m.If(Mux(is_cmd, self.cmd.ready, self.din.ready)):
                        m.d.sync += have.eq(0)
                        with m.If(idx == job.length):
                            m.next = "ACK"
                with m.Else():
                    m.d.comb += advance.eq(1)
                    m.d.sync += [word.eq(Cat(word[BYTE_WIDTH:], self.read.data)),
                                 idx.eq(idx + 1), have.eq(have + 1)]
            with m.State("RESET"):
                m.d.comb += self.engine_rst.eq(1)
                m.next = "ACK"
            with m.State("ACK"):
                m.d.comb += self.ack.valid.eq(1)
                with m.If(self.ack.ready):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.job.ready.eq(1)
                m.d.sync += idx.eq(0)
                m.next = "IDLE"
        return m


class UartBridge(CheckedComponent):
    """Runs the host link's protocol (the module docstring) between a byte stream pair and
    an engine.

    Parameters
    ----------
    cfg : hw.config.Config
        The engine's configuration (the widths of its beats).
    max_payload : int
        Payload buffer in bytes, the longest CMD or DIN payload taken: from a command word
        and a data-in beat to 65535; :data:`~hw.fpga.protocol.DEFAULT_MAX_PAYLOAD`.
    timeout : int
        Cycles without a byte inside a frame before it is dropped as TRUNCATED; more than a
        byte's time on the line (:class:`~hw.fpga.top.UartTop` sets it from the baud rate).

    Members
    -------
    rx : ``In(stream.Signature(8))``
        Bytes from the host (always ready).
    tx : ``Out(stream.Signature(8))``
        Bytes to the host.
    rx_errors : ``In(RxErrors())``
        The UART receiver's dropped bytes, for STATUS.
    engine : ``In(engine_signature(cfg))``
        The engine's ports, flipped: ``wiring.connect(m, bridge.engine, engine)``.
    engine_rst : ``Out(1)``
        Pulses for a RESET frame: the engine's synchronous reset.
    link_error : ``Out(1)``
        Set by any ERROR reply or dropped byte or reply, until the next RESET frame.

    Latency: the forwarder starts on a CMD or DIN frame two cycles after its last CRC byte
    and reads its payload a byte a cycle, offering each word or beat as soon as it is whole;
    the ACK follows the last one the engine takes. Throughput: what the line allows (stop and
    wait per frame, see the protocol).

    Raises
    ------
    TypeError, ValueError
        For a bad ``cfg``, ``max_payload`` or ``timeout``.
    """

    check = FrameReceiver.check    # the same arguments, passed on to the receiver

    def __init__(self, cfg, *, max_payload=DEFAULT_MAX_PAYLOAD, timeout):
        self._cfg = cfg
        self._max_payload = max_payload
        self._timeout = timeout
        super().__init__({
            "rx": In(stream.Signature(BYTE_WIDTH)),
            "tx": Out(stream.Signature(BYTE_WIDTH)),
            "rx_errors": In(RxErrors()),
            "engine": In(engine_signature(cfg)),
            "engine_rst": Out(1),
            "link_error": Out(1),
        })

    @property
    def cfg(self):
        return self._cfg

    @property
    def max_payload(self):
        return self._max_payload

    @property
    def timeout(self):
        return self._timeout

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        m.submodules.receiver = rcv = FrameReceiver(cfg, max_payload=self._max_payload,
                                                    timeout=self._timeout)
        m.submodules.forwarder = fwd = Forwarder(cfg, max_payload=self._max_payload)
        m.submodules.replies = queue = StreamFIFO(reply_layout, REPLY_QUEUE)
        m.submodules.sender = snd = FrameSender(cfg)
        m.submodules.buffer = buf = memory.Memory(shape=BYTE_WIDTH, depth=self._max_payload,
                                                  init=[])
        engine = self.engine

        connect = wiring.connect
        connect(m, wiring.flipped(self.rx), rcv.i)
        connect(m, rcv.write, buf.write_port())
        connect(m, fwd.read, buf.read_port())
        connect(m, rcv.job, fwd.job)
        connect(m, rcv.reply, queue.w)
        connect(m, queue.r, snd.reply)
        connect(m, fwd.ack, snd.ack)
        connect(m, fwd.cmd, wiring.flipped(engine.cmd))
        connect(m, fwd.din, wiring.flipped(engine.din))
        connect(m, wiring.flipped(engine.dout), snd.dout)
        connect(m, snd.o, wiring.flipped(self.tx))
        m.d.comb += self.engine_rst.eq(fwd.engine_rst)

        # STATUS: the engine's bits, the link's flags since the last STATUS, the cycle count.
        framing, overrun, dropped = Signal(), Signal(), Signal()
        cycles = Signal(CYCLES_WIDTH)
        status = snd.status
        m.d.comb += [
            status.idle.eq(engine.status.idle), status.error.eq(engine.status.error),
            status.framing.eq(framing), status.overrun.eq(overrun),
            status.dropped.eq(dropped), status.cycles.eq(cycles),
        ]
        for flag, event in ((framing, self.rx_errors.framing),
                            (overrun, self.rx_errors.overrun), (dropped, rcv.dropped)):
            # An event in the cycle the flags are read is in the next STATUS.
            with m.If(event):
                m.d.sync += flag.eq(1)
            with m.Elif(snd.status_read):
                m.d.sync += flag.eq(0)
        with m.If(fwd.engine_rst):
            m.d.sync += cycles.eq(0)
        with m.Elif(~engine.status.idle):
            m.d.sync += cycles.eq(cycles + 1)

        error_reply = rcv.reply.valid & rcv.reply.ready & \
            (rcv.reply.payload.type == FrameType.ERROR)
        with m.If(error_reply | rcv.dropped | self.rx_errors.framing | self.rx_errors.overrun):
            m.d.sync += self.link_error.eq(1)
        with m.Elif(fwd.engine_rst):
            m.d.sync += self.link_error.eq(0)
        return m
