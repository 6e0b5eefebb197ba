// The tokenizer interface and its registry (`data.tokenizer`), each entry registered beside its class:
// `gpt2` (byte-level BPE, exactly GPT-2's; gpt2_bpe.cpp), `word` (the whitespace-word vocabulary of
// WikiText-2/PTB, built from the train split; word_vocab.cpp), `sentencepiece` (BPE trained on the train
// split with data.sentencepiece.vocab_size pieces; sentencepiece_bpe.cpp) and `char` (one token per byte; char_vocab.cpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "framework/core/registry.h"

namespace oasis {

struct Corpus;
struct DataConfig;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The end-of-text token: separates documents and, with data.bos, starts every window.
  virtual int32_t end_of_text() const = 0;
  // Bytes of source text this token stands for (0 for control tokens); bits per byte divides by their sum.
  virtual int64_t token_bytes(int32_t id) const = 0;
  // Identifies the tokenizer and every setting that changes its ids (the token cache is keyed by it).
  virtual std::string cache_key() const = 0;
};

struct TokenizerEntry {
  std::string description;
  // Builds (or loads from the cache) the tokenizer for `corpus`; learned ones learn from its train split.
  std::function<std::unique_ptr<Tokenizer>(const DataConfig& data, const Corpus& corpus)> make;
};

Registry<TokenizerEntry>& tokenizer_registry();

// The configured tokenizer (data.tokenizer).
std::unique_ptr<Tokenizer> make_tokenizer(const DataConfig& data, const Corpus& corpus);

// Where learned tokenizers are cached (<data.cache_dir>/tokenizers, created), and the hash of the train split
// their file names carry, so a changed train split gets a new one.
std::filesystem::path tokenizer_cache(const DataConfig& data);
std::string train_split_hash(const Corpus& corpus);

}  // namespace oasis
