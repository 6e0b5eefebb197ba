#include "framework/model/presets.h"

#include "framework/model/transformer.h"

namespace oasis {

const Registry<ModelPreset>& model_presets() {
  static const Registry<ModelPreset> registry = [] {
    Registry<ModelPreset> r("model preset");
    r.add("standard", {"pre-norm decoder: RMSNorm, RoPE, SwiGLU, softmax attention, plain residual stream",
                       [](const ModelConfig& c, int64_t vocab) { return std::make_shared<Transformer>(c, vocab); }});
    return r;
  }();
  return registry;
}

std::vector<std::string> model_preset_names() { return model_presets().names(); }

std::shared_ptr<LanguageModel> build_model(const ModelConfig& config, int64_t vocab_size) {
  return model_presets().get(config.preset).build(config, vocab_size);
}

}  // namespace oasis
