// The typed stage of configuration. Each config struct lists its fields once, in `visit(v)`:
//   v.field("steps", steps, "optimizer steps", at_least<int64_t>(1));
//   v.section("model", model);
// Visitors give that single list its uses: ConfigReader fills a struct from a ConfigTree (strict: wrong
// types, out-of-range values and unknown keys are errors naming file:line and key), ConfigWriter turns a
// struct back into YAML (the resolved config saved in the run directory), ConfigDescriber lists keys with
// defaults and help (`oasis train --help`).
#pragma once
#include <cstdint>
#include <functional>
#include <type_traits>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "framework/core/config_tree.h"
#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {

// A check returns "" when the value is fine, else what was expected ("an integer >= 1").
template <class T>
using Check = std::function<std::string(const T&)>;

template <class T>
Check<T> at_least(T lo) {
  return [lo](const T& v) { return v >= lo ? "" : fmt::format("a value >= {}", lo); };
}
template <class T>
Check<T> between(T lo, T hi) {
  return [lo, hi](const T& v) { return v >= lo && v <= hi ? "" : fmt::format("a value in [{}, {}]", lo, hi); };
}
Check<std::string> one_of(std::vector<std::string> choices);
Check<std::vector<std::string>> each_one_of(std::vector<std::string> choices);
// A name that becomes one path component under the runs directory.
Check<std::string> path_safe_name();

namespace detail {
template <class T>
const char* type_name();
template <class T>
bool parse_scalar(const YAML::Node& node, T& out);
}  // namespace detail

class ConfigReader {
 public:
  ConfigReader(const YAML::Node& node, std::string prefix, const ConfigTree& tree)
      : node_(node), prefix_(std::move(prefix)), tree_(tree) {}

  template <class T>
  void field(const char* key, T& value, const char* /*help*/, Check<T> check = {}) {
    known_.push_back(key);
    if (!node_ || !node_.IsMap()) return;
    const YAML::Node item = node_[key];
    if (!item) return;
    const std::string full = qualified(key);
    if (!detail::parse_scalar(item, value))
      fail(full, fmt::format("expected {}, got {}", detail::type_name<T>(), describe(item)));
    if (check) {
      if (std::string expected = check(value); !expected.empty())
        fail(full, fmt::format("expected {}, got {}", expected, describe(item)));
    }
  }

  template <class S>
  void section(const char* key, S& sub) {
    known_.push_back(key);
    YAML::Node child;
    if (node_ && node_.IsMap()) child = node_[key];
    const std::string full = qualified(key);
    if (child && !child.IsNull() && !child.IsMap())
      fail(full, fmt::format("expected a section (key: value lines), got {}", describe(child)));
    ConfigReader reader(child, full, tree_);
    sub.visit(reader);
    reader.finish();
  }

  // Unknown keys are errors, with the closest valid key suggested.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  std::string qualified(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  static std::string describe(const YAML::Node& node);

  YAML::Node node_;
  std::string prefix_;
  const ConfigTree& tree_;
  std::vector<std::string> known_;
};

class ConfigWriter {
 public:
  template <class T>
  void field(const char* key, const T& value, const char*, Check<T> = {}) {
    if constexpr (std::is_same_v<T, double>)
      node_[key] = fmt::format("{}", value);  // shortest form that reads back exactly (1e-05, not 1.0000000000000001e-05)
    else
      node_[key] = value;
  }
  template <class S>
  void section(const char* key, S& sub) {
    ConfigWriter writer;
    sub.visit(writer);
    node_[key] = writer.node_;
  }
  YAML::Node node() const { return node_; }

 private:
  YAML::Node node_ = YAML::Node(YAML::NodeType::Map);
};

struct KeyDescription {
  std::string key, default_value, help;
};

class ConfigDescriber {
 public:
  template <class T>
  void field(const char* key, const T& value, const char* help, Check<T> = {}) {
    ConfigWriter one;
    one.field("v", value, help);
    YAML::Emitter out;
    out << YAML::Flow << one.node()["v"];
    keys_.push_back({prefix_ + key, out.c_str(), help});
  }
  template <class S>
  void section(const char* key, S& sub) {
    ConfigDescriber inner;
    inner.prefix_ = prefix_ + key + ".";
    sub.visit(inner);
    keys_.insert(keys_.end(), inner.keys_.begin(), inner.keys_.end());
  }
  const std::vector<KeyDescription>& keys() const { return keys_; }

 private:
  std::string prefix_;
  std::vector<KeyDescription> keys_;
};

}  // namespace oasis
