#include "framework/data/token_data.h"

#include <cstring>

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

static const char kMagic[8] = {'O', 'A', 'S', 'I', 'S', 'T', 'K', '1'};

const std::vector<int32_t>& TokenizedData::split(const std::string& name) const {
  auto it = splits.find(name);
  if (it == splits.end()) throw std::logic_error("split '" + name + "' was not prepared");
  return it->second;
}

void write_token_file(const fs::path& path, const std::vector<int32_t>& ids, int64_t vocab_size) {
  std::string blob(8 + 16 + ids.size() * 4, '\0');
  std::memcpy(blob.data(), kMagic, 8);
  const uint64_t header[2] = {uint64_t(ids.size()), uint64_t(vocab_size)};
  std::memcpy(blob.data() + 8, header, 16);
  std::memcpy(blob.data() + 24, ids.data(), ids.size() * 4);
  write_file_atomic(path, blob);
}

std::vector<int32_t> read_token_file(const fs::path& path, int64_t expected_vocab_size) {
  const std::string blob = read_file(path);
  uint64_t header[2] = {0, 0};
  if (blob.size() < 24 || std::memcmp(blob.data(), kMagic, 8) != 0)
    throw RuntimeError(fmt::format("{}: not a token cache file (delete it to rebuild)", path.string()));
  std::memcpy(header, blob.data() + 8, 16);
  if (blob.size() != 24 + header[0] * 4 || int64_t(header[1]) != expected_vocab_size)
    throw RuntimeError(fmt::format("{}: truncated or for another vocabulary (delete it to rebuild)", path.string()));
  std::vector<int32_t> ids(header[0]);
  std::memcpy(ids.data(), blob.data() + 24, ids.size() * 4);
  return ids;
}

TokenizedData prepare_data(const DataConfig& data, const std::vector<std::string>& wanted) {
  TokenizedData out;
  out.corpus = load_corpus(data);
  out.tokenizer = make_tokenizer(data, out.corpus);
  const Tokenizer& tok = *out.tokenizer;
  const fs::path dir = cache_dir(data.cache_dir) / "tokens";
  fs::create_directories(dir);
  const std::vector<std::string> splits = wanted.empty() ? std::vector<std::string>{"train", "valid", "test"} : wanted;
  for (const auto& name : splits) {
    const auto& docs = out.corpus.split(name);
    uint64_t h = fnv1a64(tok.cache_key());
    h = fnv1a64(out.corpus.multi_document ? "multi" : "single", h);
    for (const auto& d : docs) h = fnv1a64(d, fnv1a64(std::to_string(d.size()), h));
    const fs::path file = dir / fmt::format("{}.{}.{}.{}.bin", out.corpus.dataset, name,
                                            tok.cache_key().substr(0, 40), hex16(h));
    if (fs::exists(file)) {
      out.splits[name] = read_token_file(file, tok.vocab_size());
      out.from_cache[name] = true;
      continue;
    }
    std::vector<int32_t> ids;
    for (const auto& d : docs) {
      std::vector<int32_t> part = tok.encode(d);
      ids.insert(ids.end(), part.begin(), part.end());
      if (out.corpus.multi_document) ids.push_back(tok.end_of_text());
    }
    write_token_file(file, ids, tok.vocab_size());
    out.splits[name] = std::move(ids);
    out.from_cache[name] = false;
  }
  return out;
}

}  // namespace oasis
