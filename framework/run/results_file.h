// results.json, typed. The pipeline writes the file as JSON (with more detail than any reader needs: timings,
// quantization records, GSM8K filters); this is the one description of the numbers that leave it -- the
// report's cells and anything else that reads a run's outcome. The pipeline parses every results.json it is
// about to write with `parse_results`, so no file is written that a reader would refuse. A key a reader asks
// for that is absent is an error naming the file and the key; a number the run defines as not applicable
// (depth routing of a standard model) is stored as null and read as NaN.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/stats/summary_metrics.h"

namespace oasis {

// results.json's layout version (its `schema_version`): raised whenever a key is renamed or removed.
inline constexpr int kResultsSchemaVersion = 1;

struct RunResults {
  int schema_version = 0;  // 0: written before the field existed
  std::string code_version = "?", config_hash = "?";  // "?" in files written before they were recorded
  std::map<std::string, std::map<std::string, double>> perplexity;  // scheme -> split -> perplexity
  std::map<std::string, StoredSummary> stats;                       // scheme -> summary statistics
  std::map<std::string, double> gsm8k_pass_at_1;                    // scheme -> Pass@1 (the configured filter)
  std::map<std::string, std::map<std::string, double>> task;        // scheme -> the dataset's task metrics

  // The number a report cell asks for; throws RuntimeError naming `where` and the missing key.
  double perplexity_of(const std::string& scheme, const std::string& split, const std::string& where) const;
  double statistic_of(const std::string& scheme, const SummaryMetric& metric, const std::string& where) const;
  double pass_at_1_of(const std::string& scheme, const std::string& where) const;
  double task_metric_of(const std::string& scheme, const std::string& metric, const std::string& where) const;
};

// `where` names the file in errors.
RunResults parse_results(const nlohmann::json& json, const std::string& where);
RunResults read_results(const std::filesystem::path& file);

}  // namespace oasis
