#include "framework/model/normalizers.h"

#include "framework/core/errors.h"
#include "framework/kernels/softmax.h"

namespace oasis {

namespace {

// The fused operation on CPU, with the causal mask left to the kernel; elsewhere on masked scores.
torch::autograd::variable_list softmax_with_lse(const at::Tensor& s, const ScoreMask& mask, bool null_logit) {
  const bool kernel_masks = s.device().is_cpu() && mask.causal;
  return fused_softmax_with_lse(kernel_masks ? s : mask.apply(s), kernel_masks, null_logit);
}

}  // namespace

Normalized softmax_normalized(const at::Tensor& s, const ScoreMask& mask, bool want_lse) {
  if (s.device().is_cpu()) {
    auto out = softmax_with_lse(s, mask, false);
    return {out[0], want_lse ? out[1] : at::Tensor(), {}};
  }
  const auto masked = mask.apply(s);
  return {torch::softmax(masked, -1), want_lse ? torch::logsumexp(masked, -1) : at::Tensor(), {}};
}

namespace {

class Softmax : public ScoreNormalizer {
 public:
  FusedForm fused_form() const override { return FusedForm::softmax; }
  Normalized forward(const at::Tensor& s, const ScoreMask& mask, bool want_lse) override {
    return softmax_normalized(s, mask, want_lse);
  }
};

class Softmax1 : public ScoreNormalizer {
 public:
  FusedForm fused_form() const override { return FusedForm::softmax1; }
  Normalized forward(const at::Tensor& s, const ScoreMask& mask, bool) override {
    auto out = softmax_with_lse(s, mask, true);
    return {out[0], out[1], torch::sigmoid(-out[1])};
  }
};

}  // namespace

Registry<NormalizerEntry>& normalizer_registry() {
  static Registry<NormalizerEntry> registry("normalizer");
  return registry;
}

std::vector<std::string> normalizer_names() { return normalizer_registry().names(); }

std::shared_ptr<ScoreNormalizer> make_normalizer(const std::string& name, const NormalizerContext& context) {
  return normalizer_registry().get(name).make(context);
}

namespace {
const bool softmax_registered = normalizer_registry().add(
    "softmax", {"p = softmax(s)", [](const NormalizerContext&) { return std::make_shared<Softmax>(); }});
const bool softmax1_registered = normalizer_registry().add(
    "softmax1", {"p_j = e^{s_j} / (1 + sum e^{s}): a zero null logit per query (Miller's softmax + 1)",
                 [](const NormalizerContext&) { return std::make_shared<Softmax1>(); }});
}  // namespace

}  // namespace oasis
