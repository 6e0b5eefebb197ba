// Small string helpers shared by config errors, registries and datasets: "did you mean" suggestions,
// joining, UTF-8 validation.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oasis {

// Edit distance between two strings (insertions, deletions, substitutions).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is a plausible misspelling, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& items, std::string_view sep);

// The byte offset of the first sequence that is not well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or nullopt when all of `text` is valid.
std::optional<size_t> invalid_utf8_offset(std::string_view text);

}  // namespace oasis
