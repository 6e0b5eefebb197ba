// The model zoo: identities of each normalizer, gate and router against independent formulas, the
// AttnRes <-> standard equivalence at zero init, Full AttnRes against a reference loop, causal masking,
// gradients and short training runs for every preset.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/data/token_data.h"
#include "framework/model/depth_router.h"
#include "framework/model/normalizers.h"
#include "framework/model/normalizers/clipped.h"
#include "framework/model/presets.h"
#include "framework/model/transformer.h"
#include "framework/run/pipeline.h"
#include "framework/stats/stats_file.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

at::Tensor causal_scores(int64_t B, int64_t H, int64_t T, double scale = 3.0) {
  auto s = torch::randn({B, H, T, T}, torch::kDouble) * scale;
  return s.masked_fill(torch::ones({T, T}, torch::kBool).triu(1), -INFINITY);
}

// Copies every parameter that both models have (same name and shape).
void copy_shared_parameters(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto source = from.named_parameters();
  for (auto& p : to.named_parameters())
    if (auto* s = source.find(p.key()); s && s->sizes() == p.value().sizes()) p.value().copy_(*s);
}

struct Recorder : TapObserver {
  std::map<std::string, at::Tensor> seen;
  void observe(const std::string& site, const at::Tensor& value) override { seen[site] = value; }
};

TEST(Normalizers, Softmax1IsSoftmaxWithAZeroLogitDropped) {
  torch::manual_seed(0);
  auto s = causal_scores(2, 3, 7);
  auto n = make_normalizer("softmax1", {3, 1})->forward(s);
  auto padded = torch::cat({s, torch::zeros({2, 3, 7, 1}, torch::kDouble)}, -1);
  auto reference = torch::softmax(padded, -1);
  EXPECT_TRUE(torch::allclose(n.probs, reference.slice(-1, 0, 7), 1e-12, 1e-14));
  EXPECT_TRUE(torch::allclose(n.null_mass, reference.select(-1, 7), 1e-12, 1e-14));
  EXPECT_TRUE(torch::allclose(n.null_mass, torch::sigmoid(-torch::logsumexp(s, -1)), 1e-12, 1e-14));
  EXPECT_TRUE(torch::allclose(n.probs.sum(-1) + n.null_mass, torch::ones({2, 3, 7}, torch::kDouble)));
  // Stable for huge and very negative scores alike.
  auto extreme = make_normalizer("softmax1", {3, 1})->forward(s * 1000.0);
  EXPECT_TRUE(torch::isfinite(extreme.probs).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(extreme.null_mass).all().item<bool>());
}

TEST(Normalizers, Softmax1AttentionEqualsAZeroKeyAndValue) {
  torch::manual_seed(1);
  const int64_t T = 6, D = 8;
  auto q = torch::randn({1, 2, T, D}, torch::kDouble), k = torch::randn({1, 2, T, D}, torch::kDouble),
       v = torch::randn({1, 2, T, D}, torch::kDouble);
  auto scores = (torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(D)))
                    .masked_fill(torch::ones({T, T}, torch::kBool).triu(1), -INFINITY);
  auto ours = torch::matmul(make_normalizer("softmax1", {2, 1})->forward(scores).probs, v);
  // Plain softmax attention over the keys plus one zero key (always visible) and one zero value.
  auto k0 = torch::cat({k, torch::zeros({1, 2, 1, D}, torch::kDouble)}, 2);
  auto v0 = torch::cat({v, torch::zeros({1, 2, 1, D}, torch::kDouble)}, 2);
  auto mask = torch::cat({torch::ones({T, T}, torch::kBool).triu(1), torch::zeros({T, 1}, torch::kBool)}, 1);
  auto s0 = (torch::matmul(q, k0.transpose(-2, -1)) / std::sqrt(double(D))).masked_fill(mask, -INFINITY);
  auto reference = torch::matmul(torch::softmax(s0, -1), v0);
  EXPECT_TRUE(torch::allclose(ours, reference, 1e-12, 1e-14));
}

TEST(Normalizers, ClippedGivesExactZerosAndOnes) {
  // Exact zeros where softmax < -gamma / (zeta - gamma), exact ones where softmax > (1 - gamma) / (zeta - gamma)
  // (only reachable with zeta > 1), the stretched softmax in between.
  const double alpha = 12, zeta = 1.1;
  const int64_t T = 16;
  auto s = torch::full({1, 1, 2, T}, -10.0, torch::kDouble);
  s[0][0][0][3] = 10.0;  // row 0: one dominant key -> exactly 1, the rest exactly 0
  s[0][0][1][3] = 10.0;  // row 1: two strong keys -> values strictly inside (0, 1)
  s[0][0][1][5] = 9.8;
  ComponentSections options = registered_component_options();
  options.get<ClippedOptions>("clipped") = {alpha, zeta, 0};
  auto p = make_normalizer("clipped", {1, T, &options})->forward(s).probs;
  auto sm = torch::softmax(s, -1);
  const double gamma = -alpha / double(T);
  const double zero_below = -gamma / (zeta - gamma), one_above = (1 - gamma) / (zeta - gamma);
  int zeros = 0, ones = 0, inside = 0;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t j = 0; j < T; ++j) {
      const double softmax_j = sm[0][0][r][j].item<double>(), p_j = p[0][0][r][j].item<double>();
      if (softmax_j < zero_below) {
        EXPECT_EQ(p_j, 0.0) << r << "," << j;
        ++zeros;
      } else if (softmax_j > one_above) {
        EXPECT_EQ(p_j, 1.0) << r << "," << j;
        ++ones;
      } else {
        EXPECT_NEAR(p_j, (zeta - gamma) * softmax_j + gamma, 1e-15) << r << "," << j;
        ++inside;
      }
    }
  EXPECT_EQ(ones, 1);
  EXPECT_EQ(inside, 2);
  EXPECT_EQ(zeros, 2 * T - 3);
}

TEST(Normalizers, SoftpickAndSinkFollowTheirFormulas) {
  torch::manual_seed(2);
  auto s = causal_scores(1, 2, 5, 1.0);
  auto p = make_normalizer("softpick", {2, 1})->forward(s).probs;
  auto e = torch::exp(s) - 1.0;  // masked: exp(-inf) - 1 = -1, excluded below
  auto valid = torch::isfinite(s).to(torch::kDouble);
  auto reference = torch::relu(e) * valid / ((e.abs() * valid).sum(-1, true) + 1e-8);
  EXPECT_TRUE(torch::allclose(p, reference, 1e-10, 1e-12));
  auto sink = make_normalizer("sink", {2, 1});
  {
    torch::NoGradGuard no_grad;
    sink->named_parameters()["logit"].copy_(torch::tensor({0.5, -1.0}));
  }
  auto n = sink->forward(s.to(torch::kFloat));
  auto lse = torch::logsumexp(s.to(torch::kFloat), -1);
  auto expected_null = torch::sigmoid(torch::tensor({0.5f, -1.0f}).view({1, 2, 1}) - lse);
  EXPECT_TRUE(torch::allclose(n.null_mass, expected_null, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(n.probs.sum(-1) + n.null_mass, torch::ones_like(n.null_mass), 1e-5, 1e-6));
}

TEST(ModelZoo, ZeroInitAttnResMatchesStandard) {
  for (int64_t blocks : {1, 3, 6}) {
    ModelConfig std_cfg = test::small_model("standard", 3, 4);
    std_cfg.norm_eps = 1e-12;  // AttnRes feeds the norm h/n: equal up to the norm's epsilon
    ModelConfig res_cfg = std_cfg;
    res_cfg.preset = "attnres";
    res_cfg.attnres_blocks = blocks;
    torch::manual_seed(3);
    auto standard = build_model(std_cfg, 97);
    auto attnres = build_model(res_cfg, 97);
    copy_shared_parameters(*standard, *attnres);
    auto tokens = torch::randint(0, 97, {2, 16}, torch::kLong);
    torch::NoGradGuard no_grad;
    auto a = standard->forward(tokens), b = attnres->forward(tokens);
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << "blocks " << blocks << ": max diff "
                                                   << (a - b).abs().max().item<double>();
  }
}

TEST(ModelZoo, GateForcedToOneEqualsNoGate) {
  ModelConfig gated = test::small_model("attnres-gated", 3, 4);
  ModelConfig plain = test::small_model("attnres", 3, 4);
  torch::manual_seed(4);
  auto g = build_model(gated, 50), p = build_model(plain, 50);
  copy_shared_parameters(*g, *p);
  {
    torch::NoGradGuard no_grad;
    for (auto& param : g->named_parameters()) {
      if (param.key().find("attn.gate.weight") != std::string::npos) param.value().zero_();
      if (param.key().find("attn.gate.bias") != std::string::npos) param.value().fill_(60.0);  // sigmoid = 1.0f
    }
  }
  auto tokens = torch::randint(0, 50, {2, 12}, torch::kLong);
  torch::NoGradGuard no_grad;
  auto a = g->forward(tokens), b = p->forward(tokens);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-7)) << (a - b).abs().max().item<double>();
}

TEST(ModelZoo, FullAttnResMatchesAReferenceLoop) {
  ModelConfig c = test::small_model("attnres", 3, 4);
  c.attnres_blocks = 2 * c.n_layers;  // one sublayer per block = Full AttnRes
  torch::manual_seed(5);
  auto model = build_model(c, 40);
  auto* t = dynamic_cast<Transformer*>(model.get());
  {
    torch::NoGradGuard no_grad;  // non-zero queries so the routing really mixes
    for (auto& p : model->named_parameters())
      if (p.key().find("query") != std::string::npos) p.value().normal_(0.0, 1.0);
  }
  auto tokens = torch::randint(0, 40, {2, 10}, torch::kLong);
  torch::NoGradGuard no_grad;
  // h_l = sum_i softmax_i(w_l . RMSNorm(v_i)) v_i over v_0 = embedding and every earlier sublayer output.
  // The routing sites as the router registered them, by their checkpoint names.
  const auto modules = t->named_modules();
  auto site = [&](const std::string& name) -> DepthRouterImpl& { return *modules[name]->as<DepthRouterImpl>(); };
  auto route = [](DepthRouterImpl& r, const std::vector<at::Tensor>& v) {
    if (v.size() == 1) return v[0];
    std::vector<at::Tensor> logits;
    for (const auto& x : v) logits.push_back((r.key_norm->forward(x) * r.query).sum(-1));
    auto w = torch::softmax(torch::stack(logits), 0);
    auto h = torch::zeros_like(v[0]);
    for (size_t i = 0; i < v.size(); ++i) h = h + w[i].unsqueeze(-1) * v[i];
    return h;
  };
  std::vector<at::Tensor> outputs = {t->embed->forward(tokens)};
  for (size_t i = 0; i < t->blocks->size(); ++i) {
    auto b = t->blocks[i]->as<DecoderBlock>();
    const std::string prefix = "blocks." + std::to_string(i) + ".";
    outputs.push_back(b->attn->forward(b->attn_norm->forward(route(site(prefix + "route_attn"), outputs))).out);
    outputs.push_back(b->mlp->forward(b->mlp_norm->forward(route(site(prefix + "route_mlp"), outputs))));
  }
  auto reference = t->lm_head->forward(t->final_norm->forward(route(site("final_route"), outputs)));
  EXPECT_TRUE(torch::allclose(model->forward(tokens), reference, 1e-5, 1e-6));
}

TEST(ModelZoo, RoutingWeightsSumToOneAndTapsReport) {
  ModelConfig c = test::small_model("oasis", 3, 4);
  torch::manual_seed(6);
  auto model = build_model(c, 30);
  Recorder recorder;
  model->attach(&recorder);
  torch::NoGradGuard no_grad;
  model->forward(torch::randint(0, 30, {2, 9}, torch::kLong));
  model->attach(nullptr);
  int routing_sites = 0;
  for (const auto& [site, value] : recorder.seen) {
    if (site.size() > 8 && site.compare(site.size() - 8, 8, ".weights") == 0) {
      ++routing_sites;
      EXPECT_TRUE(torch::allclose(value.sum(0), torch::ones_like(value[0]))) << site;
    }
  }
  EXPECT_EQ(routing_sites, 2 * 3 + 1);  // two per layer plus the final site
  for (const char* site : {"0.attn.probs", "0.attn.null_mass", "0.attn.lse", "2.null_signal", "1.route_mlp.keep"})
    EXPECT_TRUE(recorder.seen.count(site)) << site;
  // Softmax1 rows sum to 1 - null mass.
  EXPECT_TRUE(torch::allclose(recorder.seen["1.attn.probs"].sum(-1) + recorder.seen["1.attn.null_mass"],
                              torch::ones_like(recorder.seen["1.attn.null_mass"]), 1e-5, 1e-6));
  // OASIS starts close to AttnRes + Softmax1: the null gate keeps (almost) the whole update.
  EXPECT_GT(recorder.seen["0.route_attn.keep"].min().item<double>(), 0.99);
}

std::vector<ModelConfig> every_model() {
  std::vector<ModelConfig> out;
  for (const auto& name : model_presets().names()) out.push_back(test::small_model(name, 3, 4));
  ModelConfig ab = test::small_model("oasis", 3, 4);  // the other OASIS knobs
  ab.oasis.variant = "ab";
  ab.oasis.per_head = true;
  ab.oasis.ema_rate = 0.5;
  ab.oasis.sites = "attn";
  out.push_back(ab);
  ModelConfig mixed = test::small_model("standard", 3, 4);  // a combination no preset names
  mixed.normalizer = "sink";
  mixed.gate = "qwen_elementwise";
  out.push_back(mixed);
  ModelConfig grouped = test::small_model("oasis", 3, 4);  // grouped-query attention: 2 key/value heads
  grouped.n_kv_heads = 2;
  out.push_back(grouped);
  return out;
}

TEST(ModelZoo, EveryPresetIsCausal) {
  for (const auto& c : every_model()) {
    torch::manual_seed(7);
    auto model = build_model(c, 60);
    auto tokens = torch::randint(0, 60, {2, 14}, torch::kLong);
    auto changed = tokens.clone();
    changed.slice(1, 8).random_(0, 60);
    torch::NoGradGuard no_grad;
    auto a = model->forward(tokens), b = model->forward(changed);
    EXPECT_TRUE(torch::equal(a.slice(1, 0, 8), b.slice(1, 0, 8))) << c.preset;
    EXPECT_FALSE(torch::equal(a.slice(1, 8), b.slice(1, 8))) << c.preset;
  }
}

TEST(ModelZoo, EveryParameterGetsAFiniteNonZeroGradient) {
  // After one optimizer step (zero-initialised routing queries pass no gradient to the key-norm gains
  // before they move), every parameter of every model receives a finite, non-zero gradient.
  for (const auto& c : every_model()) {
    torch::manual_seed(8);
    auto model = build_model(c, 60);
    auto tokens = torch::randint(0, 60, {4, 14}, torch::kLong);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
    for (int step = 0; step < 2; ++step) {
      optimizer.zero_grad();
      auto logits = model->forward(tokens.slice(1, 0, 13));
      torch::nn::functional::cross_entropy(logits.reshape({-1, 60}), tokens.slice(1, 1).reshape(-1)).backward();
      if (step == 0) optimizer.step();
    }
    for (const auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << c.preset << " " << p.key();
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << c.preset << " " << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << c.preset << " " << p.key();
    }
  }
}

TEST(ModelZoo, ImpossibleCombinationsAreConfigErrors) {
  auto dir = test::scratch_dir();
  auto file = test::write_text(dir / "x.yaml", "model:\n  preset: oasis\n  router: standard\n");
  try {
    load_config(file, {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("router standard does not carry the null signal oasis"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_config(file, {"model.router=attnres", "model.attnres_blocks=5"}), ConfigError);
  EXPECT_NO_THROW(load_config(file, {"model.router=attnres", "model.attnres_blocks=8"}));
  try {
    build_model(test::small_model("atnres", 3, 4), 10);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'attnres'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("attnres-softmax1"), std::string::npos) << e.what();
  }
}

TEST(ModelZoo, BenchReportsEveryPreset) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  const std::string yaml = test::write_text(dir / "tiny.yaml", config_to_yaml(c));
  const std::string out = (dir / "bench.json").string();
  auto r = test::run_cli("bench " + yaml +
                         " --presets standard,oasis,attnres --steps 2 --warmup 1 --decode-tokens 16 --peak-tflops 0.5 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("| oasis "), std::string::npos) << r.output;
  const auto rows = nlohmann::json::parse(read_file(out));
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_GT(row["tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(row["peak_rss_mb"].get<double>(), 50.0);
    EXPECT_EQ(row["step_ms"].size(), 2u);
    EXPECT_NEAR(row["tokens_per_s"].get<double>(), 4 * 32 / (row["median_step_ms"].get<double>() / 1000.0), 1e-6);
    for (const char* scheme : {"fp", "w8a8", "w4a4"}) EXPECT_GT(row["eval"][scheme]["tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(row["decode"]["cached_tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(row["decode"]["recomputed_tokens_per_s"].get<double>(), 0.0);
  }
  EXPECT_NE(r.output.find("decode tok/s, KV cache (16 new, batch 1)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("eval tokens/s"), std::string::npos) << r.output;
  EXPECT_EQ(rows[0]["overhead_vs_standard"].get<double>(), 0.0);
  // Model FLOPs: every standard weight but the 2L + 1 norm gains is a matmul weight (tied LM head), 6 FLOPs
  // each per token, plus 12 L d T; the routing adds none, so every preset is credited the same.
  const double L = double(c.model.n_layers), d = double(c.model.d_model), T = double(c.data.seq_len);
  const double standard_flops = 6 * (rows[0]["parameters"].get<double>() - (2 * L + 1) * d) + 12 * L * d * T;
  for (const auto& row : rows) {
    EXPECT_DOUBLE_EQ(row["flops_per_token"].get<double>(), standard_flops) << row["preset"];
    EXPECT_NEAR(row["tflops"].get<double>(), standard_flops * row["tokens_per_s"].get<double>() / 1e12, 1e-12);
    EXPECT_NEAR(row["mfu"].get<double>(), row["tflops"].get<double>() / 0.5, 1e-12);
    EXPECT_EQ(row["precision"], "fp32");
  }
  EXPECT_NE(r.output.find("MFU against a declared peak of 0.5 TFLOP/s"), std::string::npos) << r.output;
  r = test::run_cli("bench " + yaml + " --presets standard,oasys");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("did you mean 'oasis'"), std::string::npos) << r.output;
}

TEST(ModelZoo, EveryPresetTrainsOnWikiText2) {
  auto dir = test::scratch_dir();
  for (const auto& name : model_presets().names()) {
    Config c = test::wikitext_learning_config(dir, 200);
    c.run = name;
    c.model.preset = name;
    c.train.eval_batches = 8;
    c.eval.splits = {"valid"};
    c.eval.max_tokens = 4000;
    const auto results = train_and_evaluate(c);
    const double val = results["train"]["final_val_loss"].get<double>();
    EXPECT_TRUE(std::isfinite(val)) << name;
    EXPECT_LT(val, std::log(1024.0) - 1.0) << name;  // from ~ln(V) = 6.93 at init
    // Every preset's taps feed the statistics: a complete stats.h5 with a finite summary.
    const auto stats = open_stats_file(c.run_dir() / "stats.h5");
    EXPECT_TRUE(std::isfinite(stats->number_attribute("/fp/summary", "max_inf_norm").value_or(NAN))) << name;
    EXPECT_TRUE(std::isfinite(stats->number_attribute("/fp/summary", "first_token_attention").value_or(NAN))) << name;
  }
}

}  // namespace
}  // namespace oasis
