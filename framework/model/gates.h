// Gates on the attention output, per head and before W_O (methods §3.2-§3.3):
//   bondarenko        pi_{t,h} = sigmoid(G_h(x_{t,h})), G_h = Linear(d_head -> 1) on head h's slice of the
//                     normalized block input; bias = logit(gate_init) (0.25 by default)
//   qwen_headwise     Y_h *= sigmoid(x W), W: d -> H        (Qwen G1, one scalar per head)
//   qwen_elementwise  Y   *= sigmoid(x W), W: d -> H*d_head (Qwen G1, elementwise)
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "framework/model/taps.h"

namespace oasis {

class AttentionGate : public torch::nn::Module {
 public:
  // heads: [B, H, T, d_head]; x: the normalized block input [B, T, d]. Returns the gated heads.
  virtual at::Tensor forward(const at::Tensor& heads, const at::Tensor& x, const Taps& taps) = 0;
};

// nullptr for "none".
std::shared_ptr<AttentionGate> make_gate(const std::string& kind, int64_t d_model, int64_t n_heads, double gate_init);

}  // namespace oasis
