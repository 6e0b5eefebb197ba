// stats.h5: the schema (docs/statistics.md), its writer and the checked way to open one.
//   /                 attrs schema_version, format = "oasis-stats", complete = 1 (written last)
//   /meta             attrs code_version, config_hash, preset, dataset, tokenizer, device, precision, seed,
//                     split, sequences, seq_len, bos, run_dir, created_utc; dataset config_yaml (string)
//   /metric_defs/<statistic>      string dataset: the definition; attrs axes, applies_to (summary.*: + label, better)
//   /<scheme>/summary             attrs: the summary statistics (stats/summary_metrics.h) + the sites of the maxima
//   /<scheme>/sites/<LL>/<site>/  inf_norm_per_seq [N], kurtosis_per_seq [N], absmax_per_channel [D],
//                                 moments [5] (count, sum x, x^2, x^3, x^4)
//   /<scheme>/attention/<LL>/     first_token_per_seq [N, H], first_token_renorm_per_seq [N, H],
//                                 null_mass_per_seq [N, H] (normalizers with a null), maps [K, H, T, T] f16
//   /<scheme>/depth/<LL.site>/    weights_per_seq [N, S], entropy_per_seq [N], max_weight_per_seq [N],
//                                 weights_per_token [K, S, T]
// <LL> is the layer index zero-padded to two digits, or "final". The file is written under a temporary
// name and renamed, and every reader refuses a file without `complete` or with a newer schema.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "framework/stats/activation_stats.h"
#include "framework/stats/h5_file.h"

namespace oasis {

constexpr int64_t kStatsSchemaVersion = 1;

struct StatsMeta {
  std::string code_version, config_yaml, config_hash, preset, dataset, tokenizer, device, precision, split, run_dir;
  int64_t seed = 0, sequences = 0, seq_len = 0;
  bool bos = false;
};

// "3.attn.normed" -> {"03", "attn.normed"}; "final.normed" -> {"final", "normed"}.
std::pair<std::string, std::string> layer_and_site(const std::string& site);
std::string padded_layer(const std::string& layer);

void write_stats_file(const std::filesystem::path& file, const StatsMeta& meta,
                      const std::vector<const SchemeStats*>& schemes);

// Opens stats.h5 for reading after checking `complete` and the schema version (RuntimeError otherwise).
std::unique_ptr<H5Reader> open_stats_file(const std::filesystem::path& file);

// The statistics' definitions as written to /metric_defs: name, definition, axes, applies_to (and for the
// summary statistics their label and direction).
struct MetricDefinition {
  std::string name, definition, axes, applies_to;
  std::string label, better;  // summary statistics only (summary_metrics.h)
};
const std::vector<MetricDefinition>& metric_definitions();

}  // namespace oasis
