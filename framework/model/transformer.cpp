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
                                                     make_normalizer(m.normalizer, {c.n_heads, c.context_T(), &c.components}),
                                                     make_gate(m.gate, {c.d_model, c.n_heads, &c.components})));
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
    : config_(c),
      components_(m),
      vocab_size_(vocab_size),
      depth_routed_(m.router == "attnres"),
      null_gated_updates_(variant_a(c, m)),
      null_aware_sources_(variant_b(c, m)) {
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

// Normal(0, init_std) for every matrix (embeddings, linears, gate weights); the projections that write into the
// residual stream (wo, w_down) are scaled by 1/sqrt(2 * n_layers) (GPT-2). Everything else keeps its
// constructor value: norm gains 1, routing queries 0, gate biases logit(bondarenko.init), sink logits 0.
void Transformer::initialize(const ModelConfig& c) {
  torch::NoGradGuard no_grad;
  const double out_std = c.init_std / std::sqrt(2.0 * double(c.n_layers));
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    if (p.value().dim() < 2) continue;  // vectors keep their constructor values
    const bool residual_out = name.find("attn.wo") != std::string::npos || name.find("mlp.w_down") != std::string::npos;
    p.value().normal_(0.0, residual_out ? out_std : c.init_std);
  }
}

void Transformer::configure(const ComputeSettings& settings) {
  TORCH_CHECK(settings.dtype == at::kFloat || settings.dtype == at::kBFloat16,
              "compute dtype: expected fp32 or bf16, got ", settings.dtype);
  compute_dtype_ = settings.dtype;
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    block->attn->compute_dtype = settings.dtype;
    block->attn->use_fused_attention = settings.fused_attention;
    block->mlp->compute_dtype = settings.dtype;
  }
}

namespace {
// A sublayer's input as it arrives (`routed`: the residual stream, or the AttnRes mixture) and after its norm.
at::Tensor normed_input(RMSNorm& norm, const at::Tensor& routed, const Taps& taps) {
  return taps.site("normed", norm->forward(taps.site("routed", routed)));
}
}  // namespace

struct Transformer::Decoding {
  at::Tensor positions, blocked;
  KVCache* cache;
  AttentionStep step;
  const AttentionStep* layer(size_t i) {
    step = {&positions, &blocked, &cache->keys[i], &cache->values[i]};
    return &step;
  }
};

namespace {
const AttentionStep* layer_step(Transformer::Decoding* decoding, size_t i) {
  return decoding ? decoding->layer(i) : nullptr;
}
}  // namespace

at::Tensor Transformer::forward(const at::Tensor& tokens) { return forward_tokens(tokens, nullptr); }

at::Tensor Transformer::decode(const at::Tensor& tokens, const at::Tensor& valid, KVCache& cache) {
  const int64_t B = tokens.size(0), T = tokens.size(1), past = cache.length();
  const auto longs = torch::TensorOptions().dtype(torch::kLong).device(tokens.device());
  if (past == 0) {
    cache.keys.assign(blocks->size(), at::Tensor());
    cache.values.assign(blocks->size(), at::Tensor());
    cache.key_valid = torch::zeros({B, 0}, longs.dtype(torch::kBool));
    cache.next_position = torch::zeros({B}, longs);
  }
  // A real token's position counts the real tokens before it; padding borrows its neighbour's.
  const auto real = valid.to(torch::kLong);
  Decoding d{cache.next_position.unsqueeze(1) + real.cumsum(1) - real, {}, &cache, {}};
  cache.next_position = cache.next_position + real.sum(1);
  cache.key_valid = torch::cat({cache.key_valid, valid}, 1);
  const int64_t S = past + T;
  auto query_at = (torch::arange(T, longs) + past).unsqueeze(1), key_at = torch::arange(S, longs).unsqueeze(0);
  // A padding query sees only itself, so its row stays finite; no real query sees padding.
  d.blocked = ((key_at > query_at).unsqueeze(0) |
               (~cache.key_valid.unsqueeze(1) & (key_at != query_at).unsqueeze(0))).unsqueeze(1);
  return forward_tokens(tokens, &d);
}

at::Tensor Transformer::forward_tokens(const at::Tensor& tokens, Decoding* decoding) {
  const Taps taps = root_taps();
  auto x = embed->forward(tokens);
  x = depth_routed_ ? forward_attnres(x, taps, decoding) : forward_standard(x, taps, decoding);
  return project(lm_head, normed_input(final_norm, x, taps.child("final")), compute_dtype_);
}

at::Tensor Transformer::forward_standard(const at::Tensor& embedded, const Taps& taps, Decoding* decoding) {
  auto x = embedded;
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    const Taps layer = taps.child(std::to_string(i)), attn = layer.child("attn"), mlp = layer.child("mlp");
    x = x + block->attn->forward(normed_input(block->attn_norm, x, attn), attn, false, layer_step(decoding, i)).out;
    x = x + block->mlp->forward(normed_input(block->mlp_norm, x, mlp), mlp);
    x = mlp.site("block_sum", x);  // the residual stream after the layer: standard's one running block
  }
  return x;
}

at::Tensor Transformer::forward_attnres(const at::Tensor& embedded, const Taps& taps, Decoding* decoding) {
  const ModelConfig& c = config_;
  const bool a = null_gated_updates_, b = null_aware_sources_;
  const int64_t per_block = 2 * c.n_layers / components_.attnres_blocks;
  const int64_t B = embedded.size(0), T = embedded.size(1), d = embedded.size(2);
  const std::vector<int64_t> token_shape = {B, T};
  auto tokens = [&](const at::Tensor& x) { return x.reshape({B * T, -1}); };  // [B, T, .] -> [N, .]
  auto sequence = [&](const at::Tensor& x) { return x.view({B, T, d}); };    // [N, d] -> [B, T, d]

  DepthSources sources(tokens(embedded), b);
  at::Tensor signal;  // n_t [N] (variant a)
  if (a) signal = torch::zeros({B * T}, embedded.options());
  int64_t sublayers_done = 0;
  auto add_update = [&](const at::Tensor& update, const Routed& r, const Taps& sublayer) {
    sources.add_to_partial(update, r.keep);
    if (++sublayers_done % per_block == 0) {  // the block becomes a source of its own
      sources.commit_partial(tokens(sublayer.site("block_sum", sequence(sources.partial))));
    }
  };

  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    const Taps layer = taps.child(std::to_string(i)), attn = layer.child("attn"), mlp = layer.child("mlp");
    Routed r = block->route_attn->forward(sources, signal, token_shape, layer.child("route_attn"));
    AttentionResult att = block->attn->forward(normed_input(block->attn_norm, sequence(r.h), attn), attn, a || b,
                                               layer_step(decoding, i));
    // The null evidence of this sublayer (optionally a signal only, without gradients).
    const auto lse = c.oasis.detach ? att.lse.detach() : att.lse;  // [B, H, T]
    if (b) {
      auto nu = (att.null_mass.defined() ? att.null_mass : torch::sigmoid(-att.lse)).mean(1);  // [B, T]
      sources.add_partial_null(tokens(c.oasis.detach ? nu.detach() : nu).squeeze(-1));
    }
    add_update(tokens(att.out), r, attn);
    if (a) {  // e_t = mean_h(-LSE) (or learned head weights) -> the signal seen by the next sites
      auto evidence = block->null_head_weights.defined() ? -(lse * block->null_head_weights.view({1, -1, 1})).sum(1)
                                                         : -lse.mean(1);
      evidence = evidence.reshape({B * T});
      signal = c.oasis.ema_rate > 0 && i > 0 ? c.oasis.ema_rate * signal + (1.0 - c.oasis.ema_rate) * evidence : evidence;
      if (layer.on()) layer.emit("null_signal", signal.view({B, T}));
    }

    r = block->route_mlp->forward(sources, signal, token_shape, layer.child("route_mlp"));
    add_update(tokens(block->mlp->forward(normed_input(block->mlp_norm, sequence(r.h), mlp), mlp)), r, mlp);
  }
  return sequence(final_route->forward(sources, signal, token_shape, taps.child("final_route")).h);
}

}  // namespace oasis
