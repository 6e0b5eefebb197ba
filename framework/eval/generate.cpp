#include "framework/eval/generate.h"

#include <algorithm>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/data/tokenizer.h"
#include "framework/model/language_model.h"

namespace oasis {

namespace {

// Where the earliest stop string starts in `text`, or npos.
size_t first_stop(const std::string& text, const std::vector<std::string>& stop) {
  size_t at = std::string::npos;
  for (const auto& s : stop)
    if (!s.empty()) at = std::min(at, text.find(s));
  return at;
}

// One batch of prompts, all rows decoded together until each finishes.
void generate_batch(LanguageModel& model, const Tokenizer& tokenizer, std::vector<std::vector<int32_t>> prompts,
                    const GenerationOptions& options, Completion* out) {
  const auto device = model.parameters().front().device();
  const int64_t n = int64_t(prompts.size());
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, int64_t(p.size()));
  const int32_t eot = tokenizer.end_of_text();
  auto tokens = torch::full({n, longest}, int64_t(eot), torch::kLong);
  auto valid = torch::zeros({n, longest}, torch::kBool);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pad = longest - int64_t(prompts[size_t(r)].size());
    const auto& p = prompts[size_t(r)];
    tokens[r].slice(0, pad).copy_(torch::tensor(std::vector<int64_t>(p.begin(), p.end()), torch::kLong));
    valid[r].slice(0, pad).fill_(true);
  }
  tokens = tokens.to(device);
  valid = valid.to(device);

  std::vector<int64_t> active(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) active[size_t(r)] = r;
  KVCache cache;
  at::Tensor input = tokens, input_valid = valid;  // with the cache: only what it has not seen
  for (int64_t step = 0; !active.empty(); ++step) {
    at::Tensor logits;
    if (options.use_cache) {
      logits = model.decode(input, input_valid, cache);
    } else {
      KVCache fresh;
      logits = model.decode(tokens, valid, fresh);
    }
    const auto next = logits.select(1, -1).argmax(-1).to(torch::kCPU);
    std::vector<int64_t> keep;
    for (size_t k = 0; k < active.size(); ++k) {
      Completion& c = out[active[k]];
      const auto id = int32_t(next[int64_t(k)].item<int64_t>());
      if (id == eot) {
        c.finish = "end_of_text";
        continue;
      }
      c.tokens.push_back(id);
      c.text = tokenizer.decode(c.tokens);
      if (const size_t at = first_stop(c.text, options.stop); at != std::string::npos) {
        c.text.resize(at);
        c.finish = "stop";
      } else if (int64_t(c.tokens.size()) >= options.max_new_tokens) {
        c.finish = "length";
      } else {
        keep.push_back(int64_t(k));
      }
    }
    if (keep.empty()) break;
    const auto rows = torch::tensor(keep, torch::kLong).to(device);
    const auto chosen = next.to(device).index_select(0, rows).unsqueeze(1);
    if (options.use_cache) {
      cache.keep_rows(rows);
      input = chosen;
      input_valid = torch::ones_like(chosen, torch::kBool);
    } else {
      tokens = torch::cat({tokens.index_select(0, rows), chosen}, 1);
      valid = torch::cat({valid.index_select(0, rows), torch::ones_like(chosen, torch::kBool)}, 1);
    }
    std::vector<int64_t> still;
    for (int64_t k : keep) still.push_back(active[size_t(k)]);
    active = std::move(still);
  }
}

}  // namespace

std::vector<Completion> generate_greedy(LanguageModel& model, const Tokenizer& tokenizer,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        const GenerationOptions& options) {
  const int64_t room = model.max_seq_len() - options.max_new_tokens;
  if (options.max_new_tokens < 1 || room < 1)
    throw ConfigError(fmt::format("max_new_tokens: expected 1..{} (model.max_seq_len {} minus room for a prompt), got {}",
                                  model.max_seq_len() - 1, model.max_seq_len(), options.max_new_tokens));
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<Completion> out(prompts.size());
  for (size_t first = 0; first < prompts.size(); first += size_t(options.batch_size)) {
    const size_t last = std::min(prompts.size(), first + size_t(options.batch_size));
    std::vector<std::vector<int32_t>> batch;
    for (size_t i = first; i < last; ++i) {
      const auto& p = prompts[i];
      if (p.empty()) throw RuntimeError(fmt::format("generate: prompt {} is empty", i));
      const int64_t cut = std::max<int64_t>(0, int64_t(p.size()) - room);  // lm-eval keeps the end
      batch.emplace_back(p.begin() + cut, p.end());
      out[i].prompt_tokens = int64_t(batch.back().size());
      out[i].prompt_truncated = cut > 0;
    }
    generate_batch(model, tokenizer, std::move(batch), options, out.data() + first);
  }
  model.train(was_training);
  return out;
}

}  // namespace oasis
