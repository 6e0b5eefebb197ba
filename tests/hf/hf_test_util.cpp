#include "tests/hf/hf_test_util.h"

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/core/json_file.h"
#include "framework/core/paths.h"
#include "tests/test_util.h"

namespace oasis::test {
namespace fs = std::filesystem;

void run_hf_reference(const std::string& args) {
  const fs::path python = repo_root() / ".venv" / "bin" / "python";
  ASSERT_TRUE(fs::exists(python)) << python << " missing: run `make venv`";
  const auto r = run_command(fmt::format("{} {} {}", python.string(), (repo_root() / "tools/hf/hf_reference.py").string(), args));
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

fs::path tiny_llama_dir(bool tied) {
  const fs::path dir = fs::path(OASIS_TEST_WORK_DIR) / "test-cache" / (tied ? "tiny-llama-tied" : "tiny-llama");
  if (fs::exists(dir / "model.safetensors")) return dir;
  // Built beside and renamed into place, so parallel tests never see half a checkpoint.
  const fs::path staging = dir.string() + fmt::format(".partial.{}", ::getpid());
  fs::remove_all(staging);
  const fs::path text = find_dataset_dir("", "wikitext-2", "wikitext2") / "wiki.train.tokens";
  run_hf_reference(fmt::format("tiny-llama {} --text {}{}", staging.string(), text.string(), tied ? " --tied" : ""));
  std::error_code ec;
  fs::rename(staging, dir, ec);  // another test may have won the race: its copy is the same
  fs::remove_all(staging);
  return dir;
}

nlohmann::json transformers_logits(const fs::path& dir, const nlohmann::json& prompts, int greedy) {
  const fs::path scratch = fs::path(OASIS_TEST_WORK_DIR) / "test-scratch" / fmt::format("hf-logits-{}", ::getpid());
  fs::create_directories(scratch);
  write_text(scratch / "in.json", prompts.dump());
  run_hf_reference(fmt::format("logits {} {} {} --greedy {}", dir.string(), (scratch / "in.json").string(),
                               (scratch / "out.json").string(), greedy));
  auto out = read_json_file(scratch / "out.json");
  fs::remove_all(scratch);
  return out;
}

}  // namespace oasis::test
