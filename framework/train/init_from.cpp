#include "framework/train/init_from.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/model/presets.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

// Keys whose values the weights were trained under.
bool architecture_key(const std::string& key) {
  static const std::set<std::string> keys = {"model.d_model",  "model.n_layers",       "model.n_heads",
                                             "model.n_kv_heads", "model.head_dim",     "model.d_ff",
                                             "model.rope_theta", "model.norm_eps",     "model.tie_embeddings",
                                             "data.tokenizer",   "data.hf.path",       "data.sentencepiece.vocab_size"};
  return keys.count(key) > 0;
}

}  // namespace

PretrainedStart read_pretrained_start(const Config& config, LanguageModel& model) {
  PretrainedStart start;
  if (config.model.init_from.empty()) return start;
  const fs::path source = resolve_config_path(config.model.init_from);
  start.source = source.string();
  const Config saved = load_run_config(source, {});
  const auto theirs = config_rows(saved), ours = config_rows(config);
  auto same = [](const std::string& key, const std::string& a, const std::string& b) {
    if (key != "data.hf.path" || a == b) return a == b;  // a path: the same directory however it is written
    return fs::weakly_canonical(resolve_config_path(a)) == fs::weakly_canonical(resolve_config_path(b));
  };
  for (size_t i = 0; i < ours.size(); ++i)
    if (architecture_key(ours[i].first) && !same(ours[i].first, ours[i].second, theirs[i].second))
      throw ConfigError(fmt::format("model.init_from={}: {} is {} there, {} here; a run starts only from weights of "
                                    "its own architecture and tokenizer",
                                    source.string(), ours[i].first, theirs[i].second, ours[i].second));
  const auto checkpoint = latest_checkpoint(source);
  if (!checkpoint) throw RuntimeError(fmt::format("model.init_from={}: the run has no complete checkpoint", source.string()));
  start.checkpoint = checkpoint->string();
  auto pretrained = build_model(saved.model_to_build(), model.vocab_size());
  load_checkpoint(*checkpoint, *pretrained, nullptr);

  auto params = model.named_parameters();
  std::set<std::string> supplied;
  for (const auto& p : pretrained->named_parameters()) {
    const auto* mine = params.find(p.key());
    if (!mine)
      throw ConfigError(fmt::format("model.init_from={}: its tensor '{}' has no place in this model (a run can add "
                                    "parameters to its source, not drop them)",
                                    source.string(), p.key()));
    if (!mine->sizes().equals(p.value().sizes()))
      throw ConfigError(fmt::format("model.init_from={}: tensor '{}' is [{}] there, [{}] here", source.string(), p.key(),
                                    fmt::join(p.value().sizes(), ", "), fmt::join(mine->sizes(), ", ")));
    start.tensors.emplace_back(p.key(), p.value().detach());
    supplied.insert(p.key());
  }
  for (const auto& p : params)
    if (!supplied.count(p.key())) start.new_parameters.insert(p.key());
  return start;
}

void apply_pretrained_start(const PretrainedStart& start, LanguageModel& model) {
  if (start.source.empty()) return;
  auto params = model.named_parameters();
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : start.tensors) params[name].copy_(tensor);
  log_line(fmt::format("init_from: {} tensors from {}; {} new parameter tensors keep their init{}", start.tensors.size(),
                       start.checkpoint, start.new_parameters.size(),
                       start.new_parameters.empty() ? "" : fmt::format(" ({}{})",
                                                                        fmt::join(std::vector<std::string>(start.new_parameters.begin(), std::next(start.new_parameters.begin(), std::min<size_t>(4, start.new_parameters.size()))), ", "),
                                                                        start.new_parameters.size() > 4 ? ", ..." : "")));
}

}  // namespace oasis
