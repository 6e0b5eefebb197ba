#include "framework/model/presets.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "framework/core/runtime.h"

namespace oasis {

const Registry<ModelPreset>& model_presets() {
  static const Registry<ModelPreset> registry = [] {
    Registry<ModelPreset> r("model preset");
    // name, description, {router, normalizer, gate, null signal}
    r.add("standard", {"pre-norm decoder: RMSNorm, RoPE, SwiGLU, softmax attention, plain residual stream",
                       {"standard", "softmax", "none", "none"}});
    r.add("attnres", {"Block Attention Residuals (softmax over depth), softmax attention",
                      {"attnres", "softmax", "none", "none"}});
    r.add("attnres-clipped", {"AttnRes + clipped softmax (Bondarenko et al.; alpha 12, zeta 1)",
                              {"attnres", "clipped", "none", "none"}});
    r.add("attnres-gated", {"AttnRes + gated attention (Bondarenko et al.; per-token per-head gate, pi0 0.25)",
                            {"attnres", "softmax", "bondarenko", "none"}});
    r.add("attnres-softmax1", {"AttnRes + Softmax1 attention (a zero null logit per query)",
                               {"attnres", "softmax1", "none", "none"}});
    r.add("oasis", {"AttnRes + Softmax1 + the OASIS inter-layer null signal gating depth routing (variant a)",
                    {"attnres", "softmax1", "none", "oasis"}});
    r.add("standard-softmax1", {"standard residual stream + Softmax1 attention", {"standard", "softmax1", "none", "none"}});
    r.add("attnres-sink", {"AttnRes + a learned sink logit per head (gpt-oss)", {"attnres", "sink", "none", "none"}});
    r.add("attnres-softpick", {"AttnRes + softpick attention (rectified, not sum-to-one)",
                               {"attnres", "softpick", "none", "none"}});
    r.add("attnres-qwen-gate", {"AttnRes + Qwen G1 headwise sigmoid gate after attention",
                                {"attnres", "softmax", "qwen_headwise", "none"}});
    return r;
  }();
  return registry;
}

std::vector<std::string> model_preset_names() { return model_presets().names(); }

ModelComponents resolve_components(const ModelConfig& c) {
  ModelComponents m = model_presets().get(c.preset).components;
  if (!c.router.empty()) m.router = c.router;
  if (!c.normalizer.empty()) m.normalizer = c.normalizer;
  if (!c.gate.empty()) m.gate = c.gate;
  if (!c.null_signal.empty()) m.null_signal = c.null_signal;
  m.attnres_blocks = c.attnres_blocks > 0 ? c.attnres_blocks : c.n_layers;
  const RouterEntry& router = router_registry().get(m.router);
  if (m.null_signal != "none" && std::find(router.null_signals.begin(), router.null_signals.end(), m.null_signal) ==
                                     router.null_signals.end())
    throw ConfigError(fmt::format("model.null_signal: router {} does not carry the null signal {} (it carries: {})",
                                  m.router, m.null_signal,
                                  router.null_signals.empty() ? "none" : fmt::format("{}", fmt::join(router.null_signals, ", "))));
  return m;
}

std::string model_components_problem(const ModelConfig& c) {
  try {
    resolve_components(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::shared_ptr<LanguageModel> build_model(const ModelConfig& config, int64_t vocab_size) {
  return std::make_shared<Transformer>(config, resolve_components(config), vocab_size);
}

ComputeSettings compute_settings(const Config& config, const c10::Device& device) {
  // `auto` is the fused path: LibTorch's scaled-dot-product kernels on every device.
  return {resolve_precision(config.precision, device), config.attention_kernel != "written"};
}

}  // namespace oasis
