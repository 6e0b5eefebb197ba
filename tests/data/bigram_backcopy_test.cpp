// Bigram-Backcopy: the generator's rule and statistics, its seeds, the window alignment that makes each
// training window one whole sequence, the task's scores against an oracle, and its config errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/data/batches.h"
#include "framework/data/bigram_backcopy.h"
#include "framework/data/datasets.h"
#include "framework/data/token_data.h"
#include "framework/eval/backcopy_scores.h"
#include "framework/stats/activation_stats.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

DataConfig backcopy_data(int64_t sequences, int64_t seq_len = 64) {
  DataConfig d;
  d.dataset = "bigram_backcopy";
  d.tokenizer = "char";
  d.bos = true;
  d.seq_len = seq_len;
  d.cache_dir = test::shared_cache_dir();
  d.components.get<BigramBackcopyOptions>("bigram_backcopy").train_sequences = sequences;
  d.components.get<BigramBackcopyOptions>("bigram_backcopy").eval_sequences = 64;
  return d;
}

std::string source_text() {
  DataConfig d;
  d.dataset = "shakespeare";
  const Corpus corpus = load_corpus(d);
  std::string text;
  for (const auto& doc : corpus.split("train")) text += doc;
  return text;
}

TEST(BigramBackcopy, EveryTriggerIsFollowedByTheTokenBeforeIt) {
  const Corpus c = load_corpus(backcopy_data(300));
  ASSERT_TRUE(c.backcopy);
  const std::string& triggers = c.backcopy->triggers;
  ASSERT_EQ(triggers.size(), 3u);
  int64_t copies = 0;
  for (const char* split : {"train", "valid", "test"})
    for (const std::string& s : c.split(split)) {
      ASSERT_EQ(s.size(), 63u);
      EXPECT_EQ(triggers.find(s[0]), std::string::npos) << "a sequence must not open with a trigger";
      for (size_t t = 2; t < s.size(); ++t)
        if (triggers.find(s[t - 1]) != std::string::npos) {
          ASSERT_EQ(s[t], s[t - 2]) << split << " position " << t;
          ++copies;
        }
    }
  EXPECT_GT(copies, 300) << "triggers this rare would teach no copying";
}

TEST(BigramBackcopy, NonCopyTransitionsFollowTheSourceBigrams) {
  const std::string text = source_text();
  const BigramChain chain(text);
  const Corpus c = load_corpus(backcopy_data(4000, 256));
  const std::string& triggers = c.backcopy->triggers;
  std::map<char, std::map<char, double>> counts;
  std::map<char, double> totals;
  for (const std::string& s : c.split("train"))
    for (size_t t = 1; t < s.size(); ++t)
      if (triggers.find(s[t - 1]) == std::string::npos) counts[s[t - 1]][s[t]] += 1, totals[s[t - 1]] += 1;
  // The ten most frequent source characters: their generated rows are within sampling noise of the source's.
  std::string by_count = chain.alphabet();
  std::sort(by_count.begin(), by_count.end(), [&](char a, char b) { return chain.count(a) > chain.count(b); });
  for (char from : by_count.substr(0, 10)) {
    ASSERT_GT(totals[from], 5000) << int(from);
    double total_variation = 0;
    for (char to : chain.alphabet())
      total_variation += std::abs(counts[from][to] / totals[from] - chain.probability(from, to)) / 2;
    EXPECT_LT(total_variation, 0.03) << "row '" << from << "'";
  }
  // And the triggers are mid-frequency characters, not whitespace.
  for (char t : triggers) EXPECT_FALSE(std::isspace(static_cast<unsigned char>(t)));
}

TEST(BigramBackcopy, SameSeedSameDataAndSplitsFromDisjointStreams) {
  DataConfig d = backcopy_data(64);  // as many as valid and test hold
  const Corpus a = load_corpus(d), b = load_corpus(d);
  EXPECT_EQ(a.split("train"), b.split("train"));
  EXPECT_EQ(a.split("test"), b.split("test"));
  EXPECT_NE(a.split("valid"), a.split("test"));
  EXPECT_NE(a.split("train"), a.split("valid"));
  d.components.get<BigramBackcopyOptions>("bigram_backcopy").seed = 1;
  EXPECT_NE(load_corpus(d).split("train"), a.split("train"));
}

TEST(BigramBackcopy, TrainingWindowsAreWholeSequencesStartingWithBos) {
  const DataConfig d = backcopy_data(40);
  const TokenizedData data = prepare_data(d);
  const int32_t eot = data.tokenizer->end_of_text();
  EXPECT_EQ(data.tokenizer->vocab_size(), int64_t(data.corpus.alphabet.size()) + 1);
  const WindowSampler windows(data.split("train"), d.seq_len, true, eot, 3, data.corpus.window_period);
  const Batch b = windows.batch(0, 64);
  const auto& docs = data.corpus.split("train");
  for (int64_t i = 0; i < 64; ++i) {
    const int64_t start = windows.start_of(i);
    ASSERT_EQ(start % d.seq_len, 0);
    EXPECT_EQ(b.inputs[i][0].item<int64_t>(), eot);
    EXPECT_EQ(b.targets[i][d.seq_len - 1].item<int64_t>(), eot);
    std::vector<int32_t> ids;
    for (int64_t t = 1; t < d.seq_len; ++t) ids.push_back(int32_t(b.inputs[i][t].item<int64_t>()));
    EXPECT_EQ(data.tokenizer->decode(ids), docs[size_t(start / d.seq_len)]);
  }
}

// Logits of a fixed rule: the source chain's log-probabilities, or a certain copy after a trigger.
class RuleModel : public LanguageModel {
 public:
  RuleModel(const BackcopyTask& task, const Tokenizer& tok, bool oracle) : oracle_(oracle) {
    register_parameter("unused", torch::zeros({1}));
    V_ = tok.vocab_size();
    log_chain_ = torch::full({V_, V_}, -1e9, torch::kFloat);
    trigger_ = torch::zeros({V_}, torch::kBool);
    for (char c : task.triggers) trigger_[tok.encode(std::string(1, c))[0]].fill_(true);
    for (char from : task.alphabet)
      for (char to : task.alphabet) {
        const double p = task.transition[static_cast<unsigned char>(from)][static_cast<unsigned char>(to)];
        if (p > 0) log_chain_[tok.encode(std::string(1, from))[0]][tok.encode(std::string(1, to))[0]].fill_(std::log(p));
      }
  }
  at::Tensor forward(const at::Tensor& tokens) override {
    if (!oracle_) return torch::zeros({tokens.size(0), tokens.size(1), V_});
    auto logits = log_chain_.index({tokens}).clone();
    auto previous = torch::roll(tokens, 1, 1);
    auto copy = torch::one_hot(previous, V_).to(torch::kFloat) * 1e4 - 1e4;
    return torch::where(trigger_.index({tokens}).unsqueeze(-1), copy, logits);
  }
  at::Tensor decode(const at::Tensor&, const at::Tensor&, KVCache&) override { return {}; }
  int64_t vocab_size() const override { return V_; }
  int64_t max_seq_len() const override { return 1 << 20; }
  void configure(const ComputeSettings&) override {}

 private:
  bool oracle_;
  int64_t V_;
  at::Tensor log_chain_, trigger_;
};

TEST(BigramBackcopy, ScoresOfTheTrueRuleAndOfAUniformModel) {
  const DataConfig d = backcopy_data(40);
  const TokenizedData data = prepare_data(d);
  const WindowSampler windows(data.split("test"), d.seq_len, true, data.tokenizer->end_of_text(), 0,
                              data.corpus.window_period);
  const Batch all = windows.evenly_spaced(64);
  RuleModel oracle(*data.corpus.backcopy, *data.tokenizer, true), uniform(*data.corpus.backcopy, *data.tokenizer, false);
  const BackcopyScores best = score_backcopy(oracle, all, *data.corpus.backcopy, *data.tokenizer, 16);
  EXPECT_GT(best.copy_positions, 20);
  EXPECT_EQ(best.bigram_positions + best.copy_positions, 64 * (d.seq_len - 2));  // BOS and EOT targets not scored
  EXPECT_DOUBLE_EQ(best.copy_accuracy, 1.0);
  EXPECT_LT(best.copy_loss, 1e-6);
  EXPECT_NEAR(best.bigram_loss, best.bigram_optimum, 1e-5);
  EXPECT_GT(best.bigram_optimum, 1.0);  // Shakespeare's characters are not that predictable
  const BackcopyScores flat = score_backcopy(uniform, all, *data.corpus.backcopy, *data.tokenizer, 16);
  EXPECT_NEAR(flat.bigram_loss, std::log(double(data.tokenizer->vocab_size())), 1e-5);
  EXPECT_NEAR(flat.copy_loss, std::log(double(data.tokenizer->vocab_size())), 1e-5);
  EXPECT_DOUBLE_EQ(flat.bigram_optimum, best.bigram_optimum);
}

std::string config_error(const std::vector<std::string>& overrides) {
  const auto dir = test::scratch_dir();
  const auto file = test::write_text(dir / "bb.yaml",
                                     "data:\n  dataset: bigram_backcopy\n  tokenizer: char\n  bos: true\n  seq_len: 64\n"
                                     "model:\n  max_seq_len: 64\n");
  try {
    const Config c = load_config(file, overrides);
    load_corpus(c.data);  // an impossible trigger count shows here, with the source's alphabet
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(BigramBackcopy, ImpossibleSettingsAreConfigErrorsNamingTheKey) {
  EXPECT_NE(config_error({"data.bigram_backcopy.triggers=64"}).find("data.bigram_backcopy.triggers"), std::string::npos);
  EXPECT_NE(config_error({"data.seq_len=3"}).find("data.seq_len"), std::string::npos);
  EXPECT_NE(config_error({"data.tokenizer=gpt2"}).find("data.tokenizer"), std::string::npos);
  EXPECT_NE(config_error({"data.bos=false"}).find("data.bos"), std::string::npos);
  EXPECT_NE(config_error({"data.bigram_backcopy.source=c4"}).find("data.bigram_backcopy.source"), std::string::npos);
  EXPECT_EQ(config_error({"data.bigram_backcopy.train_sequences=8"}), "(no ConfigError)");
}

TEST(Statistics, UniformFirstTokenAttentionIsTheHarmonicNumberOverT) {
  EXPECT_NEAR(uniform_first_token_attention(64), 0.0741, 1e-4);   // Gu et al.'s T = 64
  EXPECT_NEAR(uniform_first_token_attention(256), 0.0239, 1e-4);
  EXPECT_DOUBLE_EQ(uniform_first_token_attention(1), 1.0);
  // Uniform causal attention probabilities give exactly 1x uniform.
  const int64_t T = 10;
  auto probs = torch::tril(torch::ones({T, T}, torch::kDouble)) / torch::arange(1, T + 1, torch::kDouble).unsqueeze(1);
  AttentionStats a;
  a.add_probs(probs.expand({2, 3, T, T}), 0);
  SchemeStats s;
  s.attention["0"] = a;
  EXPECT_NEAR(s.summary().first_token_vs_uniform, 1.0, 1e-12);
  const auto ratios = s.first_token_vs_uniform_per_head();
  ASSERT_EQ(ratios.at("0").size(), 3u);
  for (double r : ratios.at("0")) EXPECT_NEAR(r, 1.0, 1e-12);
}

}  // namespace
}  // namespace oasis
