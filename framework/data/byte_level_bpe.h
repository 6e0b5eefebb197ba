// The byte-level BPE that GPT-2 introduced and Hugging Face's tokenizers generalised: every byte of a
// pre-tokenized piece is first mapped to a printable character (bytes_to_unicode), then the piece's characters
// are merged pair by pair, lowest merge rank first, every occurrence of the best pair left to right. Shared by
// the gpt2 tokenizer (encoder.json + vocab.bpe) and the hf tokenizer (tokenizer.json); pre-tokenization is
// theirs.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace oasis {

// GPT-2's bytes_to_unicode(): printable bytes stand for themselves, the others for code points 256 + n.
const std::string& byte_as_unicode(unsigned char byte);
// The inverse; false when `text` is not made of byte characters.
bool unicode_to_bytes(const std::string& text, std::string& bytes);

class ByteLevelBpe {
 public:
  // `vocab`: token (in its byte-character form) -> id; `merges`: "left right" pairs, in rank order.
  // `ignore_merges`: a piece that is itself a token is emitted whole (Llama 3's tokenizer.json sets this).
  ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab, const std::vector<std::string>& merges, bool ignore_merges);

  // Appends the ids of one pre-tokenized piece of raw bytes.
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "left right" -> rank
  bool ignore_merges_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
  mutable std::mutex cache_mutex_;
};

}  // namespace oasis
