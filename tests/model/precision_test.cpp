// `precision: bf16`: matmuls in bf16 from fp32 master weights, with softmax, norms, routing, the residual
// stream and the loss in fp32. Checked on the CPU (LibTorch runs bf16 matmuls there too): which dtype each
// tap site sees, that every preset's bf16 logits and gradients track fp32 ones, and that training keeps
// fp32 parameters and gradients and learns.
#include <gtest/gtest.h>

#include <map>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/runtime.h"
#include "framework/model/presets.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

const std::vector<std::string> kPresets = {"standard", "attnres", "attnres-clipped", "attnres-gated", "attnres-softmax1",
                                           "oasis"};

TEST(Precision, AutoIsBf16OnCudaAndFp32OnCpu) {
  EXPECT_EQ(resolve_precision("auto", c10::Device(c10::kCPU)), at::kFloat);
  EXPECT_EQ(resolve_precision("auto", c10::Device(c10::kCUDA, 0)), at::kBFloat16);
  EXPECT_EQ(resolve_precision("bf16", c10::Device(c10::kCPU)), at::kBFloat16);
  EXPECT_EQ(resolve_precision("fp32", c10::Device(c10::kCUDA, 0)), at::kFloat);
  EXPECT_STREQ(precision_name(at::kBFloat16), "bf16");
  EXPECT_STREQ(precision_name(at::kFloat), "fp32");
}

TEST(Precision, UnknownPrecisionIsAConfigErrorListingTheChoices) {
  const auto dir = test::scratch_dir();
  const auto file = test::write_text(dir / "c.yaml", "precision: fp16\n");
  try {
    load_config(file, {});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("precision"), std::string::npos) << message;
    EXPECT_NE(message.find("bf16"), std::string::npos) << message;
  }
}

struct DtypeRecorder : TapObserver {
  std::map<std::string, at::ScalarType> seen;
  void observe(const std::string& site, const at::Tensor& value) override { seen[site] = value.scalar_type(); }
};

TEST(Precision, Bf16RunsTheMatmulsAndKeepsSoftmaxRoutingAndResidualInFp32) {
  torch::manual_seed(0);
  auto model = build_model(test::small_model("oasis"), 97);
  model->configure({at::kBFloat16, false});
  DtypeRecorder recorder;
  model->attach(&recorder);
  auto logits = model->forward(torch::randint(97, {2, 12}, torch::kLong));
  model->attach(nullptr);
  EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
  const std::map<std::string, at::ScalarType> expected = {
      {"0.attn.probs", at::kFloat},     {"0.attn.lse", at::kFloat},        {"0.attn.null_mass", at::kFloat},
      {"0.route_attn.weights", at::kFloat}, {"0.attn.routed", at::kFloat}, {"0.attn.normed", at::kFloat},
      {"0.attn.heads", at::kBFloat16}, {"0.attn.out", at::kFloat},        {"0.mlp.hidden", at::kBFloat16},
      {"0.mlp.out", at::kFloat},       {"1.mlp.block_sum", at::kFloat}};
  for (const auto& [site, dtype] : expected) {
    ASSERT_TRUE(recorder.seen.count(site)) << site;
    EXPECT_EQ(recorder.seen.at(site), dtype) << site;
  }
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
}

// Relative error of b against a: |a - b| / |a| over the whole tensor.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  auto x = a.to(at::kDouble), y = b.to(at::kDouble);
  return ((x - y).norm() / x.norm()).item<double>();
}

TEST(Precision, Bf16LogitsAndGradientsTrackFp32ForEveryPreset) {
  for (const auto& preset : kPresets) {
    SCOPED_TRACE(preset);
    torch::manual_seed(1);
    auto model = build_model(test::small_model(preset), 97);
    auto tokens = torch::randint(97, {2, 16}, torch::kLong);
    auto targets = torch::randint(97, {2 * 16}, torch::kLong);
    auto run = [&](at::ScalarType dtype) {
      model->configure({dtype, false});
      model->zero_grad();
      auto logits = model->forward(tokens);
      auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 97}).to(at::kFloat), targets);
      loss.backward();
      std::vector<at::Tensor> out = {logits.detach().to(at::kFloat)};
      for (const auto& p : model->parameters()) {
        EXPECT_EQ(p.grad().scalar_type(), at::kFloat);
        out.push_back(p.grad().clone());
      }
      return out;
    };
    auto fp32 = run(at::kFloat), bf16 = run(at::kBFloat16);
    EXPECT_LT(relative_error(fp32[0], bf16[0]), 2e-2);
    auto flat = [](const std::vector<at::Tensor>& v) {
      std::vector<at::Tensor> parts;
      for (size_t i = 1; i < v.size(); ++i) parts.push_back(v[i].flatten());
      return torch::cat(parts);
    };
    EXPECT_LT(relative_error(flat(fp32), flat(bf16)), 5e-2);
  }
}

TEST(Precision, Bf16TrainingLearnsAndKeepsFp32MasterWeights) {
  torch::manual_seed(2);
  auto model = build_model(test::small_model("oasis"), 97);
  model->configure({at::kBFloat16, false});
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(3e-3));
  auto tokens = torch::randint(97, {4, 17}, torch::kLong);
  auto inputs = tokens.narrow(1, 0, 16), targets = tokens.narrow(1, 1, 16).reshape(-1);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(inputs).reshape({-1, 97}).to(at::kFloat), targets);
    loss.backward();
    optimizer.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
  for (const auto& p : model->parameters()) {
    EXPECT_EQ(p.scalar_type(), at::kFloat);
    EXPECT_EQ(p.grad().scalar_type(), at::kFloat);
  }
}

}  // namespace
}  // namespace oasis
