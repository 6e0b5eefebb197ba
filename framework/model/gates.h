// Gates on the attention output, per head and before W_O, chosen by name from a registry (`model.gate`;
// `none` for no gate). One file each in framework/model/gates/:
//   bondarenko        pi_{t,h} = sigmoid(G_h(x_{t,h})), G_h = Linear(d_head -> 1) on head h's slice of the
//                     normalized block input; bias = logit(model.bondarenko.init) (0.25 by default)
//   qwen_headwise     Y_h *= sigmoid(x W), W: d -> H        (Qwen G1, one scalar per head)
//   qwen_elementwise  Y   *= sigmoid(x W), W: d -> H*head_dim (Qwen G1, elementwise)
// A new gate is one file that defines its class and registers it (docs/extending.md).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "framework/core/component_options.h"
#include "framework/core/registry.h"
#include "framework/model/taps.h"

namespace oasis {

class AttentionGate : public torch::nn::Module {
 public:
  // heads: [B, H, T, d_head]; x: the normalized block input [B, T, d]. Returns the gated heads.
  virtual at::Tensor forward(const at::Tensor& heads, const at::Tensor& x, const Taps& taps) = 0;
};

// What a gate is built from; `options` holds the registered components' sections (nullptr: defaults).
struct GateContext {
  int64_t d_model = 0;
  int64_t n_heads = 1;
  int64_t head_dim = 0;  // width of each attention head (the heads' tensor is [B, H, T, head_dim])
  const ComponentSections* options = nullptr;
};

struct GateEntry {
  std::string description;
  std::function<std::shared_ptr<AttentionGate>(const GateContext&)> make;  // nullptr for `none`
};

Registry<GateEntry>& gate_registry();

// nullptr for "none".
std::shared_ptr<AttentionGate> make_gate(const std::string& name, const GateContext& context);

}  // namespace oasis
