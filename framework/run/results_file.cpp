#include "framework/run/results_file.h"

#include <cmath>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"

namespace oasis {
namespace {

const nlohmann::json& member(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.is_object()) throw RuntimeError(fmt::format("{}: expected an object", where));
  const auto it = j.find(key);
  if (it == j.end()) throw RuntimeError(fmt::format("{}: no key '{}'", where, key));
  return *it;
}

// A number, or null for "not defined here" (NaN).
double number(const nlohmann::json& j, const std::string& where) {
  if (j.is_null()) return NAN;
  if (!j.is_number()) throw RuntimeError(fmt::format("{}: expected a number or null, got {}", where, j.dump()));
  return j.get<double>();
}

// A provenance string; "?" when the file predates it.
std::string provenance(const nlohmann::json& j, const std::string& key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) return "?";
  if (!it->is_string()) throw RuntimeError(fmt::format("{}.{}: expected a string, got {}", where, key, it->dump()));
  return it->get<std::string>();
}

template <class Map>
const typename Map::mapped_type& entry(const Map& map, const std::string& key, const std::string& where) {
  const auto it = map.find(key);
  if (it == map.end()) throw RuntimeError(fmt::format("{}: no key '{}'", where, key));
  return it->second;
}

}  // namespace

double RunResults::perplexity_of(const std::string& scheme, const std::string& split, const std::string& where) const {
  return entry(entry(perplexity, scheme, where + ": perplexity"), split, where + ": perplexity." + scheme);
}

double RunResults::statistic_of(const std::string& scheme, const SummaryMetric& metric, const std::string& where) const {
  const StoredSummary& stored = entry(stats, scheme, where + ": stats");
  if (stored.absent.count(metric.name))
    throw RuntimeError(fmt::format("{}: stats.{}: no key '{}' (written before the statistic existed; `oasis eval RUN` "
                                   "recomputes it)",
                                   where, scheme, metric.name));
  return stored.summary.*metric.value;
}

double RunResults::pass_at_1_of(const std::string& scheme, const std::string& where) const {
  return entry(gsm8k_pass_at_1, scheme, where + ": gsm8k");
}

double RunResults::task_metric_of(const std::string& scheme, const std::string& metric, const std::string& where) const {
  return entry(entry(task, scheme, where + ": task"), metric, where + ": task." + scheme);
}

RunResults parse_results(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw RuntimeError(fmt::format("{}: expected a JSON object", where));
  RunResults r;
  if (j.contains("schema_version")) {
    const auto& v = j.at("schema_version");
    if (!v.is_number_integer()) throw RuntimeError(fmt::format("{}.schema_version: expected an integer", where));
    r.schema_version = v.get<int>();
    if (r.schema_version > kResultsSchemaVersion)
      throw RuntimeError(fmt::format("{}: schema_version {} is newer than this build reads ({}); update the code",
                                     where, r.schema_version, kResultsSchemaVersion));
  }
  r.code_version = provenance(j, "code_version", where);
  r.config_hash = provenance(j, "config_hash", where);
  for (const auto& [scheme, splits] : member(j, "perplexity", where).items())
    for (const auto& [split, v] : splits.items()) {
      const std::string at = fmt::format("{}: perplexity.{}.{}", where, scheme, split);
      r.perplexity[scheme][split] = number(member(v, "perplexity", at), at + ".perplexity");
    }
  // stats holds one summary per evaluated scheme beside the pass's settings (file, split, sequences, ...).
  if (j.contains("stats"))
    for (const auto& [scheme, splits] : r.perplexity)
      if (j.at("stats").contains(scheme))
        r.stats[scheme] = summary_from_json(j.at("stats").at(scheme), fmt::format("{}: stats.{}", where, scheme));
  if (j.contains("gsm8k"))
    for (const auto& [scheme, v] : j.at("gsm8k").items()) {
      const std::string at = fmt::format("{}: gsm8k.{}", where, scheme);
      r.gsm8k_pass_at_1[scheme] = number(member(v, "pass_at_1", at), at + ".pass_at_1");
    }
  if (j.contains("task"))
    for (const auto& [scheme, scores] : j.at("task").items())
      for (const auto& [name, v] : scores.items())
        if (v.is_number() || v.is_null()) r.task[scheme][name] = number(v, where);
  return r;
}

RunResults read_results(const std::filesystem::path& file) { return parse_results(read_json_file(file), file.string()); }

}  // namespace oasis
