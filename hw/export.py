"""Verilog modules written once for a whole export: repeated units and memories.

Amaranth writes a Verilog module for every elaboratable it meets, so a unit repeated per
column (a post-processing lane, an accumulator adder) is elaborated, netlisted and written
``cols`` times, and a memory is written with every word's initial value. For Verilog export
(:data:`~hw.dsp.VERILOG_EXPORT` as the platform, which :mod:`hw.gen` passes) a design
instead instantiates such a unit as an instance of one module, which it records in a
:class:`ModuleSet`; :mod:`hw.gen` writes each recorded module once, after the top level. In
simulation (any other platform, or no :class:`ModuleSet`) the units are elaborated as they
are, so the Amaranth tests check the same logic the exported modules hold, and the cocotb
tests check the exported Verilog itself.

This is the PE's mechanism (:mod:`hw.array.blackbox`) made general: a component becomes a
:class:`~hw.array.blackbox.Gated` module and its instances
:class:`~hw.array.blackbox.BlackBox` instances; a module given as Verilog text (the memories of
:mod:`hw.engine.ram`) is written as it is.
"""

import gc
import subprocess
import sys
from contextlib import contextmanager

from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil, verilog
from amaranth.hdl import Elaboratable, Fragment

from .array.blackbox import BlackBox, Gated
from .dsp import VERILOG_EXPORT
from .field_names import plain_field_names
from .forked import Forked

__all__ = ["ModuleSet", "written_once"]


class ModuleSet:
    """The modules an export writes once, each named ``<prefix>_<suffix>``.

    Parameters
    ----------
    prefix : str
        The top level's module name: every module name starts with it, so the modules of two
        configurations never clash in one netlist.
    """

    def __init__(self, prefix):
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty string, not {prefix!r}")
        self._prefix = prefix
        self._modules = {}

    @property
    def prefix(self):
        return self._prefix

    def name(self, suffix):
        """The module name for ``suffix``: ``<prefix>_<suffix>``."""
        return f"{self._prefix}_{suffix}"

    def add(self, suffix, make):
        """Record module ``<prefix>_<suffix>``, made by ``make()`` the first time (a component
        to convert, or the module's Verilog text); later calls with the same suffix only
        return the name. ``make`` must give the same module for the same suffix."""
        name = self.name(suffix)
        if name not in self._modules:
            self._modules[name] = make()
        return name

    def component(self, name):
        """The component recorded as module ``name`` (a ``KeyError`` if it is Verilog text or
        not recorded)."""
        module = self._modules[name]
        if isinstance(module, str):
            raise KeyError(name)
        return module

    @property
    def names(self):
        """The recorded module names, sorted (the order :meth:`verilog` writes them in)."""
        return sorted(self._modules)

    def verilog(self, top_name, top):
        """The Verilog text of the design: module ``top_name`` converted from ``top``, then
        every recorded module (those converting ``top`` records too, and those converting
        them records), each once.

        Every component is netlisted to RTLIL on its own and one Yosys run writes them all
        (:class:`_YosysStream`: it starts with the netlisting and reads each module as it
        comes), instead of one run per module; the modules given as Verilog text follow,
        sorted by name. ``top`` is elaborated first, which records the modules it
        instantiates; its netlisting (the longest) then runs in a forked child
        (:class:`~hw.forked.Forked`) while this process netlists the recorded modules.
        """
        with _collector_paused(), _YosysStream() as yosys:
            # Elaborating the top elaborates everything in it (Amaranth's Fragment.get), so
            # every module it instantiates is recorded before its netlisting starts.
            fragment = Fragment.get(top, VERILOG_EXPORT)
            top_rtlil = Forked(lambda: _rtlil(_Elaborated(top, fragment), top_name))
            texts, done = {}, set()
            while len(done) < len(self._modules):
                for name in sorted(set(self._modules) - done):
                    module = self._modules[name]
                    if isinstance(module, str):
                        texts[name] = module
                    else:
                        yosys.add(_rtlil(module, name))
                    done.add(name)
            yosys.add(top_rtlil.result())
            verilog_text = yosys.verilog()
        return "\n".join([verilog_text, *(texts[name] for name in sorted(texts))])


class _Elaborated(Elaboratable):
    """``component`` with its elaboration done: its ports as before, and ``fragment``
    (``Fragment.get(component, ...)``) for what it elaborates to, so that converting it does
    not elaborate it again."""

    def __init__(self, component, fragment):
        self._component = component
        self._fragment = fragment

    def __getattr__(self, name):
        return getattr(self._component, name)

    def elaborate(self, platform):
        return self._fragment


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off for the block, then one collection.

    Netlisting a large design allocates millions of objects that live until it is done; the
    collector, triggered by the allocations, walks that growing heap again and again (about a
    third of the CPU time of netlisting a 16x16 engine). Nothing is lost: the one collection
    at the end frees what cycles there are.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def _rtlil(component, name):
    return plain_field_names(
        rtlil.convert(component, name=name, emit_src=False, platform=VERILOG_EXPORT))


class _YosysStream:
    """One Yosys run turning RTLIL modules into Verilog as ``verilog.convert`` writes them,
    started before the first module is netlisted and fed each module as it comes.

    Starting the (WebAssembly) Yosys costs about a quarter of a second, and reading a large
    module as long again; both now overlap Amaranth's netlisting of the next module, on a
    second core. The script is the one ``verilog.convert`` runs after netlisting (Amaranth's
    private ``_convert_rtlil_text``: read the RTLIL, ``proc -nomux -norom``,
    ``memory_collect``, ``write_verilog -norename``), sent to Yosys's standard input one
    command at a time, and the output is the same text (``tests/test_export.py`` compares
    them). Amaranth's public API converts a whole design per run; this class and
    :meth:`_start` are the one place to adapt should its private parts change. A Yosys other
    than Amaranth's built-in one (a system Yosys, the JavaScript one) gets the whole text at
    the end, as before.
    """

    def __init__(self):
        self._yosys = find_yosys(lambda version: version >= (0, 40))
        self._parts = []
        self._popen = None

    def __enter__(self):
        command = self._command()
        if command is not None:
            self._popen = subprocess.Popen(
                [*command, "-q", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, encoding="utf-8")
        return self

    def __exit__(self, *exc_info):
        if self._popen is not None and self._popen.returncode is None:
            self._popen.kill()
            self._popen.communicate()

    def _command(self):
        # How Amaranth starts each kind of Yosys (its _BuiltinYosys and _SystemYosys). A
        # system Yosys built with an evaluation Verific prints a licence first, which
        # Amaranth strips and this does not: such a Yosys gets the whole text at the end.
        if hasattr(self._yosys, "YOSYS_PACKAGE"):
            return [sys.executable, "-m", self._yosys.YOSYS_PACKAGE]
        return None

    def add(self, rtlil_text):
        """Read the modules in ``rtlil_text``."""
        if self._popen is None:
            self._parts.append(rtlil_text)
            return
        try:
            self._popen.stdin.write(f"read_rtlil <<rtlil\n{rtlil_text}\nrtlil\n")
            self._popen.stdin.flush()
        except BrokenPipeError:
            pass                        # Yosys stopped: verilog() reports its error

    def verilog(self):
        """The Verilog of every module read."""
        if self._popen is None:
            return verilog._convert_rtlil_text("\n".join(self._parts))
        try:
            stdout, stderr = self._popen.communicate(
                "proc -nomux -norom\nmemory_collect\nwrite_verilog -norename\n")
        except BrokenPipeError:
            stdout, stderr = self._popen.communicate()
        # Amaranth's own check of the result (an error raises YosysError with Yosys's
        # message); its warning about processes is expected, as verilog.convert says.
        return self._yosys._process_result(self._popen.returncode, stdout, stderr,
                                           ignore_warnings=True, src_loc_at=0)


def written_once(m, platform, modules, name, make, suffix, *, en=1):
    """Add the component ``make()`` builds to ``m`` as submodule ``name``, and return what
    carries its ports.

    For Verilog export (``platform`` is :data:`~hw.dsp.VERILOG_EXPORT` and ``modules`` a
    :class:`ModuleSet`) the submodule is instead an instance of module ``<prefix>_<suffix>``,
    recorded in ``modules`` as ``Gated(make())`` the first time, with its ``en`` port driven by
    ``en``: an ``EnableInserter`` around ``m`` does not reach into an instance, so a stalled
    unit passes its enable here. Every call with the same ``suffix`` must build an equal
    component (same class and parameters); only the first is built.
    """
    if platform is not VERILOG_EXPORT or modules is None:
        component = make()
        m.submodules[name] = component
        return component
    module = modules.add(suffix, lambda: Gated(make()))
    box = BlackBox(dict(modules.component(module).signature.members), module)
    m.submodules[name] = box
    m.d.comb += box.en.eq(en)
    return box
