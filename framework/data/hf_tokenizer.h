// `data.tokenizer: hf`: a Hugging Face tokenizer.json of the byte-level BPE kind (GPT-2, SmolLM2, Llama 3,
// Qwen2, Mistral's newer ones): its added tokens matched in the text first (longest first), its pre-tokenizer
// (ByteLevel, Digits, Split by regex, or a Sequence of them), then BPE with its merges. Anything else in the
// file (a normalizer, another model type, options we do not implement) is an error naming the key. The begin
// token (data.bos, document separator) is the checkpoint's bos_token_id from config.json beside the file,
// else its eos_token_id, else tokenizer_config.json's bos_token.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "framework/core/regex.h"
#include "framework/data/byte_level_bpe.h"
#include "framework/data/tokenizer.h"

namespace oasis {

// The config section data.hf.*.
struct HfTokenizerOptions {
  std::string path;
  template <class V>
  void visit(V& v) {
    v.field("path", path, "for data.tokenizer=hf: the directory holding tokenizer.json (and the checkpoint's "
            "config.json for BOS/EOS), e.g. an import-hf run's tokenizer/; relative: from the working directory, else "
            "the repository root");
  }
};

class HfTokenizer : public Tokenizer {
 public:
  explicit HfTokenizer(const std::filesystem::path& dir);
  ~HfTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  int32_t end_of_text() const override { return begin_; }
  int64_t token_bytes(int32_t id) const override;
  std::string cache_key() const override { return cache_key_; }

  struct PreTokenizer;  // one step of the pre-tokenizer

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;

  std::unique_ptr<ByteLevelBpe> bpe_;
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
  std::vector<std::pair<std::string, int32_t>> added_;  // content -> id, longest first
  std::unordered_map<int32_t, std::string> id_to_bytes_;
  std::unordered_map<int32_t, bool> special_;
  int64_t vocab_size_ = 0;
  int32_t begin_ = -1;
  std::string cache_key_;
};

}  // namespace oasis
