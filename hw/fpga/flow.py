"""What the FPGA flows share: running the open tools, their versions, progress lines and
failures.

:mod:`hw.fpga.ooc` (out of context) and :mod:`hw.build` (board bitstreams) both run Yosys,
nextpnr and a bitstream packer the same way: one tool at a time, from the run's own folder,
with a numbered progress line as each step starts (naming its log) and the elapsed time when
it ends; a failing tool is a :class:`FlowError` quoting the tool's own error.
"""

import os
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

from ..config import ConfigError
from . import report as rpt

__all__ = ["MAX_FREQ", "PLACERS", "MAX_SEED", "FPGA_DEFAULTS", "FlowError", "check_freq",
           "check_placer", "check_seed", "pnr_args", "pnr_choice", "add_pnr_options",
           "tool_version", "yosys_version",
           "nextpnr_version", "Progress", "run_tool", "fail", "run_for_command_line"]

#: Highest clock request, MHz (beyond any of these families' fabric).
MAX_FREQ = 1000
#: nextpnr's placers (``--placer``; nextpnr's default is ``heap``). ``static`` places a nearly
#: full iCE40 UP5K in a fraction of HeAP's time, whose strict legalisation struggles there:
#: the iCEBreaker's 1x1 engine (98 % of the logic cells), the two run side by side on a loaded
#: machine, was placed and routed by ``static`` in 298 s of wall time and 56 s of CPU (Fmax
#: 14.3 MHz), while HeAP took 770 s of wall time to place it (15.6 MHz after placement).
PLACERS = ("heap", "sa", "static")
#: Largest seed for nextpnr's random number generator (``--seed``, a signed 32-bit integer).
#: A seed changes the placement, and on a full or fast design the Fmax with it (README:
#: *Boards*, *FPGA estimates*).
MAX_SEED = 2**31 - 1
#: The FPGA flows' own defaults for design parameters (``hw.gen.add_config_options``'s
#: ``flow_defaults``; an option given on the command line wins): the controller's range
#: checks registered, off the path that limited the ECP5 engines' clock.
FPGA_DEFAULTS = {"dispatch": "registered"}
# Tries of a tool's version query: the first run of a YoWASP tool compiles it into a cache,
# and tools started together on a cold cache can fail once.
_TRIES = 3


class FlowError(RuntimeError):
    """A tool of the flow failed; the message names the step, the tool's own error and its
    log."""


def check_freq(freq):
    """Raise :class:`~hw.config.ConfigError` (parameter ``freq``) unless ``freq`` is a clock
    in MHz above 0 and at most :data:`MAX_FREQ`."""
    if isinstance(freq, bool) or not isinstance(freq, (int, float)) or \
            not 0 < freq <= MAX_FREQ:
        raise ConfigError("freq", freq, f"a clock in MHz above 0 and at most {MAX_FREQ}")


def check_placer(placer):
    """Raise :class:`~hw.config.ConfigError` (parameter ``placer``) unless ``placer`` is one
    of :data:`PLACERS` or ``None`` (nextpnr's default)."""
    if placer is not None and placer not in PLACERS:
        raise ConfigError("placer", placer, f"one of {', '.join(PLACERS)} or None")


def check_seed(seed):
    """Raise :class:`~hw.config.ConfigError` (parameter ``seed``) unless ``seed`` is ``None``
    (nextpnr's default) or an integer from 0 to :data:`MAX_SEED`."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or
                             not 0 <= seed <= MAX_SEED):
        raise ConfigError("seed", seed, f"an integer from 0 to {MAX_SEED}")


def pnr_args(placer=None, seed=None):
    """nextpnr's options choosing ``placer`` and ``seed`` (none for ``None``, nextpnr's
    default)."""
    return ([] if placer is None else ["--placer", placer]) + \
        ([] if seed is None else ["--seed", str(seed)])


def pnr_choice(placer=None, seed=None):
    """The placer and seed as a progress line says them."""
    return (f"placer {placer or 'heap (default)'}, "
            f"{'the default seed' if seed is None else f'seed {seed}'}")


def add_pnr_options(parser):
    """Add ``--placer`` (one of :data:`PLACERS`) and ``--seed`` (checked by
    :func:`check_seed`), both default ``None`` (nextpnr's own), to a flow's command line; a
    bad placer is argparse's usage error (status 2) naming the option."""
    parser.add_argument("--placer", default=None, choices=PLACERS,
                        help="nextpnr's placer (default: nextpnr's, heap); static is much "
                             "faster on a nearly full or large part")
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help=f"nextpnr's random seed, 0 to {MAX_SEED} (default: nextpnr's); "
                             "another seed is another placement, and on a full or fast "
                             "design another Fmax")


def _version(cmd, flag):
    """The first line a tool prints for ``flag``; tried a few times (see ``_TRIES``)."""
    for attempt in range(_TRIES):
        r = subprocess.run([*cmd, flag], capture_output=True, text=True)
        # Yosys answers on stdout, nextpnr on stderr, after YoWASP's own notes.
        lines = [line for line in (r.stdout + r.stderr).splitlines()
                 if line.strip() and not line.startswith("Preparing to run")]
        if r.returncode == 0 and lines:
            return lines[0].strip()
        time.sleep(1 + attempt)
    raise FlowError(f"{cmd[0]} {flag} failed (exit {r.returncode}): "
                    f"{(r.stderr or r.stdout).strip()[-300:]}")


def tool_version(cmd, version_line, package=None):
    """A report's entry for a tool: its command, the version it prints and, for a PyPI build,
    its package's version (``package``: the PyPI package, when not named as the command; it
    is then recorded as ``package_name``)."""
    entry = {"command": os.path.basename(cmd[0]), "version": version_line}
    try:
        entry["package"] = metadata.version(package or entry["command"])
        if package:
            entry["package_name"] = package
    except metadata.PackageNotFoundError:
        pass  # a native build on PATH
    return entry


def yosys_version(cmd):
    """:func:`tool_version` of the Yosys that ``cmd`` runs."""
    # Drop the compiler and build path that follow the git hash.
    return tool_version(cmd, re.sub(r"(\(git sha1 \w+)[^)]*\)", r"\1)", _version(cmd, "-V")))


def nextpnr_version(cmd):
    """:func:`tool_version` of the nextpnr that ``cmd`` runs."""
    line = _version(cmd, "--version")
    match = re.search(r"\(Version ([^)]+)\)", line)
    return tool_version(cmd, match[1] if match else line)


def print_line(line):
    """The flows' default progress log: ``line`` on standard output, at once."""
    print(line, flush=True)


class Progress:
    """Numbered progress lines: ``[n/total] what ...`` as a step starts, then its time.

    Parameters
    ----------
    total : int
        The number of steps.
    log : callable
        Called with each line.
    """

    def __init__(self, total, log):
        self.total = total
        self.log = log
        self.number = 0
        self._start = None

    def start(self, what):
        """Announce the next step."""
        self.number += 1
        self.log(f"[{self.number}/{self.total}] {what} ...")
        self._start = time.perf_counter()

    def elapsed(self):
        """Seconds since the current step started."""
        return time.perf_counter() - self._start

    def done(self, note="done"):
        """Log the step's elapsed time after ``note``; return it in seconds."""
        took = self.elapsed()
        self.log(f"      {note} in {took:.1f} s")
        return took


def run_tool(cmd, cwd, log_name, *, env=None):
    """Run ``cmd`` in ``cwd``; return ``(CompletedProcess, the text of cwd/log_name)``.

    YoWASP tools see only their working directory, ABC's temporary files included: the tool
    runs from the target folder with relative names and ``TMPDIR`` there. ``env`` adds to the
    environment.
    """
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       env={**os.environ, **(env or {}), "TMPDIR": str(Path(cwd).resolve())})
    log_path = Path(cwd) / log_name
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return r, text


def fail(step, r, text, log_path):
    """Raise :class:`FlowError` for a failed step: the log's first ``ERROR:`` line, else the
    tool's last output."""
    error = rpt.log_error(text) or (r.stderr or r.stdout).strip()[-300:] or "no message"
    raise FlowError(f"{step} failed (exit {r.returncode}): {error}; see {log_path}")


def run_for_command_line(parser, out, flow, *args, **kwargs):
    """``flow(*args, **kwargs)`` for a command line: a missing tool or an unusable ``--out``
    folder is a bad option (``parser.error``, status 2), a failed tool exits with status 1 and
    its one-line message."""
    from sim.tools import ToolMissing
    try:
        return flow(*args, **kwargs)
    except ToolMissing as e:
        parser.error(str(e))
    except FlowError as e:
        parser.exit(1, f"{parser.prog}: error: {e}\n")
    except OSError as e:
        parser.error(f"--out {out!r}: {e.strerror or e}")
