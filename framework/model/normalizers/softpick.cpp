// Softpick (Zuhri et al., 2025): p_j = relu(e^{s_j} - 1) / (sum_j |e^{s_j} - 1| + eps), eps = 1e-8. Rectified
// and not sum-to-one, so a head can put no weight anywhere; its null mass is 1 - sum_j p_j.
#include "framework/model/normalizers.h"

namespace oasis {
namespace {

class Softpick : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& scores, const ScoreMask& mask, bool want_lse) override {
    const auto s = mask.apply(scores);
    // Everything divided by e^m: num = relu(e^{s-m} - e^{-m}), den = sum |e^{s-m} - e^{-m}| + eps e^{-m}.
    auto m = std::get<0>(s.max(-1, true)).detach();
    auto shifted = torch::exp(s - m) - torch::exp(-m);
    auto valid = torch::isfinite(s).to(s.scalar_type());
    auto den = (shifted.abs() * valid).sum(-1, true) + 1e-8 * torch::exp(-m);
    auto p = torch::relu(shifted) * valid / den;
    return {p, want_lse ? torch::logsumexp(s, -1) : at::Tensor(), 1.0 - p.sum(-1)};
  }
};

const bool softpick_registered = normalizer_registry().add(
    "softpick", {"relu(e^s - 1) / (sum |e^s - 1| + 1e-8): rectified, not sum-to-one (Zuhri et al.)",
                 [](const NormalizerContext&) { return std::make_shared<Softpick>(); }});

}  // namespace
}  // namespace oasis
