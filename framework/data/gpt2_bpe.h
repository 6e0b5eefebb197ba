// GPT-2's byte-level BPE, reproduced exactly: the same pre-tokenization regex (PCRE2 with Unicode
// properties), the same byte-to-unicode table and merge ranks from encoder.json / vocab.bpe.
// `<|endoftext|>` inside text is ordinary text; its id (50256) is only produced by callers.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/regex.h"
#include "framework/data/byte_level_bpe.h"
#include "framework/data/tokenizer.h"

namespace oasis {

// GPT-2's pre-tokenizer (openai/gpt-2 encoder.py), also the one tokenizers' ByteLevel pre-tokenizer applies.
extern const char* const kGpt2Pattern;

class Gpt2Bpe : public Tokenizer {
 public:
  // `dir` holds encoder.json and vocab.bpe.
  explicit Gpt2Bpe(const std::filesystem::path& dir);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(id_to_bytes_.size()); }
  int32_t end_of_text() const override { return end_of_text_; }
  int64_t token_bytes(int32_t id) const override;
  std::string cache_key() const override { return "gpt2"; }

 private:
  Regex regex_;
  std::unique_ptr<ByteLevelBpe> bpe_;
  std::vector<std::string> id_to_bytes_;  // raw bytes of each token
  int32_t end_of_text_ = -1;
};

}  // namespace oasis
