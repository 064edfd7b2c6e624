# amaranth: UnusedElaboratable=no
"""The host side of the board link: the frame codec and its resynchronisation, the program
split, HostLink against a scripted board (replies, errors, silence, garbage), GEMMs end to
end on the simulated board top through ``run_gemm(backend="uart-sim")`` and ``python -m
hw.host --sim``, bit-exact against the golden model, and the command line's bad options."""

import subprocess
import sys

import numpy as np
import pytest

from hw import host as host_cli
from hw.config import Config
from hw.fpga.protocol import (
    COMMAND_BYTES,
    ErrorCode,
    FrameType,
    ack_layout,
    dout_reply_layout,
    error_reply_layout,
    status_layout,
    to_bytes,
)
from hw.isa import encode_compute, encode_config, encode_load, encode_store
from sim.golden import same_bits
from sim.host import run_gemm
from sim.link import (
    BoardStatus,
    Frame,
    FrameDecoder,
    HostLink,
    LinkError,
    board_lengths,
    encode_frame,
    segments,
)
from sim.operands import random_matrix

CFG = Config(rows=2, cols=3, spad_kib=1, acc_kib=1)


def test_encode_frame_bytes():
    # SYNC, TYPE, LENGTH (LE), payload, CRC-16/CCITT-FALSE of TYPE..payload (LE).
    assert encode_frame(FrameType.STATUS_QUERY).hex() == "a5030000cc95"
    assert encode_frame(FrameType.CMD, bytes(range(16))).hex() == \
        "a5011000" + bytes(range(16)).hex() + "bcce"
    with pytest.raises(ValueError, match="at most 65535 bytes, not 65536"):
        encode_frame(FrameType.DIN, bytes(65536))


def _ack(kind):
    return encode_frame(FrameType.ACK, to_bytes(ack_layout, type=kind))


def _status(**fields):
    return encode_frame(FrameType.STATUS, to_bytes(status_layout, **fields))


def _dout(row, last=0):
    return encode_frame(FrameType.DOUT, to_bytes(dout_reply_layout(CFG), data=row, last=last))


def _decode_all(decoder, data, step=None):
    frames = []
    step = step or len(data) or 1
    for n in range(0, len(data), step):
        decoder.feed(data[n:n + step])
        while (frame := decoder.next()) is not None:
            frames.append(frame)
    return frames


def test_decoder_resynchronises():
    good = [_ack(FrameType.CMD), _status(idle=1, cycles=1234), _dout(0xDEAD, last=1)]
    bad_crc = bytearray(_ack(FrameType.DIN))
    bad_crc[-1] ^= 1
    fake = bytes([0xA5, 0x81, 0x01, 0x00, 0x02])            # an ACK header, then it stops
    stream = b"\x00\x13" + good[0] + b"\xa5\xa5\x99" + bytes(bad_crc) + good[1] + fake + good[2]
    for step in (None, 1, 3):
        decoder = FrameDecoder(board_lengths(CFG))
        frames = _decode_all(decoder, stream, step)
        assert frames == [Frame(FrameType.ACK, bytes([FrameType.CMD.value])),
                          Frame(FrameType.STATUS, to_bytes(status_layout, idle=1, cycles=1234)),
                          Frame(FrameType.DOUT, to_bytes(dout_reply_layout(CFG), data=0xDEAD,
                                                         last=1))]
        assert decoder.skipped == len(stream) - sum(len(f) for f in good)


def test_decoder_wants_the_rest_of_a_frame():
    decoder = FrameDecoder(board_lengths(CFG))
    frame = _dout(7)
    assert decoder.wanted == 4
    decoder.feed(frame[:5])
    assert decoder.next() is None
    assert decoder.wanted == len(frame) - 5
    decoder.feed(frame[5:])
    assert decoder.next().type == FrameType.DOUT


def test_segments_end_at_each_load():
    cmds = [encode_config(), encode_load("a", 0, 2), encode_load("b", 0, 3),
            encode_compute(0, 0, 0, 2), encode_store(0, 2)]
    din = [10, 11, 20, 21, 22]
    assert segments(cmds, din) == [(cmds[:2], [10, 11]), (cmds[2:3], [20, 21, 22]),
                                   (cmds[3:], [])]
    with pytest.raises(ValueError, match="take 5 data-in beats, but it has 4"):
        segments(cmds, din[:4])


class ScriptedBoard:
    """A transport whose board answers each frame the host writes with ``answer(frame)``
    (bytes), and then falls silent."""

    def __init__(self, answer):
        self.answer = answer
        self.frames = []
        self.pending = bytearray()

    def write(self, data):
        kind, payload = FrameType(data[1]), bytes(data[4:-2])
        self.frames.append((kind, payload))
        self.pending += self.answer(kind, payload)

    def read(self, n, timeout):
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data


def test_link_sends_in_frames_and_collects_rows():
    def answer(kind, payload):
        rows = _dout(0x111, 0) + _dout(0x222, 1) if kind == FrameType.DIN else b""
        return b"\x00garbage" + rows + _ack(kind)

    board = ScriptedBoard(answer)
    link = HostLink(board, CFG, max_payload=2 * COMMAND_BYTES)
    words = list(range(1, 6))
    link.send_commands(words)
    link.send_data([0x0102, 0x0304, 0x0506])
    assert [k for k, _ in board.frames] == [FrameType.CMD] * 3 + [FrameType.DIN]
    assert b"".join(p for _, p in board.frames[:3]) == \
        b"".join(w.to_bytes(COMMAND_BYTES, "little") for w in words)
    assert board.frames[3][1] == bytes.fromhex("020100" "040300" "060500")  # 3-byte beats
    assert link.rows == [(0x111, False), (0x222, True)]


@pytest.mark.parametrize("answer, message", [
    (lambda k, p: b"", r"no reply from the board in 0\.5 s"),
    (lambda k, p: encode_frame(FrameType.ERROR, to_bytes(error_reply_layout,
                                                         code=ErrorCode.BAD_CRC, type=k)),
     "the board dropped a CMD frame: BAD_CRC"),
    (lambda k, p: encode_frame(FrameType.ERROR, bytes([9, 0x77])),
     "the board dropped a 0x77 frame: 9"),
    (lambda k, p: _ack(FrameType.DIN), "expected the ACK of a CMD frame, got one of 0x02"),
    (lambda k, p: _status(), "expected ACK from the board, got STATUS"),
    (lambda k, p: bytes(5000), "the board sent 4096 bytes that are no frame"),
])
def test_link_errors(answer, message):
    link = HostLink(ScriptedBoard(answer), CFG, timeout=0.5)
    with pytest.raises(LinkError, match=message):
        link.send_commands([1])


def test_run_reports_missing_rows():
    # The board takes every frame but never sends the STORE's rows.
    def answer(kind, payload):
        return _status(idle=1) if kind == FrameType.STATUS_QUERY else _ack(kind)

    board = ScriptedBoard(answer)
    cmds = [encode_config(), encode_load("a", 0, 1), encode_store(0, 2)]
    with pytest.raises(LinkError, match=r"no reply from the board in 0\.5 s \(0 of 2 "
                                        r"data-out rows came\)"):
        HostLink(board, CFG, timeout=0.5).run(cmds, [7], 2)
    assert [k for k, _ in board.frames] == [FrameType.RESET, FrameType.STATUS_QUERY,
                                            FrameType.CMD, FrameType.DIN, FrameType.CMD]


def test_link_status():
    fields = {"idle": 1, "error": 0b1010, "framing": 1, "overrun": 0, "dropped": 1,
              "cycles": (1 << 48) - 2}
    link = HostLink(ScriptedBoard(lambda k, p: _status(**fields)), CFG)
    assert link.status() == BoardStatus(idle=True, error=0b1010, framing=True, overrun=False,
                                        dropped=True, cycles=(1 << 48) - 2)


def _operands(cfg, m, k, n, seed):
    rng = np.random.default_rng(seed)
    return random_matrix(cfg, (m, k), rng), random_matrix(cfg, (k, n), rng)


def test_gemm_on_the_simulated_board_top():
    # Two column tiles and two row tiles of a 2x3 engine, requantized with ReLU.
    a, b = _operands(CFG, 3, 3, 5, seed=1)
    got = run_gemm(a, b, CFG, backend="uart-sim", relu=True, mode="int8", scale=0.02)
    want = run_gemm(a, b, CFG, backend="golden", relu=True, mode="int8", scale=0.02)
    assert same_bits(got.c, want.c, got.program.out_format).all(), (got.c, want.c)
    assert got.cycles > 0 and got.backend == "uart-sim"


def test_host_command_line_on_the_simulated_board(capsys):
    status = host_cli.main(["--sim", "--rows", "2", "--spad-kib", "1", "--acc-kib", "1",
                            "--m", "2", "--k", "3", "--n", "2", "--seed", "4"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "2x2 os int8->int32 engine on the simulated board top" in out
    assert "bit-exact against the golden model: yes" in out
    cfg = Config(rows=2, spad_kib=1, acc_kib=1)
    a, b = _operands(cfg, 2, 3, 2, seed=4)
    want = run_gemm(a, b, cfg, backend="golden").c
    assert str(want) in out


@pytest.mark.parametrize("argv, message", [
    ([], "one of the arguments --port --sim is required"),
    (["--sim", "--port", "x"], "argument --port: not allowed with argument --sim"),
    (["--sim", "--rows", "0"], "--rows must be an integer from 1 to 256, not 0"),
    (["--sim", "--array"], "--array cannot run GEMMs"),
    (["--sim", "--mode", "bf16"], "--mode must be one of raw, int8 for int32 accumulation, "
                                  "not 'bf16'"),
    (["--sim", "--k", "0"], "argument --k: must be a positive integer, not '0'"),
    (["--sim", "--baud", "fast"], "argument --baud: must be a positive integer, not 'fast'"),
    (["--sim", "--max-payload", "15"], "--max-payload must be an integer from 16"),
    (["--sim", "--timeout", "-1"], "--timeout must be a positive number of seconds"),
    (["--port", "/nonexistent/ttyUSB9"], "cannot open serial port '/nonexistent/ttyUSB9'"),
])
def test_host_command_line_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        host_cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("python -m hw.host: error: "), err
    assert message in err


def test_host_module_runs_and_fails_cleanly():
    # The real entry point: a port that cannot be opened is one line and status 2.
    proc = subprocess.run([sys.executable, "-m", "hw.host", "--port", "/nonexistent/tty"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("python -m hw.host: error: cannot open serial port")
    assert proc.stderr.count("\n") == 1


def test_uart_backend_needs_a_port():
    a, b = _operands(CFG, 1, 1, 1, seed=0)
    with pytest.raises(ValueError, match="port must name the board's serial port for "
                                         "backend 'uart', not None"):
        run_gemm(a, b, CFG, backend="uart")
    with pytest.raises(LinkError, match="cannot open serial port '/nonexistent/tty'"):
        run_gemm(a, b, CFG, backend="uart", port="/nonexistent/tty")
    with pytest.raises(ValueError, match="backend must be one of golden, amaranth, verilator, "
                                         "cocotb-verilator, icarus, uart, uart-sim, not "
                                         "'serial'"):
        run_gemm(a, b, CFG, backend="serial")


def test_readme_tables_match_the_protocol():
    from pathlib import Path

    from scripts.link_table import markdown
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = readme.index("<!-- link-table -->\n") + len("<!-- link-table -->\n")
    end = readme.index("\n<!-- /link-table -->")
    assert readme[start:end] == markdown(), "README's link tables are stale: python -m " \
                                            "scripts.link_table prints the current ones"
