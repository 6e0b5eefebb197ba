#include "framework/eval/backcopy_scores.h"

#include <cmath>

#include <torch/torch.h>

namespace oasis {

nlohmann::json BackcopyScores::to_json() const {
  return {{"copy_accuracy", copy_accuracy},   {"copy_loss", copy_loss},           {"bigram_loss", bigram_loss},
          {"bigram_optimum", bigram_optimum}, {"copy_positions", copy_positions}, {"bigram_positions", bigram_positions}};
}

BackcopyScores score_backcopy(LanguageModel& model, const Batch& windows, const BackcopyTask& task,
                              const Tokenizer& tokenizer, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.parameters().front().device();
  const int64_t V = tokenizer.vocab_size(), eot = tokenizer.end_of_text();
  // Token-space tables: which ids are triggers, and log P(to | from) of the source chain.
  auto is_trigger = torch::zeros({V}, torch::kBool);
  for (char c : task.triggers) is_trigger[tokenizer.encode(std::string(1, c))[0]].fill_(true);
  auto log_chain = torch::full({V, V}, -INFINITY, torch::kDouble);
  for (char from : task.alphabet)
    for (char to : task.alphabet) {
      const double p = task.transition[static_cast<unsigned char>(from)][static_cast<unsigned char>(to)];
      if (p > 0)
        log_chain[tokenizer.encode(std::string(1, from))[0]][tokenizer.encode(std::string(1, to))[0]].fill_(std::log(p));
    }
  double copy_hits = 0, copy_nll = 0, bigram_nll = 0, chain_nll = 0;
  BackcopyScores s;
  const int64_t N = windows.inputs.size(0);
  for (int64_t first = 0; first < N; first += batch_size) {
    const int64_t B = std::min(batch_size, N - first);
    auto x = windows.inputs.narrow(0, first, B), y = windows.targets.narrow(0, first, B);
    auto logits = model.forward(x.to(device)).to(torch::kCPU, torch::kFloat);
    auto nll = torch::nn::functional::cross_entropy(
                   logits.reshape({-1, V}), y.reshape(-1),
                   torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                   .view_as(y)
                   .to(torch::kDouble);
    auto scored = y.ne(eot);
    scored.select(1, 0).fill_(false);
    auto copy = scored & is_trigger.index({x});
    auto bigram = scored & copy.logical_not();
    auto hits = logits.argmax(-1).eq(y);
    copy_hits += hits.masked_select(copy).sum().item<double>();
    copy_nll += nll.masked_select(copy).sum().item<double>();
    bigram_nll += nll.masked_select(bigram).sum().item<double>();
    chain_nll -= log_chain.index({x.masked_select(bigram), y.masked_select(bigram)}).sum().item<double>();
    s.copy_positions += copy.sum().item<int64_t>();
    s.bigram_positions += bigram.sum().item<int64_t>();
  }
  if (was_training) model.train();
  const double copies = double(std::max<int64_t>(1, s.copy_positions)), bigrams = double(std::max<int64_t>(1, s.bigram_positions));
  s.copy_accuracy = copy_hits / copies;
  s.copy_loss = copy_nll / copies;
  s.bigram_loss = bigram_nll / bigrams;
  s.bigram_optimum = chain_nll / bigrams;
  return s;
}

}  // namespace oasis
