"""``python -m hw.gen``: write a configuration's Verilog and JSON manifest.

The output depends only on the parameters: running the same command twice gives byte-identical
files, with no machine paths, dates or random names in them.
"""

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .array import SystolicArray
from .array.systolic import shared_modules
from .config import (
    DATAFLOWS,
    DEFAULT_DSP_MULS,
    DISPATCHES,
    DRAINS,
    DSP_CHOICES,
    INT_ADDERS,
    MAX_DIM,
    POST_DELAYS,
    RESTARTS,
    SUBNORMALS,
    Config,
    ConfigError,
    Pipeline,
)
from .engine import AxiEngine
from .export import ModuleSet
from .formats import ACC_FORMATS, INPUT_FORMATS
from .manifest import array_manifest, dumps, engine_manifest

__all__ = ["KINDS", "FlowDefault", "module_name", "verilog_text", "generate", "OptionParser",
           "add_config_options", "option_name", "config_from_args", "main"]


KINDS = ("engine", "array")

#: The parameters a tool may default its own way (``add_config_options``'s
#: ``flow_defaults``), and their values.
FLOW_DEFAULT_CHOICES = {"restart": RESTARTS, "drain": DRAINS, "int_adder": INT_ADDERS,
                        "dispatch": DISPATCHES}


@dataclass(frozen=True)
class FlowDefault:
    """A tool's default for one design parameter: ``value`` where ``applies(cfg)`` is true
    (every design unless given) and the design takes it, the configuration's own default
    elsewhere; ``--help`` shows ``text`` (``value`` unless given). A plain value in
    ``flow_defaults`` is one for every design."""
    value: str
    applies: Callable = lambda cfg: True
    text: str = None

    def __post_init__(self):
        if self.text is None:
            object.__setattr__(self, "text", self.value)


def module_name(cfg, kind="engine"):
    """The Verilog module name: the kind and the key parameters
    (``engine_os_16x16_int8_int32_s128k_a64k``, ``systolic_os_16x16_int8_int32``)."""
    if kind == "array":
        return f"systolic_{cfg.name}"
    return f"engine_{cfg.engine_name}"


def _with_pe(cfg, name, make_top):
    """Verilog of ``make_top(pe_module, modules)`` as module ``name``, with the PE written once
    as ``<name>_pe`` and instantiated in tiles of PEs, each kind of tile written once and
    instantiated in the grid (see :mod:`hw.array.tile`, :mod:`hw.array.blackbox`); PEs with a
    logic multiplier (``Config.dsp_muls``) are ``<name>_pe_logic``, the edges' long delays
    instances of ``<name>_pe_delay<width>x<depth>`` (:mod:`hw.array.delayline`), and the stall
    enable's register copies ``<name>_pe_enable`` (:func:`~hw.array.systolic.shared_modules`).
    These and the other modules written once are the :class:`~hw.export.ModuleSet`
    ``modules`` (named ``<name>_<suffix>``), all written by one Yosys run, in name order."""
    pe_name = f"{name}_pe"
    modules = ModuleSet(name)
    for module, component in shared_modules(cfg, pe_name):
        modules.add(module[len(name) + 1:], lambda component=component: component)
    return modules.verilog(name, make_top(pe_name, modules))


def verilog_text(cfg, kind="engine"):
    """``(module name, Verilog text)`` for ``cfg``: the engine (AXI4-Stream ports) or the bare
    array."""
    name = module_name(cfg, kind)
    if kind == "array":
        return name, _with_pe(cfg, name, lambda pe, _: SystolicArray(cfg, pe_module=pe))
    return name, _with_pe(cfg, name,
                          lambda pe, modules: AxiEngine(cfg, pe_module=pe, modules=modules))


def generate(cfg, out_dir, kind="engine", *, asic=False):
    """Write ``<module>.v`` and ``<module>.json`` for ``cfg`` into ``out_dir``.
    Returns the two paths. ``asic``: ASIC-friendly Verilog, without initial values
    (:func:`hw.asic.synth.asic_verilog`); the memories are separate modules either way."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    name, text = verilog_text(cfg, kind)
    if asic:
        from .asic.synth import asic_verilog  # hw.asic imports this module
        text = asic_verilog(text)
    manifest = array_manifest(cfg, name) if kind == "array" else engine_manifest(cfg, name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path = out_dir / f"{name}.v"
    j_path = out_dir / f"{name}.json"
    v_path.write_text(text)
    j_path.write_text(dumps(manifest))
    return v_path, j_path


class OptionParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit status 2: what a user sees for
    any bad option of ``hw.gen`` and the tools built on it."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_config_options(parser, *, flow_defaults=None):
    """Add the options that describe a design to ``parser``: the :class:`~hw.config.Config`
    parameters and ``--array``. :func:`config_from_args` reads them back. ``flow_defaults``:
    a tool's own defaults, ``{parameter: value}`` (or a :class:`FlowDefault`) for parameters
    of ``restart``, ``drain``, ``int_adder`` and ``dispatch``, each taken where the user gave
    no value and the design allows it (the ASIC flow's :data:`hw.asic.flow.ASIC_DEFAULTS`, the
    FPGA flows' :data:`hw.fpga.flow.FPGA_DEFAULTS`); without, the configuration's."""
    flow_defaults = {param: value if isinstance(value, FlowDefault) else FlowDefault(value)
                     for param, value in (flow_defaults or {}).items()}
    for param, default in flow_defaults.items():
        if default.value not in FLOW_DEFAULT_CHOICES.get(param, ()):
            raise ValueError(f"flow_defaults must map {', '.join(FLOW_DEFAULT_CHOICES)} to one "
                             f"of their values, not {param!r}: {default.value!r}")
    parser.flow_defaults = flow_defaults

    def default(param, fallback):
        return flow_defaults[param].text if param in flow_defaults else fallback

    p = parser
    p.add_argument("--rows", type=int, default=16, metavar="N",
                   help=f"PE rows, 1 to {MAX_DIM} (default 16)")
    p.add_argument("--cols", type=int, default=None, metavar="N",
                   help=f"PE columns, 1 to {MAX_DIM} (default: same as --rows)")
    p.add_argument("--in-fmt", default="int8", metavar="FMT",
                   help=f"operand format: {', '.join(INPUT_FORMATS)} (default int8); or a set "
                        "joined by commas (int8,bf16,fp8e4m3): each GEMM's CONFIG picks one, the "
                        "first after reset")
    p.add_argument("--acc-fmt", default=None, metavar="FMT",
                   help=f"accumulator format: {', '.join(ACC_FORMATS)}; int8 takes int32 or "
                        "fp32, int4 takes int32, the float formats take fp32 (default: the "
                        "first of these)")
    p.add_argument("--dataflow", default="os", metavar="DF",
                   help="os = output-stationary (each PE owns one C element), ws = weight-"
                        f"stationary (weights preloaded, partial sums flow down); one of "
                        f"{', '.join(DATAFLOWS)} (default os)")
    p.add_argument("--subnormals", default="ieee", metavar="MODE",
                   help="float subnormal handling: ieee = in full, ftz = flush to zero "
                        f"(inputs and results); one of {', '.join(SUBNORMALS)} (default ieee)")
    p.add_argument("--spad-kib", type=int, default=None, metavar="KIB",
                   help="operand scratchpad size in KiB, split between buffers A and B "
                        "(default: 128, or the least the shape needs)")
    p.add_argument("--acc-kib", type=int, default=None, metavar="KIB",
                   help="accumulator memory size in KiB (default: 64, or the least the shape "
                        "needs)")
    p.add_argument("--pipeline", default=None, metavar="NAME=N,...",
                   help="register stages of arithmetic units (default: the least each needs): "
                        "mul and add (the PE's multiplier and accumulator adder), post_convert, "
                        "post_mul, post_round, post_narrow (post-processing), enable (the "
                        "array's stall enable, default 0), e.g. --pipeline post_mul=3,add=4")
    p.add_argument("--dsp", default="infer", metavar="KIND",
                   help="integer PE multipliers: infer (a * b, mapped by synthesis) or ecp5 "
                        "(an instantiated MULT18X18D holding the multiplier's registers; "
                        "with --pipeline mul=2 registered on both sides; post-processing's "
                        "FP32 multiplier's partial products too); one of "
                        f"{', '.join(DSP_CHOICES)} (default infer)")
    p.add_argument("--dsp-muls", type=int, default=None, metavar="N",
                   help="integer PEs (row-major) whose multiplier is a DSP block; the others "
                        f"build it from logic (default: rows*cols, at most {DEFAULT_DSP_MULS})")
    p.add_argument("--restart", default=None, metavar="HOW",
                   help="how an output-stationary PE's float accumulator starts a sum, same "
                        "latency either way: reset (its feedback register's synchronous "
                        "reset, free in an FPGA's flip-flops) or mux (a multiplexer before "
                        "the adder: smaller and faster in a standard-cell library); one of "
                        f"{', '.join(RESTARTS)} (default {default('restart', 'reset')}; integer "
                        "accumulators: mux)")
    p.add_argument("--drain", default=None, metavar="HOW",
                   help="how an output-stationary array takes finished sums out of its PEs, "
                        "same bits: chain (a shift chain of registers, a row every "
                        "contexts+1 cycles) or bus (one context only, so an integer "
                        "accumulator with add=1: gates through each column into one register, "
                        "a row a cycle, 32 flip-flops fewer per PE, a path that grows with the "
                        f"rows); one of {', '.join(DRAINS)} (default "
                        f"{default('drain', 'chain')})")
    p.add_argument("--int-adder", default=None, metavar="HOW",
                   help="how an integer accumulator adds a product to its sum, same bits: full "
                        "(one 32-bit adder, one carry chain on an FPGA) or split (an adder as "
                        "wide as the product, the upper bits an incrementer/decrementer: "
                        "smaller and faster in standard cells); one of "
                        f"{', '.join(INT_ADDERS)} (default {default('int_adder', 'full')}; "
                        "float accumulators: none)")
    p.add_argument("--post-delay", default="ff", metavar="WHERE",
                   help="where post-processing delays a lane's value to its slowest path: ff "
                        "(registers, 32 flip-flops per cycle) or ram (a RAM per delay line, "
                        "block RAM on an FPGA; same bits and cycles); one of "
                        f"{', '.join(POST_DELAYS)} (default ff)")
    p.add_argument("--post-lanes", type=int, default=None, metavar="N",
                   help="post-processing lanes, a divisor of --cols: a STORE sends a row every "
                        "cols/N cycles through N lanes instead of one a cycle through cols, "
                        "same bits (default: cols)")
    p.add_argument("--acc-lanes", type=int, default=None, metavar="N",
                   help="accumulate-on-write adders of the accumulator memory, a divisor of "
                        "--cols: it takes a row every cols/N cycles instead of one a cycle, "
                        "same bits (default: cols)")
    p.add_argument("--dispatch", default=None, metavar="HOW",
                   help="how the engine's controller decides a command may go to its unit, "
                        "same bits and order: direct (its range checks in the cycle it goes, a "
                        "command a cycle) or registered (those checks a cycle earlier, off the "
                        "path that limits an FPGA's clock; a LOAD, COMPUTE or STORE waits a "
                        f"cycle longer); one of {', '.join(DISPATCHES)} (default "
                        f"{default('dispatch', 'direct')})")
    p.add_argument("--array", action="store_true",
                   help="the bare systolic array (stream ports, no buffers or controller) "
                        "instead of the engine")
    return p


def _parser():
    p = OptionParser(prog="python -m hw.gen",
                     description="Generate a systolic-array MAC engine as Verilog plus a JSON "
                                 "manifest (parameters, ports, latency).")
    add_config_options(p)
    p.add_argument("--out", default="build", metavar="DIR",
                   help="output folder (default build/)")
    p.add_argument("--asic", action="store_true",
                   help="ASIC-friendly Verilog: no initial values (registers and memories "
                        "power up unknown in a chip); the RAMs are separate modules with the "
                        "ports hw/engine/ram.py documents, for a macro to replace")
    return p


def option_name(param):
    """The command-line option for a :class:`~hw.config.Config` parameter: ``in_fmt`` is
    ``--in-fmt``, ``pipeline.add`` is ``--pipeline add``."""
    head, _, field = param.partition(".")
    option = "--" + head.replace("_", "-")
    return f"{option} {field}" if field else option


def _pipeline(parser, text):
    """``--pipeline NAME=N,...`` as a dict (``None`` when not given)."""
    if text is None:
        return None
    names = [f.name for f in fields(Pipeline)]
    depths = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name not in names or not value.strip().lstrip("-").isdigit():
            parser.error(f"--pipeline must be NAME=N[,NAME=N...] with NAME one of "
                         f"{', '.join(names)}, not {text!r}")
        depths[name] = int(value)
    return depths


def config_from_args(parser, args):
    """``(Config, kind)`` from the options :func:`add_config_options` added; a bad value is
    ``parser.error`` naming the option (:func:`option_name`), so one line and exit status 2
    with :class:`OptionParser`."""
    try:
        cfg = Config(rows=args.rows, cols=args.cols, in_fmt=args.in_fmt, acc_fmt=args.acc_fmt,
                     dataflow=args.dataflow, subnormals=args.subnormals,
                     spad_kib=args.spad_kib, acc_kib=args.acc_kib,
                     pipeline=_pipeline(parser, args.pipeline), dsp=args.dsp,
                     dsp_muls=args.dsp_muls, restart=args.restart,
                     post_delay=args.post_delay, post_lanes=args.post_lanes,
                     acc_lanes=args.acc_lanes, drain=args.drain, int_adder=args.int_adder,
                     dispatch=args.dispatch)
    except ConfigError as e:
        parser.error(e.message(option_name))
    for param, default in getattr(parser, "flow_defaults", {}).items():
        if getattr(args, param) is not None or not default.applies(cfg):
            continue
        try:
            cfg = replace(cfg, **{param: default.value})
        except ConfigError:
            pass            # the design does not take the tool's default: the configuration's
    return cfg, "array" if args.array else "engine"


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    cfg, kind = config_from_args(parser, args)
    start = time.perf_counter()
    try:
        v_path, j_path = generate(cfg, args.out, kind, asic=args.asic)
    except OSError as e:
        parser.error(f"--out {args.out!r}: {e.strerror}")
    took = time.perf_counter() - start
    what = "array" if args.array else \
        f"engine, {cfg.spad_kib} KiB scratchpad, {cfg.acc_kib} KiB accumulators"
    print(f"wrote {v_path} and {j_path.name} ({cfg.rows}x{cfg.cols} {cfg.dataflow} "
          f"{cfg.in_fmt}->{cfg.acc_fmt} {what}) in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
