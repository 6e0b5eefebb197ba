// Sigmoid attention (Ramapuram et al., 2024, "Theory, Analysis, and Best Practices for Sigmoid
// Self-Attention"): each key is weighed on its own, p_j = sigmoid(s_j + b), with b = -log T so that the
// weights of a T-token context start near the softmax's 1/T. No normalisation over keys, so a head owes no
// attention mass to any token, which is why it is studied against attention sinks. T is the training
// context length, fixed like the clipped softmax's (model/normalizers/clipped.h).
#include <cmath>

#include "framework/model/normalizers.h"

namespace oasis {
namespace {

class Sigmoid : public ScoreNormalizer {
 public:
  explicit Sigmoid(double bias) : bias_(bias) {}
  Normalized forward(const at::Tensor& scores, const ScoreMask& mask, bool want_lse) override {
    const auto s = mask.apply(scores);  // hidden keys: sigmoid(-inf) = 0 exactly
    return {torch::sigmoid(s + bias_), want_lse ? torch::logsumexp(s, -1) : at::Tensor(), {}};
  }

 private:
  double bias_;
};

const bool sigmoid_registered = normalizer_registry().add(
    "sigmoid", {"p_j = sigmoid(s_j - log T): each key weighed alone, no sum to one (Ramapuram et al.)",
                [](const NormalizerContext& c) { return std::make_shared<Sigmoid>(-std::log(double(c.context_len))); }});

}  // namespace
}  // namespace oasis
