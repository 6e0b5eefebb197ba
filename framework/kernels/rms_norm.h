// RMSNorm, y = x / sqrt(mean(x^2) + eps) * w over the last dimension. On CPU one fused autograd operation:
// one pass forward, one pass backward per token plus a per-chunk sum for dw, where the ATen form (norm,
// rsqrt, two products and their backward passes) reads the activations about ten times. Other devices use
// the ATen form, which is the reference the tests hold the kernel to.
#pragma once
#include <torch/torch.h>

namespace oasis {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// 1 / sqrt(mean(x^2) + eps) over the last dimension, dropped (ATen ops; the AttnRes routing's reference
// uses it too). Through the 2-norm: no x^2 tensor, one pass forward and one backward.
torch::Tensor inverse_rms(const torch::Tensor& x, double eps);
torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace oasis
