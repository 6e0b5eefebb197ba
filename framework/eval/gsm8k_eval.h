// GSM8K Pass@1 of a model as it stands (float, or under a quantization transform): the configured test
// items are prompted as lm-eval does, completed greedily with the KV cache, filtered (strict-match and
// flexible-extract) and compared by exact match. Every item goes to a JSONL file beside results.json.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/eval/gsm8k.h"

namespace oasis {

class LanguageModel;
class Tokenizer;

class Gsm8kSuite {
 public:
  // Loads the splits and builds (and tokenizes) the prompts of the first gsm8k.limit test items.
  Gsm8kSuite(const Gsm8kConfig& config, const std::string& data_dir, const Tokenizer& tokenizer);
  // Scores `model`; writes one JSON line per item to `samples_file`; returns the summary for results.json.
  nlohmann::json score(LanguageModel& model, const std::filesystem::path& samples_file) const;

 private:
  Gsm8kConfig config_;
  const Gsm8kTask& task_;
  const Tokenizer& tokenizer_;
  int64_t shots_;
  std::vector<Gsm8kItem> items_;
  std::vector<std::string> prompts_;
  std::vector<std::vector<int32_t>> prompt_tokens_;
};

}  // namespace oasis
