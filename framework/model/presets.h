// The model registry: preset name -> description and components (router, normalizer, gate, null
// signal). Config keys model.router / normalizer / gate / null_signal override a preset's choices, so
// any combination can be built from YAML; `oasis models` prints this table.
#pragma once
#include <memory>
#include <string>

#include "framework/core/config.h"
#include "framework/core/registry.h"
#include "framework/model/language_model.h"
#include "framework/model/transformer.h"

namespace oasis {

struct ModelPreset {
  std::string description;
  ModelComponents components;
};

const Registry<ModelPreset>& model_presets();

// The preset's components with the config's overrides; throws ConfigError on an impossible combination.
ModelComponents resolve_components(const ModelConfig& config);

// Builds the configured model with the given vocabulary size.
std::shared_ptr<LanguageModel> build_model(const ModelConfig& config, int64_t vocab_size);

// The config's `precision` and `attention_kernel` on `device` (auto resolved).
ComputeSettings compute_settings(const Config& config, const c10::Device& device);

}  // namespace oasis
