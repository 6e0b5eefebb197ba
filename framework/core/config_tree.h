// The untyped stage of configuration: YAML files composed through `defaults:` lists, then `key=value`
// overrides from the command line. Every key remembers where its value came from (file:line:col or the
// override), so errors raised later by the typed stage can point at the exact spot.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace oasis {

struct ConfigTree {
  YAML::Node root = YAML::Node(YAML::NodeType::Map);
  std::map<std::string, std::string> origins;  // dotted key -> "file:line:col" or "command line `k=v`"
  std::vector<std::string> files;               // every file read, in merge order

  // Where `key` (or its closest parent that has an origin) was set; "defaults" when nowhere.
  std::string origin_of(const std::string& key) const;
};

// Reads `file`, first merging the files its `defaults:` list names (recursively, in order); the file's
// own keys win. A default is a path relative to `configs_root` or, when it starts with ./ or ../, to the
// including file; ".yaml" may be left out.
ConfigTree load_config_tree(const std::filesystem::path& file, const std::filesystem::path& configs_root);

// Parses a YAML string (e.g. a saved config.yaml); `source` names it in error messages.
ConfigTree config_tree_from_string(const std::string& yaml, const std::string& source);

// Sets `dotted.key` (creating sections) and records `where` as its origin.
void set_config_value(ConfigTree& tree, const std::string& key, const YAML::Node& value, const std::string& where);

// Applies `dotted.key=value` overrides in order; values are parsed as YAML (200, 1e-3, true, [a, b]).
void apply_overrides(ConfigTree& tree, const std::vector<std::string>& overrides);

}  // namespace oasis
