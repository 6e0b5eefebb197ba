#!/usr/bin/env bash
# Issue #8's GPU checks as one script, for a session lent the GPU machine (15 minutes of it in all, the
# machine's start included): build and test (build.sh), then `oasis bench` at GPT-2-small and paper size
# with fused and written-out attention. Everything lands in $OUT: log.txt and one bench JSON per run.
#
# Prepare on Debian, in the repository root:
#   tools/gpu/fetch_debs.sh
#   mkdir -p tools/gpu/data && cp -r ../shared/data/. tools/gpu/data/    (35 MB; the tests use every dataset)
# then on the GPU machine, carrying tools/gpu/debs and tools/gpu/data:
#   tools/gpu/device_check.sh
# Environment: OUT (device-out), BUILD (build-gpu), STEPS (10 timed steps per preset), SIZES (gpt2-small
# paper), KERNELS (fused written), PRESETS (standard,attnres,oasis), BENCH_ARGS (extra key=value for every
# bench), TESTS (1), OASIS_DATA_DIR (tools/gpu/data), and build.sh's PYTHON / CUDA_ARCH.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$repo/device-out}
build=${BUILD:-$repo/build-gpu}
export OASIS_DATA_DIR=${OASIS_DATA_DIR:-$repo/tools/gpu/data}
mkdir -p "$out"
log=$out/log.txt
: >"$log"
say() { echo "== $*" | tee -a "$log"; }
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start)) s"; }

say "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'; } >>"$log" 2>&1

say "build ($(elapsed))"
if ! TESTS=0 "$repo/tools/gpu/build.sh" "$build" >>"$log" 2>&1; then
  say "build failed"; tail -40 "$log"; exit 1
fi
# shellcheck source=/dev/null
source "$build/env.sh"

if [ "${TESTS:-1}" != 0 ]; then
  say "tests ($(elapsed))"
  (cd "$build" && ctest -j "$(nproc)" --output-on-failure --timeout 300) >>"$log" 2>&1
  grep -E "tests passed|Failed|\(Failed\)|\*\*\*" "$log" | tail -15
fi

read -r -a extra <<<"${BENCH_ARGS:-}"
for size in ${SIZES:-gpt2-small paper}; do
  for kernel in ${KERNELS:-fused written}; do
    say "bench $size attention_kernel=$kernel ($(elapsed))"
    run_log=$(mktemp)
    "$build/oasis" bench "$repo/configs/bench/$size.yaml" attention_kernel="$kernel" "${extra[@]}" \
      --presets "${PRESETS:-standard,attnres,oasis}" --steps "${STEPS:-10}" --warmup 3 --peak-tflops 989 \
      --eval-schemes "" --decode-tokens 0 --out "$out/bench-$size-$kernel.json" >"$run_log" 2>&1 || say "bench failed"
    cat "$run_log" >>"$log"
    grep "^|" "$run_log"
    rm -f "$run_log"
  done
done
say "done ($(elapsed))"
