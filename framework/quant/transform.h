// Fake quantization as a transform of a built, trained model (torchtitan style): constructing it
// quantizes every Linear's weight in place (the LM head only when the scheme says so) and attaches
// activation quantizers at the scheme's tap sites; destroying it restores the weights and detaches.
// The model code never changes: it only offers named sites (model/taps.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "framework/model/taps.h"
#include "framework/quant/scheme.h"

namespace oasis {

class LanguageModel;

class QuantTransform : public TapTransform {
 public:
  QuantTransform(LanguageModel& model, QuantScheme scheme);
  ~QuantTransform() override;
  QuantTransform(const QuantTransform&) = delete;
  QuantTransform& operator=(const QuantTransform&) = delete;

  // Static activation ranges: runs the model (weights already quantized, activations in float) over
  // `windows` [N, T] in batches of `batch_size`, then freezes every quantizer.
  void calibrate(const at::Tensor& windows, int64_t batch_size);
  at::Tensor transform(const std::string& site, const at::Tensor& value) override;

  int64_t quantized_weights() const { return int64_t(saved_.size()); }
  std::vector<std::string> activation_sites() const;

 private:
  LanguageModel& model_;
  QuantScheme scheme_;
  std::vector<std::string> patterns_;
  std::vector<std::pair<at::Tensor, at::Tensor>> saved_;  // (weight, its float copy)
  std::map<std::string, FakeQuantizer> quantizers_;
  bool calibrating_ = false;
};

}  // namespace oasis
