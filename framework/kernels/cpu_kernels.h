// What the hand-written CPU kernels (AttnRes routing, Softmax1) need from the build:
// - at::parallel_for is a header template that runs on one thread unless the including file is compiled
//   with OpenMP (LibTorch's backend); a build without the flag fails here instead of running 2x slower.
// - OASIS_CPU_CLONES compiles a function for the baseline x86-64 and again for AVX2 + FMA (x86-64-v3), and
//   the loader picks the best one the machine has (GCC function multi-versioning), as ATen does for its own
//   kernels. The build stays portable: no -march flag; other compilers and architectures get the plain
//   function. Lambdas are not cloned: put the loops in a function with the attribute, called from the lambda.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>

#if !defined(INTRA_OP_PARALLEL)
#error "framework kernels must be compiled with OpenMP (-fopenmp), or at::parallel_for runs on one thread"
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OASIS_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define OASIS_CPU_CLONES
#endif

namespace oasis {

// Runs `tokens(begin, end, sum)` over [0, N) in parallel, where each call adds its tokens' contributions to
// a d-vector `sum` (e.g. a weight gradient), and writes the total to `out`. Tokens are cut into fixed chunks
// with a partial sum each, added in chunk order, so the bits do not depend on the thread count (exact
// resume compares weights bit for bit).
template <typename T, typename TokensFn>
void sum_over_token_chunks(int64_t N, int64_t d, T* out, const TokensFn& tokens) {
  constexpr int64_t kTokensPerChunk = 128;
  const int64_t chunks = (N + kTokensPerChunk - 1) / kTokensPerChunk;
  std::vector<T> partial(chunks * d, T(0));
  at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    for (int64_t c = chunk_begin; c < chunk_end; ++c)
      tokens(c * kTokensPerChunk, std::min(N, (c + 1) * kTokensPerChunk), partial.data() + c * d);
  });
  std::fill(out, out + d, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t k = 0; k < d; ++k) out[k] += partial[c * d + k];
}

}  // namespace oasis
