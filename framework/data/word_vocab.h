// Word-level tokenizer of the WikiText-2 / PTB language-modelling tradition (pytorch/examples): each
// line becomes its whitespace-separated words plus `<eos>`; ids follow first appearance in the train
// split, so WikiText-2's vocabulary is its 33,278 types. Words unseen in training map to `<unk>`.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "framework/data/tokenizer.h"

namespace oasis {

class WordVocab : public Tokenizer {
 public:
  // Builds the vocabulary from training documents.
  static WordVocab build(const std::vector<std::string>& train_documents);
  // One word per line, id = line index (the cache format).
  static WordVocab from_lines(const std::string& text);
  std::string to_lines() const;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(words_.size()); }
  int32_t end_of_text() const override { return eos_; }
  // A word stands for its bytes plus the space before it; `<eos>` for the " \n" that ends a line: the
  // byte layout of the WikiText/PTB files, so the sum over a split equals its file size.
  int64_t token_bytes(int32_t id) const override;
  std::string cache_key() const override { return "word"; }

 private:
  int32_t add(const std::string& word);
  std::vector<std::string> words_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t eos_ = -1, unk_ = -1;
};

}  // namespace oasis
