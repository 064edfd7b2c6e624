"""The host side of the board link: frames to and from :class:`hw.fpga.bridge.UartBridge`,
and :class:`HostLink`, which runs engine programs through it over any byte transport.

::

    from sim.link import HostLink, SerialTransport
    link = HostLink(SerialTransport("/dev/ttyUSB0", 115200), cfg)
    prog = gemm_program(cfg, a, b)
    run = link.run_program(prog)          # an EngineRun: rows, cycles, the final status
    c = prog.assemble(run.rows)

A transport is any object with ``write(data)`` (bytes to the board) and ``read(n, timeout)``
(up to ``n`` bytes from the board, fewer, or none, once ``timeout`` seconds have passed):
:class:`SerialTransport` is a serial port (pyserial),
:class:`sim.backends.amaranth_uart.SimUartTransport` the simulated board top's pins.

The frames, layouts and CRC are :mod:`hw.fpga.protocol`'s, so the encoding is the
hardware's own; the protocol (stop and wait, what the bridge does with a bad frame) is
described in :mod:`hw.fpga.bridge`.
"""

from dataclasses import dataclass

from hw.fpga.protocol import (
    BYTE_WIDTH,
    COMMAND_BYTES,
    CRC_BYTES,
    DEFAULT_MAX_PAYLOAD,
    HEADER_BYTES,
    LENGTH_WIDTH,
    MAX_LENGTH,
    SYNC,
    ErrorCode,
    FrameType,
    ack_layout,
    check_max_payload,
    crc16,
    din_bytes,
    dout_reply_layout,
    error_reply_layout,
    from_bytes,
    layout_bytes,
    status_layout,
)
from hw.isa import Opcode, decode

from .backends.engine_run import EngineRun, check_run

__all__ = [
    "LinkError", "Frame", "BoardStatus", "encode_frame", "FrameDecoder", "board_lengths",
    "segments", "HostLink", "link_gemm", "SerialTransport", "DEFAULT_BAUD", "DEFAULT_TIMEOUT",
    "MAX_GARBAGE",
]

#: A board's UART by default: the common rate every USB serial adapter runs.
DEFAULT_BAUD = 115200

#: Seconds of silence from the board, while a reply is due, before the link gives up.
DEFAULT_TIMEOUT = 2.0
#: Bytes that are no frame the link accepts while it waits for one reply before it gives up.
MAX_GARBAGE = 4096
#: STATUS queries at the end of a run, waiting for the engine to go idle.
IDLE_POLLS = 8


class LinkError(RuntimeError):
    """The board did not answer as the protocol says: silence, an ERROR reply, a reply of
    the wrong kind, or garbage."""


@dataclass(frozen=True)
class Frame:
    """One frame: its ``type`` (a :class:`~hw.fpga.protocol.FrameType`) and ``payload``."""
    type: FrameType
    payload: bytes


@dataclass(frozen=True)
class BoardStatus:
    """A STATUS reply (:data:`~hw.fpga.protocol.status_layout`): the engine's ``idle`` and
    ``error`` bits, the link's ``framing``, ``overrun`` and ``dropped`` flags since the
    previous STATUS, and ``cycles`` the engine was busy since the last reset."""
    idle: bool
    error: int
    framing: bool
    overrun: bool
    dropped: bool
    cycles: int

    @classmethod
    def from_payload(cls, payload):
        f = from_bytes(status_layout, payload)
        return cls(idle=bool(f["idle"]), error=f["error"], framing=bool(f["framing"]),
                   overrun=bool(f["overrun"]), dropped=bool(f["dropped"]), cycles=f["cycles"])


def encode_frame(frame_type, payload=b""):
    """The bytes of one frame: SYNC, TYPE, LENGTH, ``payload``, CRC.

    Raises
    ------
    ValueError
        For an unknown type, or a payload longer than ``LENGTH`` can state.
    """
    frame_type = FrameType(frame_type)
    payload = bytes(payload)
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload must be at most {MAX_LENGTH} bytes, not {len(payload)}")
    body = bytes([frame_type.value]) + len(payload).to_bytes(LENGTH_WIDTH // BYTE_WIDTH,
                                                             "little") + payload
    return bytes([SYNC]) + body + crc16(body).to_bytes(CRC_BYTES, "little")


def board_lengths(cfg):
    """The payload length of each frame a ``cfg`` board sends."""
    return {
        FrameType.ACK: layout_bytes(ack_layout),
        FrameType.DOUT: layout_bytes(dout_reply_layout(cfg)),
        FrameType.STATUS: layout_bytes(status_layout),
        FrameType.ERROR: layout_bytes(error_reply_layout),
    }


class FrameDecoder:
    """Frames out of a byte stream, resynchronising on garbage.

    A frame is taken only when its TYPE is one of ``lengths``, its LENGTH is that type's and
    its CRC matches; at anything else the decoder drops one byte and looks for the next SYNC,
    so garbage before, between or inside frames costs only the frames it hits.

    Parameters
    ----------
    lengths : dict
        Payload length by :class:`~hw.fpga.protocol.FrameType` (:func:`board_lengths`).

    Members
    -------
    skipped : int
        Bytes dropped so far.
    """

    def __init__(self, lengths):
        self._lengths = {FrameType(t).value: n for t, n in lengths.items()}
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data):
        self._buf += data

    @property
    def wanted(self):
        """Bytes still needed for the frame under way (at least 1)."""
        if len(self._buf) >= HEADER_BYTES and self._buf[0] == SYNC and \
                self._buf[1] in self._lengths:
            total = HEADER_BYTES + self._lengths[self._buf[1]] + CRC_BYTES
            return max(1, total - len(self._buf))
        return max(1, HEADER_BYTES - len(self._buf))

    def _drop(self, n):
        del self._buf[:n]
        self.skipped += n

    def next(self):
        """The next whole frame, or ``None`` until more bytes come."""
        while True:
            start = self._buf.find(SYNC)
            self._drop(len(self._buf) if start < 0 else start)
            if len(self._buf) < HEADER_BYTES:
                return None
            kind = self._buf[1]
            length = int.from_bytes(self._buf[2:HEADER_BYTES], "little")
            if self._lengths.get(kind) != length:
                self._drop(1)
                continue
            total = HEADER_BYTES + length + CRC_BYTES
            if len(self._buf) < total:
                return None
            body = bytes(self._buf[1:HEADER_BYTES + length])
            crc = int.from_bytes(self._buf[HEADER_BYTES + length:total], "little")
            if crc16(body) != crc:
                self._drop(1)
                continue
            del self._buf[:total]
            return Frame(FrameType(kind), body[HEADER_BYTES - 1:])


def segments(cmds, din):
    """Split a program into ``(commands, beats)`` pairs the link can send one after the
    other: each pair's commands end at a LOAD (or the program's end) and its beats are that
    LOAD's, so every LOAD has its data behind it before any later command goes out.

    Raises
    ------
    ValueError
        When the LOADs' counts do not add up to ``len(din)``.
    """
    out, pending, used = [], [], 0
    for word in cmds:
        pending.append(word)
        fields = decode(word)
        if fields["opcode"] == Opcode.LOAD:
            count = fields["count"]
            out.append((pending, list(din[used:used + count])))
            pending, used = [], used + count
    if pending:
        out.append((pending, []))
    if used != len(din):
        raise ValueError(f"the program's LOADs take {used} data-in beats, but it has "
                         f"{len(din)}")
    return out


class HostLink:
    """Runs engine programs on a board (real or simulated) through its UART bridge.

    Parameters
    ----------
    transport :
        ``write(data)`` and ``read(n, timeout)`` (the module docstring).
    cfg : hw.config.Config
        The board's engine configuration.
    max_payload : int
        The board bridge's payload buffer in bytes.
    timeout : float
        Seconds (of the transport's clock) the board may stay silent while a reply is due.

    Members
    -------
    rows : list of (int, bool)
        Data-out rows received and not yet taken by :meth:`run`, with their ``last`` flags.

    Raises
    ------
    ValueError
        For a ``max_payload`` the configuration cannot use.
    """

    def __init__(self, transport, cfg, *, max_payload=DEFAULT_MAX_PAYLOAD,
                 timeout=DEFAULT_TIMEOUT):
        self._transport = transport
        self._cfg = cfg
        self._max_payload = check_max_payload(cfg, max_payload)
        self._timeout = timeout
        self._decoder = FrameDecoder(board_lengths(cfg))
        self._row_bytes = layout_bytes(dout_reply_layout(cfg))
        self.rows = []

    @property
    def cfg(self):
        return self._cfg

    def send(self, frame_type, payload=b""):
        """Send one frame, and nothing else."""
        self._transport.write(encode_frame(frame_type, payload))

    def receive(self, until=None):
        """The next frame from the board other than DOUT (data-out rows go to :attr:`rows`);
        with ``until`` (a function), ``None`` as soon as ``until()`` is true.

        Raises
        ------
        LinkError
            When the board stays silent for ``timeout``, or sends :data:`MAX_GARBAGE` bytes
            that are no frame.
        """
        garbage = self._decoder.skipped + MAX_GARBAGE
        while True:
            if until is not None and until():
                return None
            frame = self._decoder.next()
            if frame is None:
                if self._decoder.skipped > garbage:
                    raise LinkError(f"the board sent {MAX_GARBAGE} bytes that are no frame; "
                                    f"is the baud rate right?")
                data = self._transport.read(self._decoder.wanted, self._timeout)
                if not data:
                    raise LinkError(f"no reply from the board in {self._timeout} s")
                self._decoder.feed(data)
                continue
            if frame.type == FrameType.DOUT:
                fields = from_bytes(dout_reply_layout(self._cfg), frame.payload)
                self.rows.append((fields["data"], bool(fields["last"])))
                continue
            return frame

    def _expect(self, kind, about=None):
        frame = self.receive()
        if frame.type == FrameType.ERROR:
            fields = from_bytes(error_reply_layout, frame.payload)
            code = fields["code"]
            code = ErrorCode(code).name if code in {e.value for e in ErrorCode} else code
            try:
                what = FrameType(fields["type"]).name
            except ValueError:
                what = f"{fields['type']:#04x}"
            raise LinkError(f"the board dropped a {what} frame: {code}")
        if frame.type != kind:
            raise LinkError(f"expected {kind.name} from the board, got {frame.type.name}")
        if about is not None:
            acked = from_bytes(ack_layout, frame.payload)["type"]
            if acked != about.value:
                raise LinkError(f"expected the ACK of a {about.name} frame, got one of "
                                f"{acked:#04x}")
        return frame

    def _send_items(self, frame_type, items, item_bytes):
        per_frame = self._max_payload // item_bytes
        for n in range(0, len(items), per_frame):
            payload = b"".join(int(x).to_bytes(item_bytes, "little")
                               for x in items[n:n + per_frame])
            self.send(frame_type, payload)
            self._expect(FrameType.ACK, frame_type)

    def send_commands(self, words):
        """Send command words (in frames of up to ``max_payload`` bytes), each frame once the
        last is acknowledged."""
        self._send_items(FrameType.CMD, list(words), COMMAND_BYTES)

    def send_data(self, beats):
        """Send data-in beats, as :meth:`send_commands`."""
        self._send_items(FrameType.DIN, list(beats), din_bytes(self._cfg))

    def status(self):
        """The board's :class:`BoardStatus`."""
        self.send(FrameType.STATUS_QUERY)
        return BoardStatus.from_payload(self._expect(FrameType.STATUS).payload)

    def reset(self):
        """Reset the engine (state, error bits, cycle counter) and forget received rows."""
        self.send(FrameType.RESET)
        self._expect(FrameType.ACK, FrameType.RESET)
        self.rows = []

    def run(self, cmds, din, dout_rows):
        """Reset the engine, send ``cmds`` and ``din`` (:func:`segments`), take
        ``dout_rows`` data-out rows, and read the status once the engine is idle.

        Returns an :class:`~sim.backends.engine_run.EngineRun`; ``cycles`` counts the cycles
        the engine was busy, which the link's speed dominates.

        Raises
        ------
        LinkError
            As :meth:`receive`, or when the board replies out of turn.
        """
        plan = segments(cmds, din)
        self.reset()
        self.status()       # restarts the link's flags
        for words, beats in plan:
            self.send_commands(words)
            if beats:
                self.send_data(beats)
        try:
            frame = self.receive(until=lambda: len(self.rows) >= dout_rows)
        except LinkError as e:
            raise LinkError(f"{e} ({len(self.rows)} of {dout_rows} data-out rows came)") \
                from None
        if frame is not None:
            raise LinkError(f"the board sent a {frame.type.name} frame nobody asked for")
        for _ in range(IDLE_POLLS):
            status = self.status()
            if status.idle:
                break
        frames, count = [], 0
        for _, last in self.rows:
            count += 1
            if last:
                frames.append(count)
                count = 0
        if count:
            frames.append(count)
        rows = [row for row, _ in self.rows]
        self.rows = []
        return EngineRun(rows=rows[:dout_rows], frames=frames, cycles=status.cycles,
                         idle=int(status.idle), error=status.error,
                         extra=max(0, len(rows) - dout_rows))

    def run_program(self, prog):
        """:meth:`run` for an :class:`~sim.program.EngineProgram`."""
        return self.run(prog.cmds, prog.din, prog.dout_rows)


def link_gemm(prog, transport, *, max_payload=DEFAULT_MAX_PAYLOAD, timeout=DEFAULT_TIMEOUT):
    """Run an :class:`~sim.program.EngineProgram` on the board behind ``transport`` and check
    the run (:func:`~sim.backends.engine_run.check_run`). Returns ``(C, cycles)``, ``cycles``
    counting the cycles the engine was busy.

    Raises
    ------
    LinkError
        As :meth:`HostLink.run`.
    RuntimeError
        For error bits, a busy engine, or rows not as the program stores them.
    """
    link = HostLink(transport, prog.cfg, max_payload=max_payload, timeout=timeout)
    run = link.run_program(prog)
    check_run(prog, run)
    return prog.assemble(run.rows), run.cycles


class SerialTransport:
    """A serial port as a link transport (pyserial).

    Parameters
    ----------
    port : str
        The device (``/dev/ttyUSB0``, ``COM3``).
    baud : int
        Bits per second: the board's clock over its UART's ``divisor``.

    Raises
    ------
    LinkError
        When pyserial is missing or the port cannot be opened, naming the port and why.
    """

    def __init__(self, port, baud):
        try:
            import serial
        except ImportError:
            raise LinkError("the uart backend needs pyserial: pip install pyserial") from None
        try:
            self._port = serial.Serial(port, baudrate=baud, timeout=DEFAULT_TIMEOUT)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(f"cannot open serial port {port!r}: {e}") from None
        # Replies left over from an earlier run would be read as answers to this one's frames.
        self._port.reset_input_buffer()

    def write(self, data):
        self._port.write(bytes(data))

    def read(self, n, timeout):
        self._port.timeout = timeout
        return self._port.read(n)

    def close(self):
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
