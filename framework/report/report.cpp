#include "framework/report/report.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/run/run_dir.h"
#include "framework/run/sweep.h"
#include "framework/stats/summary_metrics.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

// A run directory's identity and results, read through the typed config and results readers; a damaged
// config.yaml or results.json is named on stdout and the run counted as unreadable, so one bad file does not
// stop the report of all the others.
RunSample read_run(const fs::path& dir) {
  RunSample r;
  r.dir = dir;
  r.preset = r.dataset = "?";
  try {
    const Config config = load_run_config(dir, {});
    r.preset = config.model.preset;
    r.dataset = config.data.dataset;
    r.seed = config.seed;
    r.report = config.report;
    r.done = fs::exists(dir / "DONE") && fs::exists(dir / "results.json");
    if (r.done) r.results = read_results(dir / "results.json");
  } catch (const std::exception& e) {  // ConfigError, RuntimeError, and a JSON type error of a hand-edited file
    r.unreadable = e.what();
  }
  if (!r.unreadable.empty()) {
    r.done = false;
    r.results = RunResults();
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

struct Metric {
  std::string label;
  std::function<double(const RunResults&, const std::string& where)> value;  // NaN: not defined for the run
  int decimals;
  double scale = 1.0;  // 100 for rates shown in percent
  Better better = Better::lower;
  // Asked for by the report section: a run without it is an error. Otherwise (columns that exist because
  // some run has them, like a quantization scheme) a run without it shows as n/a.
  bool required = false;
};

Metric statistic_metric(const std::string& name, const std::string& scheme) {
  const SummaryMetric& m = summary_metric(name);
  return {m.label, [scheme, &m](const RunResults& r, const std::string& where) { return r.statistic_of(scheme, m, where); },
          m.decimals, 1.0, m.better, true};
}

Metric perplexity_metric(const std::string& scheme) {
  return {"ppl " + scheme,
          [scheme](const RunResults& r, const std::string& where) { return r.perplexity_of(scheme, "test", where); }, 2};
}

Metric pass_at_1_metric(const std::string& scheme) {
  return {"pass@1 " + scheme,
          [scheme](const RunResults& r, const std::string& where) { return r.pass_at_1_of(scheme, where); }, 1, 100.0,
          Better::higher};
}

Metric task_metric(const std::string& label, const std::string& scheme, const std::string& name, Better better) {
  return {label,
          [scheme, name](const RunResults& r, const std::string& where) { return r.task_metric_of(scheme, name, where); },
          3, 1.0, better};
}

using Groups = std::map<std::pair<std::string, std::string>, std::vector<const RunSample*>>;  // (dataset, preset)

struct Cell {
  Aggregate value;
  int64_t unfinished = 0;  // planned or started runs that have not finished
};

Cell cell_of(const Groups& groups, const std::string& dataset, const std::string& preset, const Metric& m) {
  Cell c;
  const auto it = groups.find({dataset, preset});
  if (it == groups.end()) return c;
  std::vector<double> values;
  for (const auto* r : it->second) {
    if (!r->done) {
      ++c.unfinished;
      continue;
    }
    double v = NAN;
    try {
      v = m.value(r->results, (r->dir / "results.json").string());
    } catch (const RuntimeError& e) {
      if (m.required) throw RuntimeError(fmt::format("oasis report: {} (asked for by the report section)", e.what()));
    }
    if (std::isfinite(v)) values.push_back(v * m.scale);  // NaN: not defined for this run (n/a)
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
// A statistic without a direction (depth entropy) has no "better".
std::optional<double> improvement(const Cell& oasis, const Cell& base, const Metric& m) {
  if (m.better == Better::neither || oasis.value.n == 0 || base.value.n == 0 || base.value.mean == 0) return std::nullopt;
  const double change = 100.0 * (oasis.value.mean - base.value.mean) / std::fabs(base.value.mean);
  return m.better == Better::higher ? change : -change;
}

std::string percent(std::optional<double> v) { return v ? fmt::format("{:+.1f}%", *v) : "n/a"; }

// A column of a table: which dataset and metric it shows.
struct Column {
  std::string header, dataset;
  Metric metric;
};

// Preset rows, then OASIS's improvement over each baseline present and their mean.
ReportTable make_table(const std::string& title, const std::vector<Column>& columns, const Groups& groups,
                       const std::vector<std::string>& presets, const ReportConfig& rc) {
  const std::string& method = rc.method;
  ReportTable t{title, {"preset"}, {}};
  for (const auto& c : columns) t.header.push_back(c.header);
  for (const auto& p : presets) {
    std::vector<std::string> row = {p};
    for (const auto& c : columns) row.push_back(cell_text(cell_of(groups, c.dataset, p, c.metric), c.metric.decimals));
    t.rows.push_back(row);
  }
  if (std::find(presets.begin(), presets.end(), method) == presets.end()) return t;
  std::vector<std::vector<double>> per_column(columns.size());
  for (const auto& base : rc.baselines) {
    if (std::find(presets.begin(), presets.end(), base) == presets.end()) continue;
    std::vector<std::string> row = {method + " better than " + base + " by"};
    for (size_t k = 0; k < columns.size(); ++k) {
      const auto change = improvement(cell_of(groups, columns[k].dataset, method, columns[k].metric),
                                      cell_of(groups, columns[k].dataset, base, columns[k].metric), columns[k].metric);
      if (change) per_column[k].push_back(*change);
      row.push_back(percent(change));
    }
    t.rows.push_back(row);
  }
  std::vector<std::string> mean_row = {method + " better than the baselines by (mean)"};
  for (const auto& changes : per_column) mean_row.push_back(changes.empty() ? "n/a" : percent(aggregate(changes).mean));
  t.rows.push_back(mean_row);
  return t;
}

// "metric: oasis x% lower/higher than the baselines (mean over P baseline x dataset pairs)"; Pass@1 also
// in points, since "improving Pass@1 by N%" may mean either.
std::string headline(const std::string& label, const Metric& m, const std::vector<std::string>& datasets, const Groups& groups,
                     const ReportConfig& rc) {
  if (m.better == Better::neither) return fmt::format("{}: no direction (neither lower nor higher is better)", label);
  std::vector<double> changes, points;
  for (const auto& d : datasets)
    for (const auto& base : rc.baselines) {
      const Cell o = cell_of(groups, d, rc.method, m), b = cell_of(groups, d, base, m);
      if (auto c = improvement(o, b, m)) {
        changes.push_back(*c);
        points.push_back(o.value.mean - b.value.mean);
      }
    }
  if (changes.empty())
    return fmt::format("{}: n/a (no dataset has {} and a baseline with a non-zero value)", label, rc.method);
  const double mean = aggregate(changes).mean;
  const bool higher_better = m.better == Better::higher;
  const char* direction = (mean >= 0) == higher_better ? "higher" : "lower";
  std::string text = fmt::format("{}: {} {:.1f}% {} than the baselines", label, rc.method, std::fabs(mean), direction);
  if (higher_better) text += fmt::format(" ({:+.1f} points)", aggregate(points).mean);
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

RunsFound collect_runs(const fs::path& runs_dir) {
  if (!fs::is_directory(runs_dir)) throw ConfigError(fmt::format("oasis report: '{}' is not a directory", runs_dir.string()));
  RunsFound found;
  std::vector<RunSample>& runs = found.runs;
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
      if (const auto named = plan.find("file"); named != plan.end() && named->is_string() &&
                                                fs::is_regular_file(named->get<std::string>()) &&
                                                std::find(found.experiment_files.begin(), found.experiment_files.end(),
                                                          named->get<std::string>()) == found.experiment_files.end())
        found.experiment_files.emplace_back(named->get<std::string>());
      for (const auto& cell : plan.at("cells")) {
        const fs::path dir = file.parent_path() / cell.at("id").get<std::string>();
        if (seen.count(fs::weakly_canonical(dir))) continue;
        RunSample r;
        r.dir = dir;
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
  return found;
}

namespace {

// The report.* rows of a config, for comparing two report sections.
std::vector<std::pair<std::string, std::string>> report_rows(const ReportConfig& report) {
  Config c;
  c.report = report;
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto& row : config_rows(c))
    if (row.first.rfind("report.", 0) == 0) rows.push_back(std::move(row));
  return rows;
}

// One section from several sources, or an error naming the first two that differ.
ReportConfig agreed(const std::vector<std::pair<std::string, ReportConfig>>& sections) {
  for (size_t k = 1; k < sections.size(); ++k) {
    const auto a = report_rows(sections[0].second), b = report_rows(sections[k].second);
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].second != b[i].second)
        throw ConfigError(fmt::format("oasis report: {} is {} in '{}' but {} in '{}'; report one experiment's folder "
                                      "at a time, or set it on the command line",
                                      a[i].first, a[i].second, sections[0].first, b[i].second, sections[k].first));
  }
  return sections.front().second;
}

}  // namespace

ReportConfig report_settings(const RunsFound& found, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides)
    if (o.rfind("report.", 0) != 0)
      throw ConfigError(fmt::format("oasis report: `{}`: only report.* settings can be given here", o));
  // `base` with the command line's report.* settings applied, checked like any config.
  auto with_overrides = [&](const ReportConfig& base) {
    Config c;
    c.report = base;
    ConfigTree tree = config_tree_from_string(config_to_yaml(c), "(report section)");
    apply_overrides(tree, overrides);
    return config_from_tree(tree).report;
  };
  // The experiment files that planned the runs, as they are now; without them, the sections saved with the
  // runs (oasis train runs, or experiment files since moved); without runs, the defaults.
  std::vector<std::pair<std::string, ReportConfig>> sections;
  for (const auto& file : found.experiment_files)
    sections.emplace_back(file.string(), with_overrides(load_experiment(file, {}).cells.front().config.report));
  if (sections.empty())
    for (const auto& r : found.runs)
      if (r.report) sections.emplace_back(r.dir.string(), with_overrides(*r.report));
  return sections.empty() ? with_overrides(ReportConfig{}) : agreed(sections);
}

Report build_report(const std::vector<RunSample>& runs, const ReportConfig& rc) {
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
    for (const auto& [scheme, splits] : r.results.perplexity) ppl_schemes.insert(scheme);
    for (const auto& [scheme, v] : r.results.gsm8k_pass_at_1) gsm8k_schemes.insert(scheme);
  }
  std::vector<std::string> preset_order = rc.baselines;
  preset_order.push_back(rc.method);
  const auto presets = ordered(preset_names, preset_order);
  const auto datasets = ordered(dataset_names, {"wikitext2", "ptb", "c4"});
  const auto schemes = ordered(ppl_schemes, {"fp", "w8a8", "w4a4"});
  const auto gsm_schemes = ordered(gsm8k_schemes, {"fp", "w8a8", "w4a4"});

  Report report;
  report.method = rc.method;
  std::vector<Metric> statistics;
  for (const auto& name : rc.statistics) statistics.push_back(statistic_metric(name, rc.statistics_scheme));
  if (!statistics.empty())
    for (const auto& d : datasets) {
      std::vector<Column> columns;
      for (const auto& m : statistics) columns.push_back({m.label, d, m});
      report.tables.push_back(make_table(
          fmt::format("(a) Outliers and sinks on {} ({} model, statistics windows)", d, rc.statistics_scheme), columns,
          groups, presets, rc));
    }
  if (std::find(datasets.begin(), datasets.end(), "bigram_backcopy") != datasets.end()) {
    std::vector<Column> task_columns;
    for (const auto& sc : schemes)
      task_columns.push_back(
          {"copy acc " + sc, "bigram_backcopy", task_metric("copy accuracy " + sc, sc, "copy_accuracy", Better::higher)});
    task_columns.push_back({"bigram loss fp", "bigram_backcopy", task_metric("bigram loss", "fp", "bigram_loss", Better::lower)});
    task_columns.push_back({"optimum", "bigram_backcopy",
                            task_metric("bigram loss of the source chain", "fp", "bigram_optimum", Better::neither)});
    report.tables.push_back(
        make_table("(a2) Bigram-Backcopy task on its test sequences", task_columns, groups, presets, rc));
  }
  std::vector<Column> ppl_columns;
  for (const auto& d : datasets)
    for (const auto& sc : schemes) ppl_columns.push_back({d + " " + sc, d, perplexity_metric(sc)});
  report.tables.push_back(make_table("(b) Test perplexity by quantization scheme", ppl_columns, groups, presets, rc));
  if (!gsm_schemes.empty()) {
    std::vector<Column> gsm_columns;
    for (const auto& d : datasets)
      for (const auto& sc : gsm_schemes) gsm_columns.push_back({d + " " + sc, d, pass_at_1_metric(sc)});
    report.tables.push_back(make_table("(c) GSM8K Pass@1 (%) by quantization scheme (pretraining corpus in the column)",
                                       gsm_columns, groups, presets, rc));
  }
  for (const auto& m : statistics) report.headlines.push_back(headline(m.label, m, datasets, groups, rc));
  for (const auto& sc : schemes)
    report.headlines.push_back(headline("test perplexity " + sc, perplexity_metric(sc), datasets, groups, rc));
  for (const auto& sc : gsm_schemes)
    report.headlines.push_back(headline("GSM8K Pass@1 (%) " + sc, pass_at_1_metric(sc), datasets, groups, rc));

  ReportTable sources{"Sources: every run behind the tables", {"dataset", "preset", "seed", "status", "run", "code", "config hash"}, {}};
  for (const auto& d : datasets)
    for (const auto& p : presets) {
      const auto it = groups.find({d, p});
      if (it == groups.end()) continue;
      for (const auto* r : it->second)
        sources.rows.push_back({d, p, std::to_string(r->seed),
                                r->done ? "done" : !r->unreadable.empty() ? "unreadable" : fs::exists(r->dir) ? "unfinished" : "not started",
                                r->dir.string(),
                                r->done ? r->results.code_version : "", r->done ? r->results.config_hash : ""});
    }
  for (const auto* r : unplaced) sources.rows.push_back({r->dataset, r->preset, "?", "unreadable", r->dir.string(), "", ""});
  report.tables.push_back(sources);
  return report;
}

std::string render_report(const Report& report, const std::string& format) {
  std::string out;
  if (format == "md") {
    for (const auto& t : report.tables) out += "## " + t.title + "\n\n" + markdown_table(t.header, t.rows) + "\n";
    const std::string& m = report.method;
    out += fmt::format("The rows \"{0} better than X by\" give 100 (X - {0}) / X where lower is better and 100 ({0} - X) / X\n"
                       "where higher is better (Pass@1, copy accuracy): positive means {0} is better. Each cell is the\n"
                       "mean over seeds ± the sample std.\n\n", m);
    out += fmt::format("## Headline: {} against the baselines, averaged over baselines and datasets\n\n", m);
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
