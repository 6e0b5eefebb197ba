// Small string helpers shared by config errors and registries: "did you mean" suggestions, joining.
#pragma once
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

}  // namespace oasis
