#include "framework/stats/activation_stats.h"

#include <cmath>

#include <torch/torch.h>

namespace oasis {

void Moments::add(const at::Tensor& values) {
  auto x = values.to(torch::kDouble).flatten();
  auto x2 = x * x;
  count += double(x.numel());
  sums[0] += x.sum().item<double>();
  sums[1] += x2.sum().item<double>();
  sums[2] += (x2 * x).sum().item<double>();
  sums[3] += (x2 * x2).sum().item<double>();
}

void Moments::merge(const Moments& other) {
  count += other.count;
  for (size_t k = 0; k < sums.size(); ++k) sums[k] += other.sums[k];
}

double Moments::mean() const { return sums[0] / count; }

double Moments::central(int order) const {
  const double mu = mean(), r2 = sums[1] / count, r3 = sums[2] / count, r4 = sums[3] / count;
  if (order == 2) return r2 - mu * mu;
  if (order == 3) return r3 - 3 * mu * r2 + 2 * mu * mu * mu;
  return r4 - 4 * mu * r3 + 6 * mu * mu * r2 - 3 * mu * mu * mu * mu;
}

double Moments::kurtosis() const { return central(4) / (central(2) * central(2)); }

std::pair<at::Tensor, at::Tensor> inf_norm_and_kurtosis(const at::Tensor& x) {
  auto rows = x.to(torch::kDouble).reshape({x.size(0), -1});
  auto centred = rows - rows.mean(1, true);
  auto c2 = centred * centred;
  auto m2 = c2.mean(1);
  return {rows.abs().amax(1), (c2 * c2).mean(1) / (m2 * m2)};
}

void SiteStats::add(const at::Tensor& x) {
  auto [inf, kurt] = inf_norm_and_kurtosis(x);
  for (int64_t b = 0; b < x.size(0); ++b) {
    inf_norm.push_back(inf[b].item<double>());
    kurtosis.push_back(kurt[b].item<double>());
  }
  auto channel = x.abs().reshape({-1, x.size(-1)}).amax(0).to(torch::kDouble);
  absmax_per_channel = absmax_per_channel.defined() ? torch::maximum(absmax_per_channel, channel) : channel;
  moments.add(x);
}

double finite_mean(const std::vector<double>& v) {
  double total = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) total += x, ++n;
  return n ? total / double(n) : NAN;
}

double SiteStats::mean_inf_norm() const { return finite_mean(inf_norm); }
double SiteStats::mean_kurtosis() const { return finite_mean(kurtosis); }

double uniform_first_token_attention(int64_t queries) {
  double harmonic = 0;
  for (int64_t t = 1; t <= queries; ++t) harmonic += 1.0 / double(t);
  return queries > 0 ? harmonic / double(queries) : NAN;
}

void AttentionStats::add_probs(const at::Tensor& probs, int64_t keep) {
  uniform_first_token = uniform_first_token_attention(probs.size(-2));
  auto p = probs.to(torch::kDouble);
  auto first = p.select(-1, 0);  // [B, H, T]
  first_token.push_back(first.mean(-1));
  first_token_renorm.push_back((first / p.sum(-1)).mean(-1));
  for (int64_t b = 0; b < std::min(keep, probs.size(0)); ++b) maps.push_back(probs[b].to(torch::kHalf).contiguous());
}

at::Tensor AttentionStats::first_token_vs_uniform() const {
  return concat_rows(first_token).mean(0) / uniform_first_token;
}

void AttentionStats::add_null_mass(const at::Tensor& nu) { null_mass.push_back(nu.to(torch::kDouble).mean(-1)); }

void DepthStats::add(const at::Tensor& w_sbt, int64_t keep) {
  auto w = w_sbt.to(torch::kDouble).permute({1, 0, 2});  // [B, S, T]
  weights.push_back(w.mean(-1));
  entropy.push_back((-torch::special_xlogy(w, w)).sum(1).mean(-1));
  max_weight.push_back(w.amax(1).mean(-1));
  for (int64_t b = 0; b < std::min(keep, w.size(0)); ++b) per_token.push_back(w[b].contiguous());
}

at::Tensor concat_rows(const std::vector<at::Tensor>& chunks) {
  return chunks.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(chunks, 0);
}

StatsSummary SchemeStats::summary() const {
  StatsSummary s;
  std::vector<double> kurtoses;
  for (const auto& [name, site] : sites) {
    const double inf = site.mean_inf_norm(), kurt = site.mean_kurtosis();
    if (std::isfinite(inf) && !(inf <= s.max_inf_norm)) s.max_inf_norm = inf, s.max_inf_norm_site = name;
    if (std::isfinite(kurt)) {
      kurtoses.push_back(kurt);
      if (!(kurt <= s.max_kurtosis)) s.max_kurtosis = kurt, s.max_kurtosis_site = name;
    }
  }
  s.avg_kurtosis = finite_mean(kurtoses);
  std::vector<at::Tensor> first, renorm, nulls;
  double uniform = NAN;
  for (const auto& [layer, a] : attention) {
    if (!a.first_token.empty()) first.push_back(concat_rows(a.first_token)), uniform = a.uniform_first_token;
    if (!a.first_token_renorm.empty()) renorm.push_back(concat_rows(a.first_token_renorm));
    if (!a.null_mass.empty()) nulls.push_back(concat_rows(a.null_mass));
  }
  if (!first.empty()) {
    auto all = torch::stack(first);  // [L, N, H]
    s.first_token_attention = all.mean().item<double>();
    s.first_token_vs_uniform = s.first_token_attention / uniform;
    s.sink_rate = (all > sink_eps).to(torch::kDouble).mean().item<double>();
    s.first_token_attention_renorm = torch::stack(renorm).mean().item<double>();
  }
  if (!nulls.empty()) s.null_mass = torch::stack(nulls).mean().item<double>();
  std::vector<double> embedding, entropy, max_weight;
  for (const auto& [site, d] : depth) {
    auto w = concat_rows(d.weights);
    if (w.dim() < 2 || w.size(1) < 2) continue;  // a site that only sees the embedding has nothing to choose
    embedding.push_back(w.select(1, 0).mean().item<double>());
    entropy.push_back(concat_rows(d.entropy).mean().item<double>());
    max_weight.push_back(concat_rows(d.max_weight).mean().item<double>());
  }
  s.depth_sink_mass = finite_mean(embedding);
  s.depth_entropy = finite_mean(entropy);
  s.max_depth_weight = finite_mean(max_weight);
  return s;
}

std::map<std::string, std::vector<double>> SchemeStats::first_token_vs_uniform_per_head() const {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [layer, a] : attention) {
    if (a.first_token.empty()) continue;
    const auto ratio = a.first_token_vs_uniform().contiguous();
    out[layer] = {ratio.data_ptr<double>(), ratio.data_ptr<double>() + ratio.numel()};
  }
  return out;
}

}  // namespace oasis
