// Process-wide compute settings, applied once per command: LibTorch's thread count (it defaults to one
// thread on this machine), the global seed and the device.
#pragma once
#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace oasis {

// OpenBLAS picks its kernels from the CPU's model name; virtual machines that hide it ("Intel(R) Xeon(R)
// Processor") get the generic Prescott kernels, 4x slower (measured: 46 vs 197 GFLOP/s on a 2048^3
// matmul). When that happened and the CPU has AVX-512 or AVX2, this re-executes the program with
// OPENBLAS_CORETYPE set to SkylakeX or Haswell (OpenBLAS reads it only at load time). Call it first thing
// in main(); an OPENBLAS_CORETYPE set by the user is left alone.
void ensure_fast_blas_kernels(char** argv);

// The thread count `requested` means: itself, or every core for 0 (at least 1).
int64_t resolve_threads(int64_t requested);

// Sets LibTorch's intra-op threads to resolve_threads(requested). Returns the count in use.
int64_t apply_threads(int64_t requested);

// "auto" -> cuda when available, else cpu; "cuda" without a GPU is a ConfigError.
c10::Device resolve_device(const std::string& device);

// The dtype matmuls run in: "fp32" or "bf16" as named, "auto" -> bf16 on a CUDA device, else fp32.
c10::ScalarType resolve_precision(const std::string& precision, const c10::Device& device);
// "fp32" / "bf16", as run files and stats.h5 record it.
const char* precision_name(c10::ScalarType compute_dtype);

// Seeds LibTorch's global generator (model init); data order has its own counter-based stream.
void seed_everything(int64_t seed);

}  // namespace oasis
