#!/usr/bin/env bash
# One entry point for a new user on Debian:
#   ./run.sh demo   install what is missing, build, run the shaping demo
#   ./run.sh test   install what is missing, build twice (normal, and with
#                   AddressSanitizer + UBSan, warnings as errors), run all tests
#   ./run.sh setup  install what is missing and build, nothing else
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the toolkit builds and tests with.
PACKAGES=(build-essential cmake ninja-build pkg-config
          libfftw3-dev libgsl-dev liblapacke-dev libusb-1.0-0-dev
          libyaml-dev libjansson-dev libcmocka-dev libcairo2-dev
          libgtk-4-dev umockdev xvfb xauth clang libclang-rt-14-dev
          locales)

install_packages() {
  install_debs
  install_locale
}

install_debs() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "run.sh: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

# The locale tests read and write every file under a decimal-comma locale
# (tests/unit/test_locale.c), so de_DE.UTF-8 must exist.
install_locale() {
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' && return 0
  echo "run.sh: generating the de_DE.UTF-8 locale" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" sed -i 's/^# *\(de_DE\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^de_DE\.UTF-8 UTF-8' /etc/locale.gen ||
    echo 'de_DE.UTF-8 UTF-8' | "${sudo[@]}" tee -a /etc/locale.gen >/dev/null
  "${sudo[@]}" locale-gen
}

# fuzz NAME EXTRA_FLAG SEEDS: one libFuzzer harness for a bounded time, its
# progress in build-fuzz/fuzz-NAME.log, the tail shown on a finding.
fuzz() {
  local name=$1 extra=$2 seeds=$3 log=build-fuzz/fuzz-$1.log
  mkdir -p "build-fuzz/corpus-$name" build-fuzz/artifacts
  echo "run.sh: fuzzing $name for ${SHP_FUZZ_SECONDS:-30} s"
  if ! "build-fuzz/tests/fuzz/fuzz_$name" -max_total_time="${SHP_FUZZ_SECONDS:-30}" \
      -timeout=5 $extra -artifact_prefix=build-fuzz/artifacts/ \
      "build-fuzz/corpus-$name" "$seeds" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "run.sh: the $name fuzzer found a failure; the input is in build-fuzz/artifacts/" >&2
    exit 1
  fi
  tail -n 1 "$log"
}

build() { # preset
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$(nproc)"
}

case "${1:-demo}" in
  setup)
    install_packages
    build default
    ;;
  demo)
    install_packages
    build default
    mkdir -p out
    # Closed-loop shaping on the simulated lab: its crystals carry hidden
    # errors the controller finds from autocorrelations alone.
    ./build/cli/shapectl run examples/labs/sim-flat-top-5ps.yml \
      --target examples/targets/flat-top-5ps.yml --plot out/closed-loop.png
    ;;
  test)
    install_packages
    build ci
    ctest --preset ci -j "$(nproc)"
    # Every reader of files and instruments under libFuzzer for a bounded
    # time, from the seed corpora (tests/fuzz/README.md): stacks and
    # targets, the protocol codecs, spectra, traces and calibrations, lab
    # files, the drivers' framing on a scripted instrument, journals.
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
      -DSHP_SANITIZE=ON -DSHP_FUZZ=ON -DSHP_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz --target fuzz_stack fuzz_protocols fuzz_readers \
      fuzz_lab fuzz_drivers fuzz_journal
    fuzz stack "-dict=tests/fuzz/stack.dict" tests/fuzz/corpus
    fuzz protocols "" tests/fuzz/corpus/protocols
    fuzz readers "" tests/fuzz/corpus/readers
    fuzz lab "-dict=tests/fuzz/lab.dict" tests/fuzz/corpus-lab
    fuzz drivers "" tests/fuzz/corpus-drivers
    fuzz journal "" tests/fuzz/corpus/journal
    build ci-asan
    ctest --preset ci-asan -j "$(nproc)"
    ;;
  *)
    echo "usage: ./run.sh [demo|test|setup]" >&2
    exit 2
    ;;
esac
