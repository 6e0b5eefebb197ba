#include "framework/run/sweep.h"

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config_fields.h"
#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"
#include "framework/core/text.h"
#include "framework/run/run_dir.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

struct Axis {
  std::string key;
  std::vector<YAML::Node> values;
  std::string origin;
};

// One factor of the product: a single axis, or a zip group (its axes share the index).
using Factor = std::vector<Axis>;

std::string flow(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// Leaf lists under `node` as axes; keys may be nested maps or contain dots.
void collect_axes(const YAML::Node& node, const std::string& prefix, const ConfigTree& tree, std::vector<Axis>& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = prefix.empty() ? it->first.as<std::string>() : prefix + "." + it->first.as<std::string>();
    const YAML::Node& value = it->second;
    if (value.IsMap()) {
      collect_axes(value, key, tree, out);
    } else if (value.IsSequence() && value.size() > 0) {
      Axis axis{key, {}, tree.origin_of("sweep." + key)};
      for (const auto& v : value) axis.values.push_back(YAML::Clone(v));
      out.push_back(std::move(axis));
    } else {
      throw ConfigError(fmt::format("{}: sweep.{}: expected a non-empty list of values, got {}",
                                    tree.origin_of("sweep." + key), key, flow(value)));
    }
  }
}

std::vector<Factor> parse_sweep(const YAML::Node& sweep, const ConfigTree& tree) {
  std::vector<Factor> factors;
  if (!sweep || sweep.IsNull()) return factors;
  if (!sweep.IsMap()) throw ConfigError(fmt::format("{}: sweep: expected a map of axes", tree.origin_of("sweep")));
  for (auto it = sweep.begin(); it != sweep.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (key != "zip") {
      std::vector<Axis> axes;
      YAML::Node single(YAML::NodeType::Map);
      single[key] = it->second;
      collect_axes(single, "", tree, axes);
      for (auto& a : axes) factors.push_back({std::move(a)});
      continue;
    }
    if (!it->second.IsSequence())
      throw ConfigError(fmt::format("{}: sweep.zip: expected a list of groups (maps of axes)", tree.origin_of("sweep.zip")));
    for (const auto& group : it->second) {
      Factor factor;
      if (!group.IsMap()) throw ConfigError(fmt::format("{}: sweep.zip: each group is a map of axes", tree.origin_of("sweep.zip")));
      collect_axes(group, "", tree, factor);
      for (const auto& a : factor)
        if (a.values.size() != factor.front().values.size())
          throw ConfigError(fmt::format("{}: sweep.zip: axes of one group move together, so their lists need equal lengths; "
                                        "{} has {}, {} has {}",
                                        tree.origin_of("sweep.zip"), factor.front().key, factor.front().values.size(), a.key,
                                        a.values.size()));
      factors.push_back(std::move(factor));
    }
  }
  return factors;
}

// A tree with `tree`'s origins over its own root. (Copying a ConfigTree shares the YAML node, and
// assigning to a shared node rewrites it for every copy.)
ConfigTree tree_with_root(const ConfigTree& tree, const YAML::Node& root) {
  ConfigTree out;
  out.root = root;
  out.origins = tree.origins;
  out.files = tree.files;
  return out;
}

YAML::Node take_section(ConfigTree& tree, const std::string& key) {
  const YAML::Node& root = tree.root;  // const access never inserts
  if (!root[key]) return YAML::Node();
  YAML::Node section = YAML::Clone(root[key]);
  tree.root.remove(key);
  return section;
}

// Rewrites `sweep:` keys written with dots as nested maps (`a.b: [...]` -> a: {b: [...]}), through the
// same setter the overrides use, so `sweep.a.b=[...]` on the command line replaces that axis.
void nest_sweep_keys(ConfigTree& tree) {
  const YAML::Node written = take_section(tree, "sweep");
  if (!written || written.IsNull()) return;
  if (!written.IsMap()) {  // put back as it was: parse_sweep reports it
    set_config_value(tree, "sweep", written, tree.origin_of("sweep"));
    return;
  }
  for (auto it = written.begin(); it != written.end(); ++it) {
    const std::string key = "sweep." + it->first.as<std::string>();
    set_config_value(tree, key, it->second, tree.origin_of(key));
  }
}

}  // namespace

std::string cell_id(const Config& config) {
  // Only keys that differ from their defaults: a new config key (added with its default) keeps every id.
  const auto defaults = config_rows(Config{});
  std::map<std::string, std::string> default_of(defaults.begin(), defaults.end());
  std::string relevant;
  for (const auto& [key, value] : config_rows(config))
    if (!run_name_key(key) && !training_neutral(key) && default_of[key] != value)
      relevant += key + "=" + value + "\n";
  return fmt::format("{}-{}-s{}-{}", config.model.preset, config.data.dataset, config.seed,
                     hex16(fnv1a64(relevant)).substr(0, 6));
}

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides) {
  ConfigTree tree = load_config_tree(file, configs_root());
  nest_sweep_keys(tree);
  apply_overrides(tree, overrides);
  Experiment e{file, overrides, {}, {}, {}, {}};

  const YAML::Node sweep = take_section(tree, "sweep");
  const YAML::Node slurm = take_section(tree, "slurm");
  if (slurm && !slurm.IsNull()) {
    const ConfigTree slurm_tree = tree_with_root(tree, slurm);
    ConfigReader reader(slurm_tree.root, "slurm", slurm_tree);
    e.slurm.visit(reader);
    reader.finish();
  }
  const std::vector<Factor> factors = parse_sweep(sweep, tree);
  for (const auto& f : factors)
    for (const auto& a : f) {
      if (std::find(e.axes.begin(), e.axes.end(), a.key) != e.axes.end())
        throw ConfigError(fmt::format("{}: sweep: axis {} appears twice", a.origin, a.key));
      e.axes.push_back(a.key);
      for (const auto& o : overrides)
        if (o.rfind(a.key + "=", 0) == 0)
          throw ConfigError(fmt::format("command line `{}`: {} is a sweep axis; override its values with sweep.{}=[...]",
                                        o, a.key, a.key));
    }

  // Mixed-radix counting over the factors, the first slowest.
  size_t total = 1;
  for (const auto& f : factors) total *= f.front().values.size();
  for (size_t n = 0; n < total; ++n) {
    ConfigTree cell_tree = tree_with_root(tree, YAML::Clone(tree.root));
    SweepCell cell;
    size_t rest = n;
    std::vector<size_t> index(factors.size());
    for (size_t f = factors.size(); f-- > 0;) {
      index[f] = rest % factors[f].front().values.size();
      rest /= factors[f].front().values.size();
    }
    for (size_t f = 0; f < factors.size(); ++f)
      for (const auto& a : factors[f]) {
        const YAML::Node& value = a.values[index[f]];
        set_config_value(cell_tree, a.key, YAML::Clone(value), fmt::format("{} (sweep value {})", a.origin, flow(value)));
        cell.values.emplace_back(a.key, flow(value));
      }
    cell.config = config_from_tree(cell_tree);
    cell.id = cell_id(cell.config);
    cell.config.run = cell.id;
    for (const auto& other : e.cells)
      if (other.id == cell.id)
        throw ConfigError(fmt::format("{}: two cells train the same model ({}): an axis changes only evaluation keys; "
                                      "put those in quant/eval settings of one cell instead",
                                      file.string(), cell.id));
    e.cells.push_back(std::move(cell));
  }
  if (e.cells.empty()) throw ConfigError(fmt::format("{}: the sweep has no cells", file.string()));
  e.dir = fs::path(e.cells.front().config.runs_dir) / e.cells.front().config.experiment;
  return e;
}

void write_plan(const Experiment& e) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& c : e.cells) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [axis, value] : c.values) values[axis] = value;
    cells.push_back({{"id", c.id}, {"preset", c.config.model.preset}, {"dataset", c.config.data.dataset},
                     {"seed", c.config.seed}, {"values", values}});
  }
  fs::create_directories(e.dir);
  write_file_atomic(e.dir / "plan.json",
                    nlohmann::json{{"experiment", e.cells.front().config.experiment}, {"file", e.file.string()},
                                   {"overrides", e.overrides}, {"axes", e.axes}, {"cells", cells}}
                            .dump(2) +
                        "\n");
}

const SweepCell& find_cell(const Experiment& experiment, const std::string& id) {
  std::vector<std::string> ids;
  for (const auto& c : experiment.cells) {
    if (c.id == id) return c;
    ids.push_back(c.id);
  }
  throw ConfigError(fmt::format("unknown cell '{}'{}; cells: {}", id, did_you_mean(id, ids), join(ids, ", ")));
}

}  // namespace oasis
