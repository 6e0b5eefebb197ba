// `oasis inspect FILE.h5 [PATH]`: a readable summary of a stats file (meta, each scheme's summary, per-layer
// max |x| and kurtosis, attention sinks, depth routing), or one group or dataset of it. A corrupt,
// truncated or incomplete file is an error (exit 1) naming the file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/core/text.h"
#include "framework/stats/stats_file.h"
#include "framework/stats/summary_metrics.h"

namespace oasis {
namespace {

std::string number(double x) {
  if (std::isnan(x)) return "-";
  if (x != 0 && (std::fabs(x) >= 1e5 || std::fabs(x) < 1e-3)) return fmt::format("{:.3e}", x);
  return fmt::format("{:.4g}", x);
}

// Column means of a [rows, cols] dataset.
std::vector<double> column_means(const H5Array& a) {
  if (a.shape.size() != 2 || a.shape[0] == 0) return {};
  std::vector<double> out(size_t(a.shape[1]), 0.0);
  for (int64_t r = 0; r < a.shape[0]; ++r)
    for (int64_t c = 0; c < a.shape[1]; ++c) out[size_t(c)] += a.values[size_t(r * a.shape[1] + c)] / double(a.shape[0]);
  return out;
}

std::string attribute_text(const H5Reader& f, const std::string& object, const std::string& name) {
  if (auto s = f.string_attribute(object, name)) return *s;
  if (auto x = f.number_attribute(object, name)) return number(*x);
  return "?";
}

void print_meta(const H5Reader& f) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("schema_version", attribute_text(f, "/", "schema_version"));
  rows.emplace_back("schemes", attribute_text(f, "/", "schemes"));
  for (const auto& name : f.attribute_names("/meta")) rows.emplace_back(name, attribute_text(f, "/meta", name));
  print_table(f.file_name(), rows);
}

void print_scheme(const H5Reader& f, const std::string& scheme) {
  const std::string root = "/" + scheme;
  std::printf("\n## %s: summary\n\n", scheme.c_str());
  // The defined summary statistics first (summary_metrics.h), then the file's other summary attributes.
  std::vector<std::vector<std::string>> summary;
  std::set<std::string> shown;
  const auto names = f.attribute_names(root + "/summary");
  for (const auto& m : summary_metrics()) {
    if (std::find(names.begin(), names.end(), m.name) == names.end()) continue;
    const auto value = f.number_attribute(root + "/summary", m.name);
    summary.push_back({m.name, value && std::isfinite(*value) ? fmt::format("{:.{}f}", *value, m.decimals) : "n/a",
                       m.label, better_name(m.better)});
    shown.insert(m.name);
  }
  for (const auto& name : names)
    if (!shown.count(name)) summary.push_back({name, attribute_text(f, root + "/summary", name), "", ""});
  std::printf("%s", markdown_table({"statistic", "value", "label", "better"}, summary).c_str());

  if (f.exists(root + "/sites")) {
    std::set<std::string> site_names;
    const auto layers = f.children(root + "/sites");
    for (const auto& layer : layers)
      for (const auto& site : f.children(root + "/sites/" + layer)) site_names.insert(site);
    std::vector<std::string> header = {"layer"};
    header.insert(header.end(), site_names.begin(), site_names.end());
    for (const char* stat : {"inf_norm_per_seq", "kurtosis_per_seq"}) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& layer : layers) {
        std::vector<std::string> row = {layer};
        for (const auto& site : site_names) {
          const std::string path = fmt::format("{}/sites/{}/{}/{}", root, layer, site, stat);
          row.push_back(f.exists(path) ? number(finite_mean(f.read(path).values)) : "");
        }
        rows.push_back(row);
      }
      std::printf("\n## %s: %s (mean over sequences), per layer and site\n\n%s", scheme.c_str(),
                  std::string(stat) == "inf_norm_per_seq" ? "max |x|" : "Pearson kurtosis",
                  markdown_table(header, rows).c_str());
    }
  }

  if (f.exists(root + "/attention")) {
    std::vector<std::vector<std::string>> rows;
    const double eps = f.number_attribute(root + "/summary", "sink_eps").value_or(0.3);
    for (const auto& layer : f.children(root + "/attention")) {
      const std::string g = root + "/attention/" + layer;
      if (!f.exists(g + "/first_token_per_seq")) continue;
      const H5Array first = f.read(g + "/first_token_per_seq");
      const auto per_head = column_means(first);
      int64_t sinks = 0;
      for (double x : first.values) sinks += x > eps;
      const double uniform = f.number_attribute(g, "uniform_first_token").value_or(NAN);
      std::string heads, ratios;
      for (double x : per_head) {
        heads += (heads.empty() ? "" : " ") + fmt::format("{:.3f}", x);
        ratios += (ratios.empty() ? "" : " ") + fmt::format("{:.1f}x", x / uniform);
      }
      const std::string null_mass =
          f.exists(g + "/null_mass_per_seq") ? number(finite_mean(f.read(g + "/null_mass_per_seq").values)) : "-";
      rows.push_back({layer, number(finite_mean(first.values)), heads, ratios,
                      number(double(sinks) / double(std::max<size_t>(1, first.values.size()))), null_mass});
    }
    std::printf("\n## %s: attention to the first token\n\n%s", scheme.c_str(),
                markdown_table({"layer", "mean", "per head", "per head / uniform (H_T/T)",
                                fmt::format("sink rate (> {})", eps), "null mass"},
                               rows)
                    .c_str());
  }

  if (f.exists(root + "/depth")) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& site : f.children(root + "/depth")) {
      const std::string g = root + "/depth/" + site;
      std::string weights;
      for (double x : column_means(f.read(g + "/weights_per_seq"))) weights += (weights.empty() ? "" : " ") + fmt::format("{:.3f}", x);
      rows.push_back({site, weights, number(finite_mean(f.read(g + "/entropy_per_seq").values)),
                      number(finite_mean(f.read(g + "/max_weight_per_seq").values))});
    }
    std::printf("\n## %s: depth routing (source 0 = embedding)\n\n%s", scheme.c_str(),
                markdown_table({"site", "mean weight per source", "entropy (nats)", "max weight"}, rows).c_str());
  }
}

void print_object(const H5Reader& f, const std::string& path) {
  if (!f.exists(path)) throw RuntimeError(fmt::format("{}: no object '{}'", f.file_name(), path));
  std::printf("%s\n", path.c_str());
  for (const auto& name : f.attribute_names(path))
    std::printf("  @%s = %s\n", name.c_str(), attribute_text(f, path, name).c_str());
  if (f.is_group(path)) {
    for (const auto& child : f.children(path))
      std::printf("  %s%s\n", child.c_str(), f.is_group(path + "/" + child) ? "/" : "");
    return;
  }
  try {
    const H5Array a = f.read(path);
    std::vector<std::string> dims;
    for (auto d : a.shape) dims.push_back(std::to_string(d));
    std::printf("  shape [%s]\n ", join(dims, ", ").c_str());
    const size_t shown = std::min<size_t>(a.values.size(), 64);
    for (size_t i = 0; i < shown; ++i) std::printf(" %s", number(a.values[i]).c_str());
    std::printf("%s\n", shown < a.values.size() ? fmt::format(" ... ({} values)", a.values.size()).c_str() : "");
  } catch (const RuntimeError&) {
    std::printf("%s\n", f.read_string(path).c_str());  // a string dataset (config_yaml, metric_defs)
  }
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_help_only(args, "inspect");
  if (parsed.help) {
    std::printf(
        "usage: oasis inspect FILE.h5 [PATH]\n\n"
        "Summarises a stats.h5 file: meta, each scheme's summary, per-layer max |x| and kurtosis, attention to the\n"
        "first token, depth routing. With PATH (e.g. /fp/sites/03/attn.normed or /meta/config_yaml) prints that\n"
        "group or dataset. Exits 1 on a corrupt, truncated or incomplete file.\n");
    return 0;
  }
  if (parsed.positional.empty() || parsed.positional.size() > 2)
    throw ConfigError("oasis inspect: expected FILE.h5 [PATH] (see `oasis inspect --help`)");
  const auto file = open_stats_file(parsed.positional[0]);
  if (parsed.positional.size() == 2) {
    std::string path = parsed.positional[1];
    if (path.empty() || path[0] != '/') path = "/" + path;
    print_object(*file, path);
    return 0;
  }
  print_meta(*file);
  std::stringstream schemes(file->string_attribute("/", "schemes").value_or(""));
  std::string scheme;
  while (std::getline(schemes, scheme, ','))
    if (!scheme.empty()) print_scheme(*file, scheme);
  return 0;
}

}  // namespace oasis
