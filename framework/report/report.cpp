#include "framework/report/report.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kBaselines = {"standard", "attnres", "attnres-clipped", "attnres-gated", "attnres-softmax1"};
const std::string kOasis = "oasis";

template <class T>
T yaml_or(const YAML::Node& node, T fallback) {
  return node && node.IsScalar() ? node.as<T>() : fallback;
}

// A run directory's identity and results; a damaged config.yaml or results.json is named on stdout and
// the run counted as unreadable, so one bad file does not stop the report of all the others.
RunSample read_run(const fs::path& dir) {
  RunSample r;
  r.dir = dir;
  r.preset = r.dataset = "?";
  try {
    const YAML::Node config = YAML::LoadFile((dir / "config.yaml").string());
    r.experiment = yaml_or<std::string>(config["experiment"], "");
    r.preset = yaml_or<std::string>(config["model"]["preset"], "?");
    r.dataset = yaml_or<std::string>(config["data"]["dataset"], "?");
    r.seed = yaml_or<int64_t>(config["seed"], 0);
    r.done = fs::exists(dir / "DONE") && fs::exists(dir / "results.json");
    if (r.done) r.results = read_json_file(dir / "results.json");
    if (r.done && !r.results.is_object()) throw RuntimeError(fmt::format("'{}' is not a JSON object", (dir / "results.json").string()));
  } catch (const YAML::Exception& e) {
    r.unreadable = fmt::format("'{}': {}", (dir / "config.yaml").string(), e.what());
  } catch (const RuntimeError& e) {
    r.unreadable = e.what();
  }
  if (!r.unreadable.empty()) {
    r.done = false;
    r.results = nlohmann::json();
    log_line(fmt::format("warning: leaving out unreadable run '{}': {}", dir.string(), r.unreadable));
  }
  return r;
}

std::vector<std::string> ordered(const std::set<std::string>& names, const std::vector<std::string>& first) {
  std::vector<std::string> out;
  for (const auto& n : first)
    if (names.count(n)) out.push_back(n);
  for (const auto& n : names)
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

std::optional<double> at(const nlohmann::json& j, const std::vector<std::string>& path) {
  const nlohmann::json* node = &j;
  for (const auto& key : path) {
    if (!node->is_object() || !node->contains(key)) return std::nullopt;
    node = &(*node)[key];
  }
  if (!node->is_number()) return std::nullopt;
  const double v = node->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

struct Metric {
  std::string label;
  std::vector<std::string> path;  // into results.json
  int decimals;
  double scale = 1.0;             // 100 for rates shown in percent
  bool higher_is_better = false;  // Pass@1; everything else (outliers, sinks, perplexity) is better lower
};

using Groups = std::map<std::pair<std::string, std::string>, std::vector<const RunSample*>>;  // (dataset, preset)

struct Cell {
  Aggregate value;
  int64_t unfinished = 0;  // planned or started runs that have not finished
  int64_t without = 0;     // finished runs without this number (e.g. depth routing of a standard model)
};

Cell cell_of(const Groups& groups, const std::string& dataset, const std::string& preset, const Metric& m) {
  Cell c;
  const auto it = groups.find({dataset, preset});
  if (it == groups.end()) return c;
  std::vector<double> values;
  for (const auto* r : it->second) {
    if (!r->done) {
      ++c.unfinished;
    } else if (const auto v = at(r->results, m.path)) {
      values.push_back(*v * m.scale);
    } else {
      ++c.without;
    }
  }
  c.value = aggregate(values);
  return c;
}

std::string cell_text(const Cell& c, int decimals) {
  if (c.value.n == 0) return c.unfinished > 0 ? fmt::format("missing ({} planned)", c.unfinished) : "n/a";
  std::string text = c.value.n > 1 ? fmt::format("{:.{}f} ± {:.{}f} (n={})", c.value.mean, decimals, c.value.std, decimals, c.value.n)
                                   : fmt::format("{:.{}f} (n=1)", c.value.mean, decimals);
  if (c.unfinished > 0) text += fmt::format(", {} missing", c.unfinished);
  return text;
}

// OASIS's improvement over a baseline in percent of the baseline, positive when OASIS is better:
// 100 (B - O) / B for lower-is-better numbers (docs/sweeps.md), 100 (O - B) / B for Pass@1.
std::optional<double> improvement(const Cell& oasis, const Cell& base, const Metric& m) {
  if (oasis.value.n == 0 || base.value.n == 0 || base.value.mean == 0) return std::nullopt;
  const double change = 100.0 * (oasis.value.mean - base.value.mean) / std::fabs(base.value.mean);
  return m.higher_is_better ? change : -change;
}

// A string field of results.json; "?" when absent or not a string (files from older versions).
std::string text_field(const nlohmann::json& results, const char* key) {
  const auto it = results.find(key);
  return it != results.end() && it->is_string() ? it->get<std::string>() : "?";
}

std::string percent(std::optional<double> v) { return v ? fmt::format("{:+.1f}%", *v) : "n/a"; }

// A column of a table: which dataset and metric it shows.
struct Column {
  std::string header, dataset;
  Metric metric;
};

// Preset rows, then OASIS's improvement over each baseline present and their mean.
ReportTable make_table(const std::string& title, const std::vector<Column>& columns, const Groups& groups,
                       const std::vector<std::string>& presets) {
  ReportTable t{title, {"preset"}, {}};
  for (const auto& c : columns) t.header.push_back(c.header);
  for (const auto& p : presets) {
    std::vector<std::string> row = {p};
    for (const auto& c : columns) row.push_back(cell_text(cell_of(groups, c.dataset, p, c.metric), c.metric.decimals));
    t.rows.push_back(row);
  }
  if (std::find(presets.begin(), presets.end(), kOasis) == presets.end()) return t;
  std::vector<std::vector<double>> per_column(columns.size());
  for (const auto& base : kBaselines) {
    if (std::find(presets.begin(), presets.end(), base) == presets.end()) continue;
    std::vector<std::string> row = {"oasis better than " + base + " by"};
    for (size_t k = 0; k < columns.size(); ++k) {
      const auto change = improvement(cell_of(groups, columns[k].dataset, kOasis, columns[k].metric),
                                      cell_of(groups, columns[k].dataset, base, columns[k].metric), columns[k].metric);
      if (change) per_column[k].push_back(*change);
      row.push_back(percent(change));
    }
    t.rows.push_back(row);
  }
  std::vector<std::string> mean_row = {"oasis better than the baselines by (mean)"};
  for (const auto& changes : per_column) mean_row.push_back(changes.empty() ? "n/a" : percent(aggregate(changes).mean));
  t.rows.push_back(mean_row);
  return t;
}

// "metric: oasis x% lower/higher than the baselines (mean over P baseline x dataset pairs)"; Pass@1 also
// in points, since "improving Pass@1 by N%" may mean either.
std::string headline(const std::string& label, const Metric& m, const std::vector<std::string>& datasets, const Groups& groups) {
  std::vector<double> changes, points;
  for (const auto& d : datasets)
    for (const auto& base : kBaselines) {
      const Cell o = cell_of(groups, d, kOasis, m), b = cell_of(groups, d, base, m);
      if (auto c = improvement(o, b, m)) {
        changes.push_back(*c);
        points.push_back(o.value.mean - b.value.mean);
      }
    }
  if (changes.empty()) return fmt::format("{}: n/a (no dataset has oasis and a baseline with a non-zero value)", label);
  const double mean = aggregate(changes).mean;
  const char* direction = (mean >= 0) == m.higher_is_better ? "higher" : "lower";
  std::string text = fmt::format("{}: oasis {:.1f}% {} than the baselines", label, std::fabs(mean), direction);
  if (m.higher_is_better) text += fmt::format(" ({:+.1f} points)", aggregate(points).mean);
  return text + fmt::format(" (mean over {} baseline x dataset pairs)", changes.size());
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (s.compare(i, 2, "±") == 0) {
      out += "$\\pm$";
      ++i;
    } else if (s.compare(i, 3, "—") == 0) {
      out += "--";
      i += 2;
    } else if (std::string("_%&#$").find(c) != std::string::npos) {
      out += std::string("\\") + c;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Aggregate aggregate(const std::vector<double>& values) {
  Aggregate a;
  a.n = int64_t(values.size());
  if (a.n == 0) return a;
  for (double v : values) a.mean += v;
  a.mean /= double(a.n);
  if (a.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - a.mean) * (v - a.mean);
    a.std = std::sqrt(ss / double(a.n - 1));  // sample std over seeds
  }
  return a;
}

std::vector<RunSample> collect_runs(const fs::path& runs_dir) {
  if (!fs::is_directory(runs_dir)) throw ConfigError(fmt::format("oasis report: '{}' is not a directory", runs_dir.string()));
  std::vector<RunSample> runs;
  std::set<fs::path> seen;
  std::vector<fs::path> plans;  // experiments' plan.json, read once every run directory is known
  for (auto it = fs::recursive_directory_iterator(runs_dir); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (!it->is_directory()) {
      if (name == "plan.json") plans.push_back(it->path());
      continue;
    }
    if (it.depth() > 2 || name == "checkpoints" || name == "finetune" || name == "slurm") {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::exists(it->path() / "config.yaml")) {
      runs.push_back(read_run(it->path()));
      seen.insert(fs::weakly_canonical(it->path()));
      it.disable_recursion_pending();
    }
  }
  // Planned cells that never started.
  for (const auto& file : plans) {
    try {
      const auto plan = read_json_file(file);
      for (const auto& cell : plan.at("cells")) {
        const fs::path dir = file.parent_path() / cell.at("id").get<std::string>();
        if (seen.count(fs::weakly_canonical(dir))) continue;
        RunSample r;
        r.dir = dir;
        r.experiment = plan.at("experiment").get<std::string>();
        r.preset = cell.at("preset").get<std::string>();
        r.dataset = cell.at("dataset").get<std::string>();
        r.seed = cell.at("seed").get<int64_t>();
        runs.push_back(r);
      }
    } catch (const std::exception& e) {  // the cells that did start are still reported
      log_line(fmt::format("warning: ignoring plan '{}': {}", file.string(), e.what()));
    }
  }
  std::sort(runs.begin(), runs.end(), [](const RunSample& a, const RunSample& b) { return a.dir < b.dir; });
  return runs;
}

Report build_report(const std::vector<RunSample>& runs) {
  Groups groups;
  std::set<std::string> preset_names, dataset_names, ppl_schemes, gsm8k_schemes;
  std::vector<const RunSample*> unplaced;  // unreadable before their preset or dataset was known
  for (const auto& r : runs) {
    if (!r.unreadable.empty() && (r.preset == "?" || r.dataset == "?")) {
      unplaced.push_back(&r);
      continue;
    }
    groups[{r.dataset, r.preset}].push_back(&r);
    preset_names.insert(r.preset);
    dataset_names.insert(r.dataset);
    if (!r.done) continue;
    if (r.results.contains("perplexity"))
      for (const auto& [scheme, v] : r.results["perplexity"].items()) ppl_schemes.insert(scheme);
    if (r.results.contains("gsm8k"))
      for (const auto& [scheme, v] : r.results["gsm8k"].items()) gsm8k_schemes.insert(scheme);
  }
  std::vector<std::string> preset_order = kBaselines;
  preset_order.push_back(kOasis);
  const auto presets = ordered(preset_names, preset_order);
  const auto datasets = ordered(dataset_names, {"wikitext2", "ptb", "c4"});
  const auto schemes = ordered(ppl_schemes, {"fp", "w8a8", "w4a4"});
  const auto gsm_schemes = ordered(gsm8k_schemes, {"fp", "w8a8", "w4a4"});

  Report report;
  const std::vector<Metric> outlier_metrics = {
      {"max inf norm", {"stats", "fp", "max_inf_norm"}, 2},
      {"avg kurtosis", {"stats", "fp", "avg_kurtosis"}, 2},
      {"sink rate", {"stats", "fp", "sink_rate"}, 3},
      {"first-token attention", {"stats", "fp", "first_token_attention"}, 4},
      {"first-token / uniform", {"stats", "fp", "first_token_vs_uniform"}, 2},
      {"depth-sink mass", {"stats", "fp", "depth_sink_mass"}, 3}};
  for (const auto& d : datasets) {
    std::vector<Column> columns;
    for (const auto& m : outlier_metrics) columns.push_back({m.label, d, m});
    report.tables.push_back(make_table(fmt::format("(a) Outliers and sinks on {} (fp model, statistics windows)", d),
                                       columns, groups, presets));
  }
  if (std::find(datasets.begin(), datasets.end(), "bigram_backcopy") != datasets.end()) {
    std::vector<Column> task_columns;
    for (const auto& sc : schemes)
      task_columns.push_back({"copy acc " + sc, "bigram_backcopy",
                              {"copy accuracy " + sc, {"task", sc, "copy_accuracy"}, 3, 1.0, true}});
    task_columns.push_back({"bigram loss fp", "bigram_backcopy", {"bigram loss", {"task", "fp", "bigram_loss"}, 3}});
    task_columns.push_back(
        {"optimum", "bigram_backcopy", {"bigram loss of the source chain", {"task", "fp", "bigram_optimum"}, 3}});
    report.tables.push_back(make_table("(a2) Bigram-Backcopy task on its test sequences", task_columns, groups, presets));
  }
  std::vector<Column> ppl_columns;
  for (const auto& d : datasets)
    for (const auto& s : schemes)
      ppl_columns.push_back({d + " " + s, d, {"ppl " + s, {"perplexity", s, "test", "perplexity"}, 2}});
  report.tables.push_back(make_table("(b) Test perplexity by quantization scheme", ppl_columns, groups, presets));
  if (!gsm_schemes.empty()) {
    std::vector<Column> gsm_columns;
    for (const auto& d : datasets)
      for (const auto& s : gsm_schemes)
        gsm_columns.push_back({d + " " + s, d, {"pass@1 " + s, {"gsm8k", s, "pass_at_1"}, 1, 100.0, true}});
    report.tables.push_back(make_table("(c) GSM8K Pass@1 (%) by quantization scheme (pretraining corpus in the column)",
                                       gsm_columns, groups, presets));
  }
  for (const auto& m : outlier_metrics) report.headlines.push_back(headline(m.label, m, datasets, groups));
  for (const auto& s : schemes)
    report.headlines.push_back(headline("test perplexity " + s, {"", {"perplexity", s, "test", "perplexity"}, 2}, datasets, groups));
  for (const auto& s : gsm_schemes)
    report.headlines.push_back(headline("GSM8K Pass@1 (%) " + s, {"", {"gsm8k", s, "pass_at_1"}, 1, 100.0, true}, datasets, groups));

  ReportTable sources{"Sources: every run behind the tables", {"dataset", "preset", "seed", "status", "run", "code", "config hash"}, {}};
  for (const auto& d : datasets)
    for (const auto& p : presets) {
      const auto it = groups.find({d, p});
      if (it == groups.end()) continue;
      for (const auto* r : it->second)
        sources.rows.push_back({d, p, std::to_string(r->seed),
                                r->done ? "done" : !r->unreadable.empty() ? "unreadable" : fs::exists(r->dir) ? "unfinished" : "not started",
                                r->dir.string(),
                                r->done ? text_field(r->results, "code_version") : "", r->done ? text_field(r->results, "config_hash") : ""});
    }
  for (const auto* r : unplaced) sources.rows.push_back({r->dataset, r->preset, "?", "unreadable", r->dir.string(), "", ""});
  report.tables.push_back(sources);
  return report;
}

std::string render_report(const Report& report, const std::string& format) {
  std::string out;
  if (format == "md") {
    for (const auto& t : report.tables) out += "## " + t.title + "\n\n" + markdown_table(t.header, t.rows) + "\n";
    out += "The rows \"oasis better than X by\" give 100 (X - oasis) / X for (a) and (b), where lower is better, and\n"
           "100 (oasis - X) / X for (c): positive means oasis is better.\n\n";
    out += "## Headline: oasis against the baselines, averaged over baselines and datasets\n\n";
    for (const auto& h : report.headlines) out += "- " + h + "\n";
  } else if (format == "csv") {  // long form, one value per line: easy to load with pandas
    out += "table,row,column,value\n";
    for (const auto& t : report.tables)
      for (const auto& row : t.rows)
        for (size_t k = 1; k < row.size(); ++k)
          out += csv_field(t.title) + "," + csv_field(row[0]) + "," + csv_field(t.header[k]) + "," + csv_field(row[k]) + "\n";
    for (const auto& h : report.headlines) out += "headline,,," + csv_field(h) + "\n";
  } else if (format == "latex") {
    for (const auto& t : report.tables) {
      out += "\\begin{table}[t]\n\\centering\n\\caption{" + latex_escape(t.title) + "}\n\\begin{tabular}{l" +
             std::string(t.header.size() - 1, 'c') + "}\n\\hline\n";
      for (size_t k = 0; k < t.header.size(); ++k) out += (k ? " & " : "") + latex_escape(t.header[k]);
      out += " \\\\\n\\hline\n";
      for (const auto& row : t.rows) {
        for (size_t k = 0; k < row.size(); ++k) out += (k ? " & " : "") + latex_escape(row[k]);
        out += " \\\\\n";
      }
      out += "\\hline\n\\end{tabular}\n\\end{table}\n\n";
    }
    out += "% headlines\n";
    for (const auto& h : report.headlines) out += "% " + h + "\n";
  } else {
    throw ConfigError(fmt::format("oasis report: --format must be md, csv or latex, got '{}'", format));
  }
  return out;
}

}  // namespace oasis
