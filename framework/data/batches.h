// Token windows as tensors. Training sample i starts at a position drawn from a counter-based hash of
// (seed, i): the data position is a single integer (samples consumed), so a resumed run reads exactly
// the windows an uninterrupted run would. With `bos`, every window starts with the end-of-text token. With
// a `period`, windows start only at multiples of it (generated datasets of fixed-length sequences).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace oasis {

struct Batch {
  at::Tensor inputs;   // [B, T] int64
  at::Tensor targets;  // [B, T] int64
};

class WindowSampler {
 public:
  WindowSampler(const std::vector<int32_t>& tokens, int64_t seq_len, bool bos, int32_t bos_id, uint64_t seed,
                int64_t period = 0);
  // Samples [first, first + count) of the run's sample sequence.
  Batch batch(int64_t first, int64_t count) const;
  // Window start of sample i.
  int64_t start_of(int64_t sample) const;
  // `count` windows at evenly spaced starts (periodic validation: the same windows every time).
  Batch evenly_spaced(int64_t count) const;

 private:
  Batch gather(const std::vector<int64_t>& starts) const;
  const std::vector<int32_t>& tokens_;
  int64_t seq_len_;
  bool bos_;
  int32_t bos_id_;
  uint64_t seed_;
  int64_t period_;     // >= 1
  int64_t max_start_;  // the last allowed start, a multiple of period_
};

}  // namespace oasis
