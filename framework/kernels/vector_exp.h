// e^x for float in a form GCC vectorizes inside `#pragma omp simd` loops (glibc declares its vector expf only
// under -ffast-math, so std::exp stays one scalar call per element, 6x slower than the rest of a softmax).
// Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, e^r by its degree-7 polynomial, 2^n written into the
// exponent bits; error about 1 ulp. Exactly 0 below -87.3 (so masked scores, -inf, give exact zeros), NaN
// stays NaN; meant for x <= 88 (softmax arguments are <= 0), larger x give e^88.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace oasis {

inline float exp_vectorizable(float x) {
  constexpr float kLowest = -87.33654f, kHighest = 88.0f;
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer kept in the low mantissa bits
  const float clamped = std::min(std::max(x, kLowest), kHighest);
  const float shifted = clamped * kLog2e + kRound;
  const float n = shifted - kRound;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t exponent = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);  // n
  const float two_to_n = std::bit_cast<float>((exponent + 127) << 23);
  return x < kLowest ? 0.0f : p * two_to_n;
}

// std::exp for double (tests and reference runs), the vectorizable form for float.
template <typename T>
inline T exp_fast(T x) {
  if constexpr (std::is_same_v<T, float>)
    return exp_vectorizable(x);
  else
    return std::exp(x);
}

}  // namespace oasis
