#include "framework/data/tokenizer.h"

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/hash.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/data/char_vocab.h"
#include "framework/data/datasets.h"
#include "framework/data/gpt2_bpe.h"
#include "framework/data/sentencepiece_bpe.h"
#include "framework/data/word_vocab.h"

namespace oasis {
namespace fs = std::filesystem;

std::vector<std::string> tokenizer_names() { return {"char", "gpt2", "sentencepiece", "word"}; }

namespace {
uint64_t documents_hash(const std::vector<std::string>& docs) {
  uint64_t h = fnv1a64("docs");
  for (const auto& d : docs) h = fnv1a64(d, fnv1a64(std::to_string(d.size()), h));
  return h;
}
}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(const DataConfig& data, const Corpus& corpus) {
  if (data.tokenizer == "gpt2") return std::make_unique<Gpt2Bpe>(find_dataset_dir(data.data_dir, "gpt2-bpe", "gpt2-bpe"));
  if (data.tokenizer == "char") {
    if (!corpus.alphabet.empty()) return std::make_unique<CharVocab>(corpus.alphabet);
    std::string bytes;
    for (const auto& doc : corpus.split("train")) bytes += doc;
    return std::make_unique<CharVocab>(std::move(bytes));
  }

  // Learned tokenizers are cached per dataset and train-split content.
  const fs::path dir = cache_dir(data.cache_dir) / "tokenizers";
  fs::create_directories(dir);
  const std::string train_hash = hex16(documents_hash(corpus.split("train")));
  if (data.tokenizer == "word") {
    const fs::path file = dir / fmt::format("word-{}-{}.txt", corpus.dataset, train_hash);
    if (fs::exists(file)) return std::make_unique<WordVocab>(WordVocab::from_lines(read_file(file)));
    auto vocab = std::make_unique<WordVocab>(WordVocab::build(corpus.split("train")));
    write_file_atomic(file, vocab->to_lines());
    return vocab;
  }
  const fs::path model = dir / fmt::format("spm-{}-v{}-{}.model", corpus.dataset, data.vocab_size, train_hash);
  if (!fs::exists(model)) {
    log_line(fmt::format("training sentencepiece BPE ({} pieces) on {} train -> {}", data.vocab_size, corpus.dataset,
                         model.string()));
    SentencePieceBpe::train(corpus.split("train"), data.vocab_size, model);
  }
  return std::make_unique<SentencePieceBpe>(model);
}

}  // namespace oasis
