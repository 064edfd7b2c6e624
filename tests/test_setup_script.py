"""``scripts/test.sh``: one ``apt-get install`` of exactly the Debian packages whose commands
are missing (Icarus Verilog, make, g++, OpenSTA), then the package from PyPI, then pytest.

The script runs with ``PATH`` holding only stand-ins: ``apt-get``, ``sudo`` and ``python3``
that log their arguments, and the commands a case says are present.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOGGER = '#!/bin/sh\necho "{name} $*" >> "{log}"\n'


def _run(tmp_path, present):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    for tool in ("id", "dirname", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for name in ("apt-get", "python3"):
        (bin_dir / name).write_text(LOGGER.format(name=name, log=log))
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for name in present:
        (bin_dir / name).write_text("#!/bin/sh\n")
    for path in bin_dir.iterdir():
        if not path.is_symlink():
            path.chmod(0o755)
    r = subprocess.run([shutil.which("bash"), str(ROOT / "scripts" / "test.sh"), "-k", "x"],
                       capture_output=True, text=True, env={"PATH": str(bin_dir)})
    assert r.returncode == 0, r.stderr
    return log.read_text().splitlines()


@pytest.mark.parametrize("present, missing", [
    ((), "iverilog make g++ opensta"),
    (("make", "sta"), "iverilog g++"),
    (("iverilog", "g++", "sta"), "make"),
    (("iverilog", "make", "g++"), "opensta"),
])
def test_installs_what_is_missing_in_one_call(tmp_path, present, missing):
    assert _run(tmp_path, present) == [
        "apt-get update -qq",
        f"apt-get install -y -qq {missing}",
        "python3 -m pip install -q --disable-pip-version-check -e .[test]",
        "python3 -m pytest -n auto --dist loadgroup -k x",
    ]


def test_installs_nothing_from_apt_when_all_is_there(tmp_path):
    assert _run(tmp_path, ("iverilog", "make", "g++", "sta")) == [
        "python3 -m pip install -q --disable-pip-version-check -e .[test]",
        "python3 -m pytest -n auto --dist loadgroup -k x",
    ]
