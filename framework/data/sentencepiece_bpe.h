// A sentencepiece BPE tokenizer trained on the train split (Debian's libsentencepiece, reached through
// liboasis_spm.so; see sentencepiece_shim.cpp for why). Settings keep text byte-exact: identity
// normalization, no dummy prefix, whitespace kept, byte fallback for unseen characters; newlines are
// the piece `<nl>`; `</s>` is the end-of-text token.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "framework/core/config_fields.h"
#include "framework/data/tokenizer.h"

namespace oasis {

// The config section data.sentencepiece.*.
struct SentencePieceOptions {
  int64_t vocab_size = 4096;
  template <class V>
  void visit(V& v) {
    v.field("vocab_size", vocab_size, "pieces of the trained vocabulary", between<int64_t>(300, 1 << 20));
  }
};

class SentencePieceBpe : public Tokenizer {
 public:
  // Trains a model with `vocab_size` pieces on `train_documents` and writes it to `model_path`.
  static void train(const std::vector<std::string>& train_documents, int64_t vocab_size,
                    const std::filesystem::path& model_path);
  explicit SentencePieceBpe(const std::filesystem::path& model_path);
  ~SentencePieceBpe() override;
  SentencePieceBpe(const SentencePieceBpe&) = delete;
  SentencePieceBpe& operator=(const SentencePieceBpe&) = delete;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(bytes_.size()); }
  int32_t end_of_text() const override { return eos_; }
  int64_t token_bytes(int32_t id) const override { return bytes_.at(size_t(id)); }
  std::string cache_key() const override { return "sentencepiece-" + model_hash_; }

 private:
  void* handle_ = nullptr;
  std::vector<int64_t> bytes_;
  int32_t eos_ = -1, newline_ = -1;
  std::string model_hash_;
};

}  // namespace oasis
