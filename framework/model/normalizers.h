// Attention score normalizers, interchangeable behind one interface (methods §2-§3). Input: scores
// q.k/sqrt(d), [B, H, T, S], and the mask of keys each query may not see. Output: the attention weights
// (exact zeros at masked keys), the log-sum-exp of the real scores (the null log-odds of Softmax1 is its
// negative) and, for normalizers that can decline to attend, the null mass 1 - sum_j p_j.
//   softmax   p = softmax(s)
//   softmax1  p_j = e^{s_j} / (1 + sum e^{s}) = softmax(s)_j sigmoid(LSE); null = sigmoid(-LSE)
//   clipped   p = clip((zeta - gamma) softmax(s) + gamma, 0, 1), gamma = -alpha / T (Bondarenko et al.), with T
//             the fixed context length the model is trained at (their max_seq_length / block_size), not
//             the row's length: the same token then gets the same weights in a short prompt, a long window
//             and incremental decoding
//   softpick  p_j = relu(e^{s_j} - 1) / (sum_j |e^{s_j} - 1| + eps) (Zuhri et al.), eps = 1e-8
//   sink      a learned logit s_h per head competes with the keys: p_j = e^{s_j} / (e^{s_h} + sum e^{s})
// softmax and softmax1 run as one fused CPU kernel each way; with a causal mask the kernel skips the future
// keys instead of reading a mask and exponentiating -inf (framework/model/normalizers.cpp).
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

namespace oasis {

struct Normalized {
  at::Tensor probs;      // [B, H, T, S]
  at::Tensor lse;        // [B, H, T] log-sum-exp over the real scores (undefined unless wanted or intrinsic)
  at::Tensor null_mass;  // [B, H, T], undefined for plain softmax and clipped
};

// Which keys each query may not see: `causal` is the plain causal mask of a [T, T] block (query i sees keys
// 0..i; training and full-sequence evaluation), kernels may apply it without a mask tensor. Otherwise
// `blocked` (bool, broadcastable to the scores; true = hidden) holds it, or nothing is hidden.
struct ScoreMask {
  bool causal = false;
  at::Tensor blocked;
  at::Tensor apply(const at::Tensor& scores) const;  // -inf where hidden
};

// The normalizers that fused attention kernels can run without the weights (framework/model/fused_attention.h).
enum class FusedForm { none, softmax, softmax1 };

class ScoreNormalizer : public torch::nn::Module {
 public:
  virtual FusedForm fused_form() const { return FusedForm::none; }
  // `want_lse`: the caller needs the log-sum-exp (OASIS evidence, taps); otherwise it may be skipped.
  virtual Normalized forward(const at::Tensor& scores, const ScoreMask& mask, bool want_lse) = 0;
  // Scores already holding -inf where hidden.
  Normalized forward(const at::Tensor& masked_scores) { return forward(masked_scores, {}, true); }
};

std::shared_ptr<ScoreNormalizer> make_normalizer(const std::string& kind, int64_t n_heads, double clip_alpha,
                                                 double clip_zeta, int64_t clip_length);

}  // namespace oasis
