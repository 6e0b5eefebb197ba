// Greedy decoding for every model in the registry: prompts in batches (left-padded), one forward pass
// per new token against a KV cache (or, as the reference, the whole sequence recomputed every step),
// stopping at the end-of-text token, at any stop string, or after max_new_tokens. Finished rows leave
// the batch, so a batch costs what its longest completion costs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace oasis {

class LanguageModel;
class Tokenizer;

struct GenerationOptions {
  int64_t max_new_tokens = 256;
  std::vector<std::string> stop;  // the completion ends before the first occurrence of any of these
  int64_t batch_size = 8;
  bool use_cache = true;          // false: recompute the whole sequence for every token
};

struct Completion {
  std::vector<int32_t> tokens;  // generated ids (the end-of-text token excluded)
  std::string text;             // their text, cut before the first stop string
  std::string finish;           // stop | end_of_text | length
  int64_t prompt_tokens = 0;    // after truncation
  bool prompt_truncated = false;  // the prompt lost its start to fit max_seq_len - max_new_tokens
};

// Completions in prompt order.
std::vector<Completion> generate_greedy(LanguageModel& model, const Tokenizer& tokenizer,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        const GenerationOptions& options);

}  // namespace oasis
