// The standard residual stream: each sublayer reads the running sum and adds its output to it,
//   x += attn(norm(x)); x += mlp(norm(x)); the final norm reads x.
#include "framework/model/routers.h"

namespace oasis {
namespace {

class StandardStream : public ResidualStream {
 public:
  explicit StandardStream(const at::Tensor& embedded) : x_(embedded) {}
  at::Tensor attention_input(size_t, const Taps&) override { return x_; }
  void add_attention(size_t, const AttentionResult& result, const Taps&) override { x_ = x_ + result.out; }
  at::Tensor mlp_input(size_t, const Taps&) override { return x_; }
  void add_mlp(size_t, const at::Tensor& out, const Taps& taps) override {
    // The residual stream after the layer: standard's one running block.
    x_ = taps.child("mlp").site("block_sum", x_ + out);
  }
  at::Tensor output(const Taps&) override { return x_; }

 private:
  at::Tensor x_;
};

class StandardRouter : public ResidualRouter {
 public:
  std::unique_ptr<ResidualStream> start(const at::Tensor& embedded) const override {
    return std::make_unique<StandardStream>(embedded);
  }
};

const bool standard_router_registered = router_registry().add(
    "standard", {"plain residual stream: each sublayer adds its output to the running sum", {},
                 [](const RouterContext&) { return std::make_unique<StandardRouter>(); }});

}  // namespace
}  // namespace oasis
