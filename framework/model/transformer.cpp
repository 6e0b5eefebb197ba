#include "framework/model/transformer.h"

#include <cmath>

namespace oasis {

int64_t swiglu_hidden(const ModelConfig& config) {
  if (config.d_ff > 0) return config.d_ff;
  const int64_t raw = (8 * config.d_model + 2) / 3;
  return (raw + 63) / 64 * 64;
}

DecoderBlockImpl::DecoderBlockImpl(const ModelConfig& c, const ModelComponents& m) {
  attn_norm = register_module("attn_norm", RMSNorm(c.d_model, c.norm_eps));
  attn = register_module("attn", CausalSelfAttention(c.d_model, c.n_heads, c.kv_heads(), c.head_size(),
                                                     c.max_seq_len, c.rope_theta,
                                                     make_normalizer(m.normalizer, {c.n_heads, c.context_T(), &c.components}),
                                                     make_gate(m.gate, {c.d_model, c.n_heads, c.head_size(), &c.components})));
  mlp_norm = register_module("mlp_norm", RMSNorm(c.d_model, c.norm_eps));
  mlp = register_module("mlp", SwiGLU(c.d_model, swiglu_hidden(c)));
}

Transformer::Transformer(const ModelConfig& c, const ModelComponents& m, int64_t vocab_size)
    : config_(c), vocab_size_(vocab_size), router_(make_router(m.router, {&c, m.null_signal, m.attnres_blocks})) {
  embed = register_module("embed", torch::nn::Embedding(vocab_size, c.d_model));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers; ++i) {
    DecoderBlock block(c, m);
    router_->register_block(*block, i);
    blocks->push_back(block);
  }
  router_->register_final(*this);
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
  auto stream = router_->start(embed->forward(tokens));
  const bool null_evidence = router_->reads_null_evidence();
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto block = blocks[i]->as<DecoderBlock>();
    const Taps layer = taps.child(std::to_string(i)), attn = layer.child("attn"), mlp = layer.child("mlp");
    auto h = stream->attention_input(i, layer);
    stream->add_attention(i, block->attn->forward(normed_input(block->attn_norm, h, attn), attn, null_evidence,
                                                  layer_step(decoding, i)),
                          layer);
    h = stream->mlp_input(i, layer);
    stream->add_mlp(i, block->mlp->forward(normed_input(block->mlp_norm, h, mlp), mlp), layer);
  }
  return project(lm_head, normed_input(final_norm, stream->output(taps), taps.child("final")), compute_dtype_);
}

}  // namespace oasis
