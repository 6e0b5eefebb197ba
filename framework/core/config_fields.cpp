#include "framework/core/config_fields.h"

#include <cmath>

#include <regex>

namespace oasis {

Check<std::string> one_of(std::vector<std::string> choices) {
  return [choices](const std::string& v) {
    for (const auto& c : choices)
      if (c == v) return std::string();
    return "one of " + join(choices, ", ") + did_you_mean(v, choices);
  };
}

Check<std::vector<std::string>> each_one_of(std::vector<std::string> choices) {
  return [choices](const std::vector<std::string>& values) {
    for (const auto& v : values) {
      bool ok = false;
      for (const auto& c : choices) ok = ok || c == v;
      if (!ok) return "a list of " + join(choices, ", ") + " ('" + v + "' is none of them" + did_you_mean(v, choices) + ")";
    }
    return std::string();
  };
}

Check<std::string> path_safe_name() {
  return [](const std::string& v) {
    static const std::regex safe(R"([A-Za-z0-9][A-Za-z0-9._-]{0,127})");
    if (std::regex_match(v, safe) && v.find("..") == std::string::npos) return std::string();
    return std::string(
        "a name of letters, digits, '.', '_', '-' (starting with a letter or digit, no '..', at most 128 chars)");
  };
}

namespace detail {

template <> const char* type_name<int64_t>() { return "an integer"; }
template <> const char* type_name<double>() { return "a finite number"; }
template <> const char* type_name<bool>() { return "true or false"; }
template <> const char* type_name<std::string>() { return "a string"; }
template <> const char* type_name<std::vector<std::string>>() { return "a list of strings"; }

template <>
bool parse_scalar(const YAML::Node& node, int64_t& out) {
  if (!node.IsScalar()) return false;
  const std::string& s = node.Scalar();
  static const std::regex integer(R"([-+]?[0-9]+)");
  if (!std::regex_match(s, integer)) return false;
  try {
    out = std::stoll(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

template <>
bool parse_scalar(const YAML::Node& node, double& out) {
  if (!node.IsScalar()) return false;
  const std::string& s = node.Scalar();
  static const std::regex number(R"([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  if (!std::regex_match(s, number)) return false;
  try {
    out = std::stod(s);
  } catch (const std::out_of_range&) {  // 1e999: beyond double's range
    return false;
  }
  return std::isfinite(out);
}

template <>
bool parse_scalar(const YAML::Node& node, bool& out) {
  if (!node.IsScalar()) return false;
  const std::string& s = node.Scalar();
  if (s == "true" || s == "True") return out = true, true;
  if (s == "false" || s == "False") return out = false, true;
  return false;
}

template <>
bool parse_scalar(const YAML::Node& node, std::string& out) {
  if (!node.IsScalar()) return false;
  out = node.Scalar();
  return true;
}

template <>
bool parse_scalar(const YAML::Node& node, std::vector<std::string>& out) {
  if (!node.IsSequence()) return false;
  std::vector<std::string> values;
  for (const auto& item : node) {
    if (!item.IsScalar()) return false;
    values.push_back(item.Scalar());
  }
  out = std::move(values);
  return true;
}

}  // namespace detail

std::string ConfigReader::describe(const YAML::Node& node) {
  if (!node || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a section";
}

void ConfigReader::fail(const std::string& key, const std::string& what) const {
  throw ConfigError(fmt::format("{}: {}: {}", tree_.origin_of(key), key, what));
}

void ConfigReader::finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    const std::string full = qualified(name.c_str());
    throw ConfigError(fmt::format("{}: unknown key '{}'{}; valid keys{}: {}", tree_.origin_of(full), full,
                                  did_you_mean(name, known_), prefix_.empty() ? "" : " in " + prefix_,
                                  join(known_, ", ")));
  }
}

}  // namespace oasis
