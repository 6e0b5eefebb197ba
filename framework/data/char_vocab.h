// Character-level tokenizer: one token per byte of a fixed alphabet, plus the end-of-text token after it,
// as in nanoGPT's Shakespeare and in Bigram-Backcopy (where the alphabet is the source corpus's, so ids
// do not depend on which characters a generated split happens to contain). Elsewhere the alphabet is the
// train split's bytes; a byte outside it is an error naming the byte, never a silent <unk>.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "framework/data/tokenizer.h"

namespace oasis {

class CharVocab : public Tokenizer {
 public:
  explicit CharVocab(std::string alphabet);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(alphabet_.size()) + 1; }
  int32_t end_of_text() const override { return int32_t(alphabet_.size()); }
  int64_t token_bytes(int32_t id) const override { return id == end_of_text() ? 0 : 1; }
  std::string cache_key() const override;
  int32_t id_of(char c) const;  // -1 when c is not in the alphabet

 private:
  std::string alphabet_;
  std::array<int32_t, 256> ids_;
};

}  // namespace oasis
