#include "framework/stats/stats_file.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/core/log.h"
#include "framework/stats/summary_metrics.h"

namespace oasis {
namespace fs = std::filesystem;

const std::vector<MetricDefinition>& metric_definitions() {
  static const std::vector<MetricDefinition> defs = [] {
  std::vector<MetricDefinition> defs = {
      {"inf_norm_per_seq", "max |x| over all T*D elements of the site's tensor in one sequence", "[sequence]",
       "activation sites"},
      {"kurtosis_per_seq",
       "Pearson kurtosis m4 / m2^2 over all T*D elements of one sequence; central moments about the sequence mean, "
       "in float64, population (1/n) normalisation, no epsilon (Gaussian = 3)",
       "[sequence]", "activation sites"},
      {"absmax_per_channel", "max |x| over all evaluated sequences and tokens, per channel", "[channel]",
       "activation sites"},
      {"moments", "count and sums of x, x^2, x^3, x^4 over all elements of all sequences (mergeable across runs)",
       "[count, s1, s2, s3, s4]", "activation sites"},
      {"first_token_per_seq",
       "mean over queries t = 1..T of A[t, 1], the attention to the first token (the BOS token with data.bos), per "
       "head (Gu et al. 2025, k = 1)",
       "[sequence, head]", "attention layers"},
      {"first_token_vs_uniform_per_head",
       "mean over sequences of first_token_per_seq divided by uniform_first_token, the value uniform causal "
       "attention gives: H_T / T for T queries (the group's attribute); 1 = uniform, a sink is far above",
       "[head]", "attention layers"},
      {"first_token_renorm_per_seq", "mean over queries t of A[t, 1] / sum_j A[t, j] (differs for normalizers whose "
                                     "rows do not sum to 1)",
       "[sequence, head]", "attention layers"},
      {"null_mass_per_seq", "mean over queries t of the null mass nu_t = 1 - sum_j A[t, j] as the normalizer computes "
                            "it (softmax1: sigmoid(-LSE))",
       "[sequence, head]", "attention layers with a null"},
      {"maps", "attention probabilities A[t, j] of the first sequences, float16", "[sequence, head, query, key]",
       "attention layers"},
      {"weights_per_seq", "routing weight of each depth source, mean over tokens; source 0 is the embedding, the last "
                          "is the current partial block when there is one",
       "[sequence, source]", "depth routing sites"},
      {"entropy_per_seq", "mean over tokens of -sum_i w_i ln w_i (nats)", "[sequence]", "depth routing sites"},
      {"max_weight_per_seq", "mean over tokens of max_i w_i", "[sequence]", "depth routing sites"},
      {"weights_per_token", "routing weights of the first sequences per token", "[sequence, source, token]",
       "depth routing sites"},
  };
  for (const auto& m : summary_metrics())
    defs.push_back({"summary." + m.name, m.definition, "scalar", "scheme", m.label, better_name(m.better)});
  return defs;
  }();
  return defs;
}

std::string padded_layer(const std::string& layer) {
  const bool numeric = !layer.empty() && layer.find_first_not_of("0123456789") == std::string::npos;
  return numeric && layer.size() < 2 ? std::string(2 - layer.size(), '0') + layer : layer;
}

std::pair<std::string, std::string> layer_and_site(const std::string& site) {
  const auto dot = site.find('.');
  if (dot == std::string::npos) return {padded_layer(site), ""};
  return {padded_layer(site.substr(0, dot)), site.substr(dot + 1)};
}

namespace {

std::vector<int64_t> shape_of(const at::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }

std::vector<double> values_of(const at::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

void write_tensor(H5Writer& w, const std::string& path, const at::Tensor& t, H5Stored stored = H5Stored::f64) {
  w.write(path, shape_of(t), values_of(t), stored);
}

void write_scheme(H5Writer& w, const SchemeStats& s) {
  const std::string root = "/" + s.scheme;
  for (const auto& [site, st] : s.sites) {
    const auto [layer, name] = layer_and_site(site);
    const std::string g = fmt::format("{}/sites/{}/{}", root, layer, name);
    w.write(g + "/inf_norm_per_seq", {int64_t(st.inf_norm.size())}, st.inf_norm);
    w.write(g + "/kurtosis_per_seq", {int64_t(st.kurtosis.size())}, st.kurtosis);
    write_tensor(w, g + "/absmax_per_channel", st.absmax_per_channel);
    w.write(g + "/moments", {5}, {st.moments.count, st.moments.sums[0], st.moments.sums[1], st.moments.sums[2],
                                  st.moments.sums[3]});
    w.attribute(g, "tap", site);
  }
  for (const auto& [layer, a] : s.attention) {
    const std::string g = fmt::format("{}/attention/{}", root, padded_layer(layer));
    if (!a.first_token.empty()) {
      write_tensor(w, g + "/first_token_per_seq", concat_rows(a.first_token));
      write_tensor(w, g + "/first_token_renorm_per_seq", concat_rows(a.first_token_renorm));
      write_tensor(w, g + "/first_token_vs_uniform_per_head", a.first_token_vs_uniform());
      w.attribute(g, "uniform_first_token", a.uniform_first_token);
    }
    if (!a.null_mass.empty()) write_tensor(w, g + "/null_mass_per_seq", concat_rows(a.null_mass));
    if (!a.maps.empty()) {
      auto maps = torch::stack(a.maps).contiguous();  // [K, H, T, T] half
      const auto shape = shape_of(maps);
      w.write_half(g + "/maps", shape, reinterpret_cast<const uint16_t*>(maps.data_ptr<at::Half>()),
                   {1, 1, shape[2], shape[3]});
    }
  }
  for (const auto& [site, d] : s.depth) {
    const auto [layer, name] = layer_and_site(site);
    const std::string g = fmt::format("{}/depth/{}", root, name.empty() ? layer : layer + "." + name);
    write_tensor(w, g + "/weights_per_seq", concat_rows(d.weights));
    write_tensor(w, g + "/entropy_per_seq", concat_rows(d.entropy));
    write_tensor(w, g + "/max_weight_per_seq", concat_rows(d.max_weight));
    if (!d.per_token.empty()) write_tensor(w, g + "/weights_per_token", torch::stack(d.per_token));
    w.attribute(g, "tap", site);
  }
  const StatsSummary summary = s.summary();
  w.group(root + "/summary");
  for (const auto& m : summary_metrics()) w.attribute(root + "/summary", m.name, summary.*m.value);
  w.attribute(root + "/summary", "max_inf_norm_site", summary.max_inf_norm_site);
  w.attribute(root + "/summary", "max_kurtosis_site", summary.max_kurtosis_site);
  w.attribute(root + "/summary", "sink_eps", s.sink_eps);
  w.attribute(root + "/summary", "sequences", s.sequences);
  w.attribute(root, "scheme", s.scheme);
}

}  // namespace

void write_stats_file(const fs::path& file, const StatsMeta& m, const std::vector<const SchemeStats*>& schemes) {
  const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
  {
    H5Writer w(tmp);
    w.attribute("/", "schema_version", kStatsSchemaVersion);
    w.attribute("/", "format", std::string("oasis-stats"));
    w.group("/meta");
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"code_version", m.code_version}, {"config_hash", m.config_hash}, {"preset", m.preset},
             {"dataset", m.dataset}, {"tokenizer", m.tokenizer}, {"device", m.device}, {"precision", m.precision},
             {"split", m.split}, {"run_dir", m.run_dir}, {"created_utc", utc_now()}})
      w.attribute("/meta", key, value);
    w.attribute("/meta", "seed", m.seed);
    w.attribute("/meta", "sequences", m.sequences);
    w.attribute("/meta", "seq_len", m.seq_len);
    w.attribute("/meta", "bos", int64_t(m.bos));
    w.write_string("/meta/config_yaml", m.config_yaml);
    for (const auto& d : metric_definitions()) {
      const std::string path = "/metric_defs/" + d.name;
      w.write_string(path, d.definition);
      w.attribute(path, "axes", d.axes);
      w.attribute(path, "applies_to", d.applies_to);
      if (!d.label.empty()) w.attribute(path, "label", d.label), w.attribute(path, "better", d.better);
    }
    std::string names;
    for (const SchemeStats* s : schemes) {
      write_scheme(w, *s);
      names += (names.empty() ? "" : ",") + s->scheme;
    }
    w.attribute("/", "schemes", names);
    w.attribute("/", "complete", int64_t(1));  // last: a file without it is incomplete
    w.close();
  }
  fs::rename(tmp, file);
}

std::unique_ptr<H5Reader> open_stats_file(const fs::path& file) {
  auto reader = std::make_unique<H5Reader>(file);
  const auto version = reader->number_attribute("/", "schema_version");
  if (!version)
    throw RuntimeError(fmt::format("{}: not an oasis stats file (no schema_version attribute)", file.string()));
  if (*version > double(kStatsSchemaVersion))
    throw RuntimeError(fmt::format("{}: schema version {} is newer than this oasis reads ({}); update oasis",
                                   file.string(), int64_t(*version), kStatsSchemaVersion));
  const auto complete = reader->number_attribute("/", "complete");
  if (!complete || *complete != 1.0)
    throw RuntimeError(fmt::format("{}: incomplete stats file (no complete = 1 attribute: the writer did not finish)",
                                   file.string()));
  return reader;
}

}  // namespace oasis
