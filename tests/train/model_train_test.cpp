// The standard model, training, checkpoints and perplexity: causal masking, exact resume, a uniform
// model's perplexity, the window plan, and a tiny model really learning WikiText-2.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/runtime.h"
#include "framework/data/token_data.h"
#include "framework/eval/perplexity.h"
#include "framework/model/presets.h"
#include "framework/run/pipeline.h"
#include "framework/run/results_file.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"
#include "framework/train/optimizer.h"
#include "framework/train/trainer.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

TEST(Model, CausalMasking) {
  ModelConfig c;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.max_seq_len = 32;
  torch::manual_seed(0);
  auto model = build_model(c, 100);
  model->eval();
  auto tokens = torch::randint(0, 100, {2, 20}, torch::kLong);
  auto changed = tokens.clone();
  changed.slice(1, 12).random_(0, 100);  // every token after position 11 differs
  torch::NoGradGuard no_grad;
  auto a = model->forward(tokens), b = model->forward(changed);
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 12), b.slice(1, 0, 12), 0, 0));  // bit-identical prefix
  EXPECT_FALSE(torch::allclose(a.slice(1, 12), b.slice(1, 12)));
}

TEST(Model, TiedEmbeddingsAndNoBiases) {
  ModelConfig c;
  c.d_model = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  auto tied = build_model(c, 50);
  c.tie_embeddings = false;
  auto untied = build_model(c, 50);
  int64_t n_tied = 0, n_untied = 0;
  for (const auto& p : tied->named_parameters()) {
    n_tied += p.value().numel();
    EXPECT_EQ(p.key().find("bias"), std::string::npos) << p.key();
  }
  for (const auto& p : untied->parameters()) n_untied += p.numel();
  EXPECT_EQ(n_untied - n_tied, 50 * 32);
}

TEST(Perplexity, WindowPlanScoresEveryTokenOnce) {
  for (bool bos : {false, true})
    for (int64_t stride : {4, 7, 10}) {
      PerplexityOptions o{10, stride, bos, 0, 8};
      const int64_t n = 53;
      std::vector<int> scored(n, 0);
      for (const auto& w : plan_windows(n, o)) {
        EXPECT_LE(w.length, 10);
        EXPECT_GE(w.score_from, w.first_target);
        EXPECT_LE(w.score_to, w.first_target + w.length);
        for (int64_t t = w.score_from; t < w.score_to; ++t) scored[t]++;
      }
      for (int64_t t = 0; t < n; ++t) EXPECT_EQ(scored[t], (!bos && t == 0) ? 0 : 1) << t << " bos " << bos;
    }
}

TEST(Perplexity, UniformModelHasPerplexityEqualToVocabularySize) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  TokenizedData data = prepare_data(c.data, {"valid"});
  auto model = build_model(c.model, data.tokenizer->vocab_size());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters())
      if (p.key() == "final_norm.weight") p.value().zero_();  // all logits 0: the uniform distribution
  }
  for (bool bos : {false, true}) {
    PerplexityOptions o{32, 20, bos, 3000, 4};
    PerplexityResult r = evaluate_perplexity(*model, data.split("valid"), *data.tokenizer, o);
    EXPECT_NEAR(r.perplexity(), 512.0, 1e-6 * 512);
    EXPECT_EQ(r.tokens, 3000);
    EXPECT_NEAR(r.bits_per_byte(), double(r.tokens) * std::log2(512.0) / double(r.bytes), 1e-6);
  }
}

TEST(Perplexity, StrideAndBatchingDoNotChangeDisjointResults) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  TokenizedData data = prepare_data(c.data, {"valid"});
  torch::manual_seed(3);
  auto model = build_model(c.model, data.tokenizer->vocab_size());
  auto a = evaluate_perplexity(*model, data.split("valid"), *data.tokenizer, {32, 32, false, 1000, 1});
  auto b = evaluate_perplexity(*model, data.split("valid"), *data.tokenizer, {32, 32, false, 1000, 7});
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NEAR(a.nll_sum, b.nll_sum, 1e-6 * std::abs(a.nll_sum));
  auto overlapping = evaluate_perplexity(*model, data.split("valid"), *data.tokenizer, {32, 8, false, 1000, 4});
  EXPECT_EQ(overlapping.tokens, a.tokens);
  EXPECT_GT(overlapping.windows, a.windows);
}

TEST(Schedule, WarmupThenCosine) {
  TrainConfig t;
  t.lr = 1.0;
  t.steps = 110;
  t.warmup_steps = 10;
  t.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(lr_at(t, 0), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(t, 9), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(t, 10), 1.0);
  EXPECT_NEAR(lr_at(t, 60), 0.55, 1e-12);
  EXPECT_NEAR(lr_at(t, 110), 0.1, 1e-12);
}

TEST(Optimizer, NormsAndEmbeddingsAreNotDecayedUnlessAsked) {
  ModelConfig c;
  c.d_model = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  auto model = build_model(c, 10);
  TrainConfig t;
  auto opt = make_optimizer(*model, t);
  ASSERT_EQ(opt->param_groups().size(), 2u);
  const auto& no_decay = opt->param_groups()[1];
  EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(no_decay.options()).weight_decay(), 0.0);
  EXPECT_EQ(no_decay.params().size(), 4u);  // embed + attn_norm + mlp_norm + final_norm
  t.decay_norms_and_embeddings = true;
  EXPECT_EQ(make_optimizer(*model, t)->param_groups()[1].params().size(), 0u);
}

// Two oasis models with the same weights, and the AdamW settings the optimizer tests step them with.
std::pair<std::shared_ptr<LanguageModel>, std::shared_ptr<LanguageModel>> twin_models() {
  ModelConfig c = test::small_model("oasis");
  auto a = build_model(c, 50), b = build_model(c, 50);
  torch::NoGradGuard no_grad;
  auto from = b->parameters(), to = a->parameters();
  for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  return {a, b};
}

TrainConfig optimizer_test_settings() {
  TrainConfig t;
  t.lr = 3e-3;
  t.weight_decay = 0.1;
  return t;
}

// Two copies of one model, one stepped by LibTorch's AdamW and one by ours, over steps with changing
// learning rates and a parameter that sometimes has no gradient: bit for bit the same parameters and
// state, and each optimizer's saved state loads into the other.
TEST(Optimizer, MultiTensorAdamWEqualsLibTorchsAdamWBitForBit) {
  auto [ours_model, reference_model] = twin_models();
  const TrainConfig t = optimizer_test_settings();
  auto ours = make_optimizer(*ours_model, t);
  ASSERT_NE(dynamic_cast<MultiTensorAdamW*>(ours.get()), nullptr);
  // The reference: LibTorch's AdamW over the same two groups.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (size_t g = 0; g < ours->param_groups().size(); ++g) {
    const auto& group = ours->param_groups()[g];
    std::vector<at::Tensor> params;
    auto all = ours_model->parameters(), mirror = reference_model->parameters();
    for (const auto& p : group.params())
      for (size_t i = 0; i < all.size(); ++i)
        if (all[i].is_same(p)) params.push_back(mirror[i]);
    groups.emplace_back(params, group.options().clone());
  }
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(t.lr));
  auto tokens = torch::randint(50, {2, 9}, torch::kLong);
  for (int step = 0; step < 5; ++step) {
    set_lr(*ours, lr_at(t, step) * (step + 1));
    set_lr(reference, lr_at(t, step) * (step + 1));
    for (auto* m : {ours_model.get(), reference_model.get()}) {
      m->zero_grad();
      m->forward(tokens).pow(2).mean().backward();
      if (step == 2) m->named_parameters()["final_norm.weight"].mutable_grad() = at::Tensor();  // skipped this step
    }
    ours->step();
    reference.step();
  }
  auto a = ours_model->parameters(), b = reference_model->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;

  // Checkpoint compatibility: our state saved, loaded into LibTorch's, gives equal states.
  const auto file = (test::scratch_dir() / "adamw.pt").string();
  torch::save(*ours, file);
  torch::optim::AdamW loaded(groups, torch::optim::AdamWOptions(t.lr));
  torch::load(loaded, file);
  ASSERT_EQ(loaded.state().size(), reference.state().size());
  for (const auto& [key, state] : reference.state()) {
    auto& expect = static_cast<torch::optim::AdamWParamState&>(*state);
    auto& got = static_cast<torch::optim::AdamWParamState&>(*loaded.state().at(key));
    EXPECT_EQ(got.step(), expect.step());
    EXPECT_TRUE(torch::equal(got.exp_avg(), expect.exp_avg()));
    EXPECT_TRUE(torch::equal(got.exp_avg_sq(), expect.exp_avg_sq()));
  }
}


// The fused kernel against the foreach one (= LibTorch's AdamW bit for bit): 3 steps, a save, a fresh
// fused optimizer that loads the foreach state (a resume across kernels), 2 more steps; parameters stay
// within float rounding, and `auto` picks foreach on the CPU.
TEST(Optimizer, FusedAdamWTracksAdamWAndResumesFromItsState) {
  auto [fused_model, foreach_model] = twin_models();
  TrainConfig t = optimizer_test_settings();
  EXPECT_EQ(optimizer_name(*make_optimizer(*fused_model, t)), "adamw-foreach");  // auto on the CPU
  t.adamw_kernel = "fused";
  auto fused = make_optimizer(*fused_model, t);
  ASSERT_EQ(optimizer_name(*fused), "adamw-fused");
  t.adamw_kernel = "foreach";
  auto reference = make_optimizer(*foreach_model, t);
  auto tokens = torch::randint(50, {2, 9}, torch::kLong);
  auto steps = [&](int first, int count) {
    for (int step = first; step < first + count; ++step) {
      for (auto* opt : {fused.get(), reference.get()}) set_lr(*opt, lr_at(t, step) * (step + 1));
      for (auto* m : {fused_model.get(), foreach_model.get()}) {
        m->zero_grad();
        m->forward(tokens).pow(2).mean().backward();
        if (step == 1) m->named_parameters()["final_norm.weight"].mutable_grad() = at::Tensor();  // skipped
      }
      fused->step();
      reference->step();
    }
  };
  steps(0, 3);
  const auto file = (test::scratch_dir() / "adamw.pt").string();
  torch::save(*reference, file);
  t.adamw_kernel = "fused";
  fused = make_optimizer(*fused_model, t);
  torch::load(*fused, file);  // the foreach state, by parameter: the fused kernel's step counts follow it
  steps(3, 2);
  auto a = fused_model->parameters(), b = foreach_model->parameters();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(worst, 0.0) << "bit-identical: is the fused kernel really running?";
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*fused->state().at(a[i].unsafeGetTensorImpl())).step(),
              static_cast<torch::optim::AdamWParamState&>(*reference->state().at(b[i].unsafeGetTensorImpl())).step())
        << i;
}
TEST(Training, ResumeIsExact) {
  auto dir = test::scratch_dir();
  Config straight = test::tiny_config(dir);
  straight.run = "straight";
  straight.data.bos = true;
  Config resumed = straight;
  resumed.run = "resumed";
  train_and_evaluate(straight);
  train_and_evaluate(resumed);
  // Throw away everything after step 4 and resume from the step-4 checkpoint.
  const fs::path run = resumed.run_dir();
  fs::remove_all(checkpoint_dir(run, 8));
  fs::remove(run / "DONE");
  ASSERT_EQ(*latest_checkpoint(run), checkpoint_dir(run, 4));
  const auto results = train_and_evaluate(resumed);

  const auto a = test::read_jsonl(straight.run_dir() / "metrics.jsonl"), b = test::read_jsonl(run / "metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    for (const char* key : {"loss", "grad_norm", "lr", "val_loss"})
      if (a[i].contains(key)) {
        EXPECT_EQ(a[i][key].get<double>(), b[i][key].get<double>()) << key << " step " << a[i]["step"];
      }
  }
  // Final weights are bit-identical.
  auto m1 = build_model(straight.model, 512), m2 = build_model(straight.model, 512);
  load_checkpoint(checkpoint_dir(straight.run_dir(), 8), *m1, nullptr);
  load_checkpoint(checkpoint_dir(run, 8), *m2, nullptr);
  auto p1 = m1->named_parameters(), p2 = m2->named_parameters();
  for (const auto& p : p1) EXPECT_TRUE(torch::equal(p.value(), p2[p.key()])) << p.key();
  const auto straight_results = nlohmann::json::parse(read_file(straight.run_dir() / "results.json"));
  EXPECT_EQ(results["perplexity"]["fp"]["test"]["perplexity"], straight_results["perplexity"]["fp"]["test"]["perplexity"]);
}

TEST(Training, RunDirectoryContract) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  c.train.steps = 4;
  c.train.keep_checkpoints = 1;
  c.train.checkpoint_every = 2;
  train_and_evaluate(c);
  const fs::path run = c.run_dir();
  for (const char* f : {"config.yaml", "metrics.jsonl", "results.json", "DONE"}) EXPECT_TRUE(fs::exists(run / f)) << f;
  EXPECT_TRUE(fs::exists(checkpoint_dir(run, 4) / "DONE"));
  EXPECT_FALSE(fs::exists(checkpoint_dir(run, 2)));  // keep_checkpoints = 1
  const auto results = nlohmann::json::parse(read_file(run / "results.json"));
  EXPECT_EQ(results["perplexity"]["fp"]["test"]["context_len"], 32);
  EXPECT_EQ(results["perplexity"]["fp"]["test"]["stride"], 32);
  EXPECT_EQ(results["checkpoint_step"], 4);
  EXPECT_EQ(results["schema_version"], kResultsSchemaVersion);
  EXPECT_TRUE(std::regex_match(results["created_utc"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  // The saved config reproduces the run's config.
  EXPECT_EQ(config_to_yaml(load_run_config(run, {})), config_to_yaml(c));
  // A different config in the same directory is refused, naming the key.
  Config other = c;
  other.train.lr = 0.5;
  try {
    train_and_evaluate(other);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.lr: 0.001 (saved) vs 0.5 (now)"), std::string::npos) << e.what();
  }
  // While one process holds the run, another is refused.
  {
    const RunLock held(run);
    auto busy = test::run_cli("eval " + run.string() + " threads=1");
    EXPECT_EQ(busy.exit_code, 3) << busy.output;
    EXPECT_NE(busy.output.find("is in use by another process (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos) << busy.output;
  }
  // `oasis eval` with an override re-evaluates and records the new window settings.
  auto r = test::run_cli("eval " + run.string() + " eval.context_len=16 eval.splits=[valid] threads=1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto again = nlohmann::json::parse(read_file(run / "results.json"));
  EXPECT_EQ(again["perplexity"]["fp"]["valid"]["context_len"], 16);
  // The re-evaluation keeps the provenance header.
  EXPECT_TRUE(again["code_version"].is_string()) << again.dump(2);
  EXPECT_TRUE(again["config_hash"].is_string());
  EXPECT_EQ(again["seed"], 0);
  EXPECT_EQ(again["model"]["preset"], "standard");
}

TEST(Training, NanLossStopsNamingTheStep) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  TokenizedData data = prepare_data(c.data, {"train", "valid"});
  auto model = build_model(c.model, data.tokenizer->vocab_size());
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["final_norm.weight"][0] = NAN;  // poisons every logit
  }
  std::filesystem::create_directories(c.run_dir());
  try {
    train_model(c, c.run_dir(), *model, data);
    FAIL() << "expected the NaN to stop training";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("step 1: training loss is nan"), std::string::npos) << m;
    EXPECT_NE(m.find("last good checkpoint: none"), std::string::npos) << m;
  }
  EXPECT_FALSE(latest_checkpoint(c.run_dir()).has_value());  // nothing poisoned was saved
}

TEST(Training, KilledAtAnyMomentThenRerunGivesTheSameResult) {
  auto dir = test::scratch_dir();
  Config c = test::tiny_config(dir);
  c.train.steps = 300;
  c.train.checkpoint_every = 10;
  const std::string yaml = test::write_text(dir / "tiny.yaml", config_to_yaml(c));
  const auto t0 = std::chrono::steady_clock::now();
  auto reference = test::run_cli("train " + yaml + " run=reference");
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  const double seconds = seconds_since(t0);
  // SIGKILL at 40% and 75% of a full run's time (wherever the run happens to be), then the same command.
  int killed_mid_training = 0;
  for (double fraction : {0.4, 0.75}) {
    const std::string run = fmt::format("killed-{}", fraction);
    test::run_cli(fmt::format("train {} run={} & pid=$!; sleep {:.2f}; kill -9 $pid; wait $pid", yaml, run,
                              fraction * seconds));
    killed_mid_training += latest_checkpoint(dir / "test" / run).has_value() && !run_is_done(dir / "test" / run);
    auto resumed = test::run_cli("train " + yaml + " run=" + run);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    const auto a = nlohmann::json::parse(read_file(dir / "test/reference/results.json"));
    const auto b = nlohmann::json::parse(read_file(dir / "test" / run / "results.json"));
    EXPECT_EQ(a["perplexity"], b["perplexity"]) << fraction;
    EXPECT_EQ(a["train"]["final_loss"], b["train"]["final_loss"]) << fraction;
    EXPECT_EQ(test::read_jsonl(dir / "test/reference/metrics.jsonl").size(), test::read_jsonl(dir / "test" / run / "metrics.jsonl").size());
  }
  EXPECT_GE(killed_mid_training, 1) << "no kill landed between the first checkpoint and the end; the test proved nothing";
}

// Cross-entropy of the train split's unigram distribution, evaluated on the validation split (nats).
double unigram_entropy(const std::vector<int32_t>& train, const std::vector<int32_t>& valid, int64_t vocab) {
  std::vector<double> counts(size_t(vocab), 1.0);  // add-one smoothing
  for (int32_t t : train) counts[size_t(t)] += 1;
  const double total = double(train.size()) + double(vocab);
  double nll = 0;
  for (int32_t t : valid) nll -= std::log(counts[size_t(t)] / total);
  return nll / double(valid.size());
}

TEST(Training, TinyModelLearnsWikiText2) {
  auto dir = test::scratch_dir();
  Config c = test::wikitext_learning_config(dir, 300);
  c.data.seq_len = 64;
  c.model.d_model = 64;
  c.model.max_seq_len = 64;
  c.train.batch_size = 16;
  c.train.eval_batches = 16;
  c.eval.max_tokens = 20000;
  c.threads = 2;
  const auto results = train_and_evaluate(c);
  TokenizedData data = prepare_data(c.data, {"train", "valid"});
  const double unigram = unigram_entropy(data.split("train"), data.split("valid"), data.tokenizer->vocab_size());
  const double val = results["perplexity"]["fp"]["valid"]["mean_nll"].get<double>();
  std::printf("unigram entropy %.3f nats, model %.3f nats after 300 steps\n", unigram, val);
  EXPECT_LT(val, unigram - 0.5);
}

}  // namespace
}  // namespace oasis
