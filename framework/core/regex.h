// Python-`re`-compatible matching for the patterns that tasks copy from their reference harnesses
// (lm-eval's answer filters and normalisation): PCRE2 on bytes, findall and sub with Python's semantics
// (leftmost match, ordered alternation, non-overlapping scan, `$` also before a final newline). In unicode
// mode (the tokenizers' pre-tokenizers) the text must be UTF-8 and \p{L}, \s, ... follow Unicode properties.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oasis {

class Regex {
 public:
  enum class Mode { bytes, unicode };
  explicit Regex(const std::string& pattern, Mode mode = Mode::bytes);  // throws std::invalid_argument naming it
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // re.findall: per match, its groups ("" where a group took no part), or the whole match without groups.
  std::vector<std::vector<std::string>> find_all(std::string_view text) const;
  // [begin, end) byte offsets of each non-overlapping match. Unicode mode: throws std::invalid_argument when the
  // text is not valid UTF-8.
  std::vector<std::pair<size_t, size_t>> spans(std::string_view text) const;
  // re.sub(pattern, replacement, text) with a literal replacement.
  std::string replace_all(std::string_view text, std::string_view replacement) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  Mode mode_;
  std::unique_ptr<Code> code_;
};

}  // namespace oasis
