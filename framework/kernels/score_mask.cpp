#include "framework/kernels/score_mask.h"

#include <cmath>

#include <ATen/ATen.h>

namespace oasis {

at::Tensor ScoreMask::apply(const at::Tensor& scores) const {
  if (causal) {
    const int64_t T = scores.size(-2), S = scores.size(-1);
    auto future = at::ones({T, S}, scores.options().dtype(at::kBool)).triu(S - T + 1);
    return scores.masked_fill(future, -INFINITY);
  }
  return blocked.defined() ? scores.masked_fill(blocked, -INFINITY) : scores;
}

}  // namespace oasis
