// The fused attention path (kernels/fused_attention.h) against the written-out attention it replaces:
// outputs (and for OASIS the LSE and null mass) and the gradients of q, k and v, for softmax and Softmax1
// (the null-key form), under the causal flag, a decoding mask with padding and no mask; in double, float
// and bf16; on the CPU and on a CUDA device (those tests skip, saying so, where there is none). Then whole
// models set to each path (taps force the written-out one).
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <torch/version.h>

#include "framework/kernels/fused_attention.h"
#include "framework/model/normalizers.h"
#include "framework/model/presets.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

// Each test below runs once per device; the CUDA instance skips where no GPU is visible.
class FusedAttentionOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && !torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device; none visible here";
  }
  c10::Device device() const { return GetParam() == "cuda" ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU); }
};

struct Case {
  const char* name;
  int64_t T, S;
  bool causal, padded;
};

// Decoding-style mask [B, 1, T, S]: query t (at absolute position S - T + t) sees keys up to itself, and
// row 1's first two keys are padding.
at::Tensor decoding_mask(int64_t B, int64_t T, int64_t S, const c10::Device& device) {
  auto query_at = (torch::arange(T) + (S - T)).unsqueeze(1), key_at = torch::arange(S).unsqueeze(0);
  auto blocked = (key_at > query_at).unsqueeze(0).repeat({B, 1, 1});
  blocked.select(0, 1).narrow(-1, 0, 2).fill_(true);
  return blocked.unsqueeze(1).to(device);
}

// The outputs and the gradients of `inputs` under a random linear loss on every output.
std::vector<at::Tensor> outputs_and_grads(const std::vector<at::Tensor>& outputs, const std::vector<at::Tensor>& inputs) {
  torch::manual_seed(5);
  auto loss = torch::zeros({}, torch::kFloat);
  for (const auto& out : outputs) {
    auto upstream = torch::randn(out.sizes(), torch::kFloat).to(out.options());
    loss = loss + (out * upstream).sum().to(at::kCPU, at::kFloat);
  }
  auto grads = torch::autograd::grad({loss}, inputs);
  std::vector<at::Tensor> all = outputs;
  all.insert(all.end(), grads.begin(), grads.end());
  return all;
}

// `null_statistics`: also the LSE and null mass (softmax1), in the loss too.
void expect_fused_equals_written_out(FusedForm form, bool null_statistics, at::ScalarType dtype,
                                     const c10::Device& device, double rtol, double atol) {
  const int64_t B = 2, H = 3, D = 8;
  const std::vector<Case> cases = {{"causal", 7, 7, true, false}, {"decoding", 3, 9, false, true}, {"none", 4, 6, false, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name) + (form == FusedForm::softmax ? " softmax " : " softmax1 ") +
                 (null_statistics ? "with statistics " : "") + c10::toString(dtype) + " " + device.str());
    torch::manual_seed(11);
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    auto make = [&](int64_t L) { return (torch::randn({B, H, L, D}) * 1.5).to(opts).requires_grad_(); };
    auto q = make(c.T), k = make(c.S), v = make(c.S);
    ScoreMask mask;
    mask.causal = c.causal;
    if (c.padded) mask.blocked = decoding_mask(B, c.T, c.S, device);

    FusedAttention f = fused_attention(q, k, v, mask, form, null_statistics);
    std::vector<at::Tensor> fused_outputs = {f.out};
    if (null_statistics) fused_outputs.insert(fused_outputs.end(), {f.lse, f.null_mass});
    auto fused = outputs_and_grads(fused_outputs, {q, k, v});
    // Written out in float (double stays double), as the attention layer does.
    const auto score_dtype = dtype == at::kDouble ? at::kDouble : at::kFloat;
    auto scores = torch::matmul(q, k.transpose(-2, -1)).to(score_dtype) / std::sqrt(double(D));
    auto normalizer = make_normalizer(form == FusedForm::softmax ? "softmax" : "softmax1", {H, 1});
    Normalized n = normalizer->forward(scores, mask, null_statistics);
    std::vector<at::Tensor> written_outputs = {torch::matmul(n.probs.to(dtype), v)};
    if (null_statistics) written_outputs.insert(written_outputs.end(), {n.lse, n.null_mass});
    auto written = outputs_and_grads(written_outputs, {q, k, v});

    std::vector<std::string> names = {"output"};
    if (null_statistics) names.insert(names.end(), {"lse", "null mass"});
    names.insert(names.end(), {"dq", "dk", "dv"});
    ASSERT_EQ(fused.size(), names.size());
    for (size_t i = 0; i < fused.size(); ++i) {
      SCOPED_TRACE(names[i]);
      ASSERT_EQ(fused[i].sizes(), written[i].sizes());
      auto a = fused[i].to(at::kCPU, at::kDouble), b = written[i].to(at::kCPU, at::kDouble);
      EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
      EXPECT_TRUE(torch::allclose(a, b, rtol, atol)) << "max |diff| " << (a - b).abs().max().item<double>();
    }
  }
}

// In double (tolerances given: the statistics' logs cost a digit), float and bf16.
void expect_fused_equals_written_out_in_every_dtype(FusedForm form, bool null_statistics, const c10::Device& device,
                                                    double double_rtol, double double_atol) {
  expect_fused_equals_written_out(form, null_statistics, at::kDouble, device, double_rtol, double_atol);
  expect_fused_equals_written_out(form, null_statistics, at::kFloat, device, 1e-4, 1e-5);
  expect_fused_equals_written_out(form, null_statistics, at::kBFloat16, device, 5e-2, 5e-2);
}

TEST_P(FusedAttentionOn, SoftmaxEqualsTheWrittenOutAttention) {
  expect_fused_equals_written_out_in_every_dtype(FusedForm::softmax, false, device(), 1e-10, 1e-12);
}

TEST_P(FusedAttentionOn, Softmax1ThroughANullKeyEqualsTheWrittenOutAttention) {
  expect_fused_equals_written_out_in_every_dtype(FusedForm::softmax1, false, device(), 1e-10, 1e-12);
}

// OASIS's path: the LSE and null mass from the two extra value channels, values and gradients.
TEST_P(FusedAttentionOn, Softmax1LseAndNullMassFromValueChannelsEqualTheWrittenOut) {
  expect_fused_equals_written_out_in_every_dtype(FusedForm::softmax1, true, device(), 1e-9, 1e-11);
}

TEST(FusedAttention, OnlySoftmaxAndSoftmax1HaveAFusedForm) {
  const std::map<std::string, FusedForm> expected = {{"softmax", FusedForm::softmax}, {"softmax1", FusedForm::softmax1},
                                                     {"clipped", FusedForm::none},    {"softpick", FusedForm::none},
                                                     {"sink", FusedForm::none}};
  for (const auto& [kind, form] : expected) EXPECT_EQ(make_normalizer(kind, {2, 8})->fused_form(), form) << kind;
}

struct NullObserver : TapObserver {
  void observe(const std::string&, const at::Tensor&) override {}
};

// Logits and every parameter gradient of models set to fused attention, with no taps (fused) and with an
// observer attached (written out), and of a model set to written-out attention.
TEST_P(FusedAttentionOn, ModelsAgreeFusedAndWrittenOut) {
  const c10::Device device = this->device();
  {
    for (const std::string preset : {"standard", "attnres-softmax1", "attnres-gated", "oasis", "attnres-clipped"}) {
      SCOPED_TRACE(preset + " on " + device.str());
      torch::manual_seed(3);
      auto model = build_model(test::small_model(preset), 97);
      model->to(device);
      auto tokens = torch::randint(97, {2, 16}, torch::kLong).to(device);
      auto upstream = torch::randn({2, 16, 97}).to(device);  // gradients of order one reach every parameter
      auto run = [&](bool fused, TapObserver* observer) {
        model->configure({at::kFloat, fused});
        model->attach(observer);
        model->zero_grad();
        auto logits = model->forward(tokens);
        (logits * upstream).sum().backward();
        std::vector<at::Tensor> out = {logits.detach().cpu()};
        for (const auto& p : model->parameters()) out.push_back(p.grad().clone().cpu());  // zero_grad reuses it
        model->attach(nullptr);
        return out;
      };
      NullObserver observer;
      auto fused = run(true, nullptr), tapped = run(true, &observer), written = run(false, nullptr);
      for (size_t i = 0; i < fused.size(); ++i) {
        EXPECT_TRUE(torch::allclose(fused[i], written[i], 1e-4, 1e-6)) << i;
        EXPECT_TRUE(torch::equal(tapped[i], written[i])) << i;
      }
    }
  }
}

TEST(FusedAttention, AutoFusesOnEveryDevice) {
  Config c;
  EXPECT_TRUE(compute_settings(c, c10::Device(c10::kCUDA, 0)).fused_attention);
  EXPECT_TRUE(compute_settings(c, c10::Device(c10::kCPU)).fused_attention);
  c.attention_kernel = "written";
  EXPECT_FALSE(compute_settings(c, c10::Device(c10::kCUDA, 0)).fused_attention);
  c.attention_kernel = "fused";
  EXPECT_TRUE(compute_settings(c, c10::Device(c10::kCPU)).fused_attention);
}

INSTANTIATE_TEST_SUITE_P(Devices, FusedAttentionOn, ::testing::Values("cpu", "cuda"));

}  // namespace
}  // namespace oasis
