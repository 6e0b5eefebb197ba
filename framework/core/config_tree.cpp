#include "framework/core/config_tree.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "framework/core/errors.h"
#include "framework/core/text.h"

namespace oasis {
namespace fs = std::filesystem;

std::string ConfigTree::origin_of(const std::string& key) const {
  std::string k = key;
  while (true) {
    auto it = origins.find(k);
    if (it != origins.end()) return it->second;
    auto dot = k.rfind('.');
    if (dot == std::string::npos) return "defaults";
    k.resize(dot);
  }
}

namespace {

std::string mark_text(const std::string& source, const YAML::Mark& mark) {
  if (mark.line < 0) return source;
  return fmt::format("{}:{}:{}", source, mark.line + 1, mark.column + 1);
}

void record_origins(const YAML::Node& node, const std::string& prefix, const std::string& source,
                    std::map<std::string, std::string>& origins) {
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = prefix.empty() ? it->first.as<std::string>() : prefix + "." + it->first.as<std::string>();
    origins[key] = mark_text(source, it->first.Mark());
    record_origins(it->second, key, source, origins);
  }
}

void erase_origins_under(std::map<std::string, std::string>& origins, const std::string& key) {
  for (auto it = origins.lower_bound(key); it != origins.end();) {
    if (it->first == key || it->first.rfind(key + ".", 0) == 0)
      it = origins.erase(it);
    else if (it->first > key + "/")  // past every "key" and "key.*" entry
      break;
    else
      ++it;
  }
}

// Deep-merges `src` over `dst`: maps merge key by key, anything else replaces.
void merge_into(YAML::Node dst, const YAML::Node& src, const std::string& prefix, const ConfigTree& src_tree,
                ConfigTree& dst_tree) {
  for (auto it = src.begin(); it != src.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    YAML::Node existing = dst[name];
    if (existing.IsMap() && it->second.IsMap()) {
      if (auto o = src_tree.origins.find(key); o != src_tree.origins.end()) dst_tree.origins[key] = o->second;
      merge_into(existing, it->second, key, src_tree, dst_tree);
    } else {
      dst[name] = YAML::Clone(it->second);
      erase_origins_under(dst_tree.origins, key);
      for (auto o = src_tree.origins.lower_bound(key); o != src_tree.origins.end(); ++o) {
        if (o->first != key && o->first.rfind(key + ".", 0) != 0) break;
        dst_tree.origins[o->first] = o->second;
      }
    }
  }
}

void merge_tree(ConfigTree& dst, const ConfigTree& src) {
  merge_into(dst.root, src.root, "", src, dst);
  dst.files.insert(dst.files.end(), src.files.begin(), src.files.end());
}

// yaml-cpp keeps both entries of a repeated key and lookups see only the first: a silent loss of the
// second value. Refused here, naming both lines.
void reject_duplicate_keys(const YAML::Node& node, const std::string& source) {
  if (node.IsSequence())
    for (const auto& item : node) reject_duplicate_keys(item, source);
  if (!node.IsMap()) return;
  std::map<std::string, YAML::Mark> first_seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    const auto [where, inserted] = first_seen.emplace(key, it->first.Mark());
    if (!inserted)
      throw ConfigError(fmt::format("{}: duplicate key '{}' (first given at line {}); give each key once",
                                    mark_text(source, it->first.Mark()), key, where->second.line + 1));
    reject_duplicate_keys(it->second, source);
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  try {
    YAML::Node node = YAML::Load(text);
    reject_duplicate_keys(node, source);
    if (node.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!node.IsMap())
      throw ConfigError(fmt::format("{}: expected a mapping of keys (key: value) at the top level", source));
    return node;
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: YAML syntax error: {}", mark_text(source, e.mark), e.msg));
  }
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("cannot read config file '{}'", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> yaml_files_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".yaml") out.push_back(entry.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

fs::path resolve_default(const std::string& name, const fs::path& including_file, const fs::path& configs_root,
                         const std::string& where) {
  std::string file = name;
  if (fs::path(file).extension() != ".yaml") file += ".yaml";
  const bool relative = name.rfind("./", 0) == 0 || name.rfind("../", 0) == 0;
  std::vector<fs::path> candidates;
  if (relative) {
    candidates.push_back(including_file.parent_path() / file);
  } else {
    candidates.push_back(configs_root / file);
    candidates.push_back(including_file.parent_path() / file);
  }
  for (const auto& c : candidates)
    if (fs::is_regular_file(c)) return c;
  const fs::path dir = candidates.front().parent_path();
  const std::string stem = fs::path(file).stem().string();
  std::vector<std::string> names = yaml_files_in(dir);
  throw ConfigError(fmt::format("{}: defaults entry '{}' names no config file (looked for {}){}; files in {}: {}",
                                where, name, candidates.front().string(), did_you_mean(stem, names),
                                dir.string(), names.empty() ? "none" : join(names, ", ")));
}

ConfigTree load_recursive(const fs::path& file, const fs::path& configs_root, std::vector<fs::path>& stack) {
  const fs::path canonical = fs::weakly_canonical(file);
  if (std::find(stack.begin(), stack.end(), canonical) != stack.end())
    throw ConfigError(fmt::format("{}: `defaults:` cycle through this file", file.string()));
  stack.push_back(canonical);

  const std::string source = file.string();
  ConfigTree own;
  own.root = parse_yaml(read_text_file(file), source);
  if (own.root.size() == 0)
    throw ConfigError(fmt::format("{}: the config file is empty; expected a mapping of keys (key: value)", source));
  own.files.push_back(source);
  record_origins(own.root, "", source, own.origins);

  ConfigTree merged;
  if (YAML::Node defaults = own.root["defaults"]; defaults) {
    const std::string where = own.origins["defaults"];
    std::vector<std::pair<std::string, std::string>> names;  // (name, where)
    if (defaults.IsScalar()) {
      names.emplace_back(defaults.as<std::string>(), where);
    } else if (defaults.IsSequence()) {
      for (const auto& item : defaults) {
        if (!item.IsScalar())
          throw ConfigError(fmt::format("{}: each `defaults:` entry must be a config name like model/standard",
                                        mark_text(source, item.Mark())));
        names.emplace_back(item.as<std::string>(), mark_text(source, item.Mark()));
      }
    } else {
      throw ConfigError(fmt::format("{}: `defaults:` must be a list of config names", where));
    }
    for (const auto& [name, at] : names)
      merge_tree(merged, load_recursive(resolve_default(name, file, configs_root, at), configs_root, stack));
    own.root.remove("defaults");
    own.origins.erase("defaults");
  }
  merge_tree(merged, own);
  stack.pop_back();
  return merged;
}

}  // namespace

ConfigTree load_config_tree(const fs::path& file, const fs::path& configs_root) {
  if (!fs::is_regular_file(file)) throw ConfigError(fmt::format("config file '{}' does not exist", file.string()));
  std::vector<fs::path> stack;
  return load_recursive(file, configs_root, stack);
}

ConfigTree config_tree_from_string(const std::string& yaml, const std::string& source) {
  ConfigTree tree;
  tree.root = parse_yaml(yaml, source);
  tree.files.push_back(source);
  record_origins(tree.root, "", source, tree.origins);
  return tree;
}

void set_config_value(ConfigTree& tree, const std::string& key, const YAML::Node& value, const std::string& where) {
  // Walk (creating sections as needed) to the parent of the last key component.
  YAML::Node node = tree.root;
  std::string path;
  size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    path = path.empty() ? part : path + "." + part;
    if (dot == std::string::npos) {
      node[part] = value;
      erase_origins_under(tree.origins, path);
      tree.origins[path] = where;
      return;
    }
    YAML::Node child = node[part];
    if (!child || child.IsNull()) {
      node[part] = YAML::Node(YAML::NodeType::Map);
      tree.origins[path] = where;
    } else if (!child.IsMap()) {
      throw ConfigError(fmt::format("{}: '{}' is a value, not a section, so '{}' cannot be set", where, path, key));
    }
    node.reset(node[part]);
    start = dot + 1;
  }
}

void apply_overrides(ConfigTree& tree, const std::vector<std::string>& overrides) {
  static const std::regex key_pattern(R"([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)");
  for (const auto& text : overrides) {
    const auto eq = text.find('=');
    const std::string where = fmt::format("command line `{}`", text);
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("{}: expected an override of the form dotted.key=value", where));
    const std::string key = text.substr(0, eq);
    if (!std::regex_match(key, key_pattern))
      throw ConfigError(fmt::format("{}: '{}' is not a dotted key like train.steps", where, key));
    YAML::Node value;
    try {
      value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("{}: the value is not valid YAML: {}", where, e.msg));
    }
    if (value.IsMap())  // replacing a section whole would drop its other keys and dodge per-key checks
      throw ConfigError(fmt::format("{}: a whole section cannot be set at once; set its keys one by one ({}.KEY=VALUE)",
                                    where, key));
    set_config_value(tree, key, value, where);
  }
}

}  // namespace oasis
