// Process-wide compute settings, applied once per command: LibTorch's thread count (it defaults to one
// thread on this machine), the global seed and the device.
#pragma once
#include <cstdint>
#include <string>

#include <c10/core/Device.h>

namespace oasis {

// Sets LibTorch's intra-op threads; 0 means every core. Returns the count in use.
int64_t apply_threads(int64_t requested);

// "auto" -> cuda when available, else cpu; "cuda" without a GPU is a ConfigError.
c10::Device resolve_device(const std::string& device);

// Seeds LibTorch's global generator (model init); data order has its own counter-based stream.
void seed_everything(int64_t seed);

}  // namespace oasis
