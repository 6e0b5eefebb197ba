#include "framework/quant/scheme.h"

#include <algorithm>

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/config_tree.h"
#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {
// Site groups -> tap-name globs (docs/quantization.md).
const std::vector<std::pair<std::string, std::vector<std::string>>>& site_groups() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {"linear_inputs", {"*.attn.normed", "*.attn.heads", "*.mlp.normed", "*.mlp.hidden"}},
      {"routed_inputs", {"*.attn.routed", "*.mlp.routed"}},
      {"sources", {"*.block_sum"}},
      {"attention_probs", {"*.attn.probs"}},
  };
  return groups;
}
}  // namespace

std::vector<std::string> QuantScheme::site_group_names() {
  std::vector<std::string> names;
  for (const auto& [name, patterns] : site_groups()) names.push_back(name);
  return names;
}

std::vector<std::string> QuantScheme::site_patterns() const {
  std::vector<std::string> out;
  for (const auto& [name, patterns] : site_groups())
    if (std::find(sites.begin(), sites.end(), name) != sites.end()) out.insert(out.end(), patterns.begin(), patterns.end());
  if (lm_head && std::find(sites.begin(), sites.end(), "linear_inputs") != sites.end()) out.push_back("final.normed");
  return out;
}

fs::path quant_configs_dir() { return configs_root() / "quant"; }

std::vector<std::string> quant_scheme_names() {
  std::vector<std::string> names;
  if (fs::is_directory(quant_configs_dir()))
    for (const auto& entry : fs::directory_iterator(quant_configs_dir()))
      if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

QuantScheme load_quant_scheme(const std::string& name) {
  const fs::path file = quant_configs_dir() / (name + ".yaml");
  if (!fs::exists(file)) {
    const auto names = quant_scheme_names();
    throw ConfigError(fmt::format("quant.schemes: unknown scheme '{}'{}; schemes in {}: {}", name,
                                  did_you_mean(name, names), quant_configs_dir().string(), join(names, ", ")));
  }
  const ConfigTree tree = load_config_tree(file, configs_root());
  QuantScheme scheme;
  ConfigReader reader(tree.root, "", tree);
  scheme.visit(reader);
  reader.finish();
  scheme.name = name;
  scheme.weights.resolve();
  scheme.activations.resolve();
  auto invalid = [&](const std::string& key, const std::string& what) {
    throw ConfigError(fmt::format("{}: {}: {}", tree.origin_of(key), key, what));
  };
  if (scheme.quantize_weights && scheme.weights.spec.granularity == Granularity::token)
    invalid("weights.granularity", "expected tensor or channel (weights have no tokens), got token");
  if (scheme.quantize_weights && scheme.weights.spec.range == RangeEstimator::running_minmax)
    invalid("weights.range", "expected minmax, mse or dynamic (a weight is one tensor, there is nothing to run over)");
  if (scheme.quantize_activations && scheme.activations.spec.granularity == Granularity::token && !scheme.activations.spec.dynamic())
    invalid("activations.range", "per-token ranges exist only at run time: expected dynamic with granularity token");
  if (scheme.quantize_activations && scheme.sites.empty())
    invalid("sites", "expected at least one site group when quantize_activations is true");
  return scheme;
}

std::string quant_scheme_yaml(const QuantScheme& scheme) {
  ConfigWriter writer;
  const_cast<QuantScheme&>(scheme).visit(writer);  // the writer only reads
  YAML::Emitter out;
  out << writer.node();
  return std::string(out.c_str()) + "\n";
}

}  // namespace oasis
