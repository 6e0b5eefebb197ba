#include "framework/data/batches.h"

#include <algorithm>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/hash.h"

namespace oasis {


WindowSampler::WindowSampler(const std::vector<int32_t>& tokens, int64_t seq_len, bool bos, int32_t bos_id,
                             uint64_t seed, int64_t period)
    : tokens_(tokens), seq_len_(seq_len), bos_(bos), bos_id_(bos_id), seed_(seed), period_(std::max<int64_t>(1, period)) {
  // A window reads seq_len + 1 tokens (inputs and shifted targets), one fewer when BOS is prepended.
  max_start_ = int64_t(tokens.size()) - (bos ? seq_len : seq_len + 1);
  if (max_start_ < 0)
    throw RuntimeError(fmt::format("split has {} tokens, fewer than one window of data.seq_len={}", tokens.size(), seq_len));
  max_start_ -= max_start_ % period_;
}

int64_t WindowSampler::start_of(int64_t sample) const {
  const uint64_t starts = uint64_t(max_start_ / period_ + 1);
  return int64_t(splitmix64(splitmix64(seed_) ^ uint64_t(sample)) % starts) * period_;
}

Batch WindowSampler::gather(const std::vector<int64_t>& starts) const {
  const int64_t B = int64_t(starts.size()), T = seq_len_;
  auto inputs = torch::empty({B, T}, torch::kLong);
  auto targets = torch::empty({B, T}, torch::kLong);
  int64_t* x = inputs.data_ptr<int64_t>();
  int64_t* y = targets.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* src = tokens_.data() + starts[b];
    int64_t* xr = x + b * T;
    int64_t* yr = y + b * T;
    if (bos_) {
      xr[0] = bos_id_;
      for (int64_t t = 1; t < T; ++t) xr[t] = src[t - 1];
      for (int64_t t = 0; t < T; ++t) yr[t] = src[t];
    } else {
      for (int64_t t = 0; t < T; ++t) xr[t] = src[t], yr[t] = src[t + 1];
    }
  }
  return {inputs, targets};
}

Batch WindowSampler::batch(int64_t first, int64_t count) const {
  std::vector<int64_t> starts(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) starts[i] = start_of(first + i);
  return gather(starts);
}

Batch WindowSampler::evenly_spaced(int64_t count) const {
  std::vector<int64_t> starts(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t at = count == 1 ? 0 : max_start_ * i / (count - 1);
    starts[i] = at - at % period_;
  }
  return gather(starts);
}

}  // namespace oasis
