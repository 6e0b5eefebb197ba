// Fused kernels against the ATen compositions they replace: values and every gradient, with and
// without each optional output in the loss, in double (tight) and float (what training uses).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "framework/kernels/vector_exp.h"
#include "framework/kernels/depth_mix.h"
#include "framework/model/normalizers.h"
#include "framework/kernels/rms_norm.h"
#include "framework/kernels/rotary.h"

namespace oasis {
namespace {

// eps is large enough that putting it in the wrong place changes the result.
constexpr double kEps = 0.5;

struct MixInputs {
  std::vector<at::Tensor> sources;
  at::Tensor u, offset;
  std::vector<at::Tensor> all() const {
    auto v = sources;
    v.insert(v.end(), {u, offset});
    return v;
  }
};

MixInputs random_mix_inputs(int64_t N, int64_t S, int64_t d, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  auto opts = torch::TensorOptions().dtype(dtype);
  MixInputs in;
  for (int64_t i = 0; i < S; ++i) in.sources.push_back((torch::randn({N, d}, opts) * (1 + i)).requires_grad_());
  in.u = (torch::randn({d}, opts) * 0.3).requires_grad_();
  in.offset = torch::randn({N, S}, opts).requires_grad_();
  return in;
}

// Loss weights fixed per test; which outputs enter the loss is the point of the parameter.
struct LossUse {
  bool h, weights, lse;
};

std::vector<at::Tensor> values_and_grads(const DepthMix& mix, const MixInputs& in, const LossUse& use) {
  torch::manual_seed(99);
  auto loss = torch::zeros({}, in.u.options());
  if (use.h) loss = loss + (mix.h * torch::randn_like(mix.h)).sum();
  if (use.weights) loss = loss + (mix.weights * torch::randn_like(mix.weights)).sum();
  if (use.lse) loss = loss + (mix.lse * torch::randn_like(mix.lse)).sum();
  auto grads = torch::autograd::grad({loss}, in.all(), {}, false, false, true);
  std::vector<at::Tensor> out = {mix.h, mix.weights, mix.lse};
  for (auto& g : grads) out.push_back(g.defined() ? g : torch::zeros({}, in.u.options()));
  return out;
}

void expect_fused_matches_reference(torch::Dtype dtype, double rtol, double atol) {
  const std::vector<LossUse> uses = {{true, false, false}, {true, true, true}, {false, false, true}, {false, true, false}};
  for (const auto& use : uses) {
    for (int64_t S : {1, 2, 5}) {
      auto in = random_mix_inputs(300, S, 24, dtype, 7 + S);
      auto fused = values_and_grads(depth_mix(in.sources, in.u, in.offset, kEps), in, use);
      auto reference = values_and_grads(depth_mix_reference(in.sources, in.u, in.offset, kEps), in, use);
      ASSERT_EQ(fused.size(), reference.size());
      for (size_t k = 0; k < fused.size(); ++k)
        EXPECT_TRUE(torch::allclose(fused[k], reference[k], rtol, atol))
            << "output/gradient " << k << " with S=" << S << " h/w/lse in loss " << use.h << use.weights << use.lse
            << ": max diff " << (fused[k] - reference[k]).abs().max().item<double>();
    }
  }
}

TEST(DepthMixKernel, MatchesTheAtenCompositionInDouble) { expect_fused_matches_reference(torch::kDouble, 1e-10, 1e-12); }

TEST(DepthMixKernel, MatchesTheAtenCompositionInFloat) { expect_fused_matches_reference(torch::kFloat, 1e-4, 1e-5); }

TEST(DepthMixKernel, WeightsAreASoftmaxAndHTheirMixture) {
  auto in = random_mix_inputs(10, 3, 8, torch::kDouble, 1);
  auto mix = depth_mix(in.sources, in.u, {}, kEps);
  // z_i = RMSNorm(v_i) . u with the norm written out
  std::vector<at::Tensor> z;
  for (const auto& v : in.sources) z.push_back((v / torch::sqrt(v.pow(2).mean(-1, true) + kEps)).matmul(in.u));
  auto logits = torch::stack(z, 1);
  EXPECT_TRUE(torch::allclose(mix.weights, torch::softmax(logits, 1)));
  EXPECT_TRUE(torch::allclose(mix.weights.sum(1), torch::ones({10}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(mix.lse, torch::logsumexp(logits, 1)));
  auto h = mix.weights.select(1, 0).unsqueeze(1) * in.sources[0] + mix.weights.select(1, 1).unsqueeze(1) * in.sources[1] +
           mix.weights.select(1, 2).unsqueeze(1) * in.sources[2];
  EXPECT_TRUE(torch::allclose(mix.h, h));
}

TEST(DepthMixKernel, GradientOfUDoesNotDependOnTheThreadCount) {
  auto in = random_mix_inputs(1000, 4, 16, torch::kFloat, 3);
  auto grad_u = [&](int threads) {
    at::set_num_threads(threads);
    auto mix = depth_mix(in.sources, in.u, in.offset, kEps);
    return torch::autograd::grad({mix.h.sum()}, {in.u})[0];
  };
  const int before = at::get_num_threads();
  auto one = grad_u(1), two = grad_u(2);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one, two));
}

TEST(VectorExp, WithinTwoUlpOfExpAndExactAtTheEdges) {
  double worst = 0;
  for (float x = -87.3f; x <= 88.0f; x += 0.00123f)
    worst = std::max(worst, std::abs(double(exp_vectorizable(x)) / std::exp(double(x)) - 1));
  EXPECT_LT(worst, 2 * 5.96e-8) << "max relative error";
  EXPECT_EQ(exp_vectorizable(0.0f), 1.0f);
  EXPECT_EQ(exp_vectorizable(-INFINITY), 0.0f);  // masked scores must give exact zeros
  EXPECT_EQ(exp_vectorizable(-100.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_vectorizable(NAN)));
}

// Reference for the Softmax1 tests: softmax over [scores, 0] with the zero column dropped; LSE by logsumexp.
std::vector<at::Tensor> padded_softmax_reference(const at::Tensor& masked) {
  const int64_t T = masked.size(-1);
  auto zeros = torch::zeros({masked.size(0), masked.size(1), masked.size(2), 1}, masked.options());
  auto padded = torch::softmax(torch::cat({masked, zeros}, -1), -1);
  return {padded.slice(-1, 0, T), torch::logsumexp(masked, -1), padded.select(-1, T)};
}

// Training runs in float: the CPU kernel's float path (vector exp) against the double reference.
TEST(Softmax1Function, FloatKernelMatchesTheDoubleReference) {
  torch::manual_seed(6);
  const int64_t T = 67;  // not a multiple of the vector width
  auto mask = torch::ones({T, T}, torch::kBool).triu(1);
  auto s = (torch::randn({2, 3, T, T}, torch::kDouble) * 10 - 5).masked_fill(mask, -INFINITY);
  auto ours = make_normalizer("softmax1", {3, 1})->forward(s.to(torch::kFloat));
  auto reference = padded_softmax_reference(s);
  const std::vector<at::Tensor> fused = {ours.probs, ours.lse, ours.null_mass};
  for (size_t k = 0; k < 3; ++k)
    EXPECT_TRUE(torch::allclose(fused[k].to(torch::kDouble), reference[k], 1e-5, 1e-7))
        << "output " << k << ": max diff " << (fused[k].to(torch::kDouble) - reference[k]).abs().max().item<double>();
  EXPECT_TRUE(torch::equal(ours.probs.masked_select(mask), torch::zeros({T * (T - 1) / 2 * 6})));
}

TEST(Softmax1Function, ValuesAndGradientsMatchThePaddedSoftmax) {
  for (double scale : {1.0, 8.0, 60.0}) {
    torch::manual_seed(5);
    const int64_t T = 9;
    auto mask = torch::ones({T, T}, torch::kBool).triu(1);
    auto s = (torch::randn({2, 3, T, T}, torch::kDouble) * scale - scale / 2).requires_grad_();
    auto masked = s.masked_fill(mask, -INFINITY);
    auto ours = make_normalizer("softmax1", {3, 1})->forward(masked);
    const auto reference = padded_softmax_reference(masked);
    const std::vector<at::Tensor> fused = {ours.probs, ours.lse, ours.null_mass};
    for (size_t k = 0; k < 3; ++k)
      EXPECT_TRUE(torch::allclose(fused[k], reference[k], 1e-10, 1e-12)) << "output " << k << " at scale " << scale;
    // Gradients through each output alone, then through probabilities and LSE together (OASIS uses both).
    for (const std::vector<size_t>& used : std::vector<std::vector<size_t>>{{0}, {1}, {2}, {0, 1}, {0, 1, 2}}) {
      auto loss = [&](const std::vector<at::Tensor>& outputs) {
        torch::manual_seed(11);
        auto total = torch::zeros({}, torch::kDouble);
        for (size_t k : used) total = total + (outputs[k] * torch::randn_like(outputs[k])).sum();
        return total;
      };
      auto g_fused = torch::autograd::grad({loss(fused)}, {s}, {}, true)[0];
      auto g_reference = torch::autograd::grad({loss(reference)}, {s}, {}, true)[0];
      EXPECT_TRUE(torch::allclose(g_fused, g_reference, 1e-9, 1e-12))
          << "gradient through outputs " << used.size() << " (first " << used[0] << ") at scale " << scale
          << ": max diff " << (g_fused - g_reference).abs().max().item<double>();
    }
  }
}

// Training hands the normalizers unmasked scores and a causal flag (the CPU kernels skip the future keys);
// decoding hands them a mask tensor. Both must equal normalizing scores with -inf filled in, for every
// normalizer, in values, LSE, null mass and the gradient through probabilities and LSE together.
TEST(ScoreMask, CausalFlagEqualsFilledScoresForEveryNormalizer) {
  const int64_t T = 13;
  const auto future = torch::ones({T, T}, torch::kBool).triu(1);
  for (const std::string kind : {"softmax", "softmax1", "clipped", "softpick", "sink"}) {
    for (auto dtype : {torch::kDouble, torch::kFloat}) {
      const double rtol = dtype == torch::kDouble ? 1e-10 : 1e-5, atol = dtype == torch::kDouble ? 1e-12 : 1e-6;
      torch::manual_seed(21);
      auto s = (torch::randn({2, 3, T, T}, dtype) * 4).requires_grad_();
      auto normalizer = make_normalizer(kind, {3, T});
      const Normalized flagged = normalizer->forward(s, ScoreMask{true, {}}, true);
      const Normalized given = normalizer->forward(s, ScoreMask{false, future}, true);
      const Normalized filled = normalizer->forward(s.masked_fill(future, -INFINITY));
      for (const Normalized* n : {&flagged, &given}) {
        EXPECT_TRUE(torch::equal(n->probs.masked_select(future), torch::zeros({T * (T - 1) / 2 * 6}, dtype))) << kind;
        EXPECT_TRUE(torch::allclose(n->probs, filled.probs, rtol, atol)) << kind;
        EXPECT_TRUE(torch::allclose(n->lse, filled.lse, rtol, atol)) << kind;
        ASSERT_EQ(n->null_mass.defined(), filled.null_mass.defined()) << kind;
        if (filled.null_mass.defined()) {
          EXPECT_TRUE(torch::allclose(n->null_mass, filled.null_mass, rtol, atol)) << kind;
        }
      }
      auto gradient = [&](const Normalized& n) {
        torch::manual_seed(4);
        auto loss = (n.probs * torch::randn_like(n.probs)).sum() + (n.lse * torch::randn_like(n.lse)).sum();
        return torch::autograd::grad({loss}, {s}, {}, true)[0];
      };
      const auto reference = gradient(filled);
      EXPECT_TRUE(torch::allclose(gradient(flagged), reference, rtol, atol)) << kind << " gradient, causal flag";
      EXPECT_TRUE(torch::allclose(gradient(given), reference, rtol, atol)) << kind << " gradient, mask tensor";
    }
  }
}

// The fused rotation against the ATen form: q taken from a strided qkv projection as in attention, tables
// shared over the batch (training) or per row (decoding), values and gradients.
TEST(RotateHalf, MatchesTheAtenFormInValuesAndGradients) {
  const int64_t B = 2, T = 5, H = 3, D = 8;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (int64_t table_rows : {int64_t(1), B}) {
      torch::manual_seed(8);
      auto qkv = torch::randn({B, T, 3, H, D}, dtype).requires_grad_();
      auto q = qkv.permute({2, 0, 3, 1, 4})[0];  // [B, H, T, D], not contiguous
      auto cos = torch::randn({table_rows, T, D / 2}, dtype), sin = torch::randn({table_rows, T, D / 2}, dtype);
      auto fused = rotate_half(q, cos, sin), reference = rotate_half_reference(q, cos, sin);
      EXPECT_TRUE(torch::allclose(fused, reference, 1e-6, 1e-6)) << "table rows " << table_rows;
      auto g = torch::randn_like(fused);
      auto grad_fused = torch::autograd::grad({fused}, {qkv}, {g})[0];
      auto grad_reference = torch::autograd::grad({reference}, {qkv}, {g})[0];
      EXPECT_TRUE(torch::allclose(grad_fused, grad_reference, 1e-6, 1e-6)) << "table rows " << table_rows;
    }
  }
}

TEST(RmsNorm, MatchesTheAtenFormInValuesAndGradients) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    const double tol = dtype == torch::kDouble ? 1e-10 : 1e-5;
    torch::manual_seed(12);
    auto x = (torch::randn({3, 100, 24}, dtype) * 3).requires_grad_();  // 300 tokens: more than one dw chunk
    auto w = (torch::randn({24}, dtype) + 1).requires_grad_();
    const double eps = 0.3;  // large, so a misplaced eps shows
    auto fused = rms_norm(x, w, eps), reference = rms_norm_reference(x, w, eps);
    EXPECT_TRUE(torch::allclose(fused, reference, tol, tol));
    auto g = torch::randn_like(fused);
    auto grad_fused = torch::autograd::grad({fused}, {x, w}, {g});
    auto grad_reference = torch::autograd::grad({reference}, {x, w}, {g});
    for (size_t k = 0; k < 2; ++k)
      EXPECT_TRUE(torch::allclose(grad_fused[k], grad_reference[k], tol, tol))
          << (k ? "dw" : "dx") << ": max diff " << (grad_fused[k] - grad_reference[k]).abs().max().item<double>();
  }
}

}  // namespace
}  // namespace oasis
