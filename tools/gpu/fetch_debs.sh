#!/usr/bin/env bash
# Run on Debian bookworm (this project's CI machine): downloads the .deb files of the libraries the GPU
# machine lacks into tools/gpu/debs (git-ignored), for tools/gpu/build.sh to unpack there. The GPU machine
# has a compiler, CMake, Ninja, CUDA and Python's torch, but no yaml-cpp, HDF5, fmt, Boost, nlohmann-json,
# sentencepiece, PCRE2, GoogleTest or pkg-config, and cannot download anything (docs/gpu.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/debs}
packages=(
  libyaml-cpp-dev libyaml-cpp0.7
  libfmt-dev libfmt9
  libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0
  libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100 libsz2 libaec0 libaec-dev
  nlohmann-json3-dev
  libsentencepiece-dev libsentencepiece0 libprotobuf-lite32
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libgtest-dev
  pkgconf pkgconf-bin libpkgconf3
)
mkdir -p "$out"
cd "$out"
rm -f ./*.deb
# (apt warns that root downloads unsandboxed into a folder its _apt user cannot read; harmless here)
apt-get download "${packages[@]}" 2>&1 >/dev/null | { grep -v "unsandboxed" || true; } >&2
echo "fetch_debs: $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $out"
