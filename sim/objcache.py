"""A compiler wrapper that compiles each shared C++ source once for every Verilator build.

Every Verilator build (the cocotb benches', the compiled harness's) compiles the same run-time
library (``verilated.cpp``, ``verilated_vpi.cpp``, ``verilated_threads.cpp``, ...) and
cocotb's ``verilator.cpp`` again in its own folder: about 16 s of CPU per cocotb build, more
than the C++ of a small engine. :func:`sim.tools.verilator_env` names this file as Verilator's
``OBJCACHE`` (the command ``verilated.mk`` puts before each compile), so a compile whose source
lies outside the build folder is looked up in ``build/cxx-objects/`` first and copied from there
when an identical one was made before; sources in the build folder (the design's) are compiled
as usual.

Identical means: the same compiler (its ``--version``), the same command line but for the
object's name, and the same preprocessed source (every header it reads, the design's
``Vtop.h`` included, is in it). A compile that fails is never stored, and objects are written
under a temporary name and renamed, so builds running side by side can share the folder.

Usage (what ``make`` runs): ``python objcache.py c++ [flags...] -c -o NAME.o SOURCE``.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: Where objects are kept: ``build/cxx-objects/`` of this checkout.
CACHE = Path(__file__).resolve().parents[1] / "build" / "cxx-objects"
#: Changes whenever the key below is made differently.
_KEY_VERSION = b"objcache 1"
_SOURCES = (".cpp", ".cc", ".cxx", ".c")
# Flags that only name the dependency file, and those of them that take a value.
_DEP_FLAGS = {"-MMD", "-MD", "-MP"}
_DEP_VALUE_FLAGS = {"-MF", "-MT", "-MQ"}
# The process's umask (read by setting it), for the mode a plain write would give.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _target_and_source(cmd):
    """``(object path, source path)`` of a plain ``-c -o X SOURCE`` compile, else ``None``."""
    if "-c" not in cmd or "-o" not in cmd[:-1] or cmd.count("-o") != 1:
        return None
    target = cmd[cmd.index("-o") + 1]
    sources = [a for a in cmd[1:] if a.endswith(_SOURCES) and not a.startswith("-")]
    if len(sources) != 1 or sources[0] == target:
        return None
    return target, sources[0]


def _shared(source, cwd):
    """Whether ``source`` lies outside the build folder ``cwd`` (a library, not the design)."""
    path = Path(source)
    return path.is_absolute() and not path.resolve().is_relative_to(cwd)


def _key(cmd, target):
    """The hash of the compiler's version, the command but the object's name, and the
    preprocessed source; ``None`` when the compiler cannot preprocess it."""
    version = subprocess.run([cmd[0], "--version"], capture_output=True)
    pre, skip = [], False
    for i, arg in enumerate(cmd):
        if skip:
            skip = False
        elif arg in _DEP_VALUE_FLAGS or (arg == "-o" and cmd[i + 1] == target):
            skip = True
        elif arg not in _DEP_FLAGS and arg != "-c":
            pre.append(arg)
    text = subprocess.run([*pre, "-E"], capture_output=True)
    if version.returncode != 0 or text.returncode != 0:
        return None
    key = hashlib.sha256(_KEY_VERSION + b"\0" + version.stdout + b"\0")
    for arg in cmd:
        key.update((arg if arg != target else "<object>").encode() + b"\0")
    key.update(text.stdout)
    return key.hexdigest()


def _copy(src, dst):
    """Copy ``src`` to ``dst`` through a temporary file beside ``dst`` and a rename."""
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(cmd, cache=CACHE):
    """Run compile command ``cmd`` through the cache; returns its exit status."""
    if not cmd:
        print("usage: objcache.py COMPILER ARGS...", file=sys.stderr)
        return 2
    cwd = Path.cwd().resolve()
    found = _target_and_source(cmd)
    key = _key(cmd, found[0]) if found and _shared(found[1], cwd) else None
    if key is None:
        return subprocess.run(cmd).returncode
    target = cwd / found[0]
    stored = Path(cache) / f"{key}.o"
    if stored.exists():
        _copy(stored, target)
        return 0
    status = subprocess.run(cmd).returncode
    if status == 0 and target.exists():
        stored.parent.mkdir(parents=True, exist_ok=True)
        _copy(target, stored)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
