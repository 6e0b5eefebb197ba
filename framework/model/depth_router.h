// One AttnRes routing site (methods §1.3-1.4): softmax over depth, per token, of a zero-initialised
// pseudo-query against RMS-normalised sources,
//   z_i = w . RMSNorm(v_i),  alpha = softmax_i(z),  h = sum_i alpha_i v_i
// and the OASIS terms (§6.4-6.5):
//   variant a: pi_null = sigmoid(a * n_t + c - LSE_i z_i), the sublayer's update is scaled by 1 - pi_null
//   variant b: z_i -= softplus(lambda) * nu_i, nu_i the mean null mass of the layers behind source i
#pragma once
#include <vector>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/model/layers.h"
#include "framework/model/taps.h"

namespace oasis {

struct Routed {
  at::Tensor h;          // [B, T, d] the sublayer's input
  at::Tensor weights;    // [S, B, T] routing weights over the sources
  at::Tensor keep;       // [B, T] 1 - pi_null (variant a), undefined otherwise
};

class DepthRouterImpl : public torch::nn::Module {
 public:
  // `mixes` is false for the first site, which only ever sees the embedding: its depth softmax is
  // identically 1, so it has no query or key norm (they could never learn).
  DepthRouterImpl(int64_t d_model, double norm_eps, bool mixes, bool null_gate, bool null_aware_sources,
                  double gate_bias_init);
  // sources: [B, T, d] each; source_null: their mean null mass [B, T] (variant b); signal: n_t [B, T]
  // (variant a). Taps: weights, keep.
  Routed forward(const std::vector<at::Tensor>& sources, const std::vector<at::Tensor>& source_null,
                 const at::Tensor& signal, const Taps& taps = {});

  at::Tensor query;                    // w, zero-initialised (undefined when the site does not mix)
  RMSNorm key_norm{nullptr};
  at::Tensor null_scale, null_bias;    // a, c (variant a; no a at the first site)
  at::Tensor null_source_penalty;      // lambda before softplus (variant b)
};
TORCH_MODULE(DepthRouter);

}  // namespace oasis
