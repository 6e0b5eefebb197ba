#include "framework/eval/perplexity.h"

#include <cmath>
#include <map>

#include <torch/torch.h>

#include "framework/data/tokenizer.h"
#include "framework/model/language_model.h"

namespace oasis {

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

double PerplexityResult::bits_per_byte() const { return bytes > 0 ? nll_sum / std::log(2.0) / double(bytes) : NAN; }

nlohmann::json PerplexityResult::to_json() const {
  return {{"perplexity", perplexity()},     {"mean_nll", mean_nll()},
          {"bits_per_byte", bits_per_byte()}, {"tokens", tokens},
          {"bytes", bytes},                 {"windows", windows},
          {"context_len", options.context_len}, {"stride", options.stride},
          {"bos", options.bos},             {"max_tokens", options.max_tokens}};
}

std::vector<EvalWindow> plan_windows(int64_t n, const PerplexityOptions& o) {
  std::vector<EvalWindow> out;
  // Without BOS a token is predicted from the one before it, so position 0 is never a target.
  const int64_t first = o.bos ? 0 : 1;
  int64_t scored_until = first;
  for (int64_t f = first; scored_until < n; f += o.stride) {
    const int64_t length = std::min(o.context_len, n - f);
    const int64_t from = std::max(scored_until, f);
    if (f + length > from) out.push_back({f, length, from, f + length});
    scored_until = std::max(scored_until, f + length);
  }
  return out;
}

PerplexityResult evaluate_perplexity(LanguageModel& model, const std::vector<int32_t>& all_tokens,
                                     const Tokenizer& tokenizer, const PerplexityOptions& o) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.parameters().front().device();

  const int64_t n = o.max_tokens > 0 ? std::min<int64_t>(int64_t(all_tokens.size()), o.max_tokens + (o.bos ? 0 : 1))
                                     : int64_t(all_tokens.size());
  const std::vector<EvalWindow> windows = plan_windows(n, o);
  PerplexityResult result;
  result.options = o;
  result.windows = int64_t(windows.size());

  // Group windows by input length (all but the last are full) and run them in batches.
  std::map<int64_t, std::vector<const EvalWindow*>> by_length;
  for (const auto& w : windows) by_length[w.length].push_back(&w);
  for (const auto& [length, group] : by_length) {
    const int64_t T = length;
    for (size_t start = 0; start < group.size(); start += size_t(o.batch_size)) {
      const int64_t B = std::min<int64_t>(o.batch_size, int64_t(group.size() - start));
      auto inputs = torch::empty({B, T}, torch::kLong);
      auto targets = torch::empty({B, T}, torch::kLong);
      auto mask = torch::zeros({B, T}, torch::kDouble);
      int64_t* x = inputs.data_ptr<int64_t>();
      int64_t* y = targets.data_ptr<int64_t>();
      double* m = mask.data_ptr<double>();
      for (int64_t b = 0; b < B; ++b) {
        const EvalWindow& w = *group[start + size_t(b)];
        for (int64_t i = 0; i < T; ++i) {
          const int64_t target = w.first_target + i;
          x[b * T + i] = o.bos && i == 0 ? tokenizer.end_of_text() : all_tokens[size_t(target - 1)];
          y[b * T + i] = all_tokens[size_t(target)];
          if (target >= w.score_from && target < w.score_to) {
            m[b * T + i] = 1.0;
            result.bytes += tokenizer.token_bytes(all_tokens[size_t(target)]);
            result.tokens += 1;
          }
        }
      }
      auto logits = model.forward(inputs.to(device));
      auto nll = torch::nn::functional::cross_entropy(
          logits.reshape({B * T, logits.size(-1)}).to(torch::kFloat), targets.view({B * T}).to(device),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      result.nll_sum += (nll.to(torch::kCPU, torch::kDouble) * mask.view({B * T})).sum().item<double>();
    }
  }
  if (was_training) model.train();
  return result;
}

}  // namespace oasis
