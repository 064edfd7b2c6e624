"""What the FPGA flows share: running the open tools, their versions, progress lines and
failures.

:mod:`hw.fpga.ooc` (out of context) and :mod:`hw.build` (board bitstreams) both run Yosys,
nextpnr and a bitstream packer the same way: one tool at a time, from the run's own folder,
with a numbered progress line as each step starts (naming its log) and the elapsed time when
it ends; a failing tool is a :class:`FlowError` quoting the tool's own error.
"""

import json
import os
import re
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

from ..config import ConfigError
from . import report as rpt

__all__ = ["MAX_FREQ", "PLACERS", "MAX_SEED", "MAX_SEEDS", "PNR_OUTPUTS", "FPGA_DEFAULTS",
           "FlowError", "check_freq", "check_placer", "check_seed", "check_seeds",
           "parse_seeds", "seeds_to_try", "seed_file", "pnr_for_seed", "best_seed", "keep_best",
           "place_and_route",
           "pnr_args", "pnr_choice", "add_pnr_options",
           "WIDELUT_FAMILIES", "check_widelut", "widelut_option_error", "widelut_args",
           "add_synth_options",
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
#: Most seeds one sweep tries (``--seeds``): each is a whole place and route.
MAX_SEEDS = 64
#: nextpnr's options that name a file it writes; a sweep gives each seed its own
#: (:func:`pnr_for_seed`).
PNR_OUTPUTS = ("--log", "-l", "--report", "--asc", "--textcfg", "--write")
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


#: The families whose Yosys synthesis builds functions of 5 to 7 inputs from LUT4s and the
#: slices' multiplexers (PFUMX, L6MUX21 on the ECP5; MUX2_LUT5… on Gowin), which
#: ``widelut=False`` (Yosys's ``-nowidelut``) leaves to LUT4s alone.
WIDELUT_FAMILIES = ("ecp5", "gowin")


def check_widelut(widelut, family):
    """Raise :class:`~hw.config.ConfigError` (parameter ``widelut``) unless ``widelut`` is a
    bool, and ``True`` for a family without wide-LUT multiplexers (iCE40)."""
    if not isinstance(widelut, bool):
        raise ConfigError("widelut", widelut, "True or False")
    if not widelut and family not in WIDELUT_FAMILIES:
        raise ConfigError("widelut", widelut,
                          f"True (only {', '.join(WIDELUT_FAMILIES)} map wide LUTs)",
                          when={"family": family})


def widelut_option_error(widelut, family, what):
    """The command line's message for ``--no-widelut`` on a family that takes none (``what``:
    the option that chose it, as the user gave it), or ``None``."""
    if not widelut and family not in WIDELUT_FAMILIES:
        return (f"--no-widelut applies to the {' and '.join(WIDELUT_FAMILIES)} families (wide "
                f"LUTs), not {what}")
    return None


def widelut_args(widelut):
    """Yosys's synthesis options for ``widelut``."""
    return [] if widelut else ["-nowidelut"]


def add_synth_options(parser):
    """Add ``--no-widelut`` (``widelut``, default ``True``) to a flow's command line."""
    parser.add_argument("--no-widelut", dest="widelut", action="store_false",
                        help="ECP5 and Gowin: map logic to LUT4s only, not to wider LUTs built "
                             "with the slices' multiplexers (Yosys's -nowidelut): fewer LUT4s "
                             "where ABC's wide LUTs are wasteful (wide multiplexers), deeper "
                             "logic elsewhere")


def check_seed(seed):
    """Raise :class:`~hw.config.ConfigError` (parameter ``seed``) unless ``seed`` is ``None``
    (nextpnr's default) or an integer from 0 to :data:`MAX_SEED`."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or
                             not 0 <= seed <= MAX_SEED):
        raise ConfigError("seed", seed, f"an integer from 0 to {MAX_SEED}")


def _seeds_error(seeds):
    return ConfigError("seeds", seeds, f"a list of 1 to {MAX_SEEDS} distinct integers from 0 "
                                       f"to {MAX_SEED} (1-5, 1,3,7)")


def check_seeds(seeds, seed=None):
    """Raise :class:`~hw.config.ConfigError` (parameter ``seeds``) unless ``seeds`` is ``None``
    (no sweep) or a list or tuple of 1 to :data:`MAX_SEEDS` distinct integers from 0 to
    :data:`MAX_SEED`, and ``seed`` is ``None`` when it is not (one or the other)."""
    if seeds is None:
        return
    if not isinstance(seeds, (list, tuple)) or not 0 < len(seeds) <= MAX_SEEDS or \
            len(set(seeds)) != len(seeds) or \
            any(isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= MAX_SEED
                for x in seeds):
        raise _seeds_error(seeds)
    if seed is not None:
        raise ConfigError("seeds", seeds, "None (one seed, or a sweep)", when={"seed": seed})


def parse_seeds(text):
    """The seeds a command line's ``--seeds`` names: ranges and single seeds separated by
    commas (``1-5``, ``1,3,7``, ``1-3,10``), as a tuple in that order; checked by
    :func:`check_seeds`.

    Raises
    ------
    ConfigError
        (parameter ``seeds``, the text as given) when ``text`` is not such a list.
    """
    seeds = []
    for part in str(text).split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise _seeds_error(text)
        span = range(int(low), int(high) + 1) if dash else range(int(low), int(low) + 1)
        if len(seeds) + len(span) > MAX_SEEDS:
            raise _seeds_error(text)
        seeds += span
    try:
        check_seeds(tuple(seeds))
    except ConfigError:
        raise _seeds_error(text) from None
    return tuple(seeds)


def seeds_to_try(seed=None, seeds=None):
    """The seeds a flow places and routes with, in order: ``seeds`` when sweeping, else
    ``[seed]`` (``None``: nextpnr's default seed)."""
    return list(seeds) if seeds else [seed]


def seed_file(name, seed):
    """The name of a sweep's file ``name`` for ``seed``: ``pnr.log`` → ``pnr.seed3.log``."""
    stem, dot, rest = name.partition(".")
    return f"{stem}.seed{seed}.{rest}" if dot else f"{name}.seed{seed}"


def pnr_for_seed(argv, seed):
    """nextpnr's command line ``argv`` (without a seed) for one seed of a sweep: ``--seed``
    added and each file it writes (:data:`PNR_OUTPUTS`) named by :func:`seed_file`. Returns
    ``(argv, files)``, ``files`` mapping each written file's own name to the seed's."""
    out, files = list(argv), {}
    for i, arg in enumerate(out[:-1]):
        if arg in PNR_OUTPUTS:
            files[out[i + 1]] = out[i + 1] = seed_file(out[i + 1], seed)
    return [*out, "--seed", str(seed)], files


def best_seed(tries):
    """The index of the best of a sweep's ``tries``, each a dict with ``fmax_mhz`` (``None``
    when nextpnr timed no clock): the highest Fmax, the first of equals; the first try when
    none has one."""
    timed = [i for i, t in enumerate(tries) if t["fmax_mhz"] is not None]
    return max(timed, key=lambda i: (tries[i]["fmax_mhz"], -i)) if timed else 0


def keep_best(folder, tries, log=None):
    """The best of a sweep's ``tries`` (:func:`best_seed`; each a dict with ``seed``,
    ``fmax_mhz`` and ``files``, as :func:`pnr_for_seed` returns them), with its files copied
    in ``folder`` to the names a single run writes; ``log`` (when given) is told which was
    kept."""
    kept = tries[best_seed(tries)]
    for own, per_seed in kept["files"].items():
        shutil.copyfile(Path(folder) / per_seed, Path(folder) / own)
    if log:
        tried = ", ".join(f"{t['fmax_mhz']}" for t in tries)
        log(f"      kept seed {kept['seed']}: {kept['fmax_mhz']} MHz (of {tried})")
    return kept


def place_and_route(command, folder, log_name, report_name, freq, *, step, what, placer,
                    tries, sweeping, progress):
    """Run nextpnr's ``command`` (its whole command line, the files it writes named
    ``log_name``, ``report_name`` and so on) in ``folder`` once for each seed of ``tries``
    (:func:`seeds_to_try`; ``sweeping``: as a sweep, :func:`pnr_for_seed`, else ``command``
    as it is, holding its seed) and keep the best (:func:`keep_best`). Each try is a
    ``progress`` step, announced as ``what`` with the placer and seed; a failing nextpnr is a
    :class:`FlowError` naming ``step``.

    Returns
    -------
    (error, utilization, tried, kept)
        ``error`` is ``None`` unless the design does not fit the part (then no other seed is
        tried: the same netlist on the same part); ``utilization`` the kept try's (or the
        log's, when it does not fit); ``tried`` each try's ``seed``, ``fmax_mhz`` (against
        ``freq``), ``met``, ``cmd``, ``pnr`` (nextpnr's report) and ``files``; ``kept`` the
        kept one of them (``None`` when it does not fit).
    """
    tried = []
    for n, seed in enumerate(tries, 1):
        cmd, files = pnr_for_seed(command, seed) if sweeping else (list(command), {})
        own_log = files.get(log_name, log_name)
        own_report = Path(folder) / files.get(report_name, report_name)
        choice = pnr_choice(placer, seed, (n, len(tries)) if sweeping else None)
        progress.start(f"{what}, {choice} (log {Path(folder) / own_log})")
        own_report.unlink(missing_ok=True)
        r, text = run_tool(cmd, folder, own_log)
        utilization = rpt.log_utilization(text)
        over = [cell for cell, use in utilization.items() if use["used"] > use["available"]]
        if r.returncode == 0 and own_report.exists():
            pnr = json.loads(own_report.read_text())
            fmax = rpt.timing(pnr, freq)["fmax_mhz"]
            tried.append({"seed": seed, "fmax_mhz": fmax,
                          "met": fmax is not None and fmax >= freq,
                          "cmd": cmd, "pnr": pnr, "files": files})
            progress.done(f"done ({fmax} MHz)" if sweeping else "done")
        elif over:
            progress.done(f"does not fit ({', '.join(over)})")
            return rpt.log_error(text) or f"too many {', '.join(over)}", utilization, tried, \
                None
        else:
            fail(step, r, text, Path(folder) / own_log)
    kept = keep_best(folder, tried, progress.log if sweeping else None)
    return None, kept["pnr"]["utilization"], tried, kept


def pnr_args(placer=None, seed=None):
    """nextpnr's options choosing ``placer`` and ``seed`` (none for ``None``, nextpnr's
    default)."""
    return ([] if placer is None else ["--placer", placer]) + \
        ([] if seed is None else ["--seed", str(seed)])


def pnr_choice(placer=None, seed=None, sweep=None):
    """The placer and seed as a progress line says them; ``sweep``: ``(n, of)``, the try's
    place in a sweep."""
    what = "the default seed" if seed is None else f"seed {seed}"
    if sweep:
        what += f" ({sweep[0]} of {sweep[1]} tried)"
    return f"placer {placer or 'heap (default)'}, {what}"


def add_pnr_options(parser):
    """Add ``--placer`` (one of :data:`PLACERS`), and ``--seed`` (checked by
    :func:`check_seed`) or ``--seeds`` (a sweep, read by :func:`parse_seeds`), all default
    ``None`` (nextpnr's own), to a flow's command line; a bad placer, or both seed options, is
    argparse's usage error (status 2) naming the option."""
    parser.add_argument("--placer", default=None, choices=PLACERS,
                        help="nextpnr's placer (default: nextpnr's, heap); static is much "
                             "faster on a nearly full or large part")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, metavar="N",
                       help=f"nextpnr's random seed, 0 to {MAX_SEED} (default: nextpnr's); "
                            "another seed is another placement, and on a full or fast "
                            "design another Fmax")
    seeds.add_argument("--seeds", default=None, metavar="LIST",
                       help=f"a seed sweep: place and route once for each seed of LIST "
                            f"(1-5, 1,3,7; at most {MAX_SEEDS}) and keep the one with the "
                            "highest Fmax; the report lists every try")


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
