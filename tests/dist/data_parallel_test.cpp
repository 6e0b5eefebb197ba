// One run on two processes over Gloo (loopback rendezvous): the same losses, gradients and final weights
// as one process accumulating the same micro-batches (pretraining and fine-tuning), a killed rank that stops the other with an error
// naming it (and a relaunch that resumes), and launches that are wrong in ways that must fail clearly.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/paths.h"
#include "framework/run/sweep.h"
#include "framework/train/checkpoint.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A port per test and launch, so tests running side by side do not meet at one rendezvous.
int free_port(int offset) { return 21000 + int(::getpid() % 4000) * 8 + offset; }

Config two_micro_batch_config(const fs::path& runs_dir, int64_t steps) {
  Config c = test::tiny_config(runs_dir);
  c.train.steps = steps;
  c.train.grad_accum = 2;  // one micro-batch per rank on two ranks
  c.stats.enabled = false;
  return c;
}

// `oasis ARGS` as rank `rank` of `world` (the variables torchrun or srun would set), output to `log`.
pid_t start_rank(int rank, int world, int port, const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    if (!std::freopen(log.c_str(), "w", stdout) || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
    std::vector<std::string> argv_text = {OASIS_CLI_PATH};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(OASIS_CLI_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

// The exit code of `pid`, or -1 if it is still running after `limit` (then it is killed).
int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (Clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// Both ranks of one launch; returns their exit codes.
std::pair<int, int> run_two_ranks(const std::vector<std::string>& args0, const std::vector<std::string>& args1,
                                  const fs::path& dir, int port, std::chrono::seconds limit = std::chrono::seconds(300)) {
  const pid_t r0 = start_rank(0, 2, port, args0, dir / "rank0.log");
  const pid_t r1 = start_rank(1, 2, port, args1, dir / "rank1.log");
  return {wait_exit(r0, limit), wait_exit(r1, limit)};
}

// Every tensor of an archive and its sub-archives (modules), by dotted name.
void collect_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                     std::map<std::string, at::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    at::Tensor tensor;
    if (archive.try_read(key, tensor, false) || archive.try_read(key, tensor, true)) {
      out[prefix + key] = tensor;
    } else {
      torch::serialize::InputArchive module;
      archive.read(key, module);
      collect_tensors(module, prefix + key + ".", out);
    }
  }
}

// The tensors of a checkpoint's model.pt by name.
std::map<std::string, at::Tensor> model_tensors(const fs::path& checkpoint) {
  torch::serialize::InputArchive archive;
  archive.load_from((checkpoint / "model.pt").string());
  std::map<std::string, at::Tensor> out;
  collect_tensors(archive, "", out);
  return out;
}

void expect_same_weights(const fs::path& a, const fs::path& b) {
  const auto x = model_tensors(a), y = model_tensors(b);
  ASSERT_EQ(x.size(), y.size());
  ASSERT_FALSE(x.empty());
  for (const auto& [name, tensor] : x) EXPECT_TRUE(torch::equal(tensor, y.at(name))) << name;
}

fs::path run_dir_of(const Config& c) { return c.run_dir(); }

TEST(DataParallel, TwoRanksEqualOneRankAccumulating) {
  const auto dir = test::scratch_dir();
  Config one = two_micro_batch_config(dir / "one", 8);
  // A GSM8K fine-tuning stage after the evaluation: the other rank waits for rank 0's evaluation, then
  // both train again (its loss masks the prompt tokens).
  one.model.max_seq_len = 256;
  one.finetune.steps = 3;
  one.finetune.batch_size = 2;
  one.finetune.grad_accum = 2;
  one.finetune.seq_len = 256;
  one.finetune.eval_batches = 2;
  const std::string file = test::write_text(dir / "run.yaml", config_to_yaml(one));
  auto r = test::run_cli("train " + file);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // The same config on two ranks, launched the way a sweep does it: `oasis run` starts torchrun.
  const std::vector<std::string> two_overrides = {"runs_dir=" + (dir / "two").string(), "dist.procs_per_node=2"};
  r = test::run_cli(fmt::format("run {} {} {} --jobs 2", file, two_overrides[0], two_overrides[1]));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Experiment two = load_experiment(file, two_overrides);
  const fs::path two_dir = two.cells.at(0).dir();
  const std::string log = read_file(two_dir / "log.txt");
  EXPECT_NE(log.find("train: 2 ranks x 1 micro-batches of 4 per step"), std::string::npos) << log;
  EXPECT_NE(log.find("rank 0 of 2 (gloo, torchrun"), std::string::npos) << log;
  EXPECT_EQ(log.find("oasis settings"), log.rfind("oasis settings")) << "only rank 0 prints:\n" << log;

  // Losses, gradient norms and weights: bit for bit (the all-reduce of two halves adds them in the
  // order one process accumulates them); validation losses to rounding (summed in another order).
  const auto a = test::read_jsonl(run_dir_of(one) / "metrics.jsonl"), b = test::read_jsonl(two_dir / "metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  int64_t compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]["step"], b[i]["step"]);
    for (const char* key : {"loss", "grad_norm", "tokens_seen"})
      if (a[i].contains(key)) {
        EXPECT_EQ(a[i][key], b[i][key]) << key << " at step " << a[i]["step"];
        ++compared;
      }
    if (a[i].contains("val_loss")) {
      EXPECT_NEAR(a[i]["val_loss"].get<double>(), b[i]["val_loss"].get<double>(), 1e-12);
      ++compared;
    }
  }
  EXPECT_GE(compared, 8 * 3 + 2);
  expect_same_weights(checkpoint_dir(run_dir_of(one), 8), checkpoint_dir(two_dir, 8));
  expect_same_weights(checkpoint_dir(run_dir_of(one) / "finetune", 3), checkpoint_dir(two_dir / "finetune", 3));
  const auto fa = test::read_jsonl(run_dir_of(one) / "finetune" / "metrics.jsonl");
  const auto fb = test::read_jsonl(two_dir / "finetune" / "metrics.jsonl");
  ASSERT_EQ(fa.size(), fb.size());
  for (size_t i = 0; i < fa.size(); ++i)
    if (fa[i].contains("loss")) {
      EXPECT_EQ(fa[i]["loss"], fb[i]["loss"]) << "fine-tuning step " << fa[i]["step"];
    }
  const auto ra = nlohmann::json::parse(read_file(run_dir_of(one) / "results.json"));
  const auto rb = nlohmann::json::parse(read_file(two_dir / "results.json"));
  EXPECT_EQ(ra["perplexity"]["fp"]["test"]["perplexity"], rb["perplexity"]["fp"]["test"]["perplexity"]);
  EXPECT_EQ(rb["train"]["processes"]["world_size"], 2);
  EXPECT_EQ(ra["config_hash"], rb["config_hash"]);  // the number of ranks is not part of what a run computes
}

TEST(DataParallel, TwoRunnersShareCellsOfTwoProcesses) {
  const auto dir = test::scratch_dir();
  Config c = two_micro_batch_config(dir / "runs", 30);
  c.dist.procs_per_node = 2;
  const std::string file =
      test::write_text(dir / "sweep.yaml", config_to_yaml(c) + "sweep:\n  model.preset: [standard, oasis, attnres]\n");
  // torchrun reports a busy rank 0 as a plain failure; the runner must still see "busy" and retry.
  const auto both = test::run_command(fmt::format("({0} run {1} --jobs 2 > {2}/a.txt 2>&1 & a=$!; {0} run {1} --jobs 2 > "
                                                  "{2}/b.txt 2>&1 & b=$!; wait $a && wait $b)",
                                                  OASIS_CLI_PATH, file, dir.string()));
  ASSERT_EQ(both.exit_code, 0) << both.output;
  const std::string a = read_file(dir / "a.txt"), b = read_file(dir / "b.txt");
  EXPECT_EQ(a.find("FAIL"), std::string::npos) << a;
  EXPECT_EQ(b.find("FAIL"), std::string::npos) << b;
  test::expect_each_cell_ran_once(load_experiment(file, {}));
}

TEST(DataParallel, AKilledRankStopsTheOtherWithItsNameAndTheRelaunchResumes) {
  const auto dir = test::scratch_dir();
  Config c = two_micro_batch_config(dir / "runs", 400);
  c.train.checkpoint_every = 40;
  c.train.eval_every = 0;
  c.train.log_every = 40;
  const std::string file = test::write_text(dir / "run.yaml", config_to_yaml(c));
  const std::vector<std::string> args = {"train", file};
  const int port = free_port(0);
  const pid_t r0 = start_rank(0, 2, port, args, dir / "rank0.log");
  const pid_t r1 = start_rank(1, 2, port, args, dir / "rank1.log");
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline && !fs::exists(checkpoint_dir(c.run_dir(), 40) / "DONE"))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(checkpoint_dir(c.run_dir(), 40) / "DONE")) << read_file(dir / "rank0.log");
  ::kill(r1, SIGKILL);
  const auto killed = Clock::now();
  const int code = wait_exit(r0, std::chrono::seconds(60));
  const double took = std::chrono::duration<double>(Clock::now() - killed).count();
  wait_exit(r1, std::chrono::seconds(5));
  const std::string log0 = read_file(dir / "rank0.log");
  ASSERT_EQ(code, 1) << log0;
  EXPECT_LT(took, 30) << log0;
  EXPECT_NE(log0.find("error (rank 0 of 2): distributed: rank 1 is gone"), std::string::npos) << log0;
  EXPECT_NE(log0.find("launch the run again to resume from it"), std::string::npos) << log0;
  ASSERT_FALSE(fs::exists(c.run_dir() / "DONE"));

  // The same launch again resumes from the newest checkpoint and ends where an uninterrupted run does.
  const auto [again0, again1] = run_two_ranks(args, args, dir, free_port(1));
  const std::string resumed = read_file(dir / "rank0.log");
  ASSERT_EQ(again0, 0) << resumed;
  ASSERT_EQ(again1, 0) << read_file(dir / "rank1.log");
  EXPECT_NE(resumed.find("train: resume from"), std::string::npos) << resumed;
  Config reference = c;
  reference.runs_dir = (dir / "reference").string();
  const auto r = test::run_cli("train " + test::write_text(dir / "reference.yaml", config_to_yaml(reference)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_weights(checkpoint_dir(c.run_dir(), 400), checkpoint_dir(reference.run_dir(), 400));
}

TEST(DataParallel, ARanksOwnErrorReachesTheOtherAtOnce) {
  const auto dir = test::scratch_dir();
  Config c = two_micro_batch_config(dir / "runs", 400);
  c.train.checkpoint_every = 20;
  c.dist.timeout_s = 120;  // the other rank must not need it
  // Rank 0 alone writes checkpoints: a file where their folder goes fails it, and only it, at step 20.
  fs::create_directories(c.run_dir());
  test::write_text(c.run_dir() / "checkpoints", "");
  const std::string file = test::write_text(dir / "run.yaml", config_to_yaml(c));
  const auto start = Clock::now();
  const auto [code0, code1] = run_two_ranks({"train", file}, {"train", file}, dir, free_port(5), std::chrono::seconds(100));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 60);
  const std::string log0 = read_file(dir / "rank0.log"), log1 = read_file(dir / "rank1.log");
  EXPECT_EQ(code0, 1) << log0;
  EXPECT_EQ(code1, 1) << log1;
  EXPECT_NE(log0.find("error (rank 0 of 2): filesystem error"), std::string::npos) << log0;
  EXPECT_NE(log1.find("error (rank 1 of 2): distributed: rank 0 failed: filesystem error"), std::string::npos) << log1;
}

TEST(DataParallel, WrongLaunchesFailClearlyWithoutWaiting) {
  const auto dir = test::scratch_dir();
  const Config c = two_micro_batch_config(dir / "runs", 4);
  const std::string file = test::write_text(dir / "run.yaml", config_to_yaml(c));

  // WORLD_SIZE without the other rank: the rendezvous times out after dist.timeout_s, naming its address.
  const int port = free_port(2);
  const auto start = Clock::now();
  const pid_t alone = start_rank(1, 2, port, {"train", file, "dist.timeout_s=2"}, dir / "alone.log");
  EXPECT_EQ(wait_exit(alone, std::chrono::seconds(60)), 1);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30);
  EXPECT_NE(read_file(dir / "alone.log").find(fmt::format("could not reach the rendezvous store at 127.0.0.1:{} within "
                                                          "dist.timeout_s = 2 s",
                                                          port)),
            std::string::npos)
      << read_file(dir / "alone.log");

  // Ranks with different configs: both refuse, naming the config hashes.
  auto [a, b] = run_two_ranks({"train", file, "train.lr=0.001"}, {"train", file, "train.lr=0.002"}, dir, free_port(3),
                              std::chrono::seconds(60));
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
  EXPECT_NE(read_file(dir / "rank0.log").find("has config hash"), std::string::npos) << read_file(dir / "rank0.log");
  EXPECT_FALSE(fs::exists(c.run_dir() / "config.yaml"));  // nothing written

  // A step's micro-batches that do not divide among the ranks.
  std::tie(a, b) = run_two_ranks({"train", file, "train.grad_accum=3"}, {"train", file, "train.grad_accum=3"}, dir,
                                 free_port(4), std::chrono::seconds(60));
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
  EXPECT_NE(read_file(dir / "rank1.log").find("train.grad_accum = 3 is not divisible by the 2 ranks"), std::string::npos)
      << read_file(dir / "rank1.log");

  // A config that asks for two processes, started as one.
  const auto r = test::run_cli("train " + file + " dist.procs_per_node=2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("launch it with `torchrun --nproc-per-node 2 --no-python oasis"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace oasis
