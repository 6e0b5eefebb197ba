// The summary statistics of one scheme's statistics pass, each defined once here: its name (the key in
// results.json `stats.<scheme>`, stats.h5 `/<scheme>/summary` and metrics.jsonl), label (watch line, logs,
// `oasis inspect`, report columns), definition (stats.h5 `/metric_defs/summary.<name>`, docs/statistics.md),
// direction (which way the report's "better than" rows count), decimals, and whether training watches it.
// How runs are reduced is one rule for all: the report's cell is the mean over seeds ± the sample std.
// A new statistic: its field in StatsSummary (activation_stats.h), its computation in SchemeStats::summary(),
// and one entry here (docs/extending.md).
#pragma once
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/stats/activation_stats.h"

namespace oasis {

enum class Better { lower, higher, neither };

struct SummaryMetric {
  std::string name;
  std::string label;
  std::string definition;
  Better better;
  int decimals;
  bool watched;  // in the training watch line and metrics.jsonl (train.watch_stats), and the evaluation log
  double StatsSummary::*value;
};

const std::vector<SummaryMetric>& summary_metrics();
const SummaryMetric& summary_metric(const std::string& name);  // ConfigError listing the valid names
std::vector<std::string> summary_metric_names();
const char* better_name(Better better);  // "lower", "higher", "neither"

// results.json `stats.<scheme>`: every metric by name (null when not defined for the model) plus the sites
// of the two maxima.
nlohmann::json summary_to_json(const StatsSummary& summary);

// Its reader. A file written before a statistic existed lacks its key: that statistic is NaN and its name
// is in `absent` (a reader that needs it says so); a value that is neither a number nor null is an error
// naming `where` and the key.
struct StoredSummary {
  StatsSummary summary;
  std::set<std::string> absent;
};
StoredSummary summary_from_json(const nlohmann::json& json, const std::string& where);

// "label value | label value ..." of the watched metrics (the training watch line, the evaluation log).
std::string watched_summary_text(const StatsSummary& summary);

}  // namespace oasis
