#include "framework/data/gpt2_bpe.h"

#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Gpt2Bpe::Gpt2Bpe(const fs::path& dir) : regex_(kGpt2Pattern, Regex::Mode::unicode) {
  const fs::path encoder_path = dir / "encoder.json", merges_path = dir / "vocab.bpe";
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(read_file(encoder_path));
  } catch (const nlohmann::json::exception& e) {
    throw RuntimeError(fmt::format("{}: not a valid GPT-2 encoder.json: {}", encoder_path.string(), e.what()));
  }
  std::unordered_map<std::string, int32_t> vocab;
  id_to_bytes_.resize(encoder.size());
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= int64_t(encoder.size()))
      throw RuntimeError(fmt::format("{}: id {} of '{}' is out of range", encoder_path.string(), id, it.key()));
    vocab[it.key()] = int32_t(id);
    if (it.key() == "<|endoftext|>") {
      end_of_text_ = int32_t(id);
      continue;  // a control token: it stands for no bytes
    }
    if (!unicode_to_bytes(it.key(), id_to_bytes_[size_t(id)]))
      throw RuntimeError(fmt::format("{}: token '{}' is not in GPT-2's byte alphabet", encoder_path.string(), it.key()));
  }
  if (end_of_text_ < 0) throw RuntimeError(fmt::format("{}: no <|endoftext|> token", encoder_path.string()));

  std::istringstream lines(read_file(merges_path));
  std::vector<std::string> merges;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    if (line.find(' ') == std::string::npos)
      throw RuntimeError(fmt::format("{}: merge line {} is not 'left right'", merges_path.string(), merges.size() + 2));
    merges.push_back(line);
  }
  bpe_ = std::make_unique<ByteLevelBpe>(std::move(vocab), merges, false);
}

std::vector<int32_t> Gpt2Bpe::encode(std::string_view text) const {
  std::vector<int32_t> out;
  std::vector<std::pair<size_t, size_t>> pieces;
  try {
    pieces = regex_.spans(text);
  } catch (const std::invalid_argument& e) {
    throw RuntimeError(fmt::format("GPT-2 tokenizer: {}", e.what()));
  }
  for (const auto& [begin, end] : pieces) bpe_->encode_piece(text.substr(begin, end - begin), out);
  return out;
}

std::string Gpt2Bpe::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += id == end_of_text_ ? "<|endoftext|>" : id_to_bytes_.at(size_t(id));
  return out;
}

int64_t Gpt2Bpe::token_bytes(int32_t id) const { return int64_t(id_to_bytes_.at(size_t(id)).size()); }

namespace {
const bool gpt2_registered = tokenizer_registry().add(
    "gpt2", {"GPT-2's byte-level BPE (50,257 tokens; data/gpt2-bpe's vocab.json and merges.txt)",
             [](const DataConfig& data, const Corpus&) -> std::unique_ptr<Tokenizer> {
               return std::make_unique<Gpt2Bpe>(find_dataset_dir(data.data_dir, "gpt2-bpe", "gpt2-bpe"));
             }});
}  // namespace

}  // namespace oasis
