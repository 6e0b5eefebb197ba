// The report (framework/report/report.h) on hand-made runs directories: means, stds and relative changes checked
// by hand, damaged runs left out by name, the report section of the experiment, and the errors of a run that
// lacks what the report was asked for or of runs that disagree on the section.
#include <gtest/gtest.h>

#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/report/report.h"
#include "framework/run/results_file.h"
#include "framework/stats/summary_metrics.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

Report report_of(const fs::path& root, const std::vector<std::string>& overrides = {}) {
  const RunsFound found = collect_runs(root);
  return build_report(found.runs, report_settings(found, overrides));
}

// A fixture runs directory with hand-chosen numbers.
void fixture_run(const fs::path& root, const std::string& id, const std::string& preset, int seed, double ppl,
                 double kurtosis, const std::string& report_section = "") {
  const fs::path dir = root / "paper" / id;
  test::write_text(dir / "config.yaml", fmt::format("experiment: paper\nseed: {}\nmodel:\n  preset: {}\ndata:\n  dataset: wikitext2\n{}",
                                                    seed, preset, report_section));
  nlohmann::json results = {{"code_version", "abc123"}, {"config_hash", "h-" + id}};
  results["perplexity"]["fp"]["test"]["perplexity"] = ppl;
  results["perplexity"]["w4a4"]["test"]["perplexity"] = ppl * 2;
  results["gsm8k"]["fp"]["pass_at_1"] = (ppl - 80) / 100;  // standard 0.20 and 0.30, oasis 0.10 and 0.16
  StatsSummary stats;  // the rest NaN, stored as null: not applicable to these runs (depth routing)
  stats.max_inf_norm = 10.0;
  stats.avg_kurtosis = kurtosis;
  stats.sink_rate = 0.0;
  stats.first_token_attention = 0.05;
  results["stats"]["fp"] = summary_to_json(stats);
  test::write_text(dir / "results.json", results.dump());
  test::write_text(dir / "DONE", "abc123\n");
}

TEST(Report, HandCheckedMeansStdsAndRelativeChanges) {
  const auto root = test::scratch_dir();
  fixture_run(root, "standard-s0", "standard", 0, 100, 10);
  fixture_run(root, "standard-s1", "standard", 1, 110, 14);
  fixture_run(root, "attnres-s0", "attnres", 0, 100, 8);
  fixture_run(root, "oasis-s0", "oasis", 0, 90, 4);
  fixture_run(root, "oasis-s1", "oasis", 1, 96, 6);
  // attnres seed 1 was planned but never ran.
  test::write_text(root / "paper" / "plan.json",
                   R"({"experiment": "paper", "cells": [{"id": "attnres-s1", "preset": "attnres", "dataset": "wikitext2", "seed": 1},
                                                      {"id": "oasis-s0", "preset": "oasis", "dataset": "wikitext2", "seed": 0}]})");
  const std::string md = render_report(report_of(root), "md");
  // standard: mean 105, sample std sqrt(50) = 7.07; oasis: 93 and sqrt(18) = 4.24.
  EXPECT_NE(md.find("105.00 ± 7.07 (n=2)"), std::string::npos) << md;
  EXPECT_NE(md.find("93.00 ± 4.24 (n=2)"), std::string::npos) << md;
  EXPECT_NE(md.find("100.00 (n=1), 1 missing"), std::string::npos) << md;  // the planned attnres seed 1
  // Lower is better: (105 - 93) / 105 = +11.43%, (100 - 93) / 100 = +7.00%, their mean +9.21%.
  EXPECT_NE(md.find("| oasis better than standard by "), std::string::npos) << md;
  EXPECT_NE(md.find("+11.4%"), std::string::npos) << md;
  EXPECT_NE(md.find("+7.0%"), std::string::npos) << md;
  EXPECT_NE(md.find("+9.2%"), std::string::npos) << md;
  // Kurtosis: oasis 5 vs standard 12 (58.3% lower) and attnres 8 (37.5% lower): mean 47.9% lower.
  EXPECT_NE(md.find("avg kurtosis: oasis 47.9% lower than the baselines (mean over 2 baseline x dataset pairs)"),
            std::string::npos) << md;
  EXPECT_NE(md.find("test perplexity w4a4: oasis 9.2% lower"), std::string::npos) << md;
  // GSM8K Pass@1 in percent, higher is better: standard 25.0 ± 7.1, attnres 20.0, oasis 13.0 ± 4.2:
  // (13 - 25) / 25 = -48.0%, (13 - 20) / 20 = -35.0%; mean 41.5% lower, -9.5 points.
  EXPECT_NE(md.find("## (c) GSM8K Pass@1"), std::string::npos) << md;
  EXPECT_NE(md.find("25.0 ± 7.1 (n=2)"), std::string::npos) << md;
  EXPECT_NE(md.find("13.0 ± 4.2 (n=2)"), std::string::npos) << md;
  EXPECT_NE(md.find("-48.0%"), std::string::npos) << md;
  EXPECT_NE(md.find("GSM8K Pass@1 (%) fp: oasis 41.5% lower than the baselines (-9.5 points)"), std::string::npos) << md;
  EXPECT_NE(md.find("not started"), std::string::npos) << md;  // in the sources table
  // A number a finished run does not have (depth routing of these fixture runs) is n/a, not missing.
  EXPECT_NE(md.find("| n/a "), std::string::npos) << md;
  EXPECT_EQ(md.find("missing (2 planned)"), std::string::npos) << md;
  EXPECT_NE(md.find("h-oasis-s1"), std::string::npos) << md;
  const std::string csv = render_report(report_of(root), "csv");
  EXPECT_EQ(csv.rfind("table,row,column,value\n", 0), 0u);
  EXPECT_NE(csv.find(",standard,wikitext2 fp,105.00 ± 7.07 (n=2)\n"), std::string::npos) << csv;
  const std::string latex = render_report(report_of(root), "latex");
  EXPECT_NE(latex.find("105.00 $\\pm$ 7.07 (n=2)"), std::string::npos) << latex;
  EXPECT_EQ(latex.find("±"), std::string::npos) << latex;
  auto r = test::run_cli("report " + root.string() + " --format html");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Report, ADamagedRunIsLeftOutByNameAndTheRestIsReported) {
  const auto root = test::scratch_dir();
  fixture_run(root, "standard-s0", "standard", 0, 100, 10);
  fixture_run(root, "standard-s1", "standard", 1, 110, 14);
  fixture_run(root, "oasis-s0", "oasis", 0, 90, 4);
  test::write_text(root / "paper" / "standard-s1" / "results.json", "{\"perplexity\": {\"fp\": ");  // cut short
  fixture_run(root, "oasis-s1", "oasis", 1, 96, 6);
  test::write_text(root / "paper" / "oasis-s1" / "config.yaml", "seed: [1\n");  // not YAML
  test::write_text(root / "paper" / "plan.json", "{\"cells\": 3}");
  const auto r = test::run_cli("report " + root.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path bad = root / "paper" / "standard-s1" / "results.json";
  EXPECT_NE(r.output.find("warning: leaving out unreadable run '" + (root / "paper" / "standard-s1").string() + "': '" +
                          bad.string() + "' is not valid JSON"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("oasis-s1/config.yaml:2:1: YAML syntax error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning: ignoring plan '"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| 100.00 (n=1), 1 missing"), std::string::npos) << r.output;  // standard-s0 alone
  EXPECT_NE(r.output.find("| 90.00 (n=1) "), std::string::npos) << r.output;  // oasis-s0 alone; s1 has no preset
  EXPECT_EQ(r.output.find("on ?"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| unreadable "), std::string::npos) << r.output;
}

TEST(Report, ItsSectionInTheExperimentChoosesMethodBaselinesAndStatistics) {
  const auto root = test::scratch_dir();
  const std::string section = "report:\n  method: attnres\n  baselines: [standard]\n  statistics: [avg_kurtosis, null_mass]\n";
  fixture_run(root, "standard-s0", "standard", 0, 100, 10, section);
  fixture_run(root, "attnres-s0", "attnres", 0, 90, 4, section);
  const std::string md = render_report(report_of(root), "md");
  // Kurtosis 4 vs 10: attnres 60% lower; null mass has no direction and these runs define none (null).
  const std::regex header(R"(\| preset +\| avg kurtosis \| null mass \|)");
  const std::regex better(R"(\| attnres better than standard by +\| \+60\.0% +\| n/a +\|)");
  EXPECT_TRUE(std::regex_search(md, header)) << md;
  EXPECT_TRUE(std::regex_search(md, better)) << md;
  EXPECT_NE(md.find("- avg kurtosis: attnres 60.0% lower than the baselines"), std::string::npos) << md;
  EXPECT_NE(md.find("- null mass: no direction"), std::string::npos) << md;
  EXPECT_EQ(md.find("max inf norm"), std::string::npos) << md;  // not asked for
  EXPECT_EQ(md.find("oasis"), std::string::npos) << md;
}

TEST(Report, AStatisticItWasAskedForThatARunLacksIsAnErrorNamingFileAndKey) {
  const auto root = test::scratch_dir();
  fixture_run(root, "standard-s0", "standard", 0, 100, 10);
  fixture_run(root, "oasis-s0", "oasis", 0, 90, 4);
  auto results = nlohmann::json::parse(read_file(root / "paper" / "oasis-s0" / "results.json"));
  results.erase("stats");  // a run evaluated without the statistics pass
  test::write_text(root / "paper" / "oasis-s0" / "results.json", results.dump());
  try {
    report_of(root);
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find((root / "paper" / "oasis-s0" / "results.json").string() + ": stats: no key 'fp'"),
              std::string::npos) << e.what();
  }
  // A summary written before one of today's statistics existed: still readable (its perplexities count), but a
  // report that asks for the missing statistic says which file lacks which key.
  fixture_run(root, "oasis-s0", "oasis", 0, 90, 4);
  results = nlohmann::json::parse(read_file(root / "paper" / "standard-s0" / "results.json"));
  results["stats"]["fp"].erase("sink_rate");
  test::write_text(root / "paper" / "standard-s0" / "results.json", results.dump());
  EXPECT_NO_THROW(parse_results(results, "old.json"));
  try {
    report_of(root);
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find((root / "paper" / "standard-s0" / "results.json").string() +
                                         ": stats.fp: no key 'sink_rate'"),
              std::string::npos) << e.what();
  }
  const std::string md = render_report(report_of(root, {"report.statistics=[avg_kurtosis]"}), "md");
  EXPECT_NE(md.find("100.00 (n=1)"), std::string::npos) << md;  // standard-s0's perplexity still counts
}

TEST(Report, TheExperimentFileAsItIsNowDecidesThenTheRunsThenTheCommandLine) {
  const auto root = test::scratch_dir();
  fixture_run(root, "standard-s0", "standard", 0, 100, 10);
  fixture_run(root, "oasis-s0", "oasis", 0, 90, 4, "report:\n  statistics: [sink_rate]\n");
  // Two runs saved with different sections and no experiment file to settle it: an error naming both.
  try {
    report_of(root);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("report.statistics is "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("oasis-s0"), std::string::npos) << e.what();
  }
  // The command line settles it.
  const std::string overridden = render_report(report_of(root, {"report.statistics=[avg_kurtosis]"}), "md");
  EXPECT_NE(overridden.find("avg kurtosis"), std::string::npos) << overridden;
  EXPECT_THROW(report_of(root, {"train.lr=0.1"}), ConfigError);  // nothing but report.*
  // The experiment file named by plan.json, edited after the runs: its section wins.
  const fs::path experiment = test::write_text(root / "paper.yaml", "experiment: paper\nreport:\n  statistics: [max_inf_norm]\n");
  test::write_text(root / "paper" / "plan.json",
                   nlohmann::json{{"experiment", "paper"}, {"file", experiment.string()}, {"cells", nlohmann::json::array()}}.dump());
  const std::string md = render_report(report_of(root), "md");
  EXPECT_NE(md.find("max inf norm"), std::string::npos) << md;
  EXPECT_EQ(md.find("sink rate"), std::string::npos) << md;
}

}  // namespace
}  // namespace oasis
