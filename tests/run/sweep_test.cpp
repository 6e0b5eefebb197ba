// Sweeps: expansion (cross product, zip, overrides), stable cell ids, the local runner (kill -9 then
// resume equals an uninterrupted run; two runners never run a cell twice), Slurm scripts that no hostile
// name can break.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/run/run_dir.h"
#include "framework/run/slurm.h"
#include "framework/run/sweep.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

// The tiny test config as an experiment file with `sweep` appended.
std::string experiment_file(const fs::path& dir, const std::string& sweep, int64_t steps = 8,
                            const std::string& name = "exp.yaml") {
  Config c = test::tiny_config(dir / "runs");
  c.experiment = "sweep";
  c.train.steps = steps;
  c.train.checkpoint_every = steps >= 100 ? 25 : 4;
  c.train.eval_every = 0;
  c.train.log_every = 4;
  c.stats.enabled = false;
  return test::write_text(dir / name, config_to_yaml(c) + sweep);
}

std::vector<std::string> ids(const Experiment& e) {
  std::vector<std::string> out;
  for (const auto& c : e.cells) out.push_back(c.id);
  return out;
}

TEST(Sweep, CrossProductZipAndOverrides) {
  const auto dir = test::scratch_dir();
  const auto file = experiment_file(dir,
                                    "sweep:\n"
                                    "  model.preset: [standard, attnres]\n"
                                    "  seed: [0, 1]\n"
                                    "  zip:\n"
                                    "    - {data.seq_len: [16, 32], train.lr: [0.001, 0.002]}\n");
  const Experiment e = load_experiment(file, {});
  ASSERT_EQ(e.cells.size(), 8u);
  EXPECT_EQ(e.axes, (std::vector<std::string>{"model.preset", "seed", "data.seq_len", "train.lr"}));
  // The first axis varies slowest; zipped axes move together.
  EXPECT_EQ(e.cells[0].config.model.preset, "standard");
  EXPECT_EQ(e.cells[3].config.model.preset, "standard");
  EXPECT_EQ(e.cells[4].config.model.preset, "attnres");
  EXPECT_EQ(e.cells[2].config.seed, 1);
  EXPECT_EQ(e.cells[1].config.data.seq_len, 32);
  EXPECT_DOUBLE_EQ(e.cells[1].config.train.lr, 0.002);
  EXPECT_EQ(e.cells[0].config.data.seq_len, 16);
  EXPECT_DOUBLE_EQ(e.cells[0].config.train.lr, 0.001);
  for (const auto& c : e.cells) EXPECT_EQ(c.config.run, c.id);
  EXPECT_EQ(e.dir, dir / "runs" / "sweep");

  // Overrides reach every cell; an axis is overridden through sweep.KEY.
  const Experiment narrowed = load_experiment(file, {"sweep.seed=[5]", "train.steps=3"});
  ASSERT_EQ(narrowed.cells.size(), 4u);
  for (const auto& c : narrowed.cells) {
    EXPECT_EQ(c.config.seed, 5);
    EXPECT_EQ(c.config.train.steps, 3);
  }
  try {
    load_experiment(file, {"seed=3"});
    FAIL();
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("seed is a sweep axis; override its values with sweep.seed=[...]"),
              std::string::npos) << err.what();
  }
  // Unequal zip lengths and bad values are errors that name the place.
  const auto bad = experiment_file(dir, "sweep:\n  zip:\n    - {data.seq_len: [16, 32], train.lr: [0.001]}\n", 8, "bad.yaml");
  EXPECT_THROW(load_experiment(bad, {}), ConfigError);
  const auto not_a_map = experiment_file(dir, "sweep: [standard, oasis]\n", 8, "list.yaml");
  EXPECT_THROW(load_experiment(not_a_map, {}), ConfigError);
  const auto invalid = experiment_file(dir, "sweep:\n  model.n_heads: [2, 3]\n", 8, "invalid.yaml");
  try {
    load_experiment(invalid, {});
    FAIL();
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("invalid.yaml:"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("sweep value 3"), std::string::npos) << err.what();
  }
  // A sweep file is not a single-run config.
  auto r = test::run_cli("train " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("run it with `oasis run FILE`"), std::string::npos) << r.output;
}

TEST(Sweep, CellIdsAreStable) {
  const auto dir = test::scratch_dir();
  const auto file = experiment_file(dir, "sweep:\n  model.preset: [standard, oasis]\n");
  const Experiment e = load_experiment(file, {});
  EXPECT_EQ(ids(e), ids(load_experiment(file, {})));
  const std::regex format(R"((standard|oasis)-shakespeare-s0-[0-9a-f]{6})");
  for (const auto& id : ids(e)) EXPECT_TRUE(std::regex_match(id, format)) << id;
  // Evaluation-only and machine-local keys keep the ids; anything that changes training changes them.
  EXPECT_EQ(ids(e), ids(load_experiment(file, {"eval.max_tokens=500", "threads=2", "quant.schemes=[fp,w8a8]",
                                               "data.cache_dir=/elsewhere", "gsm8k.limit=3"})));
  EXPECT_NE(ids(e), ids(load_experiment(file, {"train.lr=0.01"})));
  // The digest covers only keys away from their defaults, so it is fixed by the config, not by the code
  // version or the machine: this value changes only if the test config, a key's name or the hashing rule
  // changes (it was d4e025 until data.vocab_size became data.sentencepiece.vocab_size).
  EXPECT_EQ(e.cells[0].id, "standard-shakespeare-s0-ecdbef");
  EXPECT_EQ(ids(e), ids(load_experiment(file, {"report.statistics=[sink_rate]"})));
}

TEST(Sweep, TheConfigHashIsWhatARunComputesNotWhereItRuns) {
  const auto dir = test::scratch_dir();
  const auto file = experiment_file(dir, "sweep:\n  model.preset: [standard]\n");
  auto hash = [&](const std::vector<std::string>& overrides) {
    return config_hash(load_experiment(file, overrides).cells[0].config);
  };
  const std::string base = hash({});
  EXPECT_EQ(base, hash({"runs_dir=/elsewhere", "threads=1", "data.cache_dir=/c", "report.method=standard-softmax1",
                        "experiment=renamed"}));
  EXPECT_NE(base, hash({"train.lr=0.01"}));
  EXPECT_NE(base, hash({"eval.max_tokens=500"}));  // changes the reported perplexity
}

// Runs `oasis run` and returns its result.
test::CliResult run_sweep(const std::string& file, const std::string& extra = "") {
  return test::run_cli("run " + file + " --jobs 2 " + extra);
}

std::map<std::string, double> perplexities(const Experiment& e) {
  std::map<std::string, double> out;
  for (const auto& c : e.cells) {
    const auto r = nlohmann::json::parse(read_file(c.dir() / "results.json"));
    out[c.id] = r["perplexity"]["fp"]["test"]["perplexity"].get<double>();
  }
  return out;
}

TEST(Runner, KilledRunnerResumesToTheSameResults) {
  const auto dir = test::scratch_dir();
  const std::string sweep = "sweep:\n  model.preset: [standard, attnres]\n";
  const auto straight_file = experiment_file(dir / "straight", sweep, 400);
  auto r = run_sweep(straight_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("run: 2/2 cells done"), std::string::npos) << r.output;

  const auto killed_file = experiment_file(dir / "killed", sweep, 400);
  const Experiment killed = load_experiment(killed_file, {});
  // Start the runner, SIGKILL it once a first checkpoint exists, then run again.
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(OASIS_CLI_PATH, "oasis", "run", killed_file.c_str(), "--jobs", "2", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(killed.cells[0].dir() / "checkpoints" / "step_00000050") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(fs::exists(killed.cells[0].dir() / "DONE")) << "the kill came too late to test anything";
  r = run_sweep(killed_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The cell's log holds the killed attempt and the resumed one.
  EXPECT_NE(read_file(killed.cells[0].dir() / "log.txt").find("train: resume from"), std::string::npos);
  const auto a = perplexities(load_experiment(straight_file, {})), b = perplexities(killed);
  ASSERT_EQ(a.size(), 2u);
  for (const auto& [id, ppl] : a) EXPECT_DOUBLE_EQ(ppl, b.at(id)) << id;
  // A third run has nothing to do.
  r = run_sweep(killed_file);
  EXPECT_NE(r.output.find("0 to do, 2 done already"), std::string::npos) << r.output;
}

TEST(Runner, TwoRunnersNeverRunACellTwice) {
  const auto dir = test::scratch_dir();
  const auto file = experiment_file(dir, "sweep:\n  model.preset: [standard, attnres, attnres-softmax1]\n", 30);
  const auto both = test::run_command(fmt::format("({0} run {1} --jobs 1 > {2}/a.txt 2>&1 & {0} run {1} --jobs 1 > "
                                                  "{2}/b.txt 2>&1 & wait)",
                                                  OASIS_CLI_PATH, file, dir.string()));
  ASSERT_EQ(both.exit_code, 0) << both.output;
  test::expect_each_cell_ran_once(load_experiment(file, {}));
}

TEST(Slurm, ScriptsQuoteEveryValue) {
  const auto base = test::scratch_dir();
  // A directory name and an override that would run commands if anything were unquoted.
  const fs::path dir = base / "x'$(touch PWNED1)`touch PWNED2`;touch PWNED3'";
  fs::create_directories(dir);
  const auto file = experiment_file(dir, "sweep:\n  model.preset: [standard]\nslurm:\n  cpus_per_task: 1\n  time: \"00:10:00\"\n");
  const std::string hostile_runs = (dir / "runs $(touch PWNED4) ; touch PWNED5").string();
  const Experiment e = load_experiment(file, {"runs_dir=" + hostile_runs});
  const std::string script = sbatch_script(e, OASIS_CLI_PATH);
  EXPECT_NE(script.find("#SBATCH --array=0-0"), std::string::npos) << script;
  EXPECT_EQ(shell_quote("a'b"), "'a'\\''b'");
  // Run the task as Slurm would, with bash, from another directory.
  test::write_text(base / "task.sh", script);
  auto r = test::run_command("cd " + shell_quote(base.string()) + " && SLURM_ARRAY_TASK_ID=0 bash task.sh");
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << script;
  EXPECT_TRUE(fs::exists(e.cells[0].dir() / "DONE")) << script;
  EXPECT_TRUE(fs::exists(e.cells[0].dir() / "slurm.log"));
  for (const auto& entry : fs::recursive_directory_iterator(base))
    EXPECT_EQ(entry.path().filename().string().rfind("PWNED", 0), std::string::npos) << entry.path();
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(fs::exists(fs::current_path() / fmt::format("PWNED{}", i)));
  // Directive values are checked, not quoted.
  EXPECT_THROW(sbatch_script(load_experiment(file, {"slurm.partition=gpu\ntouch PWNED"}), OASIS_CLI_PATH), ConfigError);
  // A cell id from outside the plan is refused (no path escapes the runs directory).
  EXPECT_THROW(find_cell(e, "../../etc"), ConfigError);
}

// Stops the test cluster however the test ends.
struct ClusterGuard {
  std::string base;
  ~ClusterGuard() {
    test::run_command("SLURM_BASE=" + shell_quote(base) + " bash " + shell_quote((repo_root() / "tests/slurm/cluster.sh").string()) + " stop");
    fs::remove_all(base);
  }
};

TEST(Slurm, RealClusterRunsASweepLikeALocalRun) {
  if (::getuid() != 0 || test::run_command("command -v slurmctld slurmd sbatch munged").exit_code != 0)
    GTEST_SKIP() << "needs root and Debian's slurmctld slurmd slurm-client munge (`make test` installs them)";
  const auto dir = test::scratch_dir();
  const std::string base = fmt::format("/tmp/oasis-slurm-{}", ::getpid());  // short: munge's socket path
  const std::string script = (repo_root() / "tests/slurm/cluster.sh").string();
  ClusterGuard guard{base};
  auto r = test::run_command("SLURM_BASE=" + base + " bash " + shell_quote(script) + " start");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string env = "SLURM_CONF=" + base + "/etc/slurm.conf ";

  const auto file = experiment_file(dir, "sweep:\n  model.preset: [standard, oasis]\nslurm:\n  cpus_per_task: 1\n", 40);
  // Two micro-batches per step, so the same cells also run as two ranks of one micro-batch each.
  const std::string accumulate = " train.grad_accum=2";
  r = test::run_cli("run " + file + " runs_dir=" + (dir / "local").string() + accumulate + " --jobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Submits the sweep into runs_dir `name` and waits for the job to leave the queue.
  auto submit_and_wait = [&](const std::string& name, const std::string& overrides) {
    auto out = test::run_command(env + OASIS_CLI_PATH + " run " + file + " runs_dir=" + (dir / name).string() + overrides +
                                 " --slurm --submit");
    EXPECT_EQ(out.exit_code, 0) << out.output;
    std::smatch m;
    std::regex_search(out.output, m, std::regex(R"(submitted job (\d+))"));
    EXPECT_FALSE(m.empty()) << out.output;
    const std::string job_id = m.empty() ? "none" : std::string(m[1]);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (std::chrono::steady_clock::now() < deadline &&
           !test::run_command(env + "squeue -h -j " + job_id).output.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return job_id;
  };
  const std::string job_id = submit_and_wait("slurm", accumulate);
  // The same cells on two srun tasks each (one node): rank and rendezvous from Slurm's variables.
  const std::string dist_job = submit_and_wait("slurm-dist", accumulate + " dist.procs_per_node=2");
  const auto local = load_experiment(file, {"runs_dir=" + (dir / "local").string(), accumulate.substr(1)});
  const auto slurm = load_experiment(file, {"runs_dir=" + (dir / "slurm").string(), accumulate.substr(1)});
  const auto slurm_dist =
      load_experiment(file, {"runs_dir=" + (dir / "slurm-dist").string(), accumulate.substr(1), "dist.procs_per_node=2"});
  for (const auto& cell : slurm.cells) {
    ASSERT_TRUE(fs::exists(cell.dir() / "DONE")) << cell.id << ": " << read_file(cell.dir() / "slurm.log");
    EXPECT_NE(read_file(cell.dir() / "slurm.log").find("of job " + job_id), std::string::npos);
  }
  for (const auto& cell : slurm_dist.cells) {
    ASSERT_TRUE(fs::exists(cell.dir() / "DONE")) << cell.id << ": " << read_file(cell.dir() / "slurm.log");
    const std::string log = read_file(cell.dir() / "slurm.log");
    EXPECT_NE(log.find("of job " + dist_job), std::string::npos) << log;
    EXPECT_NE(log.find("rank 0 of 2 (gloo, slurm"), std::string::npos) << log;
  }
  const auto a = perplexities(local), b = perplexities(slurm), c = perplexities(slurm_dist);
  for (const auto& [id, ppl] : a) {
    EXPECT_DOUBLE_EQ(ppl, b.at(id)) << id;
    EXPECT_DOUBLE_EQ(ppl, c.at(id)) << id << " on two ranks";
  }
  // Everything finished: a second submission has nothing to do.
  r = test::run_command(env + OASIS_CLI_PATH + " run " + file + " runs_dir=" + (dir / "slurm").string() + accumulate +
                        " --slurm --submit");
  EXPECT_NE(r.output.find("every cell is done"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace oasis
