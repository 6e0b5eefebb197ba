#include "framework/data/word_vocab.h"

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/data/datasets.h"

namespace oasis {

namespace {
// Calls f(word) for each whitespace-separated word of each line and f("<eos>") at each line end.
template <class F>
void for_each_word(std::string_view text, F&& f) {
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    size_t i = line_start;
    while (i < line_end) {
      while (i < line_end && std::isspace((unsigned char)text[i])) ++i;
      size_t j = i;
      while (j < line_end && !std::isspace((unsigned char)text[j])) ++j;
      if (j > i) f(text.substr(i, j - i));
      i = j;
    }
    f(std::string_view("<eos>"));
    line_start = line_end + 1;
  }
}
}  // namespace

int32_t WordVocab::add(const std::string& word) {
  auto [it, inserted] = ids_.emplace(word, int32_t(words_.size()));
  if (inserted) words_.push_back(word);
  return it->second;
}

WordVocab WordVocab::build(const std::vector<std::string>& train_documents) {
  WordVocab v;
  for (const auto& doc : train_documents) for_each_word(doc, [&](std::string_view w) { v.add(std::string(w)); });
  v.eos_ = v.add("<eos>");
  v.unk_ = v.add("<unk>");
  return v;
}

WordVocab WordVocab::from_lines(const std::string& text) {
  WordVocab v;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    v.add(text.substr(start, end - start));
    start = end + 1;
  }
  if (!v.ids_.count("<eos>") || !v.ids_.count("<unk>")) throw RuntimeError("word vocabulary cache lacks <eos>/<unk>");
  v.eos_ = v.ids_.at("<eos>");
  v.unk_ = v.ids_.at("<unk>");
  return v;
}

std::string WordVocab::to_lines() const {
  std::string out;
  for (const auto& w : words_) out += w + "\n";
  return out;
}

std::vector<int32_t> WordVocab::encode(std::string_view text) const {
  std::vector<int32_t> out;
  for_each_word(text, [&](std::string_view w) {
    auto it = ids_.find(std::string(w));
    out.push_back(it == ids_.end() ? unk_ : it->second);
  });
  return out;
}

std::string WordVocab::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += id == eos_ ? " \n" : " " + words_.at(size_t(id));
  return out;
}

int64_t WordVocab::token_bytes(int32_t id) const {
  return id == eos_ ? 2 : int64_t(words_.at(size_t(id)).size()) + 1;
}

namespace {
const bool word_registered = tokenizer_registry().add(
    "word", {"the whitespace words of the train split (WikiText-2 / PTB style), cached per train split",
             [](const DataConfig& data, const Corpus& corpus) -> std::unique_ptr<Tokenizer> {
               const auto file =
                   tokenizer_cache(data) / fmt::format("word-{}-{}.txt", corpus.dataset, train_split_hash(corpus));
               if (std::filesystem::exists(file)) return std::make_unique<WordVocab>(WordVocab::from_lines(read_file(file)));
               auto vocab = std::make_unique<WordVocab>(WordVocab::build(corpus.split("train")));
               write_file_atomic(file, vocab->to_lines());
               return vocab;
             }});
}  // namespace

}  // namespace oasis
