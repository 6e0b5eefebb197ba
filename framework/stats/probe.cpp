#include "framework/stats/probe.h"

#include <fnmatch.h>

#include <algorithm>

namespace oasis {

namespace {
std::string last_part(const std::string& site) {
  const auto dot = site.rfind('.');
  return dot == std::string::npos ? site : site.substr(dot + 1);
}
std::string without_last_part(const std::string& site) {
  const auto dot = site.rfind('.');
  return dot == std::string::npos ? "" : site.substr(0, dot);
}
}  // namespace

SiteKind site_kind(const std::string& site) {
  static const std::vector<std::string> activations = {"routed", "normed", "heads", "out", "hidden", "block_sum"};
  const std::string last = last_part(site);
  if (std::find(activations.begin(), activations.end(), last) != activations.end()) return SiteKind::activation;
  if (last == "probs") return SiteKind::attention_probs;
  if (last == "null_mass") return SiteKind::null_mass;
  if (last == "weights") return SiteKind::depth_weights;
  return SiteKind::other;
}

bool matches_any(const std::string& site, const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ::fnmatch(p.c_str(), site.c_str(), 0) == 0; });
}

StatsProbe::StatsProbe(std::vector<std::string> patterns, int64_t map_sequences, double sink_eps)
    : patterns_(std::move(patterns)), map_sequences_(map_sequences) {
  stats_.sink_eps = sink_eps;
}

void StatsProbe::begin_batch(int64_t first_sequence, int64_t batch_size) {
  keep_ = std::max<int64_t>(0, std::min(batch_size, map_sequences_ - first_sequence));
  stats_.sequences = first_sequence + batch_size;
}

void StatsProbe::observe(const std::string& site, const at::Tensor& value) {
  const SiteKind kind = site_kind(site);
  if (kind == SiteKind::other || !matches_any(site, patterns_)) return;
  // "3.attn.probs" -> layer "3"; "3.route_attn.weights" -> depth site "3.route_attn".
  const std::string owner = without_last_part(site);
  switch (kind) {
    case SiteKind::activation: stats_.sites[site].add(value); break;
    case SiteKind::attention_probs: stats_.attention[without_last_part(owner)].add_probs(value, keep_); break;
    case SiteKind::null_mass: stats_.attention[without_last_part(owner)].add_null_mass(value); break;
    case SiteKind::depth_weights: stats_.depth[owner].add(value, keep_); break;
    case SiteKind::other: break;
  }
}

}  // namespace oasis
