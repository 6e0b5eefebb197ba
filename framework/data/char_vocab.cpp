#include "framework/data/char_vocab.h"

#include <algorithm>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/data/datasets.h"

namespace oasis {

CharVocab::CharVocab(std::string alphabet) : alphabet_(std::move(alphabet)) {
  std::sort(alphabet_.begin(), alphabet_.end());
  alphabet_.erase(std::unique(alphabet_.begin(), alphabet_.end()), alphabet_.end());
  ids_.fill(-1);
  for (size_t i = 0; i < alphabet_.size(); ++i) ids_[static_cast<unsigned char>(alphabet_[i])] = int32_t(i);
}

int32_t CharVocab::id_of(char c) const { return ids_[static_cast<unsigned char>(c)]; }

std::vector<int32_t> CharVocab::encode(std::string_view text) const {
  std::vector<int32_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    out[i] = id_of(text[i]);
    if (out[i] < 0)
      throw RuntimeError(fmt::format("char tokenizer: byte 0x{:02x} at offset {} is not in the {}-character alphabet",
                                     static_cast<unsigned char>(text[i]), i, alphabet_.size()));
  }
  return out;
}

std::string CharVocab::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids)
    if (id >= 0 && id < int32_t(alphabet_.size())) out.push_back(alphabet_[size_t(id)]);
  return out;
}

std::string CharVocab::cache_key() const { return "char-" + hex16(fnv1a64(alphabet_)); }

namespace {
// The generated dataset's alphabet when it has one (every character it can produce), else the train split's bytes.
const bool char_registered = tokenizer_registry().add(
    "char", {"one token per byte of the train split (or of a generated dataset's alphabet)",
             [](const DataConfig&, const Corpus& corpus) -> std::unique_ptr<Tokenizer> {
               if (!corpus.alphabet.empty()) return std::make_unique<CharVocab>(corpus.alphabet);
               std::string bytes;
               for (const auto& doc : corpus.split("train")) bytes += doc;
               return std::make_unique<CharVocab>(std::move(bytes));
             }});
}  // namespace

}  // namespace oasis
