"""``python -m hw.host``: run a random GEMM on a board through its UART host link and check it
against the golden model.

::

    python -m hw.host --port /dev/ttyUSB0 --baud 115200 --rows 4 --spad-kib 4 --acc-kib 4 \\
        --m 9 --k 20 --n 6 --mode int8 --scale 0.01

The design options are ``python -m hw.gen``'s and must describe the board's engine;
``--sim`` runs the same on the board top simulated with Amaranth instead of a board. It
prints C, the cycles the engine was busy (the line's speed dominates them) and whether C is
bit-exact; the exit status is 0 when it is, 1 when it is not or the board fails to answer,
and 2 for a bad option or a port that cannot be opened (one line naming the problem).
"""

import argparse
import sys

import numpy as np

from .gen import OptionParser, add_config_options, config_from_args
from .isa import allowed_modes

__all__ = ["main"]


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _parser():
    from sim.link import DEFAULT_BAUD, DEFAULT_TIMEOUT

    from .fpga.protocol import DEFAULT_MAX_PAYLOAD

    p = OptionParser(prog="python -m hw.host",
                     description="Run a random GEMM on a board through its UART host link "
                                 "and check it against the golden model.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="DEV",
                       help="the board's serial port (/dev/ttyUSB0, COM3)")
    where.add_argument("--sim", action="store_true",
                       help="the board top simulated with Amaranth instead of a board")
    p.add_argument("--baud", type=_positive, default=DEFAULT_BAUD, metavar="N",
                   help=f"the board's baud rate (default {DEFAULT_BAUD})")
    p.add_argument("--max-payload", type=_positive, default=DEFAULT_MAX_PAYLOAD, metavar="N",
                   help=f"the board bridge's payload buffer in bytes (default "
                        f"{DEFAULT_MAX_PAYLOAD})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds the board may stay silent while a reply is due (default "
                        f"{DEFAULT_TIMEOUT})")
    add_config_options(p)
    gemm = p.add_argument_group("the GEMM")
    for name in "mkn":
        gemm.add_argument(f"--{name}", type=_positive, default=8, metavar=name.upper(),
                          help=f"{name.upper()} of C (M×N) = A (M×K) · B (K×N) (default 8)")
    gemm.add_argument("--mode", default="raw",
                      help="output: raw, int8 (requantized by --scale) or bf16 (fp32 "
                           "accumulators only) (default raw)")
    gemm.add_argument("--relu", action="store_true", help="ReLU before the output mode")
    gemm.add_argument("--scale", type=float, default=1.0,
                      help="the int8 requantization scale (default 1.0)")
    gemm.add_argument("--seed", type=int, default=0, help="random operands' seed (default 0)")
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    cfg, kind = config_from_args(parser, args)
    if kind != "engine":
        parser.error("--array cannot run GEMMs: the bare array has no host link")
    modes = [m.name.lower() for m in allowed_modes(cfg)]
    if args.mode not in modes:
        parser.error(f"--mode must be one of {', '.join(modes)} for {cfg.acc_fmt} "
                     f"accumulation, not {args.mode!r}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, not {args.timeout}")

    from sim.golden import same_bits
    from sim.host import ref_program
    from sim.link import LinkError, SerialTransport, link_gemm
    from sim.operands import random_matrix
    from sim.program import ProgramError, gemm_program

    from .fpga.protocol import check_max_payload

    try:
        check_max_payload(cfg, args.max_payload)
    except ValueError as e:
        parser.error("--max-payload" + str(e).removeprefix("max_payload"))
    rng = np.random.default_rng(args.seed)
    a = random_matrix(cfg, (args.m, args.k), rng)
    b = random_matrix(cfg, (args.k, args.n), rng)
    try:
        prog = gemm_program(cfg, a, b, relu=args.relu, mode=args.mode, scale=args.scale)
    except ProgramError as e:
        parser.error(str(e))
    design = f"{cfg.rows}x{cfg.cols} {cfg.dataflow} {cfg.in_fmt}->{cfg.acc_fmt} engine"

    try:
        if args.sim:
            from sim.backends.amaranth_uart import (
                SIM_CLOCK_HZ,
                SIM_DIVISOR,
                SIM_TIMEOUT_CYCLES,
                SimUartTransport,
            )

            from .fpga.top import UartTop

            where = f"the simulated board top (divisor {SIM_DIVISOR})"
            transport = SimUartTransport(UartTop(cfg, divisor=SIM_DIVISOR,
                                                 max_payload=args.max_payload))
            timeout = SIM_TIMEOUT_CYCLES / SIM_CLOCK_HZ
        else:
            where = f"{args.port} at {args.baud} baud"
            try:
                transport = SerialTransport(args.port, args.baud)
            except LinkError as e:
                parser.error(str(e))
            timeout = args.timeout
        print(f"{design} on {where}: GEMM {args.m}x{args.k}x{args.n}, mode {args.mode}"
              f"{', relu' if args.relu else ''}, seed {args.seed}", flush=True)
        try:
            c, cycles = link_gemm(prog, transport, max_payload=args.max_payload,
                                  timeout=timeout)
        finally:
            transport.close()
    except (LinkError, RuntimeError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1

    want = ref_program(prog, a, b)
    exact = same_bits(c, want, prog.out_format)
    print("C =")
    print(c)
    print(f"{cycles} cycles with the engine busy")
    if exact.all():
        print("bit-exact against the golden model: yes")
        return 0
    first = tuple(int(i) for i in np.argwhere(~exact)[0])
    print(f"bit-exact against the golden model: NO, {int((~exact).sum())} of {exact.size} "
          f"elements differ; first at {first}: got {c[first]}, want {want[first]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
