"""``python -m hw.asic``: what a generated design costs in silicon, before layout.

Takes the same design options as ``python -m hw.gen`` plus a standard-cell library, and runs
the flow of :mod:`hw.asic.flow`: synthesis with Yosys and ABC to the library's cells (with
fanout buffering and gate sizing), SRAM macros for the large memories, timing with OpenSTA.
Writes ``<out>/<design>/asic.json`` and prints a table: area by part, one PE's cells, worst
slack, Fmax, the critical path, and peak GOP/s.
"""

import argparse
import sys

from ..config import ConfigError
from ..fpga.flow import run_for_command_line
from ..gen import OptionParser, add_config_options, config_from_args, option_name
from . import liberty as lb
from . import macros as mc
from .flow import ASIC_DEFAULTS, DEFAULT_CLOCK_NS, check_clock, run, target_dir
from .report import format_table
from .synth import CLOCK_GATING_MIN

__all__ = ["main"]


def _parser():
    p = OptionParser(prog="python -m hw.asic",
                     description="Synthesise a generated design to a standard-cell library "
                                 "with Yosys, time it with OpenSTA, and report its area, "
                                 "Fmax and GOP/s. Takes hw.gen's design options, with other "
                                 "defaults where the design takes them: --restart mux, "
                                 "--drain bus (up to 24 rows), --int-adder split.")
    add_config_options(p, flow_defaults=ASIC_DEFAULTS)
    p.add_argument("--liberty", default=None, metavar="FILE",
                   help="the standard-cell library, .lib or .lib.gz (default: $HW_LIBERTY, "
                        f"else ../shared/pdk/{lb.DEFAULT_NAME} beside the checkout)")
    clock = p.add_mutually_exclusive_group()
    clock.add_argument("--clock-ns", type=float, default=None, metavar="NS",
                       help=f"requested clock period in ns (default {DEFAULT_CLOCK_NS:g})")
    clock.add_argument("--freq", type=float, default=None, metavar="MHZ",
                       help="requested clock in MHz (instead of --clock-ns)")
    p.add_argument("--sram-above", type=int, default=mc.DEFAULT_SRAM_ABOVE, metavar="BITS",
                   help="RAMs of more bits become SRAM macros, smaller ones flip-flops "
                        f"(default {mc.DEFAULT_SRAM_ABOVE})")
    p.add_argument("--macros", default=None, metavar="FILE",
                   help="SRAM macros to build RAMs of, " + mc.MACROS_FORMAT + " (default: "
                        "OpenRAM's published SKY130 macros, " +
                        ", ".join(m.name for m in mc.SKY130_MACROS) + ")")
    p.add_argument("--clock-gating", action=argparse.BooleanOptionalAction, default=True,
                   help="give each set of at least "
                        f"{CLOCK_GATING_MIN} flip-flops sharing an enable an integrated "
                        "clock-gating cell, the flip-flops no enable (default: on)")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="base folder (default build/); a run goes to DIR/<design>/")
    return p


def _option(param):
    return {"clock_ns": "--clock-ns", "freq": "--freq"}.get(param, option_name(param))


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    cfg, kind = config_from_args(parser, args)
    liberty = args.liberty
    if liberty is None:
        default = lb.default_liberty()
        liberty = default if default.exists() else None
    try:
        lb.check_liberty(liberty)
        if args.freq is not None:
            if not 0 < args.freq <= 1e6:
                raise ConfigError("freq", args.freq, "a clock in MHz above 0")
            clock_ns = 1000 / args.freq
        else:
            clock_ns = DEFAULT_CLOCK_NS if args.clock_ns is None else args.clock_ns
            check_clock(clock_ns)
        if args.sram_above < 0:
            raise ConfigError("sram_above", args.sram_above, "a number of bits, 0 or more")
        macros = mc.load_macros(args.macros) if args.macros else mc.SKY130_MACROS
    except ConfigError as e:
        parser.error(e.message(_option))
    report = run_for_command_line(parser, args.out, run, cfg, kind, liberty, clock_ns,
                                  args.out, args.sram_above, macros,
                                  clock_gating=args.clock_gating)
    print(format_table(report))
    print(f"wrote {target_dir(args.out, report['design'])}/asic.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
