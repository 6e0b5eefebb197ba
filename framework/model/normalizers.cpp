#include "framework/model/normalizers.h"

#include <ATen/Parallel.h>

#include "framework/core/errors.h"

namespace oasis {

namespace {

class Softmax : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    return {torch::softmax(s, -1), want_lse ? torch::logsumexp(s, -1) : at::Tensor(), {}};
  }
};

// ds = p (g - sum_j g_j p_j + c) for each row of length T (c = 0 when `shift` is null).
template <typename T>
void softmax1_backward_rows(const T* g, const T* p, const T* shift, T* out, int64_t rows, int64_t length) {
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T *gr = g + r * length, *pr = p + r * length;
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < length; ++j) dot += gr[j] * pr[j];
      const T offset = (shift ? shift[r] : T(0)) - dot;
      T* o = out + r * length;
#pragma omp simd
      for (int64_t j = 0; j < length; ++j) o[j] = pr[j] * (gr[j] + offset);
    }
  });
}

// softmax1(s) = softmax(s) * sigmoid(LSE), as one autograd operation: the fused softmax kernel, then
// LSE = max s - log(max softmax) (max softmax >= 1/T, so this is exact to rounding), which costs two read-only
// reductions where logsumexp writes two score-sized temporaries. The backward has the softmax form,
// ds = p (g - sum_j g_j p_j), plus dL/dLSE times dLSE/ds = softmax(s) = p (1 + e^{-LSE}); on CPU both
// terms are one pass per row.
class Softmax1Function : public torch::autograd::Function<Softmax1Function> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& s) {
    auto p = torch::softmax(s, -1);
    auto lse = s.amax(-1) - torch::log(p.amax(-1));
    p.mul_(torch::sigmoid(lse).unsqueeze(-1));
    ctx->save_for_backward({p, lse});
    ctx->set_materialize_grads(false);
    return {p, lse};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &p = saved[0], &lse = saved[1];
    at::Tensor lse_grad;  // per row: dL/dLSE (1 + e^{-LSE})
    if (grads[1].defined()) lse_grad = grads[1] * (1.0 + torch::exp(-lse));
    if (grads[0].defined() && p.device().is_cpu()) return {fused_cpu_backward(grads[0], p, lse_grad)};
    at::Tensor ds;
    if (grads[0].defined()) ds = torch::_softmax_backward_data(grads[0], p, -1, p.scalar_type());
    if (lse_grad.defined()) ds = ds.defined() ? ds.addcmul_(p, lse_grad.unsqueeze(-1)) : p * lse_grad.unsqueeze(-1);
    return {ds};
  }

 private:
  // ds = p (g - sum_j g_j p_j + c) row by row in one pass (c = 0 without an LSE gradient).
  static at::Tensor fused_cpu_backward(const at::Tensor& grad, const at::Tensor& probs, const at::Tensor& lse_grad) {
    const auto g = grad.contiguous(), p = probs.contiguous();
    const auto c = lse_grad.defined() ? lse_grad.contiguous() : at::Tensor();
    auto ds = torch::empty_like(p);
    const int64_t T = p.size(-1), rows = p.numel() / T;
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "softmax1_backward", [&] {
      softmax1_backward_rows<scalar_t>(g.data_ptr<scalar_t>(), p.data_ptr<scalar_t>(),
                                       c.defined() ? c.data_ptr<scalar_t>() : nullptr, ds.data_ptr<scalar_t>(), rows, T);
    });
    return ds;
  }
};

class Softmax1 : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool) override {
    auto out = Softmax1Function::apply(s);
    return {out[0], out[1], torch::sigmoid(-out[1])};
  }
};

class Clipped : public ScoreNormalizer {
 public:
  Clipped(double gamma, double zeta) : gamma_(gamma), zeta_(zeta) {}
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    auto p = torch::clamp((zeta_ - gamma_) * torch::softmax(s, -1) + gamma_, 0.0, 1.0);
    return {p, want_lse ? torch::logsumexp(s, -1) : at::Tensor(), {}};
  }

 private:
  double gamma_, zeta_;
};

class Softpick : public ScoreNormalizer {
 public:
  Normalized forward(const at::Tensor& s, bool want_lse) override {
    // Everything divided by e^m: num = relu(e^{s-m} - e^{-m}), den = sum |e^{s-m} - e^{-m}| + eps e^{-m}.
    auto m = std::get<0>(s.max(-1, true)).detach();
    auto shifted = torch::exp(s - m) - torch::exp(-m);
    auto valid = torch::isfinite(s).to(s.scalar_type());
    auto den = (shifted.abs() * valid).sum(-1, true) + 1e-8 * torch::exp(-m);
    auto p = torch::relu(shifted) * valid / den;
    return {p, want_lse ? torch::logsumexp(s, -1) : at::Tensor(), 1.0 - p.sum(-1)};
  }
};

class Sink : public ScoreNormalizer {
 public:
  explicit Sink(int64_t n_heads) { logit = register_parameter("logit", torch::zeros({n_heads})); }
  Normalized forward(const at::Tensor& s, bool) override {
    auto lse = torch::logsumexp(s, -1);                                     // [B, H, T]
    auto sink = logit.view({1, -1, 1}).expand_as(lse);
    auto total = torch::logaddexp(lse, sink);
    return {torch::exp(s - total.unsqueeze(-1)), lse, torch::exp(sink - total)};
  }
  at::Tensor logit;
};

}  // namespace

std::shared_ptr<ScoreNormalizer> make_normalizer(const std::string& kind, int64_t n_heads, double clip_alpha,
                                                 double clip_zeta, int64_t clip_length) {
  if (kind == "softmax") return std::make_shared<Softmax>();
  if (kind == "softmax1") return std::make_shared<Softmax1>();
  if (kind == "clipped") return std::make_shared<Clipped>(-clip_alpha / double(clip_length), clip_zeta);
  if (kind == "softpick") return std::make_shared<Softpick>();
  if (kind == "sink") return std::make_shared<Sink>(n_heads);
  throw ConfigError("model.normalizer: unknown normalizer '" + kind + "'");
}

}  // namespace oasis
