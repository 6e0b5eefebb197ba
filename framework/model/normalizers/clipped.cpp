#include "framework/model/normalizers/clipped.h"

#include "framework/model/normalizers.h"

namespace oasis {
namespace {

class Clipped : public ScoreNormalizer {
 public:
  Clipped(double gamma, double zeta) : gamma_(gamma), zeta_(zeta) {}
  Normalized forward(const at::Tensor& s, const ScoreMask& mask, bool want_lse) override {
    Normalized n = softmax_normalized(s, mask, want_lse);
    n.probs = torch::clamp((zeta_ - gamma_) * n.probs + gamma_, 0.0, 1.0);  // hidden keys: clamp(gamma) = 0
    return n;
  }

 private:
  double gamma_, zeta_;
};

const bool clipped_options_registered = register_options<ClippedOptions>("clipped");
const bool clipped_registered = normalizer_registry().add(
    "clipped", {"clip((zeta - gamma) softmax(s) + gamma, 0, 1), gamma = -alpha / T (Bondarenko et al.)",
                [](const NormalizerContext& c) {
                  const auto o = options_or_default<ClippedOptions>(c.options, "clipped");
                  const int64_t T = o.length ? o.length : c.context_len;
                  return std::make_shared<Clipped>(-o.alpha / double(T), o.zeta);
                }});

}  // namespace
}  // namespace oasis
