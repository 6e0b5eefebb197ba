// The model registry: preset name -> description and builder. The model-zoo presets (AttnRes,
// softmax1, OASIS, ...) register here too; `oasis models` prints this table.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "framework/core/config.h"
#include "framework/core/registry.h"
#include "framework/model/language_model.h"

namespace oasis {

struct ModelPreset {
  std::string description;
  std::function<std::shared_ptr<LanguageModel>(const ModelConfig&, int64_t vocab_size)> build;
};

const Registry<ModelPreset>& model_presets();

// Builds `config.preset` with the given vocabulary size.
std::shared_ptr<LanguageModel> build_model(const ModelConfig& config, int64_t vocab_size);

}  // namespace oasis
