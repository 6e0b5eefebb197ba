// The statistics of one scheme's evaluation pass, per tap site, with the definitions of docs/statistics.md
// (written into stats.h5's /metric_defs by stats_file.cpp):
//   activation site x [B, T, D], per sequence s over all T*D elements:
//     inf_norm_s = max |x|;  kurtosis_s = m4 / m2^2 (Pearson; central moments in float64, no epsilon)
//     absmax per channel = max over sequences and tokens of |x_:,:,c|;  moments = count and sums of x^1..x^4
//   attention probs A [B, H, T, T] of a layer, per sequence and head:
//     first_token = mean_t A[t, 0] (every query t, Gu et al. with k = 1);  first_token_renorm = mean_t A[t, 0] /
//     sum_j A[t, j];  sink = first_token > eps;  null_mass = mean_t nu_t (normalizers that have one)
//   routing weights w [S, B, T] of a depth site, per sequence: mean_t w_i; entropy mean_t -sum_i w_i ln w_i;
//   max_weight mean_t max_i w_i; the embedding is source 0.
// Per-sequence values are kept raw, so any aggregate can be recomputed; the summary follows docs/statistics.md.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace oasis {

// Mergeable power sums (llama.cpp imatrix style): runs and batches combine by adding.
struct Moments {
  double count = 0;
  std::array<double, 4> sums{};  // sum of x, x^2, x^3, x^4
  void add(const at::Tensor& values);
  void merge(const Moments& other);
  double mean() const;
  double central(int order) const;  // central moment of order 2..4 from the power sums
  double kurtosis() const;          // Pearson m4 / m2^2
};

// Per-sequence max |x| and Pearson kurtosis over all elements of each row of x [B, ...]: [B] each, float64.
std::pair<at::Tensor, at::Tensor> inf_norm_and_kurtosis(const at::Tensor& x);

struct SiteStats {
  std::vector<double> inf_norm, kurtosis;  // per sequence
  at::Tensor absmax_per_channel;           // [D] float64
  Moments moments;
  void add(const at::Tensor& x);  // [B, T, D]
  double mean_inf_norm() const;
  double mean_kurtosis() const;
};

// The first-token attention that uniform causal attention gives over T queries: query t (1-based) sees t
// keys, so A[t, 1] = 1/t and the mean over queries is the harmonic number H_T over T (Gu et al.'s
// reference: 0.074 at T = 64, 0.024 at T = 256).
double uniform_first_token_attention(int64_t queries);

struct AttentionStats {
  std::vector<at::Tensor> first_token, first_token_renorm, null_mass;  // [B, H] float64 chunks
  std::vector<at::Tensor> maps;                                        // [H, T, T] half, per kept sequence
  double uniform_first_token = NAN;  // H_T / T of the windows seen (all windows of a collection are T long)
  // probs [B, H, T, T]; the batch's first `keep` sequences are kept as maps.
  void add_probs(const at::Tensor& probs, int64_t keep);
  void add_null_mass(const at::Tensor& null_mass);  // [B, H, T]
  // [H] float64: the mean first-token attention over sequences divided by uniform_first_token.
  at::Tensor first_token_vs_uniform() const;
};

struct DepthStats {
  std::vector<at::Tensor> weights, entropy, max_weight;  // [B, S], [B], [B] float64
  std::vector<at::Tensor> per_token;                     // [S, T] float64, per kept sequence
  void add(const at::Tensor& weights, int64_t keep);     // [S, B, T]
};

// The table's scalars (docs/statistics.md). NaN where the model has nothing to measure (e.g. null mass of softmax).
// The scheme-level numbers; each is defined (name, label, direction, text) in summary_metrics.h.
struct StatsSummary {
  double max_inf_norm = NAN;
  std::string max_inf_norm_site;
  double avg_kurtosis = NAN, max_kurtosis = NAN;
  std::string max_kurtosis_site;
  double first_token_attention = NAN, first_token_attention_renorm = NAN, sink_rate = NAN, null_mass = NAN;
  double first_token_vs_uniform = NAN;  // first_token_attention / (H_T / T): 1 = uniform, a sink is far above
  double depth_sink_mass = NAN, depth_entropy = NAN, max_depth_weight = NAN;
};

struct SchemeStats {
  std::string scheme = "fp";
  int64_t sequences = 0;
  double sink_eps = 0.3;
  std::map<std::string, SiteStats> sites;          // "3.attn.normed"
  std::map<std::string, AttentionStats> attention;  // layer "3"
  std::map<std::string, DepthStats> depth;          // "3.route_attn", "final_route"
  StatsSummary summary() const;
  // Per attention layer, per head: mean first-token attention over sequences divided by H_T / T.
  std::map<std::string, std::vector<double>> first_token_vs_uniform_per_head() const;
};

at::Tensor concat_rows(const std::vector<at::Tensor>& chunks);  // cat along dim 0 ([0] when empty)
double finite_mean(const std::vector<double>& values);           // NaN and inf skipped; NaN when none is left

}  // namespace oasis
