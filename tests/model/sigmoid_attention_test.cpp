// Sigmoid attention (framework/model/normalizers/sigmoid.cpp), the normalizer added through
// docs/extending.md: its weights against the formula written out with ATen, and a model built with it
// from a config trains.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/model/normalizers.h"
#include "framework/model/presets.h"
#include "framework/train/optimizer.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

TEST(SigmoidAttention, WeightsAreSigmoidOfScoresMinusLogTWithZerosAtHiddenKeys) {
  const int64_t T = 16;
  torch::manual_seed(0);
  auto s = (torch::randn({2, 3, 5, 5}, torch::kDouble) * 3).requires_grad_();
  auto hidden = torch::ones({5, 5}, torch::kBool).triu(1);
  auto normalizer = make_normalizer("sigmoid", {3, T});
  EXPECT_EQ(normalizer->fused_form(), FusedForm::none);
  const Normalized n = normalizer->forward(s, ScoreMask{true, {}}, true);
  auto expected = torch::sigmoid(s - std::log(double(T))).masked_fill(hidden, 0.0);
  EXPECT_TRUE(torch::allclose(n.probs, expected, 0, 1e-15));
  EXPECT_TRUE(torch::equal(n.probs.masked_select(hidden.expand_as(n.probs)), torch::zeros({2 * 3 * 10}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(n.lse, torch::logsumexp(s.masked_fill(hidden, -INFINITY), -1)));
  EXPECT_FALSE(n.null_mass.defined());  // the weights need not sum to one, so there is no null mass
  // Gradients: d p / d s = p (1 - p) at visible keys, 0 at hidden ones.
  n.probs.sum().backward();
  auto p = expected.detach();
  EXPECT_TRUE(torch::allclose(s.grad(), (p * (1 - p)).masked_fill(hidden, 0.0), 0, 1e-15));
}

TEST(SigmoidAttention, AModelWithItTrainsFromAConfig) {
  const auto dir = test::scratch_dir();
  const auto file = test::write_text(dir / "sigmoid.yaml", "model:\n  preset: attnres\n  normalizer: sigmoid\n");
  const Config c = load_config(file, {"model.d_model=32", "model.n_layers=2", "model.n_heads=2", "train.lr=0.01"});
  auto model = build_model(c.model_to_build(), 64);
  auto optimizer = make_optimizer(*model, c.train);
  torch::manual_seed(1);
  const auto tokens = torch::randint(0, 64, {4, 17}, torch::kLong);
  auto loss_of = [&] {
    auto logits = model->forward(tokens.slice(1, 0, 16));
    return torch::nn::functional::cross_entropy(logits.reshape({-1, 64}), tokens.slice(1, 1, 17).reshape({-1}));
  };
  const double first = loss_of().item<double>();
  for (int step = 0; step < 20; ++step) {
    optimizer->zero_grad();
    loss_of().backward();
    optimizer->step();
  }
  EXPECT_LT(loss_of().item<double>(), first - 0.5);  // memorising 64 tokens
}

}  // namespace
}  // namespace oasis
