#include "framework/data/tokenizer.h"

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"
#include "framework/data/datasets.h"

namespace oasis {
namespace fs = std::filesystem;

Registry<TokenizerEntry>& tokenizer_registry() {
  static Registry<TokenizerEntry> registry("tokenizer");
  return registry;
}

std::vector<std::string> tokenizer_names() { return tokenizer_registry().names(); }

std::unique_ptr<Tokenizer> make_tokenizer(const DataConfig& data, const Corpus& corpus) {
  return tokenizer_registry().get(data.tokenizer).make(data, corpus);
}

fs::path tokenizer_cache(const DataConfig& data) {
  const fs::path dir = cache_dir(data.cache_dir) / "tokenizers";
  fs::create_directories(dir);
  return dir;
}

std::string train_split_hash(const Corpus& corpus) {
  uint64_t h = fnv1a64("docs");
  for (const auto& d : corpus.split("train")) h = fnv1a64(d, fnv1a64(std::to_string(d.size()), h));
  return hex16(h);
}

}  // namespace oasis
