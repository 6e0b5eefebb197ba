// Shared helpers for the tests: a scratch directory per test, a tiny config on real data, and running
// the `oasis` binary.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/run/sweep.h"

namespace oasis::test {

// A fresh, empty directory under the build tree, named after the running test.
std::filesystem::path scratch_dir();

// The cache shared by all tests (tokenized arrays, trained tokenizers), so each is built once.
std::string shared_cache_dir();

// A 32-wide model (max_seq_len 32) for tests that build models directly.
ModelConfig small_model(const std::string& preset, int64_t n_layers = 2, int64_t n_heads = 2);

// A small standard model on Tiny Shakespeare with a 512-piece sentencepiece vocabulary.
Config tiny_config(const std::filesystem::path& runs_dir);

// tiny_config on WikiText-2 (1,024 pieces) for `steps` steps at lr 3e-3 with 10% warmup, validated and
// checkpointed only at the end.
Config wikitext_learning_config(const std::filesystem::path& runs_dir, int64_t steps);

struct CliResult {
  int exit_code;
  std::string output;  // stdout + stderr
};
CliResult run_command(const std::string& command);  // through the shell, stderr folded into output
CliResult run_cli(const std::string& args);          // the oasis binary under test

std::string write_text(const std::filesystem::path& path, const std::string& text);

// Every cell of `experiment` is DONE and its log.txt holds one session (one settings table): no cell was
// run twice, e.g. by two runners at once.
void expect_each_cell_ran_once(const Experiment& experiment);

// The records of a JSON-lines file (metrics.jsonl).
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

}  // namespace oasis::test
