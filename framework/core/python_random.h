// CPython's random.Random for integer seeds: MT19937 seeded with init_by_array, getrandbits, randbelow
// and sample, drawn exactly as CPython 3.11 draws them. lm-evaluation-harness picks few-shot examples
// with random.Random(1234).sample, so prompts that match it byte for byte need the same stream.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace oasis {

class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed);
  uint32_t next_u32();                // genrand_uint32
  uint32_t getrandbits(int bits);     // 1 <= bits <= 32
  uint32_t randbelow(uint32_t n);     // uniform in [0, n), n >= 1
  // random.sample(range(population), k): k distinct indices in CPython's order.
  std::vector<int64_t> sample(int64_t population, int64_t k);

 private:
  static constexpr int kN = 624;
  std::array<uint32_t, kN> state_{};
  int index_ = kN;
};

}  // namespace oasis
