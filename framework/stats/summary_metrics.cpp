#include "framework/stats/summary_metrics.h"

#include <cmath>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {

const std::vector<SummaryMetric>& summary_metrics() {
  static const std::vector<SummaryMetric> metrics = {
      {"max_inf_norm", "max inf norm", "max over activation sites of the mean over sequences of inf_norm_per_seq",
       Better::lower, 2, true, &StatsSummary::max_inf_norm},
      {"avg_kurtosis", "avg kurtosis", "mean over activation sites of the mean over sequences of kurtosis_per_seq",
       Better::lower, 2, true, &StatsSummary::avg_kurtosis},
      {"max_kurtosis", "max kurtosis", "max over activation sites of the mean over sequences of kurtosis_per_seq",
       Better::lower, 2, false, &StatsSummary::max_kurtosis},
      {"first_token_attention", "first-token attention", "mean of first_token_per_seq over layers, sequences and heads",
       Better::lower, 4, true, &StatsSummary::first_token_attention},
      {"first_token_vs_uniform", "first-token / uniform",
       "summary.first_token_attention divided by H_T / T (uniform causal attention over the T queries)", Better::lower,
       2, true, &StatsSummary::first_token_vs_uniform},
      {"first_token_attention_renorm", "first-token attention (renormalized)",
       "mean of first_token_renorm_per_seq over layers, sequences and heads", Better::lower, 4, false,
       &StatsSummary::first_token_attention_renorm},
      {"sink_rate", "sink rate",
       "fraction of (layer, sequence, head) with first_token_per_seq > sink_eps (0.3: Gu et al.)", Better::lower, 3,
       true, &StatsSummary::sink_rate},
      {"null_mass", "null mass", "mean of null_mass_per_seq over layers, sequences and heads", Better::neither, 4,
       false, &StatsSummary::null_mass},
      {"depth_sink_mass", "depth-sink mass",
       "mean over routing sites with more than one source of the mean embedding weight (weights_per_seq[:, 0])",
       Better::lower, 3, true, &StatsSummary::depth_sink_mass},
      {"depth_entropy", "depth entropy", "mean over routing sites with more than one source of entropy_per_seq",
       Better::neither, 3, false, &StatsSummary::depth_entropy},
      {"max_depth_weight", "max depth weight",
       "mean over routing sites with more than one source of max_weight_per_seq", Better::neither, 3, false,
       &StatsSummary::max_depth_weight},
  };
  return metrics;
}

std::vector<std::string> summary_metric_names() {
  std::vector<std::string> names;
  for (const auto& m : summary_metrics()) names.push_back(m.name);
  return names;
}

const SummaryMetric& summary_metric(const std::string& name) {
  for (const auto& m : summary_metrics())
    if (m.name == name) return m;
  throw ConfigError(fmt::format("unknown summary statistic '{}'{}; valid: {}", name, did_you_mean(name, summary_metric_names()),
                                join(summary_metric_names(), ", ")));
}

const char* better_name(Better better) {
  return better == Better::lower ? "lower" : better == Better::higher ? "higher" : "neither";
}

nlohmann::json summary_to_json(const StatsSummary& summary) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& m : summary_metrics()) {
    const double v = summary.*m.value;
    out[m.name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
  }
  out["max_inf_norm_site"] = summary.max_inf_norm_site;
  out["max_kurtosis_site"] = summary.max_kurtosis_site;
  return out;
}

StoredSummary summary_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw RuntimeError(fmt::format("{}: expected an object of summary statistics", where));
  StoredSummary stored;
  StatsSummary& s = stored.summary;
  for (const auto& m : summary_metrics()) {
    const auto it = json.find(m.name);
    if (it == json.end()) {
      stored.absent.insert(m.name);
      continue;
    }
    if (!it->is_null() && !it->is_number())
      throw RuntimeError(fmt::format("{}.{}: expected a number or null, got {}", where, m.name, it->dump()));
    s.*m.value = it->is_number() ? it->get<double>() : NAN;
  }
  auto site = [&](const char* key) {
    const auto it = json.find(key);
    if (it == json.end() || it->is_null()) return std::string();
    if (!it->is_string()) throw RuntimeError(fmt::format("{}.{}: expected a string, got {}", where, key, it->dump()));
    return it->get<std::string>();
  };
  s.max_inf_norm_site = site("max_inf_norm_site");
  s.max_kurtosis_site = site("max_kurtosis_site");
  return stored;
}

std::string watched_summary_text(const StatsSummary& summary) {
  std::string text;
  for (const auto& m : summary_metrics()) {
    if (!m.watched) continue;
    const double v = summary.*m.value;
    text += fmt::format("{}{} ", text.empty() ? "" : " | ", m.label);
    text += std::isfinite(v) ? fmt::format("{:.{}f}", v, m.decimals) : "n/a";
  }
  return text;
}

}  // namespace oasis
