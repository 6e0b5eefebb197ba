#!/usr/bin/env bash
# Builds oasis on the GPU machine and runs its tests: LibTorch from the machine's Python torch (2.x, CUDA),
# everything else from the Debian .deb files that tools/gpu/fetch_debs.sh downloaded on a Debian machine,
# unpacked with `dpkg -x` into the build folder (never into /). That torch must be the version
# requirements.txt pins (the machine had 2.11.0+cu130 when last seen); cmake/torch.cmake says so otherwise.
#
#   tools/gpu/build.sh [BUILD_DIR]        default BUILD_DIR: build-gpu
#
# Environment: PYTHON (python3; the interpreter whose torch is used), DEBS (tools/gpu/debs), CUDA_ARCH (90: H100/H200), JOBS (all cores), TESTS (1; 0 builds only),
# OASIS_DATA_DIR (the datasets; the tests that need them fail without it).
# It prints `source BUILD_DIR/env.sh`, which sets the library paths the binaries need to run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$repo/build-gpu}")
debs=${DEBS:-$repo/tools/gpu/debs}
jobs=${JOBS:-$(nproc)}
arch=${CUDA_ARCH:-90}
deps=$build/deps
lib=$deps/usr/lib/x86_64-linux-gnu

ls "$debs"/*.deb >/dev/null 2>&1 || { echo "build.sh: no .deb files in $debs; run tools/gpu/fetch_debs.sh on Debian first" >&2; exit 2; }
python=$(command -v "${PYTHON:-python3}")
echo "build.sh: torch of $python | debs $debs | build $build | jobs $jobs"

# Unpack once per set of .deb files (the stamp lists them).
stamp=$deps/.unpacked
listing=$(cd "$debs" && ls ./*.deb)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$listing" ]; then
  rm -rf "$deps" && mkdir -p "$deps"
  for f in "$debs"/*.deb; do dpkg -x "$f" "$deps"; done
  echo "$listing" >"$stamp"
fi

# pkg-config (for sentencepiece and PCRE2) from the unpacked pkgconf, reading only the unpacked .pc files
# and prefixing their /usr paths with the unpack folder.
cat >"$build/env.sh" <<ENV
export PATH="$deps/usr/bin:\$PATH"
export LD_LIBRARY_PATH="$lib:$lib/hdf5/serial\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$deps/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$deps"
ENV
# shellcheck source=/dev/null
source "$build/env.sh"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
  -DOASIS_PYTHON="$python" -DCMAKE_PREFIX_PATH="$deps/usr" -DHDF5_ROOT="$lib/hdf5/serial" -DBoost_ROOT="$deps/usr" \
  -DTORCH_CUDA_ARCH_LIST="${arch:0:-1}.${arch: -1}"
cmake --build "$build" -j "$jobs"
echo "build.sh: built $build/oasis; before running it: source $build/env.sh"
if [ "${TESTS:-1}" != 0 ]; then
  cd "$build" && ctest -j "$jobs" --output-on-failure
fi
