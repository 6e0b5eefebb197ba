// Fine-tuning sequences from GSM8K train items: prompt + target + end-of-text, whose targets are -100
// (ignored by the loss) on the prompt and on padding, so only the solution and its end are learned.
// Sample i of the stream is item order_e[i mod n] of epoch e = i / n, with a seeded shuffle per epoch:
// the data position stays one integer and a resumed run reads what an uninterrupted one would.
// The last `valid_examples` items are held out for the validation loss.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/core/config.h"
#include "framework/data/batches.h"

namespace oasis {

class Tokenizer;

class FinetuneExamples {
 public:
  FinetuneExamples(const Config& config, const Tokenizer& tokenizer);
  Batch batch(int64_t first, int64_t count) const;  // right-padded to the longest row
  Batch validation(int64_t count) const;            // the first `count` held-out items
  int64_t train_size() const { return int64_t(train_.size()); }
  int64_t valid_size() const { return int64_t(valid_.size()); }
  int64_t skipped() const { return skipped_; }      // longer than finetune.seq_len

 private:
  struct Example {
    std::vector<int32_t> tokens;  // prompt, target, end-of-text
    int64_t prompt_tokens;
  };
  Batch collate(const std::vector<const Example*>& rows) const;
  int64_t item_of(int64_t sample) const;

  std::vector<Example> train_, valid_;
  int64_t skipped_ = 0;
  mutable std::vector<int64_t> order_;  // the current epoch's permutation
  mutable int64_t order_epoch_ = -1;
  int32_t pad_;
  uint64_t seed_;
};

}  // namespace oasis
