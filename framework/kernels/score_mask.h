// What attention kernels need to know besides the tensors: which keys each query may not see, and which
// score normalizers they can run fused. Shared by the model's normalizers (framework/model/normalizers.h)
// and the kernels, so the kernels depend on nothing in the model.
#pragma once
#include <ATen/core/Tensor.h>

namespace oasis {

// Which keys each query may not see: `causal` is the plain causal mask of a [T, T] block (query i sees keys
// 0..i; training and full-sequence evaluation), kernels may apply it without a mask tensor. Otherwise
// `blocked` (bool, broadcastable to the scores; true = hidden) holds it, or nothing is hidden.
struct ScoreMask {
  bool causal = false;
  at::Tensor blocked;
  at::Tensor apply(const at::Tensor& scores) const;  // -inf where hidden
};

// The normalizers that fused attention kernels can run without the weights (framework/kernels/fused_attention.h).
enum class FusedForm { none, softmax, softmax1 };

}  // namespace oasis
