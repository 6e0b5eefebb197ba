// Bigram-Backcopy (Guo et al. 2024, "Active-Dormant Attention Heads"): a synthetic character-level task on
// which an attention sink forms within a few hundred optimizer steps, so the sink regime can be studied on
// a CPU. Every sequence starts with BOS; its characters follow a bigram chain estimated from a real corpus
// (Tiny Shakespeare by default), except after one of k trigger characters, where the next character copies
// the one before the trigger. Guo et al. saw the first layer's attention to BOS switch on together with
// the copy skill.
//
// Generation of one sequence x_1..x_L (the text after BOS):
//   x_1 ~ the corpus's character frequencies restricted to non-triggers;
//   x_t = x_{t-2} when x_{t-1} is a trigger (a copy), else x_t ~ P(. | x_{t-1}) of the corpus's bigrams.
// A trigger is never copied (the character two back of a trigger is never one), so the rule always has a
// source. The triggers are the k most frequent characters of rank >= half the alphabet, skipping
// whitespace: mid-frequency characters, as in Guo et al., fixed by the corpus alone.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/config_fields.h"

namespace oasis {

struct DataConfig;

// The task's settings, the config section data.bigram_backcopy.*.
struct BigramBackcopyOptions {
  std::string source = "shakespeare";  // the corpus whose character bigrams the chain follows
  int64_t triggers = 3;
  int64_t train_sequences = 32768;
  int64_t eval_sequences = 512;  // each of valid and test
  int64_t seed = 0;              // the data's own seed: sweeping `seed` changes the model, not the task

  template <class V>
  void visit(V& v) {
    v.field("source", source, "corpus whose character bigram statistics the sequences follow",
            one_of({"shakespeare", "tinystories", "wikitext2", "ptb"}));
    v.field("triggers", triggers, "number k of trigger characters (the next character copies the one before)",
            between<int64_t>(1, 254));
    v.field("train_sequences", train_sequences, "generated training sequences of data.seq_len tokens",
            between<int64_t>(1, int64_t(1) << 24));
    v.field("eval_sequences", eval_sequences, "generated sequences in each of valid and test",
            between<int64_t>(1, int64_t(1) << 24));
    v.field("seed", seed, "seed of the generated data (train, valid and test draw from disjoint streams)",
            between<int64_t>(0, int64_t(1) << 62));
  }
};

// The options of `data` (its data.bigram_backcopy section).
const BigramBackcopyOptions& bigram_backcopy_options(const DataConfig& data);

// A corpus's character statistics: which bytes occur, how often, and how often each follows each.
class BigramChain {
 public:
  explicit BigramChain(const std::string& text);

  const std::string& alphabet() const { return alphabet_; }  // the distinct bytes, ascending
  double probability(unsigned char from, unsigned char to) const;  // P(to | from), 0 for unseen `from`
  int64_t count(unsigned char c) const { return unigram_[c]; }
  // `k` trigger characters chosen by the rule above; k must leave at least two non-triggers.
  std::string choose_triggers(int64_t k) const;

 private:
  std::string alphabet_;
  std::array<int64_t, 256> unigram_{};
  std::vector<std::array<int64_t, 256>> bigram_;  // [from][to]
  std::array<int64_t, 256> row_total_{};
};

struct BackcopyTask {
  std::string triggers;            // the trigger characters
  std::string alphabet;            // the source corpus's characters (the char tokenizer's vocabulary)
  std::vector<std::vector<double>> transition;  // [from byte][to byte], P(to | from) of the source
};

// `count` sequences of `length` characters each (BOS not included), reproducible from `seed`.
std::vector<std::string> generate_bigram_backcopy(const BigramChain& chain, const std::string& triggers,
                                                  int64_t count, int64_t length, uint64_t seed);

}  // namespace oasis
