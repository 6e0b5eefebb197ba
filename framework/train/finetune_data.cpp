#include "framework/train/finetune_data.h"

#include <algorithm>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/log.h"
#include "framework/data/tokenizer.h"
#include "framework/eval/gsm8k.h"

namespace oasis {


FinetuneExamples::FinetuneExamples(const Config& config, const Tokenizer& tokenizer)
    : pad_(tokenizer.end_of_text()), seed_(uint64_t(config.seed)) {
  const Gsm8kTask& task = gsm8k_task(config.finetune.task);
  const auto items = load_gsm8k(config.data.data_dir, "train");
  const int64_t held_out = config.finetune.valid_examples;
  if (held_out >= int64_t(items.size()))
    throw ConfigError(fmt::format("finetune.valid_examples: expected fewer than the {} GSM8K train items, got {}",
                                  items.size(), held_out));
  const int64_t limit = config.finetune_seq_len();
  for (size_t i = 0; i < items.size(); ++i) {
    const PromptTarget text = gsm8k_training_text(task, items[i]);
    Example e{tokenizer.encode(text.prompt), 0};
    e.prompt_tokens = int64_t(e.tokens.size());
    const auto target = tokenizer.encode(text.target);
    e.tokens.insert(e.tokens.end(), target.begin(), target.end());
    e.tokens.push_back(pad_);
    if (int64_t(e.tokens.size()) > limit) {  // a cut solution would teach answers without their end
      ++skipped_;
      continue;
    }
    (int64_t(i) >= int64_t(items.size()) - held_out ? valid_ : train_).push_back(std::move(e));
  }
  if (train_.empty() || valid_.empty())
    throw ConfigError(fmt::format("finetune.seq_len: no GSM8K example fits in {} tokens (model.max_seq_len or "
                                  "finetune.seq_len is too small)", limit));
  log_line(fmt::format("finetune data: {} GSM8K train items ({} format), {} held out, {} longer than {} tokens skipped",
                       train_.size(), task.name, valid_.size(), skipped_, limit));
}

// A Fisher-Yates permutation per epoch, computed from (seed, epoch) only.
int64_t FinetuneExamples::item_of(int64_t sample) const {
  const int64_t n = train_size(), epoch = sample / n;
  if (order_epoch_ != epoch) {
    order_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) order_[size_t(i)] = i;
    uint64_t state = splitmix64(seed_ ^ splitmix64(uint64_t(epoch) + 0x46494e45ULL));
    for (int64_t i = n - 1; i > 0; --i) {
      state = splitmix64(state);
      std::swap(order_[size_t(i)], order_[size_t(state % uint64_t(i + 1))]);
    }
    order_epoch_ = epoch;
  }
  return order_[size_t(sample % n)];
}

Batch FinetuneExamples::collate(const std::vector<const Example*>& rows) const {
  int64_t longest = 0;
  for (const auto* e : rows) longest = std::max<int64_t>(longest, int64_t(e->tokens.size()) - 1);
  auto inputs = torch::full({int64_t(rows.size()), longest}, int64_t(pad_), torch::kLong);
  auto targets = torch::full({int64_t(rows.size()), longest}, int64_t(-100), torch::kLong);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& t = rows[r]->tokens;
    const int64_t n = int64_t(t.size()) - 1;
    auto row = torch::tensor(std::vector<int64_t>(t.begin(), t.end()), torch::kLong);
    inputs[int64_t(r)].slice(0, 0, n).copy_(row.slice(0, 0, n));
    // Position j predicts token j + 1; only solution tokens (and the final end-of-text) are targets.
    const int64_t first_target = rows[r]->prompt_tokens - 1;
    targets[int64_t(r)].slice(0, first_target, n).copy_(row.slice(0, first_target + 1, n + 1));
  }
  return {inputs, targets};
}

Batch FinetuneExamples::batch(int64_t first, int64_t count) const {
  std::vector<const Example*> rows;
  for (int64_t i = first; i < first + count; ++i) rows.push_back(&train_[size_t(item_of(i))]);
  return collate(rows);
}

Batch FinetuneExamples::validation(int64_t count) const {
  std::vector<const Example*> rows;
  for (int64_t i = 0; i < count; ++i) rows.push_back(&valid_[size_t(i % valid_size())]);
  return collate(rows);
}

}  // namespace oasis
