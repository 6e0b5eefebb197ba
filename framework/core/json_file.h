// Reading the JSON files the tools themselves wrote (results.json, plan.json, state.json): a file that
// does not parse is an error naming the file and the line and column, never a bare library message.
#pragma once
#include <filesystem>

#include <nlohmann/json.hpp>

namespace oasis {

// Throws RuntimeError naming `file` when it cannot be read or is not valid JSON.
nlohmann::json read_json_file(const std::filesystem::path& file);

}  // namespace oasis
