// One AttnRes routing site (docs/models.md): softmax over depth, per token, of a zero-initialised
// pseudo-query against RMS-normalised sources,
//   z_i = w . RMSNorm_g(v_i) = (v_i . (g * w)) / rms(v_i),  alpha = softmax_i(z),  h = sum_i alpha_i v_i
// and the OASIS terms (§6.4-6.5):
//   variant a: pi_null = sigmoid(a * n_t + c - LSE_i z_i), the sublayer's update is scaled by 1 - pi_null
//   variant b: z_i -= softplus(lambda) * nu_i, nu_i the mean null mass of the layers behind source i
// The site's arithmetic, key norm included, is one fused operation (depth_mix.h).
#pragma once
#include <torch/torch.h>

#include "framework/model/layers.h"
#include "framework/model/taps.h"

namespace oasis {

// What a routing site mixes: the completed blocks (the embedding first) and the current partial sum.
// All tensors are flattened over tokens (N = B * T).
class DepthSources {
 public:
  DepthSources(const at::Tensor& embedding, bool track_null);  // embedding: [N, d]
  void add_to_partial(const at::Tensor& update, const at::Tensor& scale);  // [N, d] times [N] (undefined: 1)
  void add_partial_null(const at::Tensor& nu);     // [N] null mass of an attention sublayer (variant b)
  void commit_partial(const at::Tensor& block);     // the partial sum (as given: taps may transform it) becomes a completed block
  at::Tensor partial_null_mean() const;                // [N] mean null mass of the partial block (0 if none)

  // Read by the routing sites; changed only through the methods above.
  std::vector<at::Tensor> values;   // completed blocks, [N, d] each
  std::vector<at::Tensor> nulls;    // [N] each: mean null mass per completed block (variant b)
  at::Tensor partial;               // [N, d] or undefined
  at::Tensor partial_null;  // [N] sum of the partial block's null masses
  int64_t partial_null_count = 0;

 private:
  bool track_null_;
};

struct Routed {
  at::Tensor h;        // [N, d] the sublayer's input
  at::Tensor weights;  // [N, S] routing weights over the sources (the partial sum last)
  at::Tensor keep;     // [N] 1 - pi_null (variant a), undefined otherwise
};

class DepthRouterImpl : public torch::nn::Module {
 public:
  // `mixes` is false for the first site, which only ever sees the embedding: its depth softmax is
  // identically 1, so it has no query or key norm (they could never learn).
  DepthRouterImpl(int64_t d_model, double norm_eps, bool mixes, bool null_gate, bool null_aware_sources,
                  double gate_bias_init);
  // signal: n_t [N] (variant a). Taps: weights [S, B, T] (token_shape = {B, T}), keep [B, T].
  Routed forward(const DepthSources& sources, const at::Tensor& signal, at::IntArrayRef token_shape,
                 const Taps& taps = {});

  at::Tensor query;                    // w, zero-initialised (undefined when the site does not mix)
  RMSNorm key_norm{nullptr};           // its gain g scales the keys
  at::Tensor null_scale, null_bias;    // a, c (variant a; no a at the first site)
  at::Tensor null_source_penalty;      // lambda before softplus (variant b)
};
TORCH_MODULE(DepthRouter);

}  // namespace oasis
