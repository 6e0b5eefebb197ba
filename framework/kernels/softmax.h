// Softmax and Softmax1 with their log-sum-exp over the last dimension, as one autograd operation:
//   softmax   p = softmax(s)
//   softmax1  p_j = e^{s_j} / (1 + sum e^{s}) = softmax(s)_j sigmoid(LSE)
// and LSE = log sum e^{s}, over the visible keys. The backward has the softmax form, ds = p (g - sum_j g_j p_j),
// plus dL/dLSE times dLSE/ds. On CPU each direction is one fused kernel; with `causal` the scores are unmasked
// and the kernel applies the causal mask of a [T, T] block itself, skipping the future keys instead of reading
// a mask and exponentiating -inf. Elsewhere (and for scores already holding -inf where hidden) the ATen
// composition, which is also the reference the tests hold the kernel to (tests/kernels/kernels_test.cpp).
#pragma once
#include <torch/torch.h>

namespace oasis {

// Returns {p, lse}. `causal` only on CPU.
torch::autograd::variable_list fused_softmax_with_lse(const at::Tensor& scores, bool causal, bool null_logit);

}  // namespace oasis
