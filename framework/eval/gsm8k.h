// GSM8K as lm-evaluation-harness defines it (docs/gsm8k.md): the `gsm8k` task (v3: n-shot from the train
// split, drawn with random.Random(seed).sample for each test item in order, "Question: ...\nAnswer:")
// and `gsm8k-cot` (v3: the 8 fixed chain-of-thought exemplars, "Q: ...\nA:"); their stop strings, the
// strict and flexible answer filters, and exact match after lm-eval's normalisation (case, ",", "$",
// everything through "#### ", a trailing "."). Also the fine-tuning text of a train item in either format.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/registry.h"

namespace oasis {

class Regex;

struct Gsm8kItem {
  int64_t index = 0;  // line number in its split (0-based): the sample id
  std::string question, answer;  // answer: the worked solution ending "#### N"
};

// The split's JSONL (`train` or `test`) from the gsm8k folder of a data root; errors name file and line.
std::vector<Gsm8kItem> load_gsm8k(const std::string& data_dir, const std::string& split);

struct Gsm8kTask {
  std::string name;                // gsm8k | gsm8k-cot
  std::string version;             // lm-eval's metadata version of the task definition reproduced here
  bool chain_of_thought;           // Q:/A: prompts with the fixed 8 exemplars, not sampled train items
  int64_t default_fewshot;         // 5 | 8
  std::vector<std::string> stop;   // generation stops before the first of these
  std::shared_ptr<const Regex> strict;  // the strict-match filter (first match)
};
Registry<Gsm8kTask>& gsm8k_task_registry();
const Gsm8kTask& gsm8k_task(const std::string& name);  // throws ConfigError listing the valid names
std::vector<std::string> gsm8k_task_names();

// Prompts for test[0..n) in order, exactly as lm-eval builds them with `num_fewshot` and `seed`.
std::vector<std::string> gsm8k_prompts(const Gsm8kTask& task, int64_t num_fewshot, uint64_t seed,
                                       const std::vector<Gsm8kItem>& train, const std::vector<Gsm8kItem>& test);

// A fine-tuning example: the zero-shot prompt and its target (target delimiter included); for
// gsm8k-cot the solution loses its <<calculator>> notes and ends "The answer is N.".
struct PromptTarget {
  std::string prompt, target;
};
PromptTarget gsm8k_training_text(const Gsm8kTask& task, const Gsm8kItem& item);

// The reference answer as lm-eval compares it (before normalisation).
std::string gsm8k_reference(const Gsm8kTask& task, const Gsm8kItem& item);

// lm-eval's filters; "[invalid]" when nothing matches.
std::string strict_extract(const Gsm8kTask& task, const std::string& completion);
std::string flexible_extract(const std::string& completion);

// exact_match with ignore_case and the regexes_to_ignore of both tasks.
std::string normalize_gsm8k_answer(const std::string& text);
bool gsm8k_exact_match(const std::string& prediction, const std::string& reference);

}  // namespace oasis
