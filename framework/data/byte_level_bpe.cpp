#include "framework/data/byte_level_bpe.h"

#include <array>
#include <climits>
#include <stdexcept>

#include <fmt/format.h>

#include "framework/core/errors.h"

namespace oasis {

namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {  // byte characters stay below U+0800
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

struct ByteTable {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<std::string, unsigned char> to_byte;
  ByteTable() {
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_unicode[b] = utf8(printable ? uint32_t(b) : uint32_t(256 + next++));
      to_byte[to_unicode[b]] = (unsigned char)b;
    }
  }
};

const ByteTable& table() {
  static const ByteTable t;
  return t;
}

// The UTF-8 characters of `s`, each a short string.
std::vector<std::string> characters(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

const std::string& byte_as_unicode(unsigned char byte) { return table().to_unicode[byte]; }

bool unicode_to_bytes(const std::string& text, std::string& bytes) {
  bytes.clear();
  for (const auto& ch : characters(text)) {
    auto it = table().to_byte.find(ch);
    if (it == table().to_byte.end()) return false;
    bytes += char(it->second);
  }
  return true;
}

ByteLevelBpe::ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab, const std::vector<std::string>& merges,
                           bool ignore_merges)
    : vocab_(std::move(vocab)), ignore_merges_(ignore_merges) {
  for (size_t i = 0; i < merges.size(); ++i) merge_rank_.emplace(merges[i], int32_t(i));
}

void ByteLevelBpe::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  const std::string piece(bytes);
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::string> parts;
  for (unsigned char b : piece) parts.push_back(byte_as_unicode(b));
  std::vector<int32_t> ids;
  std::string whole;
  for (const auto& p : parts) whole += p;
  if (auto it = vocab_.find(whole); ignore_merges_ && it != vocab_.end()) {
    ids.push_back(it->second);
  } else {
    while (parts.size() > 1) {
      int32_t best = INT32_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = merge_rank_.find(parts[i] + " " + parts[i + 1]);
        if (it != merge_rank_.end() && it->second < best) best = it->second, at = i;
      }
      if (best == INT32_MAX) break;
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
    for (const auto& p : parts) {
      auto it = vocab_.find(p);
      if (it == vocab_.end())
        throw RuntimeError(fmt::format("byte-level BPE: '{}' is in no vocabulary entry (the vocabulary lacks a byte or a "
                                       "merge result)",
                                       p));
      ids.push_back(it->second);
    }
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() < 1'000'000) cache_.emplace(piece, std::move(ids));
}

}  // namespace oasis
