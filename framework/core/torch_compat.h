// The one place where LibTorch versions differ for us: Debian's 1.13 (CPU, CI) and the GPU machine's 2.x
// (CUDA). Every `TORCH_VERSION_MAJOR` test of the project lives here (research/toolchain.md §6 lists the
// differences); the rest of the code calls these names.
#pragma once
#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

namespace oasis::compat {

#if TORCH_VERSION_MAJOR >= 2
template <class T>
using optional = std::optional<T>;
inline constexpr auto nullopt = std::nullopt;
// 2.x dispatches this to flash / memory-efficient kernels (CUDA) or its CPU flash kernel, which never
// materialise the [T, S] weights.
inline constexpr bool kFusedAttentionKernels = true;
#else
template <class T>
using optional = c10::optional<T>;
inline constexpr auto nullopt = c10::nullopt;
// 1.13 has only the private math composition (matmul, masked softmax, matmul).
inline constexpr bool kFusedAttentionKernels = false;
#endif

// softmax(scale q k^T + hidden) v for q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv]: `causal` (query i sees
// keys 0..i of a square block), or `hidden` (bool, true = not seen, broadcastable to [B, H, T, S]), or neither.
inline at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               const at::Tensor& hidden, bool causal, double scale) {
  // Both versions take the mask the other way round: true = may attend.
  const optional<at::Tensor> allowed = hidden.defined() ? optional<at::Tensor>(hidden.logical_not()) : nullopt;
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, allowed, 0.0, causal, scale);
#else
  // 1.13 always scales by 1/sqrt(D).
  const auto scaled_q = q * (scale * std::sqrt(double(q.size(-1))));
  return std::get<0>(at::_scaled_dot_product_attention(scaled_q, k, v, allowed, 0.0, false, causal));
#endif
}

// The key LibTorch's optimizers file a parameter's state under: the TensorImpl's address printed into a
// string in 1.13, the address itself in later versions. Read off the map's type, not the version number.
template <class Optimizer = torch::optim::Optimizer>
auto optimizer_state_key(const at::Tensor& p) {
  using Key = std::decay_t<decltype(std::declval<Optimizer&>().state().begin()->first)>;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;  // as 1.13's c10::guts::to_string prints a pointer
    address << p.unsafeGetTensorImpl();
    return address.str();
  } else {
    return Key(p.unsafeGetTensorImpl());
  }
}

}  // namespace oasis::compat
