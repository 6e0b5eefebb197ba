// `oasis report`: the paper's tables from finished runs. Every run directory under RUNS_DIR with a
// results.json is one sample of its (dataset, preset) cell, its seed the replicate; each table cell is
// mean ± sample std over seeds with the seed count. Experiments run by `oasis run` leave plan.json, so
// cells that were planned but are missing or unfinished show as such instead of vanishing.
//   (a) outliers and sinks per dataset x preset: the summary statistics `report.statistics` of the scheme
//       `report.statistics_scheme` (defined in stats/summary_metrics.h)
//   (b) test perplexity per dataset x preset x scheme (fp, W8A8, W4A4, ...)
//   (c) GSM8K Pass@1 per preset x scheme
// Headline rows give the method's (`report.method`, OASIS) relative change against each baseline preset
// (`report.baselines`) and averaged over baselines, and a closing list averages over baselines and datasets,
// the way the paper's abstract states them. The `report:` section comes from the experiment YAML
// (report_settings). A sources table maps every cell to its run
// directories, code versions and config hashes. A statistic the report was asked for that a finished run's
// results.json lacks is an error naming the file and key; one the run defines as not applicable is n/a.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "framework/core/config.h"
#include "framework/run/results_file.h"

namespace oasis {

struct RunSample {
  std::filesystem::path dir;
  std::string preset, dataset;
  int64_t seed = 0;
  bool done = false;
  RunResults results;      // empty when the run has not finished
  std::optional<ReportConfig> report;  // its config's report section (absent when unreadable or only planned)
  std::string unreadable;  // why its config.yaml or results.json could not be read (then not done)
};

struct RunsFound {
  std::vector<RunSample> runs;
  std::vector<std::filesystem::path> experiment_files;  // named by the plan.json files found, where they exist
};

// Run directories under `runs_dir` (any depth up to 3), plus planned-but-absent cells from plan.json.
RunsFound collect_runs(const std::filesystem::path& runs_dir);

struct ReportTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct Report {
  std::string method;  // report.method
  std::vector<ReportTable> tables;
  std::vector<std::string> headlines;  // "OASIS vs baselines, averaged over datasets: ..."
};

// The report section: the one of the experiment files that planned the runs (plan.json names them), as they
// are now; without any, the one saved with the runs; without runs, the defaults; then `overrides`
// (report.key=value). Sources that disagree are an error naming both.
ReportConfig report_settings(const RunsFound& found, const std::vector<std::string>& overrides);

Report build_report(const std::vector<RunSample>& runs, const ReportConfig& settings);

// md | csv | latex
std::string render_report(const Report& report, const std::string& format);

// "mean ± std (n=N)" of the finite values; "missing" when there are none.
struct Aggregate {
  double mean = 0, std = 0;
  int64_t n = 0;
};
Aggregate aggregate(const std::vector<double>& values);

}  // namespace oasis
