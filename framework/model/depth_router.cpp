#include "framework/model/depth_router.h"

namespace oasis {

DepthRouterImpl::DepthRouterImpl(int64_t d_model, double norm_eps, bool mixes, bool null_gate,
                                 bool null_aware_sources, double gate_bias_init) {
  if (mixes) {
    query = register_parameter("query", torch::zeros({d_model}));
    key_norm = register_module("key_norm", RMSNorm(d_model, norm_eps));
  }
  if (null_gate) {  // the first site has no null evidence before it: only the bias c
    if (mixes) null_scale = register_parameter("null_scale", torch::zeros({1}));
    null_bias = register_parameter("null_bias", torch::full({1}, gate_bias_init));
  }
  // softplus(-6) = 0.0025: the penalty starts near zero.
  if (null_aware_sources && mixes) null_source_penalty = register_parameter("null_source_penalty", torch::full({1}, -6.0));
}

Routed DepthRouterImpl::forward(const std::vector<at::Tensor>& sources, const std::vector<at::Tensor>& source_null,
                                const at::Tensor& signal, const Taps& taps) {
  if (!query.defined()) {  // a single source: h is that source
    Routed r{sources.front(), torch::ones_like(sources.front().select(-1, 0)).unsqueeze(0), {}};
    taps.emit("weights", r.weights);
    if (null_bias.defined()) {
      r.keep = 1.0 - torch::sigmoid(null_bias).expand_as(r.weights[0]);  // no signal yet; LSE of one zero logit is 0
      taps.emit("keep", r.keep);
    }
    return r;
  }
  auto values = torch::stack(sources);                            // [S, B, T, d]
  auto logits = torch::matmul(key_norm->forward(values), query);  // [S, B, T]
  if (null_source_penalty.defined())
    logits = logits - torch::softplus(null_source_penalty) * torch::stack(source_null);
  auto weights = torch::softmax(logits, 0);
  Routed r{(weights.unsqueeze(-1) * values).sum(0), weights, {}};
  taps.emit("weights", weights);
  if (null_bias.defined()) {
    r.keep = 1.0 - torch::sigmoid(null_scale * signal + null_bias - torch::logsumexp(logits, 0));
    taps.emit("keep", r.keep);
  }
  return r;
}

}  // namespace oasis
