// A stable 64-bit content hash (FNV-1a) for cache keys and config ids: same bytes, same hash, on every
// machine and compiler (unlike std::hash); and SplitMix64 for seeded, counter-based draws.
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

// SplitMix64's finaliser: a well-mixed 64-bit function of a counter (counter-based, seekable draws).
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline std::string hex16(uint64_t h) { return fmt::format("{:016x}", h); }

}  // namespace oasis
