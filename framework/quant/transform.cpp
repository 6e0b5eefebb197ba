#include "framework/quant/transform.h"

#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/model/language_model.h"
#include "framework/stats/probe.h"

namespace oasis {

QuantTransform::QuantTransform(LanguageModel& model, QuantScheme scheme)
    : model_(model), scheme_(std::move(scheme)), patterns_(scheme_.site_patterns()) {
  torch::NoGradGuard no_grad;
  if (scheme_.quantize_weights) {
    for (const auto& item : model_.named_modules()) {
      auto* linear = dynamic_cast<torch::nn::LinearImpl*>(item.value().get());
      if (!linear || (item.key() == "lm_head" && !scheme_.lm_head)) continue;
      at::Tensor& w = linear->weight;
      saved_.emplace_back(w, w.detach().clone());
      FakeQuantizer q(scheme_.weights.spec, 0);  // channel = output row
      q.observe(w);
      q.freeze();
      w.copy_(q.forward(w.detach()));
    }
  }
  if (scheme_.quantize_activations) model_.attach_transform(this);
}

QuantTransform::~QuantTransform() {
  model_.attach_transform(nullptr);
  torch::NoGradGuard no_grad;
  for (auto& [weight, original] : saved_) weight.copy_(original);
}

void QuantTransform::calibrate(const at::Tensor& windows, int64_t batch_size) {
  if (!scheme_.needs_calibration()) return;
  torch::NoGradGuard no_grad;
  const bool was_training = model_.is_training();
  model_.eval();
  const auto device = model_.parameters().front().device();
  calibrating_ = true;
  for (int64_t first = 0; first < windows.size(0); first += batch_size)
    model_.forward(windows.slice(0, first, std::min(windows.size(0), first + batch_size)).to(device));
  calibrating_ = false;
  for (auto& [site, q] : quantizers_) q.freeze();
  if (was_training) model_.train();
}

at::Tensor QuantTransform::transform(const std::string& site, const at::Tensor& value) {
  if (!matches_any(site, patterns_)) return value;
  auto it = quantizers_.find(site);
  if (it == quantizers_.end()) {
    if (scheme_.needs_calibration() && !calibrating_)
      throw RuntimeError("quantization scheme " + scheme_.name + ": site " + site + " was not seen in calibration");
    it = quantizers_.emplace(site, FakeQuantizer(scheme_.activations.spec, -1)).first;
  }
  if (calibrating_) {
    it->second.observe(value);
    return value;
  }
  return it->second.forward(value);
}

std::vector<std::string> QuantTransform::activation_sites() const {
  std::vector<std::string> out;
  for (const auto& [site, q] : quantizers_) out.push_back(site);
  return out;
}

}  // namespace oasis
