#!/bin/sh
# Regenerate the seed corpus from the test fixtures and examples: the first
# byte picks the reader ('0' stack, '1' target); a "--8<--" line starts the
# contents of aux.csv / aux.yml (see fuzz_stack.c).
set -eu
cd "$(dirname "$0")"
data=../data
out=corpus
rm -rf "$out"
mkdir -p "$out"
seed() { # name selector file [aux-file [sed-expression]]
  name=$1 sel=$2 file=$3 aux=${4:-} expr=${5:-}
  {
    printf '%s' "$sel"
    if [ -n "$expr" ]; then sed "$expr" "$file"; else cat "$file"; fi
    if [ -n "$aux" ]; then printf -- '--8<--\n'; cat "$aux"; fi
  } >"$out/$name"
}
for f in ../../examples/stacks/*.yml; do
  seed "stack-example-$(basename "$f" .yml)" 0 "$f"
done
for f in "$data"/stacks/*.yml; do
  seed "stack-$(basename "$f" .yml)" 0 "$f"
done
seed stack-spectrum-aux 0 "$data/stacks/spectrum.yml" "$data/stacks/spectrum.csv" \
  's/spectrum_file: spectrum.csv/spectrum_file: aux.csv/'
seed stack-material-aux 0 "$data/stacks/material-path.yml" \
  "$data/materials/analytic.yml" 's|\.\./materials/analytic\.yml|aux.yml|'
for f in ../../examples/targets/*.yml; do
  seed "target-example-$(basename "$f" .yml)" 1 "$f"
done
for f in "$data"/targets/*.yml; do
  seed "target-$(basename "$f" .yml)" 1 "$f"
done
seed target-file-aux 1 "$data/targets/file.yml" "$data/targets/trace.csv" \
  's/trace.csv/aux.csv/'
seed target-file-bad-aux 1 "$data/targets/file.yml" "$data/targets/trace-bad.csv" \
  's/trace.csv/aux.csv/'
