// Shared helpers for the tests: a scratch directory per test, a tiny config on real data, and running
// the `oasis` binary.
#pragma once
#include <filesystem>
#include <string>

#include "framework/core/config.h"

namespace oasis::test {

// A fresh, empty directory under the build tree, named after the running test.
std::filesystem::path scratch_dir();

// The cache shared by all tests (tokenized arrays, trained tokenizers), so each is built once.
std::string shared_cache_dir();

// A small standard model on Tiny Shakespeare with a 512-piece sentencepiece vocabulary.
Config tiny_config(const std::filesystem::path& runs_dir);

struct CliResult {
  int exit_code;
  std::string output;  // stdout + stderr
};
CliResult run_cli(const std::string& args);

std::string write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace oasis::test
