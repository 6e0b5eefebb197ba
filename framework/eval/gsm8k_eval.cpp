#include "framework/eval/gsm8k_eval.h"

#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/data/tokenizer.h"
#include "framework/eval/generate.h"

namespace oasis {
namespace fs = std::filesystem;

Gsm8kSuite::Gsm8kSuite(const Gsm8kConfig& config, const std::string& data_dir, const Tokenizer& tokenizer)
    : config_(config), task_(gsm8k_task(config.task)), tokenizer_(tokenizer) {
  shots_ = config.shots(task_.default_fewshot);
  items_ = load_gsm8k(data_dir, "test");
  if (config.limit > 0 && config.limit < int64_t(items_.size())) items_.resize(size_t(config.limit));
  const auto train = shots_ > 0 && task_.name == "gsm8k" ? load_gsm8k(data_dir, "train") : std::vector<Gsm8kItem>{};
  prompts_ = gsm8k_prompts(task_, shots_, uint64_t(config.fewshot_seed), train, items_);
  for (const auto& p : prompts_) prompt_tokens_.push_back(tokenizer.encode(p));
}

nlohmann::json Gsm8kSuite::score(LanguageModel& model, const fs::path& samples_file) const {
  const auto t0 = std::chrono::steady_clock::now();
  GenerationOptions options{config_.max_new_tokens, task_.stop, config_.batch_size, true};
  const std::vector<Completion> completions = generate_greedy(model, tokenizer_, prompt_tokens_, options);
  const double seconds = seconds_since(t0);

  const fs::path tmp = samples_file.string() + ".tmp";
  std::ofstream out(tmp);
  if (!out) throw RuntimeError(fmt::format("cannot write '{}'", tmp.string()));
  int64_t strict_correct = 0, flexible_correct = 0, truncated = 0, generated = 0;
  std::map<std::string, int64_t> finishes;
  for (size_t i = 0; i < items_.size(); ++i) {
    const Completion& c = completions[i];
    const std::string reference = gsm8k_reference(task_, items_[i]);
    const std::string strict = strict_extract(task_, c.text), flexible = flexible_extract(c.text);
    const bool strict_ok = gsm8k_exact_match(strict, reference), flexible_ok = gsm8k_exact_match(flexible, reference);
    strict_correct += strict_ok;
    flexible_correct += flexible_ok;
    truncated += c.prompt_truncated;
    generated += int64_t(c.tokens.size());
    finishes[c.finish] += 1;
    const nlohmann::json row = {
        {"id", items_[i].index},
        {"prompt", prompts_[i]},
        {"completion", c.text},
        {"extracted", {{"strict-match", strict}, {"flexible-extract", flexible}}},
        {"gold", normalize_gsm8k_answer(reference)},
        {"correct", config_.filter == "strict-match" ? strict_ok : flexible_ok},
        {"correct_by_filter", {{"strict-match", strict_ok}, {"flexible-extract", flexible_ok}}},
        {"finish", c.finish},
        {"prompt_tokens", c.prompt_tokens},
        {"prompt_truncated", c.prompt_truncated},
        {"generated_tokens", c.tokens.size()}};
    out << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  out.close();
  fs::rename(tmp, samples_file);

  const double n = double(items_.size());
  const double strict_rate = double(strict_correct) / n, flexible_rate = double(flexible_correct) / n;
  return {{"task", task_.name},
          {"task_version", task_.version},
          {"num_fewshot", shots_},
          {"fewshot_seed", config_.fewshot_seed},
          {"limit", config_.limit},
          {"items", items_.size()},
          {"filter", config_.filter},
          {"pass_at_1", config_.filter == "strict-match" ? strict_rate : flexible_rate},
          {"exact_match", {{"strict-match", strict_rate}, {"flexible-extract", flexible_rate}}},
          {"correct", {{"strict-match", strict_correct}, {"flexible-extract", flexible_correct}}},
          {"decoding", "greedy"},
          {"max_new_tokens", config_.max_new_tokens},
          {"stop", task_.stop},
          {"truncated_prompts", truncated},
          {"finish", finishes},
          {"generated_tokens", generated},
          {"wall_s", seconds},
          {"samples_file", samples_file.filename().string()}};
}

}  // namespace oasis
