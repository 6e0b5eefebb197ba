#include <sstream>
#include "tests/test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "framework/core/paths.h"
#include "framework/data/sentencepiece_bpe.h"

namespace oasis::test {
namespace fs = std::filesystem;

// Under the build tree wherever the test binary is started from, so a run from the repository root
// cannot leave scratch files where git would pick them up.
fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(OASIS_TEST_WORK_DIR) / "test-scratch" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string shared_cache_dir() { return (fs::path(OASIS_TEST_WORK_DIR) / "test-cache").string(); }

ModelConfig small_model(const std::string& preset, int64_t n_layers, int64_t n_heads) {
  ModelConfig c;
  c.preset = preset;
  c.d_model = 32;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.max_seq_len = 32;
  return c;
}

Config tiny_config(const fs::path& runs_dir) {
  Config c;
  c.experiment = "test";
  c.runs_dir = runs_dir.string();
  c.model.d_model = 32;
  c.model.n_layers = 2;
  c.model.n_heads = 2;
  c.model.max_seq_len = 64;
  c.data.dataset = "shakespeare";
  c.data.tokenizer = "sentencepiece";
  c.data.components.get<SentencePieceOptions>("sentencepiece").vocab_size = 512;
  c.data.seq_len = 32;
  c.data.cache_dir = shared_cache_dir();
  c.train.steps = 8;
  c.train.batch_size = 4;
  c.train.warmup_steps = 2;
  c.train.log_every = 1;
  c.train.eval_every = 4;
  c.train.eval_batches = 2;
  c.train.checkpoint_every = 4;
  c.train.keep_checkpoints = 10;
  c.eval.max_tokens = 2000;
  c.threads = 1;
  return c;
}

Config wikitext_learning_config(const fs::path& runs_dir, int64_t steps) {
  Config c = tiny_config(runs_dir);
  c.data.dataset = "wikitext2";
  c.data.components.get<SentencePieceOptions>("sentencepiece").vocab_size = 1024;
  c.train.steps = steps;
  c.train.lr = 3e-3;
  c.train.warmup_steps = steps / 10;
  c.train.eval_every = 0;
  c.train.checkpoint_every = 0;
  c.train.log_every = 100;
  return c;
}

void expect_each_cell_ran_once(const Experiment& experiment) {
  for (const auto& cell : experiment.cells) {
    EXPECT_TRUE(fs::exists(cell.dir() / "DONE")) << cell.id;
    const std::string log = read_file(cell.dir() / "log.txt");
    size_t sessions = 0;
    for (size_t at = log.find("oasis settings"); at != std::string::npos; at = log.find("oasis settings", at + 1)) ++sessions;
    EXPECT_EQ(sessions, 1u) << cell.id << ":\n" << log;
  }
}

CliResult run_cli(const std::string& args) { return run_command(std::string(OASIS_CLI_PATH) + " " + args); }

CliResult run_command(const std::string& shell_command) {
  const std::string command = shell_command + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace oasis::test
