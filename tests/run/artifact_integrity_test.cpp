// Nothing silently wrong: a damaged checkpoint is detected and skipped, a checkpoint that does not fit
// the model names the tensor, a re-evaluation cannot change the trained model, and a broken evaluation
// never replaces a finished result. Each of these evaluated a wrong model with exit 0 before.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/file_digest.h"
#include "framework/core/paths.h"
#include "framework/model/presets.h"
#include "framework/run/pipeline.h"
#include "framework/run/run_dir.h"
#include "framework/stats/h5_file.h"
#include "framework/train/checkpoint.h"
#include "framework/train/optimizer.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

// A finished tiny run with complete checkpoints at steps 2 and 4.
Config trained_run(const fs::path& dir) {
  Config c = test::tiny_config(dir);
  c.train.steps = 4;
  c.train.checkpoint_every = 2;
  c.train.eval_every = 4;
  c.stats.sequences = 2;
  train_and_evaluate(c);
  return c;
}

// Overwrites `count` bytes in the middle of `file` with zeros; the size stays the same.
void zero_middle(const fs::path& file, size_t count) {
  std::string bytes = read_file(file);
  ASSERT_GT(bytes.size(), count);
  bytes.replace(bytes.size() / 2 - count / 2, count, std::string(count, '\0'));
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(ArtifactIntegrity, CheckpointRecordsEachFilesDigestAndADamagedNewestOneIsSkipped) {
  const Config c = trained_run(test::scratch_dir());
  const fs::path run = c.run_dir(), newest = checkpoint_dir(run, 4);
  const auto state = nlohmann::json::parse(read_file(newest / "state.json"));
  for (const char* name : {"model.pt", "optimizer.pt", "rng.pt"}) {
    const FileDigest d = digest_file(newest / name);
    EXPECT_EQ(state["files"][name]["sha256"], d.sha256) << name;
    EXPECT_EQ(state["files"][name]["bytes"], d.bytes) << name;
  }
  EXPECT_FALSE(checkpoint_damage(newest));
  EXPECT_EQ(latest_checkpoint(run), newest);

  zero_middle(newest / "model.pt", 4096);
  const auto damage = checkpoint_damage(newest);
  ASSERT_TRUE(damage);
  EXPECT_NE(damage->find("model.pt's SHA-256 is"), std::string::npos) << *damage;
  EXPECT_EQ(latest_checkpoint(run), checkpoint_dir(run, 2));

  // Evaluation falls back to step 2 and says why.
  auto r = test::run_cli("eval " + run.string() + " threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: skipping damaged checkpoint '" + newest.string() + "'"), std::string::npos)
      << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(run / "results.json"))["checkpoint_step"], 2);

  // A truncated optimizer.pt in the older one too: nothing whole is left, an error.
  fs::resize_file(checkpoint_dir(run, 2) / "optimizer.pt", 100);
  EXPECT_NE(checkpoint_damage(checkpoint_dir(run, 2))->find("optimizer.pt has 100 bytes"), std::string::npos);
  r = test::run_cli("eval " + run.string() + " threads=1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("has no complete checkpoint"), std::string::npos) << r.output;
}

TEST(ArtifactIntegrity, ResumeSkipsADamagedNewestCheckpointAndEndsWhereACleanRunEnds) {
  const fs::path dir = test::scratch_dir();
  Config clean = test::tiny_config(dir / "clean");
  clean.train.steps = 6;
  clean.train.checkpoint_every = 2;
  train_and_evaluate(clean);

  Config c = test::tiny_config(dir / "damaged");
  c.train.steps = 6;
  c.train.checkpoint_every = 2;
  // Train to 6; then, as if killed after step 4's checkpoint with its optimizer state damaged, drop step
  // 6 and the finished marker, so that the rerun has to resume and step 4 is not usable.
  train_and_evaluate(c);
  fs::remove(c.run_dir() / "DONE");
  fs::remove_all(checkpoint_dir(c.run_dir(), 6));
  zero_middle(checkpoint_dir(c.run_dir(), 4) / "optimizer.pt", 256);
  const auto results = train_and_evaluate(c);  // resumes from step 2
  const auto expected = nlohmann::json::parse(read_file(clean.run_dir() / "results.json"));
  EXPECT_EQ(results["perplexity"]["fp"]["test"]["perplexity"], expected["perplexity"]["fp"]["test"]["perplexity"]);
}

TEST(ArtifactIntegrity, StrayFoldersUnderCheckpointsAreIgnored) {
  const Config c = trained_run(test::scratch_dir());
  fs::create_directories(c.run_dir() / "checkpoints" / "step_xyzabcde");
  fs::create_directories(c.run_dir() / "checkpoints" / "step_12");
  EXPECT_EQ(latest_checkpoint(c.run_dir()), checkpoint_dir(c.run_dir(), 4));
}

TEST(ArtifactIntegrity, ZeroStepsWritesTheInitialisedModelAsAStepZeroCheckpoint) {
  Config c = test::tiny_config(test::scratch_dir());
  c.train.steps = 0;
  c.train.warmup_steps = 0;
  const auto results = train_and_evaluate(c);
  EXPECT_EQ(results["checkpoint_step"], 0);
  EXPECT_EQ(latest_checkpoint(c.run_dir()), checkpoint_dir(c.run_dir(), 0));
  const auto r = test::run_cli("eval " + c.run_dir().string() + " threads=1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ArtifactIntegrity, ARunRefusedForItsLockLeavesNoConfigBehind) {
  const Config c = test::tiny_config(test::scratch_dir());
  const RunLock other_writer(c.run_dir());
  EXPECT_THROW(train_and_evaluate(c), RunInUse);
  EXPECT_FALSE(fs::exists(c.run_dir() / "config.yaml"));
}

TEST(ArtifactIntegrity, ACheckpointThatDoesNotFitNamesTheTensorWithoutABacktrace) {
  const Config c = trained_run(test::scratch_dir());
  ModelConfig wider = c.model;
  wider.d_model = 64;
  auto model = build_model(wider, 512);
  try {
    load_checkpoint(checkpoint_dir(c.run_dir(), 4), *model, nullptr);
    FAIL() << "a 32-wide checkpoint loaded into a 64-wide model";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("does not fit this model: tensor '"), std::string::npos) << m;
    EXPECT_NE(m.find("[512, 32] in the checkpoint, Float [512, 64] in the model"), std::string::npos) << m;
    EXPECT_EQ(m.find("Exception raised from"), std::string::npos) << m;
  }
}

TEST(ArtifactIntegrity, ReEvaluationCannotChangeTheTrainedModel) {
  const Config c = trained_run(test::scratch_dir());
  const fs::path run = c.run_dir();
  const std::string before = read_file(run / "results.json");
  for (const char* override_text : {"model.n_heads=4", "model.d_model=64", "data.seq_len=16", "model={preset: oasis}"}) {
    const auto r = test::run_cli("eval " + run.string() + " '" + override_text + "' threads=1");
    EXPECT_EQ(r.exit_code, 2) << override_text << "\n" << r.output;
    EXPECT_NE(r.output.find("is fixed by the trained run"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_file(run / "results.json"), before);
  // Evaluation settings still may change.
  const auto r = test::run_cli("eval " + run.string() + " eval.splits=[valid] precision=fp32 threads=1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ArtifactIntegrity, ANonFinitePerplexityLeavesThePreviousResultsAndStats) {
  const Config c = trained_run(test::scratch_dir());
  const fs::path run = c.run_dir();
  const std::string results_before = read_file(run / "results.json"), stats_before = read_file(run / "stats.h5");
  // A whole checkpoint (valid digests) of a model whose weights are NaN: as if training had gone wrong.
  auto model = build_model(c.model, 512);
  TrainState state = load_checkpoint(checkpoint_dir(run, 4), *model, nullptr);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.fill_(NAN);
  }
  auto optimizer = make_optimizer(*model, c.train);
  state.step = 6;
  save_checkpoint(run, state, *model, *optimizer, 10);

  const auto r = test::run_cli("eval " + run.string() + " threads=1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("perplexity on test is null; nothing written"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(run / "results.json"), results_before);
  EXPECT_EQ(read_file(run / "stats.h5"), stats_before);
  EXPECT_FALSE(fs::exists(run / "stats.h5.new"));
}

TEST(ArtifactIntegrity, ADamagedStatsFileIsAClearErrorNeverACrash) {
  const Config c = trained_run(test::scratch_dir());
  const fs::path original = c.run_dir() / "stats.h5";
  ASSERT_TRUE(fs::exists(original.string() + ".sha256"));
  EXPECT_FALSE(sidecar_mismatch(original));
  const std::string bytes = read_file(original), sidecar = read_file(original.string() + ".sha256");
  EXPECT_EQ(sidecar, digest_file(original).sha256 + "  stats.h5\n");  // `sha256sum -c` reads it

  const fs::path dir = test::scratch_dir() / "fuzz", file = dir / "stats.h5";
  fs::create_directories(dir);
  test::write_text(file.string() + ".sha256", sidecar);
  std::mt19937_64 rng(20261201);
  int refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    if (trial % 3 == 2) {  // truncated
      damaged.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
    } else {  // 20 flipped bits, in the first 4 KiB (the superblock and root metadata) or anywhere
      const size_t span = trial % 3 == 0 ? std::min<size_t>(4096, bytes.size()) : bytes.size();
      for (int k = 0; k < 20; ++k) damaged[std::uniform_int_distribution<size_t>(0, span - 1)(rng)] ^= char(1 << (k % 8));
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << damaged;
    try {
      H5Reader reader(file);
      EXPECT_EQ(damaged, bytes) << "trial " << trial << ": a damaged file was opened";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("is damaged: its SHA-256 is"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GE(refused, 299);
  // The command line and the Python reader say the same, with no traceback.
  const auto inspect = test::run_cli("inspect " + file.string());
  EXPECT_EQ(inspect.exit_code, 1) << inspect.output;
  EXPECT_NE(inspect.output.find("is damaged: its SHA-256 is"), std::string::npos) << inspect.output;
  const auto python = test::run_command("/usr/bin/python3 " + (repo_root() / "analysis" / "oasis_stats.py").string() +
                                        " --check " + file.string());
  EXPECT_NE(python.exit_code, 0) << python.output;
  EXPECT_NE(python.output.find("is damaged: its SHA-256 is"), std::string::npos) << python.output;
  EXPECT_EQ(python.output.find("Traceback"), std::string::npos) << python.output;
}

}  // namespace
}  // namespace oasis
