// A string-keyed registry (torchtitan style): lookups of unknown names fail with the list of valid ones.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {

template <class Entry>
class Registry {
 public:
  explicit Registry(std::string what) : what_(std::move(what)) {}

  // Returns true, so that a component registers itself beside its class at start-up:
  //   const bool sigmoid_registered = normalizer_registry().add("sigmoid", {...});
  bool add(const std::string& name, Entry entry) {
    if (!entries_.emplace(name, std::move(entry)).second)
      throw std::logic_error(what_ + " '" + name + "' registered twice");
    return true;
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  const Entry& get(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end())
      throw ConfigError("unknown " + what_ + " '" + name + "'" + did_you_mean(name, names()) +
                        "; valid: " + join(names(), ", "));
    return it->second;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::string what_;
  std::map<std::string, Entry> entries_;
};

}  // namespace oasis
