// Residual routers: how the sublayers' outputs join the residual stream and what each sublayer reads,
// chosen by name from a registry (`model.router`). One file each in framework/model/routers/:
//   standard  x += attn(norm(x)); x += mlp(norm(x)); the final norm reads x
//   attnres   Block AttnRes (docs/models.md): a routing site before each sublayer mixes the embedding, the
//             completed block sums and the current partial sum; a final site feeds the last norm. The OASIS
//             null signal (`model.null_signal: oasis`, options model.oasis.*) is an option of this router.
// The Transformer runs the sublayers; a router only supplies their inputs and absorbs their outputs, so a
// new router is one file plus one test file (docs/extending.md).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/registry.h"
#include "framework/model/layers.h"
#include "framework/model/taps.h"

namespace oasis {

// The state of one forward pass through the stack. The Transformer calls, for each layer i in order:
// input(i, attention) -> add_attention(i, ...) -> input(i, mlp) -> add_mlp(i, ...); then output().
// `layer` taps are the layer's ("3"); a stream reports its own sites under them.
class ResidualStream {
 public:
  virtual ~ResidualStream() = default;
  // The attention sublayer's input, before its norm.
  virtual at::Tensor attention_input(size_t layer, const Taps& taps) = 0;
  virtual void add_attention(size_t layer, const AttentionResult& result, const Taps& taps) = 0;
  virtual at::Tensor mlp_input(size_t layer, const Taps& taps) = 0;
  virtual void add_mlp(size_t layer, const at::Tensor& out, const Taps& taps) = 0;
  // What the final norm reads; `taps` are the model's.
  virtual at::Tensor output(const Taps& taps) = 0;
};

class ResidualRouter {
 public:
  virtual ~ResidualRouter() = default;
  // Registers layer `index`'s routing parameters on its block and the final ones on the model; the Transformer
  // calls these while it builds itself, so the parameter names (blocks.3.route_attn.query, final_route.query)
  // and their order are the checkpoints'.
  virtual void register_block(torch::nn::Module& block, int64_t index) { (void)block, (void)index; }
  virtual void register_final(torch::nn::Module& model) { (void)model; }
  // Whether attention sublayers must return their log-sum-exp and null mass (the null signal reads them).
  virtual bool reads_null_evidence() const { return false; }
  // A new stream for one forward pass; `embedded`: [B, T, d].
  virtual std::unique_ptr<ResidualStream> start(const at::Tensor& embedded) const = 0;
};

// What a router is built from: the model's settings (model.oasis.*, attnres_blocks) and the resolved null signal.
struct RouterContext {
  const ModelConfig* config = nullptr;
  std::string null_signal = "none";
  int64_t blocks = 0;  // AttnRes blocks N (resolved: never 0)
};

struct RouterEntry {
  std::string description;
  std::vector<std::string> null_signals;  // the null signals it can carry besides "none"
  std::function<std::unique_ptr<ResidualRouter>(const RouterContext&)> make;
};

Registry<RouterEntry>& router_registry();

std::unique_ptr<ResidualRouter> make_router(const std::string& name, const RouterContext& context);

}  // namespace oasis
