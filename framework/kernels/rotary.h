// Rotary position embedding (the "rotate half" layout): pairs (i, i + D/2) of each head are rotated by
// position-dependent angles, out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin. On CPU the rotation is one
// fused autograd operation (one pass forward, one backward: the rotation by minus the angle), where the
// ATen form takes seven passes over q and k each way; it reads q and k straight from the strided qkv
// projection. Other devices use the ATen form, which is the reference the tests hold the kernel to.
#pragma once
#include <torch/torch.h>

namespace oasis {

class Rotary {
 public:
  Rotary(int64_t head_dim, int64_t max_seq_len, double theta);
  torch::Tensor apply(const torch::Tensor& x) const;  // x: [B, H, T, D] at positions 0..T-1
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& positions) const;  // positions: [B, T]

 private:
  torch::Tensor cos_, sin_;  // [max_seq_len, D/2]
};

// x [B, H, T, D] rotated by the angles whose cos and sin are given as [Bt, T, D/2], Bt 1 or B.
torch::Tensor rotate_half(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
torch::Tensor rotate_half_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace oasis
