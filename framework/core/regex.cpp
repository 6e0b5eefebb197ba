#include "framework/core/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace oasis {

struct Regex::Code {
  pcre2_code* code = nullptr;
  uint32_t groups = 0;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, Mode mode) : pattern_(pattern), mode_(mode), code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = mode == Mode::unicode ? PCRE2_UTF | PCRE2_UCP : 0;
  code_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset, nullptr);
  if (!code_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::invalid_argument("regex '" + pattern + "' at " + std::to_string(offset) + ": " +
                                reinterpret_cast<const char*>(message));
  }
  pcre2_pattern_info(code_->code, PCRE2_INFO_CAPTURECOUNT, &code_->groups);
  if (mode == Mode::unicode) pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);  // the interpreter when JIT is absent
}

Regex::~Regex() = default;

namespace {
// Calls on_match(ovector) for each non-overlapping match, left to right; an empty match advances one byte
// (one character in unicode mode). UTF-8 validity is checked once, on the first call (per call it would
// rescan the rest of the text: quadratic).
template <class F>
void scan(pcre2_code* code, bool unicode, std::string_view text, F on_match) {
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  PCRE2_SIZE offset = 0;
  uint32_t flags = 0;
  while (offset <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), offset, flags, match, nullptr);
    flags = PCRE2_NO_UTF_CHECK;
    if (rc < 0) {
      pcre2_match_data_free(match);
      if (rc == PCRE2_ERROR_NOMATCH) return;
      throw std::invalid_argument("text is not valid UTF-8 near byte " + std::to_string(offset));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
    on_match(ov);
    offset = ov[1];
    if (ov[1] == ov[0]) {
      ++offset;
      while (unicode && offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) ++offset;
    }
  }
  pcre2_match_data_free(match);
}
}  // namespace

std::vector<std::vector<std::string>> Regex::find_all(std::string_view text) const {
  std::vector<std::vector<std::string>> out;
  scan(code_->code, mode_ == Mode::unicode, text, [&](const PCRE2_SIZE* ov) {
    std::vector<std::string> groups;
    if (code_->groups == 0) groups.emplace_back(text.substr(ov[0], ov[1] - ov[0]));
    for (uint32_t g = 1; g <= code_->groups; ++g)
      groups.emplace_back(ov[2 * g] == PCRE2_UNSET ? std::string() : std::string(text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g])));
    out.push_back(std::move(groups));
  });
  return out;
}

std::vector<std::pair<size_t, size_t>> Regex::spans(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  scan(code_->code, mode_ == Mode::unicode, text, [&](const PCRE2_SIZE* ov) { out.emplace_back(ov[0], ov[1]); });
  return out;
}

std::string Regex::replace_all(std::string_view text, std::string_view replacement) const {
  std::string out;
  size_t copied = 0;
  scan(code_->code, mode_ == Mode::unicode, text, [&](const PCRE2_SIZE* ov) {
    out.append(text.substr(copied, ov[0] - copied));
    out.append(replacement);
    copied = ov[1];
  });
  out.append(text.substr(copied));
  return out;
}

}  // namespace oasis
