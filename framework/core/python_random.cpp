#include "framework/core/python_random.h"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace oasis {

PythonRandom::PythonRandom(uint64_t seed) {
  // random.seed(int): the absolute value's 32-bit words, least significant first ([0] for 0).
  std::vector<uint32_t> key;
  for (uint64_t rest = seed; rest != 0; rest >>= 32) key.push_back(uint32_t(rest & 0xffffffffu));
  if (key.empty()) key.push_back(0);
  // init_genrand(19650218) then init_by_array(key), as in CPython's _randommodule.c.
  auto& mt = state_;
  mt[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + uint32_t(i);
  int i = 1;
  size_t j = 0;
  for (int k = std::max<int>(kN, int(key.size())); k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + uint32_t(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - uint32_t(i);
    ++i;
    if (i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000u;
  index_ = kN;
}

uint32_t PythonRandom::next_u32() {
  constexpr uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
  auto& mt = state_;
  if (index_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      const uint32_t y = (mt[k] & upper) | (mt[(k + 1) % kN] & lower);
      mt[k] = mt[(k + 397) % kN] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint32_t PythonRandom::getrandbits(int bits) {
  if (bits < 1 || bits > 32) throw std::invalid_argument("PythonRandom::getrandbits: bits must be 1..32");
  return next_u32() >> (32 - bits);
}

uint32_t PythonRandom::randbelow(uint32_t n) {
  const int bits = 32 - __builtin_clz(n);  // n.bit_length()
  uint32_t r = getrandbits(bits);
  while (r >= n) r = getrandbits(bits);
  return r;
}

std::vector<int64_t> PythonRandom::sample(int64_t population, int64_t k) {
  if (k < 0 || k > population) throw std::invalid_argument("PythonRandom::sample: sample larger than population");
  if (population > int64_t(UINT32_MAX)) throw std::invalid_argument("PythonRandom::sample: population too large");
  std::vector<int64_t> result(size_t(k), 0);
  // CPython picks the method by size: a shrinking pool for small populations, rejection otherwise.
  int64_t setsize = 21;
  if (k > 5) setsize += int64_t(std::pow(4.0, std::ceil(std::log(double(k) * 3.0) / std::log(4.0))));
  if (population <= setsize) {
    std::vector<int64_t> pool(static_cast<size_t>(population));
    for (int64_t i = 0; i < population; ++i) pool[size_t(i)] = i;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = randbelow(uint32_t(population - i));
      result[size_t(i)] = pool[size_t(j)];
      pool[size_t(j)] = pool[size_t(population - i - 1)];
    }
  } else {
    std::unordered_set<int64_t> selected;
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = randbelow(uint32_t(population));
      while (selected.count(j)) j = randbelow(uint32_t(population));
      selected.insert(j);
      result[size_t(i)] = j;
    }
  }
  return result;
}

}  // namespace oasis
