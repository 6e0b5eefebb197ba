// The tokenizer interface and its registry: `gpt2` (byte-level BPE, exactly GPT-2's), `word` (the
// whitespace-word vocabulary of WikiText-2/PTB, built from the train split), `sentencepiece` (BPE
// trained on the train split with data.vocab_size pieces) and `char` (one token per byte).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// Builds (or loads from the cache) the configured tokenizer; `word` and `sentencepiece` learn from the
// corpus's train split.
std::unique_ptr<Tokenizer> make_tokenizer(const DataConfig& data, const Corpus& corpus);

}  // namespace oasis
