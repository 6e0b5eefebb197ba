#include "framework/model/gates/bondarenko.h"

#include <cmath>

#include "framework/model/gates.h"

namespace oasis {
namespace {

class Bondarenko : public AttentionGate {
 public:
  Bondarenko(int64_t d_model, int64_t n_heads, double init) : n_heads_(n_heads) {
    TORCH_CHECK(d_model % n_heads == 0, "bondarenko gate: each head reads a d_model / n_heads slice of the input, "
                "so n_heads=", n_heads, " must divide d_model=", d_model);
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

const bool bondarenko_options_registered = register_options<BondarenkoOptions>("bondarenko");
const bool bondarenko_registered = gate_registry().add(
    "bondarenko", {"per-token per-head sigmoid gate on the head's input slice (Bondarenko et al.)",
                   [](const GateContext& c) {
                     const auto o = options_or_default<BondarenkoOptions>(c.options, "bondarenko");
                     return std::make_shared<Bondarenko>(c.d_model, c.n_heads, o.init);
                   }});

}  // namespace
}  // namespace oasis
