// Attention score normalizers, interchangeable behind one interface and chosen by name from a registry
// (`model.normalizer`). Input: scores q.k/sqrt(d), [B, H, T, S], and the mask of keys each query may not
// see. Output: the attention weights (exact zeros at masked keys), the log-sum-exp of the real scores (the
// null log-odds of Softmax1 is its negative) and, for normalizers that can decline to attend, the null
// mass 1 - sum_j p_j.
//   softmax   p = softmax(s)                                           (this file)
//   softmax1  p_j = e^{s_j} / (1 + sum e^{s}) = softmax(s)_j sigmoid(LSE); null = sigmoid(-LSE)   (this file)
//   clipped, softpick, sink, sigmoid: one file each in framework/model/normalizers/
// softmax and softmax1 run as one fused CPU kernel each way; with a causal mask the kernel skips the future
// keys instead of reading a mask and exponentiating -inf (framework/kernels/softmax.h).
// A new normalizer is one file that defines its class and registers it (docs/extending.md).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "framework/core/component_options.h"
#include "framework/core/registry.h"
#include "framework/kernels/score_mask.h"

namespace oasis {

struct Normalized {
  at::Tensor probs;      // [B, H, T, S]
  at::Tensor lse;        // [B, H, T] log-sum-exp over the real scores (undefined unless wanted or intrinsic)
  at::Tensor null_mass;  // [B, H, T], undefined for plain softmax and clipped
};

class ScoreNormalizer : public torch::nn::Module {
 public:
  virtual FusedForm fused_form() const { return FusedForm::none; }
  // `want_lse`: the caller needs the log-sum-exp (OASIS evidence, taps); otherwise it may be skipped.
  virtual Normalized forward(const at::Tensor& scores, const ScoreMask& mask, bool want_lse) = 0;
  // Scores already holding -inf where hidden.
  Normalized forward(const at::Tensor& masked_scores) { return forward(masked_scores, {}, true); }
};

// What a normalizer is built from: the model's head count, its training context length T and the option
// sections of the registered components (its own, model.<name>.*, among them).
struct NormalizerContext {
  int64_t n_heads = 1;
  int64_t context_len = 1;
  const ComponentSections* options = nullptr;  // nullptr: every option at its default
};

struct NormalizerEntry {
  std::string description;
  std::function<std::shared_ptr<ScoreNormalizer>(const NormalizerContext&)> make;
};

Registry<NormalizerEntry>& normalizer_registry();

std::shared_ptr<ScoreNormalizer> make_normalizer(const std::string& name, const NormalizerContext& context);

// Plain softmax over the visible keys (the fused kernel on CPU), for normalizers built on it.
Normalized softmax_normalized(const at::Tensor& scores, const ScoreMask& mask, bool want_lse);

}  // namespace oasis
