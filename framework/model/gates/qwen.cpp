// Qwen's G1 gate (Qiu et al., 2025): the attention output is scaled by sigmoid(x W) of the normalized block
// input, one scalar per head (headwise, W: d -> H) or one per channel (elementwise, W: d -> H * head_dim).
#include "framework/model/gates.h"

namespace oasis {
namespace {

class Qwen : public AttentionGate {
 public:
  Qwen(int64_t d_model, int64_t n_heads, int64_t head_dim, bool elementwise)
      : n_heads_(n_heads), elementwise_(elementwise) {
    const int64_t width = elementwise ? n_heads * head_dim : n_heads;
    proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(d_model, width).bias(false)));
  }
  at::Tensor forward(const at::Tensor& heads, const at::Tensor& x, const Taps& taps) override {
    const int64_t B = x.size(0), T = x.size(1);
    auto g = torch::sigmoid(proj->forward(x));                                   // [B, T, H or d]
    auto per_head = elementwise_ ? g.view({B, T, n_heads_, -1}).transpose(1, 2)  // [B, H, T, d_head]
                                 : g.transpose(1, 2).unsqueeze(-1);              // [B, H, T, 1]
    taps.emit("gate", per_head);
    return heads * per_head;
  }
  torch::nn::Linear proj{nullptr};

 private:
  int64_t n_heads_;
  bool elementwise_;
};

const bool headwise_registered = gate_registry().add(
    "qwen_headwise", {"Qwen G1: the output scaled by sigmoid(x W), one scalar per head",
                      [](const GateContext& c) { return std::make_shared<Qwen>(c.d_model, c.n_heads, c.head_dim, false); }});
const bool elementwise_registered = gate_registry().add(
    "qwen_elementwise", {"Qwen G1: the output scaled by sigmoid(x W), one scalar per channel",
                         [](const GateContext& c) { return std::make_shared<Qwen>(c.d_model, c.n_heads, c.head_dim, true); }});

}  // namespace
}  // namespace oasis
