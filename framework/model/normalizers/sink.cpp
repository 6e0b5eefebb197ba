// A learned sink logit per head (gpt-oss): p_j = e^{s_j} / (e^{s_h} + sum e^{s}); the sink's share is the
// null mass. The logits start at 0 (Transformer::initialize).
#include "framework/model/normalizers.h"

namespace oasis {
namespace {

class Sink : public ScoreNormalizer {
 public:
  explicit Sink(int64_t n_heads) { logit = register_parameter("logit", torch::zeros({n_heads})); }
  Normalized forward(const at::Tensor& scores, const ScoreMask& mask, bool) override {
    const auto s = mask.apply(scores);
    auto lse = torch::logsumexp(s, -1);  // [B, H, T]
    auto sink = logit.view({1, -1, 1}).expand_as(lse);
    auto total = torch::logaddexp(lse, sink);
    return {torch::exp(s - total.unsqueeze(-1)), lse, torch::exp(sink - total)};
  }
  at::Tensor logit;
};

const bool sink_registered = normalizer_registry().add(
    "sink", {"a learned logit s_h per head competes with the keys: e^{s_j} / (e^{s_h} + sum e^{s}) (gpt-oss)",
             [](const NormalizerContext& c) { return std::make_shared<Sink>(c.n_heads); }});

}  // namespace
}  // namespace oasis
