// The regression guard of the quickstart: the first 20 training losses of each of its six presets, as
// `oasis run configs/experiments/quickstart.yaml` trains them, against tests/fixtures/quickstart_loss_curve.json.
// On a CPU of the recorded model with the recorded LibTorch every loss must be bit-identical; on other CPUs the
// sums round differently and the check allows 2e-4 (docs/testing.md). A change that alters the arithmetic on
// purpose re-records the file: OASIS_RECORD_LOSS_CURVE=1 ./oasis_tests --gtest_filter='LossCurve.*' (and says
// why in its commit).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/build_info.h"
#include "framework/core/paths.h"
#include "framework/core/version.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

constexpr double kOtherMachineTolerance = 2e-4;
const char* const kOverrides =
    "train.steps=20 train.warmup_steps=5 train.log_every=1 train.eval_every=0 eval.max_tokens=2048 quant.schemes=[fp] "
    "stats.sequences=1";

std::string cpu_model() {
  const auto r = test::run_command("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
  return std::string(r.output.substr(r.output.find_first_not_of(' '), r.output.find_last_not_of(" \n") - r.output.find_first_not_of(' ') + 1));
}

TEST(LossCurve, TwentyStepsOfEveryQuickstartPresetMatchTheRecordedCurve) {
  const auto dir = test::scratch_dir();
  const fs::path fixture_file = repo_root() / "tests/fixtures/quickstart_loss_curve.json";
  const auto r = test::run_cli(fmt::format("run {} {} runs_dir={} data.cache_dir={} --jobs 2",
                                           (repo_root() / "configs/experiments/quickstart.yaml").string(), kOverrides,
                                           dir.string(), test::shared_cache_dir()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json curves = nlohmann::json::object();
  for (const auto& cell : fs::directory_iterator(dir / "quickstart")) {
    if (!cell.is_directory()) continue;
    const auto results = nlohmann::json::parse(read_file(cell.path() / "results.json"));
    std::vector<double> losses;
    for (const auto& record : test::read_jsonl(cell.path() / "metrics.jsonl"))
      if (record.contains("loss")) losses.push_back(record.at("loss").get<double>());
    curves[results.at("model").at("preset").get<std::string>()] = losses;
  }
  ASSERT_EQ(curves.size(), 6u);

  if (std::getenv("OASIS_RECORD_LOSS_CURVE")) {
    const nlohmann::json record = {
        {"description", "training loss of steps 1..20 of each quickstart preset (tests/train/loss_curve_test.cpp)"},
        {"command", fmt::format("oasis run configs/experiments/quickstart.yaml {}", kOverrides)},
        {"recorded_with", {{"code_version", code_version()}, {"libtorch", build_info().libtorch}, {"cpu", cpu_model()}}},
        {"losses", curves}};
    write_file_atomic(fixture_file, record.dump(2) + "\n");
    GTEST_SKIP() << "recorded " << fixture_file;
  }
  const auto recorded = nlohmann::json::parse(read_file(fixture_file));
  const auto& want = recorded.at("losses");
  const auto& machine = recorded.at("recorded_with");
  const bool same_machine = machine.at("cpu") == cpu_model() && machine.at("libtorch") == build_info().libtorch;
  const double tolerance = same_machine ? 0.0 : kOtherMachineTolerance;
  ASSERT_EQ(want.size(), curves.size());
  for (const auto& [preset, losses] : want.items()) {
    ASSERT_TRUE(curves.contains(preset)) << preset;
    const auto got = curves.at(preset).get<std::vector<double>>();
    ASSERT_EQ(got.size(), losses.size()) << preset;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], losses[i].get<double>(), tolerance)
          << preset << " step " << i + 1 << (same_machine ? " (recording machine: bit-identical expected)" : "");
  }
}

}  // namespace
}  // namespace oasis
