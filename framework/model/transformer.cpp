#include "framework/model/transformer.h"

#include <cmath>

namespace oasis {

int64_t swiglu_hidden(const ModelConfig& config) {
  if (config.d_ff > 0) return config.d_ff;
  const int64_t raw = (8 * config.d_model + 2) / 3;
  return (raw + 63) / 64 * 64;
}

namespace {
bool oasis_on(const ModelComponents& c) { return c.null_signal == "oasis"; }
bool variant_a(const ModelConfig& c, const ModelComponents& m) { return oasis_on(m) && c.oasis.variant != "b"; }
bool variant_b(const ModelConfig& c, const ModelComponents& m) { return oasis_on(m) && c.oasis.variant != "a"; }
}  // namespace

DecoderBlockImpl::DecoderBlockImpl(const ModelConfig& c, const ModelComponents& m, int64_t index) {
  const bool first = index == 0, last = index == c.n_layers - 1;
  attn_norm = register_module("attn_norm", RMSNorm(c.d_model, c.norm_eps));
  attn = register_module("attn", CausalSelfAttention(c.d_model, c.n_heads, c.max_seq_len, c.rope_theta,
                                                     make_normalizer(m.normalizer, c.n_heads, c.clip_alpha, c.clip_zeta),
                                                     make_gate(m.gate, c.d_model, c.n_heads, c.gate_init)));
  mlp_norm = register_module("mlp_norm", RMSNorm(c.d_model, c.norm_eps));
  mlp = register_module("mlp", SwiGLU(c.d_model, swiglu_hidden(c)));
  if (m.router == "attnres") {
    const bool a = variant_a(c, m), b = variant_b(c, m);
    const bool gate_attn = a && c.oasis.sites != "mlp", gate_mlp = a && c.oasis.sites != "attn";
    route_attn = register_module("route_attn", DepthRouter(c.d_model, c.norm_eps, !first, gate_attn, b, c.oasis.gate_bias_init));
    route_mlp = register_module("route_mlp", DepthRouter(c.d_model, c.norm_eps, true, gate_mlp, b, c.oasis.gate_bias_init));
  }
  // This layer's null signal is read by its own MLP site (sites both/mlp) or the next attention site
  // (sites both/attn; none after the last layer).
  const bool signal_read = c.oasis.sites != "attn" || !last;
  if (variant_a(c, m) && c.oasis.per_head && signal_read)
    null_head_weights = register_parameter("null_head_weights", torch::full({c.n_heads}, 1.0 / double(c.n_heads)));
}

Transformer::Transformer(const ModelConfig& c, const ModelComponents& m, int64_t vocab_size)
    : config_(c), components_(m), vocab_size_(vocab_size) {
  embed = register_module("embed", torch::nn::Embedding(vocab_size, c.d_model));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers; ++i) blocks->push_back(DecoderBlock(c, m, i));
  if (m.router == "attnres")
    final_route = register_module("final_route", DepthRouter(c.d_model, c.norm_eps, true, false, variant_b(c, m), 0.0));
  final_norm = register_module("final_norm", RMSNorm(c.d_model, c.norm_eps));
  lm_head = torch::nn::Linear(torch::nn::LinearOptions(c.d_model, vocab_size).bias(false));
  if (c.tie_embeddings)
    lm_head->weight = embed->weight;  // shared tensor; saved once, as embed.weight
  else
    register_module("lm_head", lm_head);
  initialize(c);
}

// Normal(0, init_std) for every matrix ("...weight" outside norms); the projections that write into the
// residual stream (wo, w_down) are scaled by 1/sqrt(2 * n_layers) (GPT-2). Everything else keeps its
// constructor value: norm gains 1, routing queries 0, gate biases logit(gate_init), sink logits 0.
void Transformer::initialize(const ModelConfig& c) {
  torch::NoGradGuard no_grad;
  const double out_std = c.init_std / std::sqrt(2.0 * double(c.n_layers));
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    const bool matrix = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 && name.find("norm") == std::string::npos &&
                        name.find("null_head_weights") == std::string::npos;
    if (!matrix) continue;
    const bool residual_out = name.find("attn.wo") != std::string::npos || name.find("mlp.w_down") != std::string::npos;
    p.value().normal_(0.0, residual_out ? out_std : c.init_std);
  }
}

at::Tensor Transformer::forward(const at::Tensor& tokens) {
  const Taps taps{observer_, ""};
  auto x = embed->forward(tokens);
  x = components_.router == "attnres" ? forward_attnres(x, taps) : forward_standard(x, taps);
  return lm_head->forward(final_norm->forward(x));
}

at::Tensor Transformer::forward_standard(const at::Tensor& embedded, const Taps& taps) {
  auto x = embedded;
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    const Taps layer = taps.child(std::to_string(i));
    x = x + block->attn->forward(block->attn_norm->forward(x), layer.child("attn")).out;
    x = x + block->mlp->forward(block->mlp_norm->forward(x));
  }
  return x;
}

at::Tensor Transformer::forward_attnres(const at::Tensor& embedded, const Taps& taps) {
  const ModelConfig& c = config_;
  const bool a = variant_a(c, components_), b = variant_b(c, components_);
  const int64_t per_block = 2 * c.n_layers / components_.attnres_blocks;
  const auto token_shape = embedded.sizes().slice(0, 2);  // [B, T]

  std::vector<at::Tensor> blocks_done = {embedded};  // b_0 = the embedding, then completed block sums
  std::vector<at::Tensor> blocks_null;               // variant b: each source's mean null mass
  if (b) blocks_null.push_back(torch::zeros(token_shape, embedded.options()));
  at::Tensor partial, partial_null_sum, signal;
  int64_t partial_attn_count = 0, sublayers_done = 0;
  if (a) signal = torch::zeros(token_shape, embedded.options());

  auto sources = [&] {
    auto s = blocks_done;
    if (partial.defined()) s.push_back(partial);
    return s;
  };
  auto source_nulls = [&] {
    auto s = blocks_null;
    if (b && partial.defined())
      s.push_back(partial_attn_count ? partial_null_sum / double(partial_attn_count) : torch::zeros(token_shape, embedded.options()));
    return s;
  };
  auto add_update = [&](const at::Tensor& update) {
    partial = partial.defined() ? partial + update : update;
    if (++sublayers_done % per_block == 0) {  // the block is complete: it becomes a source of its own
      blocks_done.push_back(partial);
      if (b) blocks_null.push_back(partial_attn_count ? partial_null_sum / double(partial_attn_count)
                                                      : torch::zeros(token_shape, embedded.options()));
      partial = at::Tensor();
      partial_null_sum = at::Tensor();
      partial_attn_count = 0;
    }
  };

  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    const Taps layer = taps.child(std::to_string(i));

    Routed r = block->route_attn->forward(sources(), source_nulls(), signal, layer.child("route_attn"));
    AttentionResult att = block->attn->forward(block->attn_norm->forward(r.h), layer.child("attn"));
    // The null evidence of this sublayer (optionally a signal only, without gradients).
    const auto lse = c.oasis.detach ? att.lse.detach() : att.lse;
    if (b) {
      auto nu = (att.null_mass.defined() ? att.null_mass : torch::sigmoid(-att.lse)).mean(1);  // [B, T]
      if (c.oasis.detach) nu = nu.detach();
      partial_null_sum = partial_null_sum.defined() ? partial_null_sum + nu : nu;
      partial_attn_count += 1;
    }
    add_update(r.keep.defined() ? att.out * r.keep.unsqueeze(-1) : att.out);
    if (a) {  // e_t = mean_h(-LSE) (or learned head weights) -> the signal seen by the next sites
      auto evidence = block->null_head_weights.defined() ? (-lse * block->null_head_weights.view({1, -1, 1})).sum(1)
                                                         : (-lse).mean(1);
      signal = c.oasis.ema_rate > 0 && i > 0 ? c.oasis.ema_rate * signal + (1.0 - c.oasis.ema_rate) * evidence : evidence;
      layer.emit("null_signal", signal);
    }

    r = block->route_mlp->forward(sources(), source_nulls(), signal, layer.child("route_mlp"));
    auto out = block->mlp->forward(block->mlp_norm->forward(r.h));
    add_update(r.keep.defined() ? out * r.keep.unsqueeze(-1) : out);
  }
  return final_route->forward(sources(), source_nulls(), signal, taps.child("final_route")).h;
}

}  // namespace oasis
