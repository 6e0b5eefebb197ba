#include "framework/core/config.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

fs::path configs_root() {
  if (const char* env = std::getenv("OASIS_CONFIGS"); env && *env) return env;
  return repo_root() / "configs";
}

namespace {

// A copy of the value at dotted `key`, if the tree has it (read through const nodes, so nothing is inserted).
std::optional<YAML::Node> find_key(const ConfigTree& tree, const std::string& key) {
  YAML::Node node = tree.root;  // a handle, not a copy
  size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const YAML::Node& view = node;
    if (!view.IsMap() || !view[part]) return std::nullopt;
    node.reset(view[part]);  // rebinds (operator= would overwrite the node's content)
    if (dot == std::string::npos) return YAML::Clone(node);
    start = dot + 1;
  }
}

[[noreturn]] void invalid(const ConfigTree& tree, const std::string& key, const std::string& what) {
  throw ConfigError(fmt::format("{}: {}: {}", tree.origin_of(key), key, what));
}

// Rules that involve more than one key.
void validate(const Config& c, const ConfigTree& tree) {
  if (c.model.head_dim == 0 && c.model.d_model % c.model.n_heads != 0)
    invalid(tree, "model.n_heads",
            fmt::format("expected a divisor of model.d_model={} (or an explicit model.head_dim), got {}",
                        c.model.d_model, c.model.n_heads));
  if (c.model.n_kv_heads > 0 && c.model.n_heads % c.model.n_kv_heads != 0)
    invalid(tree, "model.n_kv_heads",
            fmt::format("expected a divisor of model.n_heads={} (each key/value head serves a group of query heads), "
                        "got {}",
                        c.model.n_heads, c.model.n_kv_heads));
  if (c.model.head_size() % 2 != 0)
    invalid(tree, c.model.head_dim ? "model.head_dim" : "model.n_heads",
            fmt::format("expected an even head size (RoPE rotates pairs), got {}", c.model.head_size()));
  if (c.model.attnres_blocks > 0 && (2 * c.model.n_layers) % c.model.attnres_blocks != 0)
    invalid(tree, "model.attnres_blocks",
            fmt::format("expected a divisor of the {} sublayers (2 * model.n_layers), got {}", 2 * c.model.n_layers,
                        c.model.attnres_blocks));
  if (const std::string problem = model_components_problem(c.model); !problem.empty())
    throw ConfigError(fmt::format("{}: {}", tree.origin_of("model"), problem));
  // Every sequence the model sees must fit its RoPE table. A length left at 0 takes the one before it
  // (stats <- eval <- data), so each is checked after its source and the error names the key written.
  const std::pair<const char*, int64_t> lengths[] = {{"data.seq_len", c.data.seq_len},
                                                     {"eval.context_len", c.eval_context_len()},
                                                     {"stats.seq_len", c.stats_seq_len()},
                                                     {"finetune.seq_len", c.finetune_seq_len()}};
  for (const auto& [key, length] : lengths)
    if (length > c.model.max_seq_len)
      invalid(tree, key, fmt::format("expected at most model.max_seq_len={}, got {}", c.model.max_seq_len, length));
  if (c.eval.stride > c.eval_context_len())
    invalid(tree, "eval.stride",
            fmt::format("expected at most the context length {} (larger strides skip tokens), got {}",
                        c.eval_context_len(), c.eval.stride));
  if (std::find(c.report.baselines.begin(), c.report.baselines.end(), c.report.method) != c.report.baselines.end())
    invalid(tree, "report.baselines",
            fmt::format("expected presets other than report.method `{}`, which is compared with them", c.report.method));
  // The text dataset's option, read from the tree: its struct lives with the dataset (framework/data/datasets.h).
  const auto path = find_key(tree, "data.text.path");
  const bool text_path = path && path->IsScalar() && !path->Scalar().empty();
  if (c.data.dataset == "text" && !text_path)
    invalid(tree, "data.text.path", "expected the path of a text file when data.dataset is `text`");
  if (c.data.dataset != "text" && text_path)
    invalid(tree, "data.text.path", fmt::format("only used with data.dataset `text`, but the dataset is `{}`", c.data.dataset));
  if (c.data.dataset == "bigram_backcopy") {
    if (c.data.tokenizer != "char")
      invalid(tree, "data.tokenizer",
              fmt::format("bigram_backcopy is a character task: expected `char`, got `{}`", c.data.tokenizer));
    if (!c.data.bos)
      invalid(tree, "data.bos", "bigram_backcopy sequences start with BOS: expected true, got false");
    if (c.data.seq_len < 4)
      invalid(tree, "data.seq_len",
              fmt::format("a copy needs BOS, a character, a trigger and the copy: expected at least 4, got {}",
                          c.data.seq_len));
  }
  if (c.train.warmup_steps > c.train.steps)
    invalid(tree, "train.warmup_steps",
            fmt::format("expected at most train.steps={}, got {}", c.train.steps, c.train.warmup_steps));
  if (c.finetune.warmup_steps > c.finetune.steps)
    invalid(tree, "finetune.warmup_steps",
            fmt::format("expected at most finetune.steps={}, got {}", c.finetune.steps, c.finetune.warmup_steps));
  if (c.gsm8k.enabled && c.gsm8k.max_new_tokens >= c.model.max_seq_len)
    invalid(tree, "gsm8k.max_new_tokens",
            fmt::format("expected less than model.max_seq_len={} (the prompt needs room), got {}", c.model.max_seq_len,
                        c.gsm8k.max_new_tokens));
  if ((c.gsm8k.enabled || c.finetune.steps > 0) && c.data.tokenizer == "word")
    invalid(tree, "data.tokenizer",
            "GSM8K needs a tokenizer that reproduces any text (gpt2 or sentencepiece); `word` maps unseen words to <unk>");
}

void flatten(const YAML::Node& node, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& rows) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = prefix.empty() ? it->first.as<std::string>() : prefix + "." + it->first.as<std::string>();
    if (it->second.IsMap()) {
      flatten(it->second, key, rows);
    } else {
      YAML::Emitter out;
      out << YAML::Flow << it->second;
      rows.emplace_back(key, out.c_str());
    }
  }
}

YAML::Node to_node(const Config& config) {
  ConfigWriter writer;
  const_cast<Config&>(config).visit(writer);  // the writer only reads
  return writer.node();
}

// Keys that moved into their component's section (a component's options live beside its class).
const std::pair<const char*, const char*> kRenamedKeys[] = {{"model.clip_alpha", "model.clipped.alpha"},
                                                            {"model.clip_zeta", "model.clipped.zeta"},
                                                            {"model.clip_length", "model.clipped.length"},
                                                            {"model.gate_init", "model.bondarenko.init"},
                                                            {"data.vocab_size", "data.sentencepiece.vocab_size"},
                                                            {"data.path", "data.text.path"}};


}  // namespace

void migrate_renamed_keys(ConfigTree& tree) {
  for (const auto& [old_key, new_key] : kRenamedKeys) {
    const auto value = find_key(tree, old_key);
    if (!value) continue;
    const std::string key = old_key, section = key.substr(0, key.rfind('.'));
    YAML::Node parent = tree.root[section];
    parent.remove(key.substr(key.rfind('.') + 1));
    set_config_value(tree, new_key, *value, tree.origin_of(old_key));
  }
}

Config config_from_tree(const ConfigTree& tree) {
  for (const auto& [old_key, new_key] : kRenamedKeys)
    if (find_key(tree, old_key))
      throw ConfigError(fmt::format("{}: {}: this key was renamed; write {} instead", tree.origin_of(old_key), old_key,
                                    new_key));
  for (const char* section : {"sweep", "slurm"})
    if (static_cast<const YAML::Node&>(tree.root)[section])
      throw ConfigError(fmt::format("{}: {}: this file describes an experiment; run it with `oasis run FILE` "
                                    "(or one cell of it with `oasis run FILE --cell ID`)",
                                    tree.origin_of(section), section));
  Config config;
  ConfigReader reader(tree.root, "", tree);
  config.visit(reader);
  reader.finish();
  validate(config, tree);
  return config;
}

Config load_config(const fs::path& file, const std::vector<std::string>& overrides) {
  ConfigTree tree = load_config_tree(file, configs_root());
  apply_overrides(tree, overrides);
  return config_from_tree(tree);
}

std::string config_to_yaml(const Config& config) {
  YAML::Emitter out;
  out << to_node(config);
  return std::string(out.c_str()) + "\n";
}

std::vector<std::pair<std::string, std::string>> config_rows(const Config& config) {
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(to_node(config), "", rows);
  return rows;
}

std::vector<KeyDescription> config_keys() {
  Config defaults;
  ConfigDescriber describer;
  defaults.visit(describer);
  return describer.keys();
}

}  // namespace oasis
