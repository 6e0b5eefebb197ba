// Grouped-query attention (model.n_kv_heads): a model with H query heads and H_kv key/value heads equals the
// multi-head model whose key and value heads are those H_kv heads copied to each query head of their group
// (Hugging Face Llama's repeat_kv order), through the written-out and the fused attention; decoding caches
// only the H_kv heads and gives forward()'s logits; a head count that does not divide is a config error.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/model/presets.h"
#include "framework/model/transformer.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kVocab = 40;

// The multi-head model equivalent to `gqa`: every parameter copied, the key and value rows of each wqkv
// repeated per query head of their group.
void copy_into_multi_head(LanguageModel& gqa, LanguageModel& mha, int64_t d_model) {
  torch::NoGradGuard no_grad;
  const int64_t head_dim = d_model / kHeads, group = kHeads / kKvHeads;
  auto target = mha.named_parameters();
  for (const auto& p : gqa.named_parameters()) {
    at::Tensor w = p.value();
    if (p.key().find("wqkv") != std::string::npos) {
      const auto q = w.narrow(0, 0, kHeads * head_dim);
      auto repeat = [&](int64_t first) {  // [H_kv * D, d] -> [H * D, d], head h taking head h / group
        const auto heads = w.narrow(0, first, kKvHeads * head_dim).view({kKvHeads, head_dim, d_model});
        return heads.repeat_interleave(group, 0).reshape({-1, d_model});
      };
      w = torch::cat({q, repeat(kHeads * head_dim), repeat((kHeads + kKvHeads) * head_dim)});
    }
    target[p.key()].copy_(w);
  }
}

ModelConfig model(const std::string& preset, int64_t kv_heads) {
  ModelConfig c = test::small_model(preset, 2, kHeads);
  c.n_kv_heads = kv_heads;
  return c;
}

TEST(GroupedQueryAttention, EqualsMultiHeadWithTheKeyValueHeadsCopied) {
  for (const std::string preset : {"standard", "oasis", "attnres-gated"})
    for (const bool fused : {false, true}) {
      torch::manual_seed(11);
      auto gqa = build_model(model(preset, kKvHeads), kVocab), mha = build_model(model(preset, kHeads), kVocab);
      EXPECT_EQ(gqa->named_parameters()["blocks.0.attn.wqkv.weight"].size(0), (kHeads + 2 * kKvHeads) * 8);
      copy_into_multi_head(*gqa, *mha, 32);
      for (auto* m : {gqa.get(), mha.get()}) m->configure({at::kFloat, fused});
      const auto tokens = torch::randint(0, kVocab, {2, 12}, torch::kLong);
      torch::NoGradGuard no_grad;
      const auto a = gqa->forward(tokens), b = mha->forward(tokens);
      EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << preset << (fused ? " fused" : " written") << ": "
                                                     << (a - b).abs().max().item<double>();
    }
}

TEST(GroupedQueryAttention, CachesOnlyTheKeyValueHeadsAndDecodesLikeForward) {
  for (const std::string preset : {"standard", "oasis"}) {
    torch::manual_seed(12);
    auto m = build_model(model(preset, 1), kVocab);  // one key/value head: multi-query attention
    m->eval();
    torch::NoGradGuard no_grad;
    const auto tokens = torch::randint(0, kVocab, {1, 9}, torch::kLong);
    const auto full = m->forward(tokens);
    KVCache cache;
    const auto prefix = m->decode(tokens.narrow(1, 0, 8), torch::ones({1, 8}, torch::kBool), cache);
    EXPECT_EQ(cache.keys[0].size(1), 1) << preset;
    EXPECT_EQ(cache.values[1].size(1), 1) << preset;
    const auto last = m->decode(tokens.narrow(1, 8, 1), torch::ones({1, 1}, torch::kBool), cache);
    EXPECT_TRUE(torch::allclose(prefix, full.narrow(1, 0, 8), 1e-5, 1e-5)) << preset;
    EXPECT_TRUE(torch::allclose(last, full.narrow(1, 8, 1), 1e-5, 1e-5)) << preset;
  }
}

TEST(GroupedQueryAttention, AHeadCountThatDoesNotDivideIsAConfigError) {
  const auto dir = test::scratch_dir();
  const auto file = test::write_text(dir / "gqa.yaml", "model:\n  n_heads: 4\n  n_kv_heads: 3\n");
  try {
    load_config(file, {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.n_kv_heads: expected a divisor of model.n_heads=4"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace oasis

// model.head_dim wider than d_model / n_heads (Hugging Face's head_dim): the projections take its shape, every
// preset runs, the elementwise gate covers n_heads * head_dim channels, and cached decoding equals forward().
namespace oasis {
namespace {

TEST(Gqa, ExplicitHeadDimShapesEveryPreset) {
  for (const std::string preset : {"standard", "oasis", "attnres-qwen-gate"}) {
    ModelConfig c = test::small_model(preset, 2, kHeads);
    c.n_kv_heads = kKvHeads;
    c.head_dim = 12;  // d_model 32 / 4 heads would be 8
    c.gate = preset == "attnres-qwen-gate" ? "qwen_elementwise" : "";
    torch::manual_seed(5);
    auto m = build_model(c, kVocab);
    auto params = m->named_parameters();
    EXPECT_TRUE(params["blocks.0.attn.wqkv.weight"].sizes().equals({(kHeads + 2 * kKvHeads) * 12, 32})) << preset;
    EXPECT_TRUE(params["blocks.0.attn.wo.weight"].sizes().equals({32, kHeads * 12})) << preset;
    torch::NoGradGuard no_grad;
    m->eval();
    const auto tokens = torch::randint(0, kVocab, {2, 10});
    const auto full = m->forward(tokens);
    KVCache cache;
    const auto valid = torch::ones({2, 6}, torch::kBool);
    auto first = m->decode(tokens.narrow(1, 0, 6), valid, cache);
    auto rest = m->decode(tokens.narrow(1, 6, 4), torch::ones({2, 4}, torch::kBool), cache);
    EXPECT_TRUE(torch::allclose(torch::cat({first, rest}, 1), full, 1e-4, 1e-5)) << preset;
  }
}

}  // namespace
}  // namespace oasis
