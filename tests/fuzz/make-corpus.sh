#!/bin/sh
# Regenerate the seed corpus from the test fixtures and examples: the first
# byte picks the reader ('0' stack, '1' target); a "--8<--" line starts the
# contents of aux.csv / aux.yml (see fuzz_stack.c).
set -eu
cd "$(dirname "$0")"
data=../data
out=corpus
# Only what this script makes: corpus/protocols holds hand-made seeds.
mkdir -p "$out"
find "$out" -maxdepth 1 -type f -delete
rm -rf "$out/readers"
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

# fuzz_readers: '0' a refractiveindex.info file, '1' a CSV file, '2' a
# calibration file (see fuzz_readers.c).
readers=$out/readers
mkdir -p "$readers"
for f in "$data"/rii/*.yml; do
  { printf 0; cat "$f"; } >"$readers/rii-$(basename "$f" .yml)"
done
for f in "$data"/stacks/*.csv "$data"/targets/*.csv; do
  { printf 1; cat "$f"; } >"$readers/csv-$(basename "$f" .csv)"
done
for f in "$data"/calibrations/*.yml; do
  { printf 2; cat "$f"; } >"$readers/calibration-$(basename "$f" .yml)"
done
