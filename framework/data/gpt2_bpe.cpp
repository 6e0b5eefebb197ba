#include "framework/data/gpt2_bpe.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <climits>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

// GPT-2's pre-tokenizer (openai/gpt-2 encoder.py).
static const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Gpt2Bpe::Regex {
  pcre2_code* code = nullptr;
  Regex() {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                         &error, &offset, nullptr);
    if (!code) throw std::logic_error("GPT-2 pre-tokenizer regex failed to compile");
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  }
  ~Regex() { pcre2_code_free(code); }
};

namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// Splits a UTF-8 string into its characters (each a short string).
std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

Gpt2Bpe::Gpt2Bpe(const fs::path& dir) : regex_(std::make_unique<Regex>()) {
  // bytes_to_unicode(): printable bytes map to themselves, the rest to code points 256+.
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    byte_to_unicode_[b] = utf8(printable ? uint32_t(b) : uint32_t(256 + next++));
  }
  std::unordered_map<std::string, unsigned char> unicode_to_byte;
  for (int b = 0; b < 256; ++b) unicode_to_byte[byte_to_unicode_[b]] = (unsigned char)b;

  const fs::path encoder_path = dir / "encoder.json", merges_path = dir / "vocab.bpe";
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(read_file(encoder_path));
  } catch (const nlohmann::json::exception& e) {
    throw RuntimeError(fmt::format("{}: not a valid GPT-2 encoder.json: {}", encoder_path.string(), e.what()));
  }
  id_to_bytes_.resize(encoder.size());
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= int64_t(encoder.size()))
      throw RuntimeError(fmt::format("{}: id {} of '{}' is out of range", encoder_path.string(), id, it.key()));
    token_to_id_[it.key()] = int32_t(id);
    if (it.key() == "<|endoftext|>") {
      end_of_text_ = int32_t(id);
      continue;  // a control token: it stands for no bytes
    }
    std::string bytes;
    for (const auto& ch : utf8_chars(it.key())) {
      auto b = unicode_to_byte.find(ch);
      if (b == unicode_to_byte.end())
        throw RuntimeError(fmt::format("{}: token '{}' is not in GPT-2's byte alphabet", encoder_path.string(), it.key()));
      bytes += char(b->second);
    }
    id_to_bytes_[id] = bytes;
  }
  if (end_of_text_ < 0) throw RuntimeError(fmt::format("{}: no <|endoftext|> token", encoder_path.string()));

  std::istringstream merges(read_file(merges_path));
  std::string line;
  int32_t rank = 0;
  while (std::getline(merges, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    if (line.find(' ') == std::string::npos)
      throw RuntimeError(fmt::format("{}: merge line {} is not 'left right'", merges_path.string(), rank + 2));
    merge_rank_[line] = rank++;
  }
}

Gpt2Bpe::~Gpt2Bpe() = default;

void Gpt2Bpe::bpe(const std::string& piece, std::vector<int32_t>& out) const {
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::string> parts;
  for (unsigned char b : piece) parts.push_back(byte_to_unicode_[b]);
  while (parts.size() > 1) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = merge_rank_.find(parts[i] + " " + parts[i + 1]);
      if (it != merge_rank_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == INT32_MAX) break;
    // Merge every occurrence of the best pair, left to right (as GPT-2 does).
    const std::string left = parts[at], right = parts[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == left && parts[i + 1] == right) {
        merged.push_back(left + right);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts.swap(merged);
  }
  std::vector<int32_t> ids;
  for (const auto& p : parts) ids.push_back(token_to_id_.at(p));
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() < 1'000'000) cache_.emplace(piece, std::move(ids));
}

std::vector<int32_t> Gpt2Bpe::encode(std::string_view text) const {
  std::vector<int32_t> out;
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(regex_->code, nullptr);
  PCRE2_SIZE offset = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // UTF-8 validity is checked once, on the first call; later calls skip it (otherwise every call
  // rescans the rest of the text, which is quadratic).
  uint32_t flags = 0;
  while (offset < text.size()) {
    const int rc = pcre2_match(regex_->code, subject, text.size(), offset, flags, match, nullptr);
    flags = PCRE2_NO_UTF_CHECK;
    if (rc < 0) {
      pcre2_match_data_free(match);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      throw RuntimeError(fmt::format("GPT-2 tokenizer: text is not valid UTF-8 near byte {}", offset));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
    if (ov[1] == ov[0]) break;  // the pattern never matches empty; guard anyway
    bpe(std::string(text.substr(ov[0], ov[1] - ov[0])), out);
    offset = ov[1];
  }
  pcre2_match_data_free(match);
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
