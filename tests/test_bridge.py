# amaranth: UnusedElaboratable=no
"""The UART bridge on its byte streams, with the engine's side played by the testbench:
commands and beats reach the engine whole and only from good frames; every kind of malformed
frame (bad CRC, unknown type, bad length, truncated, garbage, BUSY) is dropped with its ERROR
reply and no effect; SYNC bytes inside a payload; STATUS, RESET, data-out rows; the reply
queue's overflow; the constructors' errors."""

import random

import pytest
from amaranth import Value
from amaranth.sim import Simulator

from hw.config import Config
from hw.engine.loader import din_width
from hw.fpga.bridge import REPLY_QUEUE, UartBridge
from hw.fpga.protocol import (
    COMMAND_BYTES,
    SYNC,
    ErrorCode,
    FrameType,
    crc16,
    din_bytes,
    dout_reply_layout,
    from_bytes,
)
from sim.link import BoardStatus, FrameDecoder, board_lengths, encode_frame
from sim.streams import stream_put

CFG = Config(rows=2, cols=2, spad_kib=1, acc_kib=1)
MAX_PAYLOAD = 64
TIMEOUT = 40


def _words(n, seed):
    rng = random.Random(seed)
    return [rng.getrandbits(128) for _ in range(n)]


def _cmd(words):
    return encode_frame(FrameType.CMD, b"".join(w.to_bytes(COMMAND_BYTES, "little")
                                                for w in words))


def _din(cfg, beats):
    return encode_frame(FrameType.DIN, b"".join(b.to_bytes(din_bytes(cfg), "little")
                                                for b in beats))


class BridgeTB:
    """The bridge, its engine side played by sinks and sources, and what came out.

    ``cmd_ready`` / ``din_ready`` / ``tx_ready``: the chance each cycle that the engine (or
    the line) takes a word; ``hold_cmd`` set true stops the engine taking commands."""

    def __init__(self, cfg=CFG, *, max_payload=MAX_PAYLOAD, timeout=TIMEOUT, seed=0,
                 cmd_ready=0.6, din_ready=0.6, tx_ready=0.7):
        self.cfg = cfg
        self.dut = UartBridge(cfg, max_payload=max_payload, timeout=timeout)
        self.rng = random.Random(seed)
        self.p = {"cmd": cmd_ready, "din": din_ready, "tx": tx_ready}
        self.hold_cmd = False
        self.cmds, self.beats, self.tx = [], [], []
        self.resets = 0

    async def send(self, ctx, octets, *, gap=0):
        """Bytes to the bridge, one a cycle, then ``gap`` idle cycles."""
        await stream_put(ctx, self.dut.rx, list(octets))
        await self.wait(ctx, gap)

    async def wait(self, ctx, cycles):
        for _ in range(cycles):
            await ctx.tick()

    async def wait_replies(self, ctx, count, limit=5000):
        """Wait until the bridge has sent ``count`` frames in all (as a host waits for ACKs)."""
        for _ in range(limit):
            if len(self.replies()) >= count:
                return
            await ctx.tick()
        raise TimeoutError(f"{len(self.replies())} of {count} replies after {limit} cycles")

    async def _sink(self, ctx, port, out, name):
        while True:
            ready = self.rng.random() < self.p[name] and not (name == "cmd" and self.hold_cmd)
            ctx.set(port.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(port.valid, Value.cast(port.payload))
            if ready and valid:
                out.append(payload)

    def _sink_for(self, port, out, name):
        async def sink(ctx):
            await self._sink(ctx, port, out, name)
        return sink

    async def _count_resets(self, ctx):
        async for _, _, rst in ctx.tick().sample(self.dut.engine_rst):
            self.resets += rst

    def run(self, script):
        """Run ``script(ctx)`` with the engine side and the line in the background."""
        dut = self.dut
        sim = Simulator(dut)
        sim.add_clock(1e-8)
        for port, out, name in ((dut.engine.cmd, self.cmds, "cmd"),
                                (dut.engine.din, self.beats, "din"), (dut.tx, self.tx, "tx")):
            sim.add_testbench(self._sink_for(port, out, name), background=True)
        sim.add_testbench(self._count_resets, background=True)

        async def main(ctx):
            ctx.set(dut.engine.status.idle, 1)
            await script(ctx)
            await self.wait(ctx, 300)   # let the last replies out

        sim.add_testbench(main)
        sim.run()

    def replies(self):
        """The frames the bridge sent; every byte must belong to one."""
        decoder = FrameDecoder(board_lengths(self.cfg))
        decoder.feed(bytes(self.tx))
        frames = []
        while (frame := decoder.next()) is not None:
            frames.append(frame)
        assert decoder.skipped == 0, f"{decoder.skipped} bytes of no frame in {self.tx}"
        return frames

    def beats_data(self):
        return [b & ((1 << din_width(self.cfg)) - 1) for b in self.beats]

    def beats_last(self):
        return [b >> din_width(self.cfg) for b in self.beats]


def _ack(kind):
    return (FrameType.ACK, bytes([kind.value]))


def _error(code, kind):
    return (FrameType.ERROR, bytes([code.value, kind]))


def _kinds(frames):
    return [(f.type, f.payload) for f in frames]


def test_frames_reach_the_engine_whole():
    tb = BridgeTB()
    words = _words(4, 1)                                       # 64 bytes: max_payload
    beats = [random.Random(2).getrandbits(16) for _ in range(32)]

    async def script(ctx):
        for n, frame in enumerate([_cmd(words), _din(CFG, beats), _cmd(words[:1])]):
            await tb.send(ctx, frame)
            await tb.wait_replies(ctx, n + 1)

    tb.run(script)
    assert tb.cmds == words + words[:1]
    assert tb.beats_data() == beats
    assert tb.beats_last() == [0] * 31 + [1]
    assert _kinds(tb.replies()) == [_ack(FrameType.CMD), _ack(FrameType.DIN),
                                    _ack(FrameType.CMD)]


def test_sync_bytes_inside_a_frame_mean_nothing():
    # A one-lane engine: LENGTH 0x00A5 is a whole number of beats. Payload bytes, the LENGTH
    # and the CRC are all SYNC where they can be.
    cfg = Config(rows=1, cols=1, spad_kib=1, acc_kib=1)
    beats = [SYNC] * 0xA4
    for last in range(256):
        frame = _din(cfg, beats + [last])
        if frame[-2] == SYNC or frame[-1] == SYNC:
            break
    assert frame[2] == SYNC and SYNC in frame[-2:]
    tb = BridgeTB(cfg, max_payload=256)

    async def script(ctx):
        await tb.send(ctx, frame)
        await tb.wait_replies(ctx, 1)
        await tb.send(ctx, _cmd([SYNC * 0x0101_0101_0101_0101_0101_0101_0101_0101]))
        await tb.wait_replies(ctx, 2)

    tb.run(script)
    assert tb.beats_data() == beats + [last]
    assert tb.cmds == [SYNC * 0x0101_0101_0101_0101_0101_0101_0101_0101]
    assert _kinds(tb.replies()) == [_ack(FrameType.DIN), _ack(FrameType.CMD)]


def _corrupt(frame, index, bit=0x10):
    frame = bytearray(frame)
    frame[index] ^= bit
    return bytes(frame)


def test_bad_crc_is_dropped_with_no_effect():
    tb = BridgeTB()
    words = _words(3, 3)

    async def script(ctx):
        await tb.send(ctx, _corrupt(_cmd(words), -1), gap=100)       # the CRC itself
        await tb.send(ctx, _corrupt(_cmd(words), 9), gap=100)        # a payload byte
        await tb.send(ctx, _corrupt(_din(CFG, [1, 2, 3]), 5), gap=100)
        await tb.send(ctx, _corrupt(encode_frame(FrameType.RESET), 1, 0x04), gap=100)  # -> 0
        await tb.send(ctx, _cmd(words), gap=200)

    tb.run(script)
    assert tb.cmds == words
    assert tb.beats == []
    assert tb.resets == 0
    # The corrupt RESET read as TYPE 0x00: unknown.
    assert _kinds(tb.replies()) == [
        _error(ErrorCode.BAD_CRC, FrameType.CMD.value),
        _error(ErrorCode.BAD_CRC, FrameType.CMD.value),
        _error(ErrorCode.BAD_CRC, FrameType.DIN.value),
        _error(ErrorCode.UNKNOWN_TYPE, 0x00),
        _ack(FrameType.CMD)]


def test_unknown_types():
    tb = BridgeTB()
    words = _words(1, 4)
    ack = encode_frame(FrameType.ACK, bytes([1]))      # a board's type, from the host
    stray = bytes([SYNC, 0x7F, 0x00, 0x00, 0x12, 0x34])

    async def script(ctx):
        await tb.send(ctx, ack, gap=50)
        await tb.send(ctx, stray, gap=50)
        await tb.send(ctx, _cmd(words), gap=200)

    tb.run(script)
    assert tb.cmds == words
    assert _kinds(tb.replies()) == [_error(ErrorCode.UNKNOWN_TYPE, FrameType.ACK.value),
                                    _error(ErrorCode.UNKNOWN_TYPE, 0x7F),
                                    _ack(FrameType.CMD)]


def _raw(kind, payload, length=None):
    """A frame whose LENGTH says ``length`` whatever the payload, with a good CRC."""
    length = len(payload) if length is None else length
    body = bytes([kind]) + length.to_bytes(2, "little") + payload
    return bytes([SYNC]) + body + crc16(body).to_bytes(2, "little")


def test_bad_lengths():
    cfg = Config(rows=3, cols=2, spad_kib=1, acc_kib=1)    # 3-byte beats
    assert din_bytes(cfg) == 3
    tb = BridgeTB(cfg)
    words = _words(2, 5)
    cmd_bytes = b"".join(w.to_bytes(16, "little") for w in words)

    async def script(ctx):
        await tb.send(ctx, _raw(FrameType.CMD.value, b""), gap=50)               # zero
        await tb.send(ctx, _raw(FrameType.CMD.value, cmd_bytes[:17]), gap=80)    # 1 word + 1
        await tb.send(ctx, _raw(FrameType.DIN.value, bytes(range(7))), gap=80)   # 2 beats + 1
        await tb.send(ctx, _raw(FrameType.CMD.value, b"", MAX_PAYLOAD + 16), gap=50)
        await tb.send(ctx, _raw(FrameType.STATUS_QUERY.value, b"\x00"), gap=50)
        await tb.send(ctx, _raw(FrameType.RESET.value, b"\x00\x00"), gap=50)
        await tb.send(ctx, _raw(FrameType.DIN.value, bytes(range(6))), gap=100)  # 2 beats
        await tb.send(ctx, _raw(FrameType.CMD.value, cmd_bytes), gap=200)

    tb.run(script)
    assert tb.cmds == words
    assert tb.beats_data() == [0x020100, 0x050403]
    assert tb.resets == 0
    bad = ErrorCode.BAD_LENGTH
    assert _kinds(tb.replies())[:6] == [
        _error(bad, FrameType.CMD.value), _error(bad, FrameType.CMD.value),
        _error(bad, FrameType.DIN.value), _error(bad, FrameType.CMD.value),
        _error(bad, FrameType.STATUS_QUERY.value), _error(bad, FrameType.RESET.value)]
    # After a header error the bridge hunted through the bytes that followed, which held no
    # SYNC, so nothing else happened before the two good frames.
    assert _kinds(tb.replies())[6:] == [_ack(FrameType.DIN), _ack(FrameType.CMD)]


@pytest.mark.parametrize("cut", [1, 2, 4, 10, 4 + 16 + 1])
def test_truncated_frame_then_a_good_one(cut):
    # A frame cut short anywhere (after SYNC, in the header, the payload, the CRC) times out;
    # the next frame is taken whole.
    tb = BridgeTB()
    words = _words(2, 6)

    async def script(ctx):
        await tb.send(ctx, _cmd(words[:1])[:cut], gap=TIMEOUT + 10)
        await tb.send(ctx, _cmd(words), gap=200)

    tb.run(script)
    assert tb.cmds == words
    what = 0 if cut == 1 else FrameType.CMD.value   # cut before TYPE: no type yet
    assert _kinds(tb.replies()) == [_error(ErrorCode.TRUNCATED, what), _ack(FrameType.CMD)]


def test_no_timeout_between_frames_or_with_slow_bytes():
    # The timeout counts only inside a frame, from byte to byte: a slow line is no error.
    tb = BridgeTB()
    words = _words(1, 7)

    async def script(ctx):
        await tb.wait(ctx, 5 * TIMEOUT)
        for byte in _cmd(words):
            await tb.send(ctx, [byte], gap=TIMEOUT - 2)
        await tb.wait(ctx, 5 * TIMEOUT)

    tb.run(script)
    assert tb.cmds == words
    assert _kinds(tb.replies()) == [_ack(FrameType.CMD)]


def test_garbage_between_frames():
    rng = random.Random(8)
    tb = BridgeTB()
    words = _words(3, 9)
    noise = bytes(b for b in rng.randbytes(300) if b != SYNC)
    # SYNC then rubbish: an unknown type, and a zero-length CMD header.
    fake = bytes([SYNC, 0x42]) + bytes([SYNC, FrameType.CMD.value, 0, 0])

    async def script(ctx):
        await tb.send(ctx, noise[:100])
        await tb.send(ctx, _cmd(words[:1]), gap=100)
        await tb.send(ctx, noise[100:] + fake + noise[:50])
        await tb.send(ctx, _cmd(words[1:]), gap=200)

    tb.run(script)
    assert tb.cmds == words
    assert _kinds(tb.replies()) == [
        _ack(FrameType.CMD), _error(ErrorCode.UNKNOWN_TYPE, 0x42),
        _error(ErrorCode.BAD_LENGTH, FrameType.CMD.value), _ack(FrameType.CMD)]


def test_status_and_busy_while_forwarding():
    # The engine takes no command: the first CMD frame waits in the forwarder. A STATUS_QUERY
    # is answered meanwhile; another CMD or a RESET is BUSY and has no effect; once the
    # engine takes commands, the first frame goes through and is acknowledged.
    tb = BridgeTB()
    words = _words(2, 10)
    dut = tb.dut

    async def script(ctx):
        tb.hold_cmd = True
        ctx.set(dut.engine.status.idle, 0)
        ctx.set(dut.engine.status.error, 0b0101)
        await tb.send(ctx, _cmd(words[:1]), gap=50)
        await tb.send(ctx, encode_frame(FrameType.STATUS_QUERY), gap=100)
        await tb.send(ctx, _cmd(words[1:]), gap=50)
        await tb.send(ctx, encode_frame(FrameType.RESET), gap=50)
        assert tb.cmds == []
        tb.hold_cmd = False
        await tb.wait(ctx, 100)

    tb.run(script)
    assert tb.cmds == words[:1]
    assert tb.resets == 0
    frames = tb.replies()
    kinds = _kinds(frames)
    assert kinds[0][0] == FrameType.STATUS
    status = BoardStatus.from_payload(frames[0].payload)
    assert (status.idle, status.error) == (False, 0b0101)
    assert kinds[1:] == [_error(ErrorCode.BUSY, FrameType.CMD.value),
                         _error(ErrorCode.BUSY, FrameType.RESET.value), _ack(FrameType.CMD)]


def test_status_flags_cycles_and_reset():
    tb = BridgeTB()
    dut = tb.dut

    async def script(ctx):
        ctx.set(dut.engine.status.idle, 0)
        await tb.wait(ctx, 100)                           # 100 busy cycles
        ctx.set(dut.engine.status.idle, 1)
        for pin in (dut.rx_errors.framing, dut.rx_errors.overrun):
            ctx.set(pin, 1)
            await ctx.tick()
            ctx.set(pin, 0)
        await tb.send(ctx, encode_frame(FrameType.STATUS_QUERY), gap=150)
        assert ctx.get(dut.link_error)
        await tb.send(ctx, encode_frame(FrameType.STATUS_QUERY), gap=150)   # flags restart
        await tb.send(ctx, encode_frame(FrameType.RESET), gap=100)
        assert not ctx.get(dut.link_error)
        await tb.send(ctx, encode_frame(FrameType.STATUS_QUERY), gap=150)   # cycles restart

    tb.run(script)
    assert tb.resets == 1
    frames = tb.replies()
    assert [f.type for f in frames] == [FrameType.STATUS, FrameType.STATUS, FrameType.ACK,
                                        FrameType.STATUS]
    first, second, third = (BoardStatus.from_payload(frames[n].payload) for n in (0, 1, 3))
    assert (first.framing, first.overrun, first.dropped, first.cycles) == (True, True, False, 100)
    assert (second.framing, second.overrun, second.cycles) == (False, False, 100)
    assert third.cycles == 0 and third.idle
    assert frames[2].payload == bytes([FrameType.RESET.value])


def test_data_out_rows_become_frames():
    tb = BridgeTB(tx_ready=0.5)
    rng = random.Random(11)
    rows = [rng.getrandbits(64) for _ in range(5)]
    last = [0, 1, 0, 0, 1]
    dut = tb.dut

    async def script(ctx):
        words = [r | (f << 64) for r, f in zip(rows, last, strict=True)]
        await stream_put(ctx, dut.engine.dout, words, rng=random.Random(12), p_valid=0.5)
        await tb.send(ctx, _cmd(_words(1, 13)), gap=100)

    tb.run(script)
    frames = tb.replies()
    douts = [from_bytes(dout_reply_layout(CFG), f.payload) for f in frames
             if f.type == FrameType.DOUT]
    assert [(d["data"], d["last"]) for d in douts] == list(zip(rows, last, strict=True))
    assert _kinds(frames)[-1] == _ack(FrameType.CMD)


def test_replies_beyond_the_queue_are_dropped():
    # Nothing reads the line, so error replies pile up: the queue and the receiver's own
    # register fill, the rest are dropped, and STATUS says so once the line drains.
    tb = BridgeTB(tx_ready=0.0)
    dut = tb.dut
    bad = bytes([SYNC, 0x55]) * (REPLY_QUEUE + 6)

    async def script(ctx):
        await tb.send(ctx, bad, gap=20)
        assert ctx.get(dut.link_error)
        tb.p["tx"] = 1.0
        await tb.wait(ctx, 200)
        await tb.send(ctx, encode_frame(FrameType.STATUS_QUERY), gap=100)

    tb.run(script)
    frames = tb.replies()
    errors = [f for f in frames if f.type == FrameType.ERROR]
    # The sender took the first reply at once; the queue and the receiver hold the next.
    assert 1 + REPLY_QUEUE <= len(errors) < REPLY_QUEUE + 6
    assert frames[-1].type == FrameType.STATUS
    assert BoardStatus.from_payload(frames[-1].payload).dropped


@pytest.mark.parametrize("kwargs, message", [
    ({"max_payload": 15}, r"max_payload must be an integer from 16 .* to 65535, not 15$"),
    ({"max_payload": 65536}, r"max_payload must be .*, not 65536$"),
    ({"max_payload": 64.0}, r"max_payload must be .*, not 64\.0$"),
    ({"timeout": 0}, r"timeout .* must be a positive integer, not 0$"),
    ({"timeout": 2.5}, r"timeout .* must be a positive integer, not 2\.5$"),
    ({"timeout": True}, r"timeout .* must be a positive integer, not True$"),
])
def test_bad_parameters(kwargs, message):
    args = {"max_payload": MAX_PAYLOAD, "timeout": TIMEOUT, **kwargs}
    with pytest.raises(ValueError, match=message):
        UartBridge(CFG, **args)


def test_max_payload_holds_a_beat():
    cfg = Config(rows=16, in_fmt="bf16", spad_kib=8, acc_kib=8)     # 32-byte beats
    with pytest.raises(ValueError, match=r"from 32 \(a command word and a data-in beat\)"):
        UartBridge(cfg, max_payload=31, timeout=TIMEOUT)
    assert UartBridge(cfg, max_payload=32, timeout=TIMEOUT).max_payload == 32


def test_cfg_must_be_a_config():
    with pytest.raises(TypeError, match="cfg must be a hw.config.Config, not 4"):
        UartBridge(4, timeout=TIMEOUT)
