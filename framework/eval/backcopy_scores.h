// The Bigram-Backcopy task's own metrics next to perplexity, so a run shows when the copy skill switches
// on (the attention sink is expected to switch on with it):
//   copy positions   the input token is a trigger, so the target is the token before it:
//                    copy_accuracy (argmax = target) and copy_loss (mean NLL, nats);
//   bigram positions every other scored position: bigram_loss (mean NLL), beside bigram_optimum, the
//                    mean -log P(target | input) of the source chain itself at the same positions (the
//                    loss a perfect model reaches there).
// Position 0 (BOS -> the first character) and end-of-text targets are not scored.
#pragma once
#include <nlohmann/json.hpp>

#include "framework/data/batches.h"
#include "framework/data/bigram_backcopy.h"
#include "framework/data/tokenizer.h"
#include "framework/model/language_model.h"

namespace oasis {

struct BackcopyScores {
  double copy_accuracy = 0, copy_loss = 0, bigram_loss = 0, bigram_optimum = 0;
  int64_t copy_positions = 0, bigram_positions = 0;
  nlohmann::json to_json() const;
};

// Scores the model's predictions on `windows` ([N, T] inputs and targets), batch_size rows at a time.
BackcopyScores score_backcopy(LanguageModel& model, const Batch& windows, const BackcopyTask& task,
                              const Tokenizer& tokenizer, int64_t batch_size);

}  // namespace oasis
