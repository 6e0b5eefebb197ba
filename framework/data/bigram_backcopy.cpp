#include "framework/data/bigram_backcopy.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"
#include "framework/data/datasets.h"

namespace oasis {

BigramChain::BigramChain(const std::string& text) : bigram_(256) {
  for (auto& row : bigram_) row.fill(0);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    ++unigram_[c];
    if (i + 1 < text.size()) {
      ++bigram_[c][static_cast<unsigned char>(text[i + 1])];
      ++row_total_[c];
    }
  }
  for (int c = 0; c < 256; ++c)
    if (unigram_[c] > 0) alphabet_.push_back(char(c));
}

double BigramChain::probability(unsigned char from, unsigned char to) const {
  return row_total_[from] ? double(bigram_[from][to]) / double(row_total_[from]) : 0.0;
}

std::string BigramChain::choose_triggers(int64_t k) const {
  if (k < 1 || k + 2 > int64_t(alphabet_.size()))
    throw std::invalid_argument("expected at least 1 trigger and 2 characters left over, got " + std::to_string(k) +
                                " triggers for " + std::to_string(alphabet_.size()) + " characters");
  std::string by_count = alphabet_;
  std::stable_sort(by_count.begin(), by_count.end(), [&](char a, char b) {
    return unigram_[static_cast<unsigned char>(a)] > unigram_[static_cast<unsigned char>(b)];
  });
  std::string triggers;
  for (size_t rank = by_count.size() / 2; rank < by_count.size() && int64_t(triggers.size()) < k; ++rank)
    if (!std::isspace(static_cast<unsigned char>(by_count[rank]))) triggers.push_back(by_count[rank]);
  for (size_t rank = by_count.size() / 2; rank-- > 0 && int64_t(triggers.size()) < k;)  // a tiny alphabet
    if (!std::isspace(static_cast<unsigned char>(by_count[rank]))) triggers.push_back(by_count[rank]);
  if (int64_t(triggers.size()) < k) throw std::invalid_argument("too few non-space characters for the triggers");
  std::sort(triggers.begin(), triggers.end());
  return triggers;
}

namespace {

// Draws from weights[] (not all zero) with u uniform in [0, 1).
unsigned char draw(const std::array<double, 256>& cumulative, double u) {
  const double target = u * cumulative[255];
  return static_cast<unsigned char>(std::upper_bound(cumulative.begin(), cumulative.end(), target) - cumulative.begin());
}

}  // namespace

std::vector<std::string> generate_bigram_backcopy(const BigramChain& chain, const std::string& triggers,
                                                  int64_t count, int64_t length, uint64_t seed) {
  std::array<bool, 256> is_trigger{};
  for (char t : triggers) is_trigger[static_cast<unsigned char>(t)] = true;
  // Cumulative tables: the first character (non-triggers by frequency) and each bigram row.
  std::array<double, 256> first{};
  std::vector<std::array<double, 256>> next(256);
  double acc = 0;
  for (int c = 0; c < 256; ++c) first[c] = acc += is_trigger[c] ? 0.0 : double(chain.count(static_cast<unsigned char>(c)));
  for (int from = 0; from < 256; ++from) {
    double row = 0;
    for (int to = 0; to < 256; ++to) next[from][to] = row += chain.probability(from, to);
    if (row == 0) next[from] = first;  // a character seen only last in the corpus: restart from the unigram
  }
  uint64_t counter = splitmix64(seed ^ 0x6267626b6370ULL);
  auto uniform = [&] { return double(splitmix64(counter++) >> 11) * 0x1.0p-53; };
  std::vector<std::string> out;
  out.reserve(size_t(count));
  for (int64_t s = 0; s < count; ++s) {
    std::string x(size_t(length), '\0');
    x[0] = char(draw(first, uniform()));
    for (int64_t t = 1; t < length; ++t) {
      const auto prev = static_cast<unsigned char>(x[t - 1]);
      x[t] = is_trigger[prev] ? x[t - 2] : char(draw(next[prev], uniform()));
    }
    out.push_back(std::move(x));
  }
  return out;
}

const BigramBackcopyOptions& bigram_backcopy_options(const DataConfig& data) {
  return data.components.get<BigramBackcopyOptions>("bigram_backcopy");
}

namespace {

// The dataset entry: documents of seq_len - 1 characters; with the end-of-text token after each and data.bos,
// window k of a split is [BOS, document k] at token k * seq_len, which the window period keeps.
Corpus bigram_backcopy_corpus(const DataConfig& data) {
  const BigramBackcopyOptions& g = bigram_backcopy_options(data);
  DataConfig source = data;
  source.dataset = g.source;
  const Corpus base = load_corpus(source);
  std::string text;
  for (const auto& doc : base.split("train")) text += doc;
  const BigramChain chain(text);
  std::string triggers;
  try {
    triggers = chain.choose_triggers(g.triggers);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("data.bigram_backcopy.triggers: {} ({} has {} characters)", e.what(), g.source,
                                  chain.alphabet().size()));
  }
  auto task = std::make_shared<BackcopyTask>();
  task->triggers = triggers;
  task->alphabet = chain.alphabet();
  task->transition.assign(256, std::vector<double>(256, 0.0));
  for (int from = 0; from < 256; ++from)
    for (int to = 0; to < 256; ++to) task->transition[from][to] = chain.probability(from, to);
  Corpus c;
  c.source = base.source;
  c.multi_document = true;
  c.alphabet = chain.alphabet();
  c.window_period = data.seq_len;
  c.backcopy = task;
  c.split_rule = fmt::format("generated from {} train bigrams, triggers '{}', seed {}: {} / {} / {} sequences of {} "
                             "characters after BOS",
                             g.source, triggers, g.seed, g.train_sequences, g.eval_sequences, g.eval_sequences,
                             data.seq_len - 1);
  const std::pair<const char*, int64_t> splits[] = {
      {"train", g.train_sequences}, {"valid", g.eval_sequences}, {"test", g.eval_sequences}};
  for (const auto& [split, count] : splits)
    c.splits[split] = generate_bigram_backcopy(chain, triggers, count, data.seq_len - 1,
                                               fnv1a64(split, splitmix64(uint64_t(g.seed))));
  return c;
}

const bool bigram_backcopy_options_registered =
    register_options<BigramBackcopyOptions>("bigram_backcopy", OptionsScope::data);
const bool bigram_backcopy_registered = dataset_registry().add(
    "bigram_backcopy", {"Bigram-Backcopy (generated from data.bigram_backcopy.source): a sink forms fast", "",
                        [](const DataConfig& data, const std::filesystem::path&) { return bigram_backcopy_corpus(data); }});

}  // namespace

}  // namespace oasis
