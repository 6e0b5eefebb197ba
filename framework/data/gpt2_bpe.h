// GPT-2's byte-level BPE, reproduced exactly: the same pre-tokenization regex (PCRE2 with Unicode
// properties), the same byte-to-unicode table and merge ranks from encoder.json / vocab.bpe.
// `<|endoftext|>` inside text is ordinary text; its id (50256) is only produced by callers.
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "framework/data/tokenizer.h"

namespace oasis {

class Gpt2Bpe : public Tokenizer {
 public:
  // `dir` holds encoder.json and vocab.bpe.
  explicit Gpt2Bpe(const std::filesystem::path& dir);
  ~Gpt2Bpe() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(id_to_bytes_.size()); }
  int32_t end_of_text() const override { return end_of_text_; }
  int64_t token_bytes(int32_t id) const override;
  std::string cache_key() const override { return "gpt2"; }

 private:
  void bpe(const std::string& piece, std::vector<int32_t>& out) const;

  struct Regex;
  std::unique_ptr<Regex> regex_;
  std::unordered_map<std::string, int32_t> token_to_id_;  // token in GPT-2's unicode-mapped form
  std::vector<std::string> id_to_bytes_;                  // raw bytes of each token
  std::unordered_map<std::string, int32_t> merge_rank_;   // "left right" -> rank
  std::string byte_to_unicode_[256];
  int32_t end_of_text_ = -1;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
  mutable std::mutex cache_mutex_;
};

}  // namespace oasis
