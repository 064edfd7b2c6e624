"""``python -m hw.gen``: write a configuration's Verilog and JSON manifest.

The output depends only on the parameters: running the same command twice gives byte-identical
files, with no machine paths, dates or random names in them.
"""

import argparse
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from .array import SystolicArray
from .blackbox import Gated
from .config import DATAFLOWS, MAX_DIM, SUBNORMALS, Config, ConfigError
from .formats import ACC_FORMATS, INPUT_FORMATS
from .manifest import array_manifest, dumps
from .pe import OSPE, WSPE

__all__ = ["module_name", "generate", "main"]


def module_name(cfg, kind="array"):
    """The Verilog module name: kind and key parameters (``systolic_os_16x16_int8_int32``)."""
    return f"systolic_{cfg.name}" if kind == "array" else f"{kind}_{cfg.name}"


def array_verilog(cfg, name):
    """Verilog text of a ``cfg`` array as module ``name``: the PE module once, then the array
    instantiating it ``rows × cols`` times (see :mod:`hw.blackbox`)."""
    pe_name = f"{name}_pe"
    pe_class = OSPE if cfg.dataflow == "os" else WSPE
    pe_text = verilog.convert(Gated(pe_class(cfg)), name=pe_name, emit_src=False)
    top_text = verilog.convert(SystolicArray(cfg, pe_module=pe_name), name=name,
                               emit_src=False)
    return top_text + "\n" + pe_text


def generate(cfg, out_dir, kind="array"):
    """Write ``<module>.v`` and ``<module>.json`` for ``cfg`` into ``out_dir``.
    Returns the two paths."""
    name = module_name(cfg, kind)
    text = array_verilog(cfg, name)
    manifest = array_manifest(cfg, name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path = out_dir / f"{name}.v"
    j_path = out_dir / f"{name}.json"
    v_path.write_text(text)
    j_path.write_text(dumps(manifest))
    return v_path, j_path


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, exit status 2: what a user sees for any bad option.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser():
    p = _Parser(prog="python -m hw.gen",
                description="Generate a systolic-array MAC engine as Verilog plus a JSON "
                            "manifest (parameters, ports, latency).")
    p.add_argument("--rows", type=int, default=16, metavar="N",
                   help=f"PE rows, 1 to {MAX_DIM} (default 16)")
    p.add_argument("--cols", type=int, default=None, metavar="N",
                   help=f"PE columns, 1 to {MAX_DIM} (default: same as --rows)")
    p.add_argument("--in-fmt", default="int8", metavar="FMT",
                   help=f"operand format: {', '.join(INPUT_FORMATS)} (default int8)")
    p.add_argument("--acc-fmt", default=None, metavar="FMT",
                   help=f"accumulator format: {', '.join(ACC_FORMATS)}; int8 takes int32 or "
                        "fp32, bf16 takes fp32 (default: int32 for int8, fp32 for bf16)")
    p.add_argument("--dataflow", default="os", metavar="DF",
                   help="os = output-stationary (each PE owns one C element), ws = weight-"
                        f"stationary (weights preloaded, partial sums flow down); one of "
                        f"{', '.join(DATAFLOWS)} (default os)")
    p.add_argument("--subnormals", default="ieee", metavar="MODE",
                   help="float subnormal handling: ieee = in full, ftz = flush to zero "
                        f"(inputs and results); one of {', '.join(SUBNORMALS)} (default ieee)")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="output folder (default build/)")
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        cfg = Config(rows=args.rows, cols=args.cols, in_fmt=args.in_fmt, acc_fmt=args.acc_fmt,
                     dataflow=args.dataflow, subnormals=args.subnormals)
    except ConfigError as e:
        parser.error(str(e).replace("in_fmt", "--in-fmt").replace("acc_fmt", "--acc-fmt")
                     .replace("rows ", "--rows ").replace("cols ", "--cols ")
                     .replace("dataflow", "--dataflow").replace("subnormals", "--subnormals"))
    start = time.perf_counter()
    try:
        v_path, j_path = generate(cfg, args.out)
    except OSError as e:
        parser.error(f"--out {args.out!r}: {e.strerror}")
    took = time.perf_counter() - start
    print(f"wrote {v_path} and {j_path.name} ({cfg.rows}x{cfg.cols} {cfg.dataflow} "
          f"{cfg.in_fmt}->{cfg.acc_fmt}) in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
