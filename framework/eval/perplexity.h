// Perplexity of a token stream with a fixed context length and stride (both recorded with the result).
// A window feeds the model context_len tokens and predicts the context_len stream tokens that follow
// each input position; with BOS the input is the end-of-text token followed by the window's tokens.
// Windows advance by `stride` (<= context_len) and each token is scored once, by the first window that
// predicts it; the default stride = context_len gives disjoint windows. Without BOS the stream's first
// token is never scored (nothing precedes it).
//   ppl = exp(sum NLL / scored tokens);   bits per byte = sum NLL / ln 2 / bytes of the scored tokens
// Bits per byte divides by the source-text bytes the tokens stand for, so it does not depend on the
// tokenizer.
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace oasis {

class LanguageModel;
class Tokenizer;

struct PerplexityOptions {
  int64_t context_len = 128;
  int64_t stride = 128;
  bool bos = false;
  int64_t max_tokens = 0;  // 0: all
  int64_t batch_size = 8;
};

struct PerplexityResult {
  double nll_sum = 0;  // nats
  int64_t tokens = 0;  // scored tokens
  int64_t bytes = 0;   // source bytes of the scored tokens
  int64_t windows = 0;
  PerplexityOptions options;

  double mean_nll() const { return nll_sum / double(tokens); }
  double perplexity() const;
  double bits_per_byte() const;
  nlohmann::json to_json() const;
};

// One window: it predicts stream positions [first_target, first_target + length) and scores
// [score_from, score_to) of them. Input i is BOS (i = 0 with BOS) or the stream token first_target+i-1.
struct EvalWindow {
  int64_t first_target;
  int64_t length;
  int64_t score_from;
  int64_t score_to;
};
std::vector<EvalWindow> plan_windows(int64_t n_tokens, const PerplexityOptions& options);

PerplexityResult evaluate_perplexity(LanguageModel& model, const std::vector<int32_t>& tokens,
                                     const Tokenizer& tokenizer, const PerplexityOptions& options);

}  // namespace oasis
