#include "framework/hf/hf_runs.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/file_digest.h"
#include "framework/core/json_file.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/version.h"
#include "framework/data/hf_tokenizer.h"
#include "framework/hf/hf_config.h"
#include "framework/hf/hf_weights.h"
#include "framework/hf/safetensors.h"
#include "framework/model/presets.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"
#include "framework/train/optimizer.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

// The tokenizer files a checkpoint may carry; tokenizer.json is required, config.json gives BOS/EOS and the
// embedding rows to data.tokenizer=hf.
const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"};

fs::path temporary_beside(const fs::path& target) {
  return target.parent_path() / fmt::format(".{}.partial.{}", target.filename().string(), ::getpid());
}

void refuse_existing(const fs::path& target, const char* what) {
  if (fs::exists(target))
    throw ConfigError(fmt::format("'{}' already exists; {} writes a new directory (remove it or choose another --out)",
                                  target.string(), what));
}

// The imported run's config: the checkpoint's model as the standard preset, its tokenizer with BOS, no training;
// runs_dir/experiment/run from the path (the run is its last component, the experiment the one before).
Config imported_config(const HfModelConfig& hf, const fs::path& run_dir) {
  Config c;
  const fs::path absolute = fs::absolute(run_dir).lexically_normal();
  c.runs_dir = absolute.parent_path().parent_path().string();
  c.experiment = absolute.parent_path().filename().string();
  c.run = absolute.filename().string();
  c.model = hf.model;
  c.data.tokenizer = "hf";
  c.data.bos = hf.bos_token_id.has_value();
  c.data.seq_len = std::min(c.data.seq_len, c.model.max_seq_len);
  c.data.components.get<HfTokenizerOptions>("hf").path = (run_dir.lexically_normal() / "tokenizer").string();
  c.train.steps = 0;
  c.train.warmup_steps = 0;
  return c;
}

nlohmann::json file_records(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) {
      const FileDigest d = digest_file(entry.path());
      files[entry.path().filename().string()] = {{"bytes", d.bytes}, {"sha256", d.sha256}};
    }
  return files;
}

}  // namespace

void import_hf(const fs::path& source, const fs::path& run_dir, const std::vector<std::string>& overrides) {
  refuse_existing(run_dir, "import-hf");
  // Everything is read and checked before anything is written.
  const HfModelConfig hf = read_hf_config(source / "config.json");
  if (!fs::is_regular_file(source / "tokenizer.json"))
    throw RuntimeError(fmt::format("'{}' is missing: import-hf needs the checkpoint's tokenizer (data.tokenizer=hf "
                                   "reads it)",
                                   (source / "tokenizer.json").string()));
  const NamedTensors weights = ours_from_hf(read_safetensors_dir(source), hf.model, hf.vocab_size);
  for (const auto& text : overrides)
    if (text.rfind("model.", 0) == 0 || text.rfind("data.tokenizer", 0) == 0 || text.rfind("data.hf.", 0) == 0)
      throw ConfigError(fmt::format("import-hf: `{}`: the model and tokenizer are the checkpoint's own (config.json, "
                                    "tokenizer.json); to turn it into another preset, train a run with "
                                    "model.init_from={}",
                                    text, run_dir.string()));
  // Through the tree, so the overrides are checked and reported like any command line's.
  ConfigTree tree = config_tree_from_string(config_to_yaml(imported_config(hf, run_dir)), "import-hf");
  apply_overrides(tree, overrides);
  const Config config = config_from_tree(tree);

  const fs::path staging = temporary_beside(run_dir);
  fs::remove_all(staging);
  fs::create_directories(staging / "tokenizer");
  try {
    for (const char* name : kTokenizerFiles)
      if (fs::is_regular_file(source / name)) fs::copy_file(source / name, staging / "tokenizer" / name);
    auto model = build_model(config.model_to_build(), hf.vocab_size);
    load_named_tensors(*model, weights, source.string());
    save_checkpoint(staging, TrainState{}, *model, *make_optimizer(*model, config.train), 1);
    write_file_atomic(staging / "config.yaml",
                      fmt::format("# imported by import-hf from {}; code version {}\n{}", fs::absolute(source).string(),
                                  code_version(), config_to_yaml(config)));
    const nlohmann::json provenance = {{"source", fs::absolute(source).lexically_normal().string()},
                                       {"architecture", hf.architecture},
                                       {"files", file_records(source)},
                                       {"config_json", read_json_file(source / "config.json")},
                                       {"note", hf.note},
                                       {"code_version", code_version()}};
    write_file_atomic(staging / "imported_from.json", provenance.dump(2) + "\n");
    fs::create_directories(fs::absolute(run_dir).parent_path());
    fs::rename(staging, run_dir);
  } catch (...) {
    fs::remove_all(staging);
    throw;
  }
  if (!hf.note.empty()) log_line("import-hf: " + hf.note);
  log_line(fmt::format("import-hf: {} ({} layers, d_model {}, {} heads / {} key-value heads, vocab {}) -> {}",
                       hf.architecture, hf.model.n_layers, hf.model.d_model, hf.model.n_heads, hf.model.kv_heads(),
                       hf.vocab_size, run_dir.string()));
}

void export_hf(const fs::path& run_dir, const fs::path& out_dir) {
  refuse_existing(out_dir, "export-hf");
  const Config config = load_run_config(run_dir, {});
  const auto checkpoint = latest_checkpoint(run_dir);
  if (!checkpoint) throw RuntimeError(fmt::format("run directory '{}' has no complete checkpoint", run_dir.string()));
  // The vocabulary is the checkpoint's embedding, so no corpus has to be tokenized to rebuild the model.
  torch::serialize::InputArchive archive, embed;
  archive.load_from((*checkpoint / "model.pt").string());
  at::Tensor embedding;
  if (!archive.try_read("embed", embed) || !embed.try_read("weight", embedding))
    throw RuntimeError(fmt::format("{}: no embed.weight", (*checkpoint / "model.pt").string()));
  auto model = build_model(config.model_to_build(), embedding.size(0));
  const TrainState state = load_checkpoint(*checkpoint, *model, nullptr);
  std::map<std::string, at::Tensor> ours;
  for (const auto& p : model->named_parameters()) ours[p.key()] = p.value();
  const bool standard = resolve_components(config.model).router == "standard";

  const fs::path staging = temporary_beside(out_dir);
  fs::remove_all(staging);
  fs::create_directories(staging);
  try {
    const nlohmann::json provenance = {{"run_dir", fs::absolute(run_dir).lexically_normal().string()},
                                       {"checkpoint", checkpoint->string()},
                                       {"step", state.step},
                                       {"config_hash", config_hash(config)},
                                       {"code_version", code_version()}};
    write_file_atomic(staging / "oasis_run.json", provenance.dump(2) + "\n");
    std::optional<int64_t> bos, eos;
    if (config.data.tokenizer == "hf") {
      const fs::path tokenizer_dir = resolve_config_path(config.data.components.get<HfTokenizerOptions>("hf").path);
      for (const char* name : kTokenizerFiles)
        if (std::string(name) != "config.json" && fs::is_regular_file(tokenizer_dir / name))
          fs::copy_file(tokenizer_dir / name, staging / name);
      if (fs::is_regular_file(tokenizer_dir / "config.json")) {
        const HfModelConfig source = read_hf_config(tokenizer_dir / "config.json");
        bos = source.bos_token_id;
        eos = source.eos_token_id;
      }
    }
    if (standard) {
      write_safetensors(staging / "model.safetensors", hf_from_ours(ours, config.model), {{"format", "pt"}});
      write_file_atomic(staging / "config.json",
                        llama_config_json(config.model, embedding.size(0), bos, eos).dump(2) + "\n");
    } else {
      write_safetensors(staging / "model.safetensors", NamedTensors(ours.begin(), ours.end()), {{"format", "oasis"}});
      write_file_atomic(staging / "oasis_config.yaml", config_to_yaml(config));
    }
    fs::rename(staging, out_dir);
  } catch (...) {
    fs::remove_all(staging);
    throw;
  }
  if (standard)
    log_line(fmt::format("export-hf: {} (step {}) -> {}: LlamaForCausalLM config.json + model.safetensors",
                         run_dir.string(), state.step, out_dir.string()));
  else
    log_line(fmt::format("export-hf: {} (step {}) -> {}: model.safetensors with our tensor names + oasis_config.yaml; "
                         "the {} router has no transformers architecture, so transformers cannot load this directory "
                         "(oasis can: the names and config are ours)",
                         run_dir.string(), state.step, out_dir.string(), resolve_components(config.model).router));
}

}  // namespace oasis
