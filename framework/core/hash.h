// A stable 64-bit content hash (FNV-1a) for cache keys and config ids: same bytes, same hash, on every
// machine and compiler (unlike std::hash).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace oasis {

inline uint64_t fnv1a64(std::string_view data, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

inline std::string hex16(uint64_t h) { return fmt::format("{:016x}", h); }

}  // namespace oasis
