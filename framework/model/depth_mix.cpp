#include "framework/model/depth_mix.h"

#include <algorithm>
#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace oasis {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Gradients of u are summed per fixed chunk of tokens and the chunks in order, so the result does not
// depend on the thread count (exact resume compares weights bit for bit).
constexpr int64_t kTokensPerChunk = 128;

template <typename T>
T dot(const T* a, const T* b, int64_t d) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t k = 0; k < d; ++k) acc += a[k] * b[k];
  return acc;
}

template <typename T>
void forward_kernel(const std::vector<const T*>& src, const T* inv, const T* u, const T* off, T* h, T* w, T* lse,
                    int64_t N, int64_t S, int64_t d) {
  at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
    std::vector<T> z(S);
    for (int64_t n = begin; n < end; ++n) {
      T* wn = w + n * S;
      T m = -INFINITY;
      for (int64_t i = 0; i < S; ++i) {
        z[i] = dot(src[i] + n * d, u, d) * inv[n * S + i] + off[n * S + i];
        m = std::max(m, z[i]);
      }
      T total = 0;
      for (int64_t i = 0; i < S; ++i) total += (wn[i] = std::exp(z[i] - m));
      for (int64_t i = 0; i < S; ++i) wn[i] /= total;
      lse[n] = m + std::log(total);
      T* hn = h + n * d;
      const T* v0 = src[0] + n * d;
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) hn[k] = wn[0] * v0[k];
      for (int64_t i = 1; i < S; ++i) {
        const T* v = src[i] + n * d;
        const T wi = wn[i];
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) hn[k] += wi * v[k];
      }
    }
  });
}

// Per token: gw_i = g.v_i + dL/dw_i, gz_i = w_i (gw_i - sum_j w_j gw_j) + dL/dlse w_i, and then
// dv_i = w_i g + gz_i inv_i u, dinv_i = gz_i (v_i . u), doffset_i = gz_i, du += gz_i inv_i v_i.
template <typename T>
void backward_kernel(const std::vector<const T*>& src, const T* inv, const T* u, const T* w, const T* g_h,
                     const T* g_w, const T* g_lse, const std::vector<T*>& d_src, T* d_inv, T* d_off, T* d_u,
                     int64_t N, int64_t S, int64_t d) {
  const int64_t chunks = (N + kTokensPerChunk - 1) / kTokensPerChunk;
  std::vector<T> du_chunks(chunks * d, T(0));
  at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<T> gz(S), uv(S);
    for (int64_t c = chunk_begin; c < chunk_end; ++c) {
      T* du = du_chunks.data() + c * d;
      for (int64_t n = c * kTokensPerChunk; n < std::min(N, (c + 1) * kTokensPerChunk); ++n) {
        const T* wn = w + n * S;
        const T* g = g_h ? g_h + n * d : nullptr;
        T weighted = 0;
        for (int64_t i = 0; i < S; ++i) {
          const T* v = src[i] + n * d;
          uv[i] = dot(v, u, d);
          gz[i] = (g ? dot(v, g, d) : T(0)) + (g_w ? g_w[n * S + i] : T(0));  // gw_i for now
          weighted += wn[i] * gz[i];
        }
        const T lse_grad = g_lse ? g_lse[n] : T(0);
        for (int64_t i = 0; i < S; ++i) {
          gz[i] = wn[i] * (gz[i] - weighted + lse_grad);
          d_off[n * S + i] = gz[i];
          d_inv[n * S + i] = gz[i] * uv[i];
          const T c_i = gz[i] * inv[n * S + i], wi = wn[i];
          const T* v = src[i] + n * d;
          T* dv = d_src[i] + n * d;
          if (g) {
#pragma omp simd
            for (int64_t k = 0; k < d; ++k) dv[k] = wi * g[k] + c_i * u[k];
          } else {
#pragma omp simd
            for (int64_t k = 0; k < d; ++k) dv[k] = c_i * u[k];
          }
#pragma omp simd
          for (int64_t k = 0; k < d; ++k) du[k] += c_i * v[k];
        }
      }
    }
  });
  std::fill(d_u, d_u + d, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t k = 0; k < d; ++k) d_u[k] += du_chunks[c * d + k];
}

template <typename T>
std::vector<const T*> pointers(const variable_list& tensors) {
  std::vector<const T*> out;
  for (const auto& t : tensors) out.push_back(t.data_ptr<T>());
  return out;
}

const at::Tensor* defined_or_null(const at::Tensor& t) { return t.defined() ? &t : nullptr; }

class FusedDepthMix : public torch::autograd::Function<FusedDepthMix> {
 public:
  static variable_list forward(AutogradContext* ctx, at::TensorList sources, const at::Tensor& inv,
                               const at::Tensor& u, const at::Tensor& offset) {
    const int64_t N = inv.size(0), S = inv.size(1), d = u.size(0);
    auto h = torch::empty({N, d}, u.options());
    auto w = torch::empty({N, S}, u.options());
    auto lse = torch::empty({N}, u.options());
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "depth_mix_forward", [&] {
      forward_kernel<scalar_t>(pointers<scalar_t>(sources.vec()), inv.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(),
                               offset.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                               lse.data_ptr<scalar_t>(), N, S, d);
    });
    variable_list saved = sources.vec();
    saved.insert(saved.end(), {inv, u, w});
    ctx->save_for_backward(saved);
    ctx->set_materialize_grads(false);
    return {h, w, lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list saved = ctx->get_saved_variables();
    const at::Tensor w = saved.back(), u = saved[saved.size() - 2], inv = saved[saved.size() - 3];
    saved.resize(saved.size() - 3);
    const int64_t N = inv.size(0), S = inv.size(1), d = u.size(0);
    auto contiguous = [](const at::Tensor& g) { return g.defined() ? g.contiguous() : g; };
    const at::Tensor g_h = contiguous(grads[0]), g_w = contiguous(grads[1]), g_lse = contiguous(grads[2]);
    variable_list out;
    for (int64_t i = 0; i < S; ++i) out.push_back(torch::empty({N, d}, u.options()));
    auto d_inv = torch::empty({N, S}, u.options()), d_off = torch::empty({N, S}, u.options());
    auto d_u = torch::empty({d}, u.options());
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "depth_mix_backward", [&] {
      auto ptr = [](const at::Tensor* t) { return t ? t->data_ptr<scalar_t>() : nullptr; };
      std::vector<scalar_t*> d_src;
      for (auto& t : out) d_src.push_back(t.data_ptr<scalar_t>());
      backward_kernel<scalar_t>(pointers<scalar_t>(saved), inv.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(),
                                w.data_ptr<scalar_t>(), ptr(defined_or_null(g_h)), ptr(defined_or_null(g_w)),
                                ptr(defined_or_null(g_lse)), d_src, d_inv.data_ptr<scalar_t>(),
                                d_off.data_ptr<scalar_t>(), d_u.data_ptr<scalar_t>(), N, S, d);
    });
    out.insert(out.end(), {d_inv, d_u, d_off});
    return out;
  }
};

}  // namespace

DepthMix depth_mix_reference(const std::vector<at::Tensor>& sources, const at::Tensor& inv_rms, const at::Tensor& u,
                             const at::Tensor& offset) {
  std::vector<at::Tensor> dots;
  for (const auto& v : sources) dots.push_back(torch::matmul(v, u));
  auto logits = torch::stack(dots, 1) * inv_rms;
  if (offset.defined()) logits = logits + offset;
  auto w = torch::softmax(logits, 1);
  auto h = sources[0] * w.select(1, 0).unsqueeze(-1);
  for (size_t i = 1; i < sources.size(); ++i) h = torch::addcmul(h, sources[i], w.select(1, int64_t(i)).unsqueeze(-1));
  return {h, w, torch::logsumexp(logits, 1)};
}

DepthMix depth_mix(const std::vector<at::Tensor>& sources, const at::Tensor& inv_rms, const at::Tensor& u,
                   const at::Tensor& offset) {
  if (!u.device().is_cpu()) return depth_mix_reference(sources, inv_rms, u, offset);
  std::vector<at::Tensor> contiguous;
  for (const auto& v : sources) contiguous.push_back(v.contiguous());
  auto off = offset.defined() ? offset.contiguous() : torch::zeros_like(inv_rms);
  auto r = FusedDepthMix::apply(at::TensorList(contiguous), inv_rms.contiguous(), u.contiguous(), off);
  return {r[0], r[1], r[2]};
}

}  // namespace oasis
