#!/usr/bin/env bash
# The installed toolkit works on its own: `cmake --install` into a fresh
# prefix, then the installed shapectl finds the installed data (materials,
# the example stack behind the default simulated lab) from another
# directory, and a program built against the installed headers and library
# through pkg-config runs.
#   test_install.sh BUILD_DIR SOURCE_DIR SANITIZED(0|1)
set -euo pipefail
build=$1 src=$2 sanitized=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null

cd /
out=$(env -u SHP_DATA_DIR "$prefix/bin/shapectl" materials list --json)
echo "$out" | grep -q '"name": "alpha-BBO"' || { echo "alpha-BBO not listed"; exit 1; }
echo "$out" | grep -q "\"path\": \"$prefix/share/shaper/calibrations/materials/" ||
  { echo "installed shapectl did not use the installed data: $out"; exit 1; }

# Without a lab file the hw commands use the simulated lab on the installed
# fan4 example.
env -u SHP_DATA_DIR "$prefix/bin/shapectl" hw status --json >/dev/null ||
  { echo "installed shapectl hw status failed"; exit 1; }

# shaper-gui, when built, comes with its desktop file and icon, and the
# example it opens with is installed.
if [ -e "$prefix/bin/shaper-gui" ]; then
  for f in share/applications/org.shaper.ShaperGui.desktop \
           share/icons/hicolor/scalable/apps/org.shaper.ShaperGui.svg \
           share/shaper/examples/targets/flat-top-4ps.yml; do
    test -s "$prefix/$f" || { echo "shaper-gui: $f not installed"; exit 1; }
  done
fi

if [ "$sanitized" = 1 ]; then
  echo "skipping the pkg-config build: the library is instrumented"
  exit 0
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c17 -o "$prefix/demo" "$src/examples/fan_solc_demo.c" \
  $(pkg-config --cflags --libs shaper)
mkdir "$prefix/out"
(cd "$prefix" && ./demo out) | grep -q "wrote" || { echo "demo failed"; exit 1; }
test -s "$prefix/out/fan_solc_intensity.csv"
echo "install test passed"
