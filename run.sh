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
          libgtk-4-dev umockdev xvfb clang libclang-rt-14-dev)

install_packages() {
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
    ./build/cli/shapectl simulate examples/stacks/stacker16-uv.yml \
      --target examples/targets/flat-top-16ps.yml --plot out/stacker16-uv.png
    ;;
  test)
    install_packages
    build ci
    ctest --preset ci -j "$(nproc)"
    # The stack and target readers under libFuzzer for a bounded time, from
    # the seed corpus (tests/fuzz/README.md).
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
      -DSHP_SANITIZE=ON -DSHP_FUZZ=ON -DSHP_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz --target fuzz_stack
    mkdir -p build-fuzz/corpus build-fuzz/artifacts
    echo "run.sh: fuzzing the stack and target readers for ${SHP_FUZZ_SECONDS:-60} s"
    if ! build-fuzz/tests/fuzz/fuzz_stack -max_total_time="${SHP_FUZZ_SECONDS:-60}" \
        -timeout=5 -dict=tests/fuzz/stack.dict \
        -artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus tests/fuzz/corpus \
        >build-fuzz/fuzz.log 2>&1; then
      tail -n 60 build-fuzz/fuzz.log
      echo "run.sh: the fuzzer found a failure; the input is in build-fuzz/artifacts/" >&2
      exit 1
    fi
    tail -n 2 build-fuzz/fuzz.log
    build ci-asan
    ctest --preset ci-asan -j "$(nproc)"
    ;;
  *)
    echo "usage: ./run.sh [demo|test|setup]" >&2
    exit 2
    ;;
esac
