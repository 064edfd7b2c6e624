"""``sim/objcache.py``, the compiler wrapper that compiles Verilator's run-time library once for
every build: a shared source compiled again is copied from the cache; another header, another
flag or a failed compile is not; the design's own sources are never cached; and every
Verilator build runs through it."""

import shutil

import pytest

from sim import objcache
from sim.tools import verilator_env

SOURCE = '#include "lib.h"\nint answer() { return ANSWER; }\n'


@pytest.fixture
def lib(tmp_path, require_tool):
    """A shared library source (outside the build folders) and two build folders."""
    require_tool(None if shutil.which("c++") else "no C++ compiler (c++) on PATH")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "lib.cpp").write_text(SOURCE)
    (tmp_path / "lib" / "lib.h").write_text("#define ANSWER 42\n")
    for name in ("b1", "b2"):
        (tmp_path / name).mkdir()
    return tmp_path


def _compile(root, folder, monkeypatch, *flags, source=None):
    monkeypatch.chdir(root / folder)
    src = source or str(root / "lib" / "lib.cpp")
    return objcache.main(["c++", "-O0", "-MMD", "-I", str(root / "lib"), *flags, "-c", "-o",
                          "lib.o", src], cache=root / "cache")


def test_a_shared_source_is_compiled_once(lib, monkeypatch):
    assert _compile(lib, "b1", monkeypatch) == 0
    stored = list((lib / "cache").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == (lib / "b1" / "lib.o").read_bytes()
    # Another build folder gets the stored object (marked here, so a compile would show).
    stored[0].write_bytes(b"from the cache")
    assert _compile(lib, "b2", monkeypatch) == 0
    assert (lib / "b2" / "lib.o").read_bytes() == b"from the cache"


def test_another_header_or_flag_is_another_object(lib, monkeypatch):
    assert _compile(lib, "b1", monkeypatch) == 0
    (lib / "lib" / "lib.h").write_text("#define ANSWER 43\n")
    assert _compile(lib, "b2", monkeypatch) == 0
    assert _compile(lib, "b2", monkeypatch, "-DEXTRA") == 0
    assert len(list((lib / "cache").iterdir())) == 3


def test_design_sources_and_failed_compiles_are_not_stored(lib, monkeypatch):
    (lib / "b1" / "design.cpp").write_text(SOURCE)
    assert _compile(lib, "b1", monkeypatch, source="design.cpp") == 0
    assert _compile(lib, "b1", monkeypatch, source=str(lib / "b1" / "design.cpp")) == 0
    assert (lib / "b1" / "lib.o").exists() and not (lib / "cache").exists()
    (lib / "lib" / "lib.cpp").write_text("this is not C++\n")
    assert _compile(lib, "b2", monkeypatch) != 0
    assert not (lib / "cache").exists()


def test_every_verilator_build_uses_it(monkeypatch, require_tool):
    monkeypatch.delenv("OBJCACHE", raising=False)
    env = require_tool(verilator_env)
    assert env["OBJCACHE"].endswith("objcache.py")
    monkeypatch.setenv("OBJCACHE", "ccache")
    assert "OBJCACHE" not in verilator_env()
