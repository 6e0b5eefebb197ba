// Block Attention Residuals (docs/models.md): before each of the 2L sublayers a routing site (depth_router.h)
// mixes the embedding, the completed block sums and the current partial sum; a final site feeds the last
// norm. N blocks of 2L/N sublayers; N = 2L is Full AttnRes.
// With the OASIS null signal, each attention sublayer's null evidence e_t = mean_h(-LSE) (or learned per-head
// weights) travels to the next routing sites (immediate or depth EMA) and gates the sublayer updates there
// (variant a); variant b tags each source with its layers' mean null mass (model.oasis.*).
#include <fmt/format.h>

#include "framework/model/depth_router.h"
#include "framework/model/routers.h"

namespace oasis {
namespace {

// The OASIS settings as the forward pass needs them, resolved once from the config.
struct NullSignal {
  bool gated_updates = false;   // variant a or ab
  bool aware_sources = false;   // variant b or ab
  bool gate_attn = false, gate_mlp = false;  // which sites' updates the gate scales (model.oasis.sites)
  bool per_head = false, detach = false;
  double ema_rate = 0.0, gate_bias_init = 0.0;
};

NullSignal resolve_null_signal(const RouterContext& c) {
  NullSignal n;
  if (c.null_signal != "oasis") return n;
  const OasisConfig& o = c.config->oasis;
  n.gated_updates = o.variant != "b";
  n.aware_sources = o.variant != "a";
  n.gate_attn = n.gated_updates && o.sites != "mlp";
  n.gate_mlp = n.gated_updates && o.sites != "attn";
  n.per_head = o.per_head;
  n.detach = o.detach;
  n.ema_rate = o.ema_rate;
  n.gate_bias_init = o.gate_bias_init;
  return n;
}

class AttnResRouter : public ResidualRouter {
 public:
  explicit AttnResRouter(const RouterContext& c)
      : config_(*c.config), null_(resolve_null_signal(c)), per_block_(2 * c.config->n_layers / c.blocks) {}

  void register_block(torch::nn::Module& block, int64_t index) override {
    const ModelConfig& c = config_;
    const bool first = index == 0, last = index == c.n_layers - 1;
    // The first attention site only ever sees the embedding: it does not mix.
    attn_sites_.push_back(block.register_module(
        "route_attn", DepthRouter(c.d_model, c.norm_eps, !first, null_.gate_attn, null_.aware_sources, null_.gate_bias_init)));
    mlp_sites_.push_back(block.register_module(
        "route_mlp", DepthRouter(c.d_model, c.norm_eps, true, null_.gate_mlp, null_.aware_sources, null_.gate_bias_init)));
    // This layer's null signal is read by its own MLP site (sites both/mlp) or the next attention site
    // (sites both/attn; none after the last layer).
    const bool signal_read = c.oasis.sites != "attn" || !last;
    head_weights_.push_back(null_.gated_updates && null_.per_head && signal_read
                                ? block.register_parameter("null_head_weights",
                                                           torch::full({c.n_heads}, 1.0 / double(c.n_heads)))
                                : at::Tensor());
  }

  void register_final(torch::nn::Module& model) override {
    final_site_ = model.register_module(
        "final_route", DepthRouter(config_.d_model, config_.norm_eps, true, false, null_.aware_sources, 0.0));
  }

  bool reads_null_evidence() const override { return null_.gated_updates || null_.aware_sources; }

  std::unique_ptr<ResidualStream> start(const at::Tensor& embedded) const override;

 private:
  friend class AttnResStream;
  ModelConfig config_;
  NullSignal null_;
  int64_t per_block_;  // sublayers per block
  std::vector<DepthRouter> attn_sites_, mlp_sites_;
  std::vector<at::Tensor> head_weights_;  // per layer; undefined without per-head weights
  DepthRouter final_site_{nullptr};
};

class AttnResStream : public ResidualStream {
 public:
  AttnResStream(const AttnResRouter& router, const at::Tensor& embedded)
      : r_(router),
        B_(embedded.size(0)),
        T_(embedded.size(1)),
        d_(embedded.size(2)),
        sources_(tokens(embedded), router.null_.aware_sources) {
    if (r_.null_.gated_updates) signal_ = torch::zeros({B_ * T_}, embedded.options());
  }

  at::Tensor attention_input(size_t i, const Taps& layer) override {
    return route(r_.attn_sites_[i], layer.child("route_attn"));
  }

  void add_attention(size_t i, const AttentionResult& att, const Taps& layer) override {
    const NullSignal& n = r_.null_;
    if (n.aware_sources) {  // the sublayer's mean null mass over heads, for variant b's source tags
      auto nu = (att.null_mass.defined() ? att.null_mass : torch::sigmoid(-att.lse)).mean(1);  // [B, T]
      sources_.add_partial_null(tokens(n.detach ? nu.detach() : nu).squeeze(-1));
    }
    add_update(tokens(att.out), layer.child("attn"));
    if (n.gated_updates) {  // e_t = mean_h(-LSE) (or learned head weights) -> the signal the next sites see
      const auto lse = n.detach ? att.lse.detach() : att.lse;  // [B, H, T]
      const at::Tensor& weights = r_.head_weights_[i];
      auto evidence = weights.defined() ? -(lse * weights.view({1, -1, 1})).sum(1) : -lse.mean(1);
      evidence = evidence.reshape({B_ * T_});
      signal_ = n.ema_rate > 0 && i > 0 ? n.ema_rate * signal_ + (1.0 - n.ema_rate) * evidence : evidence;
      if (layer.on()) layer.emit("null_signal", signal_.view({B_, T_}));
    }
  }

  at::Tensor mlp_input(size_t i, const Taps& layer) override { return route(r_.mlp_sites_[i], layer.child("route_mlp")); }

  void add_mlp(size_t, const at::Tensor& out, const Taps& layer) override { add_update(tokens(out), layer.child("mlp")); }

  at::Tensor output(const Taps& taps) override { return route(r_.final_site_, taps.child("final_route")); }

 private:
  at::Tensor tokens(const at::Tensor& x) const { return x.reshape({B_ * T_, -1}); }  // [B, T, .] -> [N, .]
  at::Tensor sequence(const at::Tensor& x) const { return x.view({B_, T_, d_}); }    // [N, d] -> [B, T, d]

  at::Tensor route(DepthRouter site, const Taps& taps) {
    routed_ = site->forward(sources_, signal_, {B_, T_}, taps);
    return sequence(routed_.h);
  }

  // The sublayer's update joins the partial sum (scaled by the null gate's keep); a full block becomes a source.
  void add_update(const at::Tensor& update, const Taps& sublayer) {
    sources_.add_to_partial(update, routed_.keep);
    if (++sublayers_done_ % r_.per_block_ == 0)
      sources_.commit_partial(tokens(sublayer.site("block_sum", sequence(sources_.partial))));
  }

  const AttnResRouter& r_;
  int64_t B_, T_, d_;
  DepthSources sources_;
  at::Tensor signal_;  // n_t [N] (variant a)
  Routed routed_;      // the current sublayer's routing
  int64_t sublayers_done_ = 0;
};

std::unique_ptr<ResidualStream> AttnResRouter::start(const at::Tensor& embedded) const {
  return std::make_unique<AttnResStream>(*this, embedded);
}

const bool attnres_router_registered = router_registry().add(
    "attnres", {"Block Attention Residuals: each sublayer reads a softmax-over-depth mixture of the block sums",
                {"oasis"},
                [](const RouterContext& c) { return std::make_unique<AttnResRouter>(c); }});

}  // namespace
}  // namespace oasis
