// Process-wide compute settings, applied once per command: LibTorch's thread count (it defaults to one
// thread on this machine), the global seed and the device.
#pragma once
#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace oasis {

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
