# amaranth: UnusedElaboratable=no
"""The board top over its pins (the host link on the simulated top): the status LEDs
follow the engine and the link, a RESET frame clears the engine's error bits, and the
constructor's errors. GEMMs through the top are in ``test_host_link.py``."""

import os
import subprocess

import pytest
from amaranth.back import verilog

from hw.config import Config
from hw.fpga.protocol import (
    DEFAULT_TIMEOUT_BITS,
    ErrorCode,
    FrameType,
    error_reply_layout,
    from_bytes,
)
from hw.fpga.top import ACTIVITY_BITS, UartTop
from hw.fpga.uart import MIN_DIVISOR
from hw.isa import RESERVED_OFFSET, Error, encode_nop
from sim.backends.amaranth_uart import SIM_CLOCK_HZ, SimUartTransport
from sim.link import HostLink, encode_frame
from sim.tools import verilator_env

CFG = Config(rows=1, cols=1, spad_kib=1, acc_kib=1)
LEDS = ("led_idle", "led_error", "led_activity")


def _error(frame):
    """An ERROR frame's code and the type it names."""
    assert frame.type == FrameType.ERROR, frame
    fields = from_bytes(error_reply_layout, frame.payload)
    return ErrorCode(fields["code"]), FrameType(fields["type"])


class WatchedTransport(SimUartTransport):
    """The simulated top's transport, keeping the LEDs' latest values in :attr:`leds`."""

    def __init__(self, top):
        super().__init__(top)
        self.leds = {}
        # A process, not a testbench: it sees every change, transient ones included, where a
        # testbench waiting for changes breaks on a combinational glitch.
        self._sim.add_process(self._watch_leds)

    async def _watch_leds(self, ctx):
        signals = [getattr(self._top, name) for name in LEDS]
        _, *values = await ctx.delay(0).sample(*signals)
        self.leds = dict(zip(LEDS, values, strict=True))
        async for values in ctx.changed(*signals):
            self.leds = dict(zip(LEDS, values, strict=True))


def test_leds_and_reset():
    top = UartTop(CFG, divisor=MIN_DIVISOR)
    board = WatchedTransport(top)
    link = HostLink(board, CFG, timeout=20_000 / SIM_CLOCK_HZ)
    board.run(10)
    assert board.leds == {"led_idle": 1, "led_error": 0, "led_activity": 0}

    status = link.status()
    assert status.idle and status.error == 0
    assert board.leds["led_activity"] == 1
    board.run(ACTIVITY_BITS * MIN_DIVISOR)
    assert board.leds == {"led_idle": 1, "led_error": 0, "led_activity": 0}

    # A command with reserved bits set: the engine skips it and sets its sticky error bit.
    link.send_commands([encode_nop() | 1 << RESERVED_OFFSET])
    assert link.status().error == Error.BAD_OPCODE
    assert board.leds["led_error"] == 1
    link.reset()
    assert link.status().error == 0
    assert board.leds["led_error"] == 0

    # A frame the bridge drops lights the error LED too, until the next RESET.
    frame = bytearray(encode_frame(FrameType.STATUS_QUERY))
    frame[-1] ^= 0xFF
    board.write(frame)
    assert _error(link.receive()) == (ErrorCode.BAD_CRC, FrameType.STATUS_QUERY)
    assert board.leds["led_error"] == 1
    link.reset()
    assert board.leds["led_error"] == 0


def test_truncated_frame_on_the_pins_times_out():
    # Half a frame, then silence: the bridge's default timeout (in bit times) drops it, and
    # the next frame is answered.
    top = UartTop(CFG, divisor=MIN_DIVISOR)
    board = SimUartTransport(top)
    link = HostLink(board, CFG, timeout=2 * DEFAULT_TIMEOUT_BITS * MIN_DIVISOR / SIM_CLOCK_HZ)
    board.write(encode_frame(FrameType.RESET)[:3])
    assert _error(link.receive()) == (ErrorCode.TRUNCATED, FrameType.RESET)
    assert board.cycles > DEFAULT_TIMEOUT_BITS * MIN_DIVISOR
    assert link.status().idle


@pytest.mark.parametrize("kwargs, error, message", [
    ({"divisor": 3}, ValueError, r"divisor .* at least 4, not 3$"),
    ({"divisor": 8, "timeout": 80}, ValueError,
     r"timeout must be an integer of more than a byte's time \(80 cycles at divisor 8\), "
     r"not 80$"),
    ({"divisor": 8, "timeout": 1000.0}, ValueError, r"timeout must be .*, not 1000\.0$"),
    ({"divisor": 8, "max_payload": 4}, ValueError, r"max_payload must be an integer from 16"),
])
def test_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        UartTop(CFG, **kwargs)


def test_parameters():
    top = UartTop(CFG, divisor=10)
    assert (top.divisor, top.cfg, top.timeout) == (10, CFG, DEFAULT_TIMEOUT_BITS * 10)
    assert UartTop(CFG, divisor=10, timeout=101).timeout == 101
    with pytest.raises(TypeError, match="cfg must be a hw.config.Config, not 'x'"):
        UartTop("x", divisor=10)
    with pytest.raises(TypeError, match="top must be a hw.fpga.top.UartTop"):
        SimUartTransport(CFG)


@pytest.fixture(scope="module")
def top_verilog(tmp_path_factory):
    path = tmp_path_factory.mktemp("uart_top") / "uart_top.v"
    cfg = Config(rows=3, cols=2, in_fmt="bf16", dataflow="ws", spad_kib=1, acc_kib=1)
    path.write_text(verilog.convert(UartTop(cfg, divisor=8), name="uart_top", emit_src=False))
    return path


def test_top_converts_to_verilog(top_verilog):
    # What a board build takes: the pins and LEDs as plain ports, clk and rst.
    text = top_verilog.read_text()
    module = text[text.index("module uart_top("):]
    module = module[:module.index("endmodule")]
    ports = {line.split()[-1].rstrip(";") for line in module.splitlines()
             if line.strip().startswith(("input", "output"))}
    assert ports == {"clk", "rst", "rx", "tx", "led_idle", "led_error", "led_activity"}


def test_top_verilator_lint_clean(top_verilog, require_tool):
    # The engine's lint (test_gen.py's flags: -Wall less Amaranth's own writing style).
    from test_gen import LINT_FLAGS

    env = {**os.environ, **require_tool(verilator_env)}
    r = subprocess.run(["verilator", *LINT_FLAGS, str(top_verilog)], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-4000:]
