#include "framework/model/transformer.h"

#include <cmath>

namespace oasis {

int64_t swiglu_hidden(const ModelConfig& config) {
  if (config.d_ff > 0) return config.d_ff;
  const int64_t raw = (8 * config.d_model + 2) / 3;
  return (raw + 63) / 64 * 64;
}

DecoderBlockImpl::DecoderBlockImpl(const ModelConfig& c) {
  attn_norm = register_module("attn_norm", RMSNorm(c.d_model, c.norm_eps));
  attn = register_module("attn", CausalSelfAttention(c.d_model, c.n_heads, c.max_seq_len, c.rope_theta));
  mlp_norm = register_module("mlp_norm", RMSNorm(c.d_model, c.norm_eps));
  mlp = register_module("mlp", SwiGLU(c.d_model, swiglu_hidden(c)));
}

torch::Tensor DecoderBlockImpl::forward(const torch::Tensor& x) {
  auto h = x + attn->forward(attn_norm->forward(x));
  return h + mlp->forward(mlp_norm->forward(h));
}

Transformer::Transformer(const ModelConfig& c, int64_t vocab_size) : vocab_size_(vocab_size) {
  embed = register_module("embed", torch::nn::Embedding(vocab_size, c.d_model));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers; ++i) blocks->push_back(DecoderBlock(c));
  final_norm = register_module("final_norm", RMSNorm(c.d_model, c.norm_eps));
  lm_head = torch::nn::Linear(torch::nn::LinearOptions(c.d_model, vocab_size).bias(false));
  if (c.tie_embeddings)
    lm_head->weight = embed->weight;  // shared tensor; saved once, as embed.weight
  else
    register_module("lm_head", lm_head);
  initialize(c);
}

// Normal(0, init_std) everywhere; the projections that write into the residual stream (wo, w_down) are
// scaled by 1/sqrt(2 * n_layers) so the stream's variance does not grow with depth (GPT-2).
void Transformer::initialize(const ModelConfig& c) {
  torch::NoGradGuard no_grad;
  const double out_std = c.init_std / std::sqrt(2.0 * double(c.n_layers));
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    if (name.find("norm") != std::string::npos) continue;  // gains stay 1
    const bool residual_out = name.find("attn.wo") != std::string::npos || name.find("mlp.w_down") != std::string::npos;
    p.value().normal_(0.0, residual_out ? out_std : c.init_std);
  }
}

at::Tensor Transformer::forward(const at::Tensor& tokens) {
  auto x = embed->forward(tokens);
  for (const auto& block : *blocks) x = block->as<DecoderBlock>()->forward(x);
  return lm_head->forward(final_norm->forward(x));
}

}  // namespace oasis
