#include "framework/model/gates.h"

#include <cmath>

#include "framework/core/errors.h"

namespace oasis {

namespace {

class Bondarenko : public AttentionGate {
 public:
  Bondarenko(int64_t d_model, int64_t n_heads, double init) : n_heads_(n_heads) {
    const int64_t d_head = d_model / n_heads;
    weight = register_parameter("weight", torch::zeros({n_heads, d_head}));
    bias = register_parameter("bias", torch::full({n_heads}, std::log(init / (1.0 - init))));
  }
  at::Tensor forward(const at::Tensor& heads, const at::Tensor& x, const Taps& taps) override {
    const int64_t B = x.size(0), T = x.size(1);
    auto slices = x.view({B, T, n_heads_, -1});                                  // [B, T, H, d_head]
    auto pi = torch::sigmoid((slices * weight).sum(-1) + bias).transpose(1, 2);  // [B, H, T]
    taps.emit("gate", pi);
    return heads * pi.unsqueeze(-1);
  }
  at::Tensor weight, bias;

 private:
  int64_t n_heads_;
};

class Qwen : public AttentionGate {
 public:
  Qwen(int64_t d_model, int64_t n_heads, bool elementwise) : n_heads_(n_heads), elementwise_(elementwise) {
    proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(d_model, elementwise ? d_model : n_heads)
                                                         .bias(false)));
  }
  at::Tensor forward(const at::Tensor& heads, const at::Tensor& x, const Taps& taps) override {
    const int64_t B = x.size(0), T = x.size(1);
    auto g = torch::sigmoid(proj->forward(x));                                      // [B, T, H or d]
    auto per_head = elementwise_ ? g.view({B, T, n_heads_, -1}).transpose(1, 2)     // [B, H, T, d_head]
                                 : g.transpose(1, 2).unsqueeze(-1);                 // [B, H, T, 1]
    taps.emit("gate", per_head);
    return heads * per_head;
  }
  torch::nn::Linear proj{nullptr};

 private:
  int64_t n_heads_;
  bool elementwise_;
};

}  // namespace

std::shared_ptr<AttentionGate> make_gate(const std::string& kind, int64_t d_model, int64_t n_heads, double gate_init) {
  if (kind == "none") return nullptr;
  if (kind == "bondarenko") return std::make_shared<Bondarenko>(d_model, n_heads, gate_init);
  if (kind == "qwen_headwise") return std::make_shared<Qwen>(d_model, n_heads, false);
  if (kind == "qwen_elementwise") return std::make_shared<Qwen>(d_model, n_heads, true);
  throw ConfigError("model.gate: unknown gate '" + kind + "'");
}

}  // namespace oasis
