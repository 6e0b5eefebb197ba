// import-hf and export-hf against transformers itself (llm.c's rule: an independent implementation pins the
// numbers): a seeded tiny Llama that transformers builds and saves is imported, our logits and greedy tokens
// must equal transformers', the export must reload in transformers with the same logits, and the round trip
// import -> export must give the very same tensor bytes. Bad checkpoints fail with one clear message and
// leave no run directory behind.
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/core/json_file.h"
#include "framework/core/paths.h"
#include "framework/data/hf_tokenizer.h"
#include "framework/eval/generate.h"
#include "framework/hf/hf_runs.h"
#include "framework/hf/hf_weights.h"
#include "framework/hf/safetensors.h"
#include "framework/model/presets.h"
#include "framework/run/run_dir.h"
#include "framework/train/checkpoint.h"
#include "tests/hf/hf_test_util.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

constexpr double kLogitTolerance = 1e-4;  // fp32, two implementations of the same arithmetic

std::shared_ptr<LanguageModel> load_run_model(const fs::path& run_dir, int64_t vocab_size) {
  const Config config = load_run_config(run_dir, {});
  auto model = build_model(config.model_to_build(), vocab_size);
  load_checkpoint(*latest_checkpoint(run_dir), *model, nullptr);
  model->eval();
  return model;
}

// Two prompts of WikiText-2 test text, tokenized by the imported tokenizer.
nlohmann::json prompts_of(const HfTokenizer& tokenizer) {
  const std::string text = read_file(find_dataset_dir("", "wikitext-2", "wikitext2") / "wiki.test.tokens").substr(0, 4000);
  auto ids = tokenizer.encode(text);
  return nlohmann::json::array({std::vector<int32_t>(ids.begin(), ids.begin() + 48),
                                std::vector<int32_t>(ids.begin() + 100, ids.begin() + 117)});
}

double max_difference(LanguageModel& model, const nlohmann::json& prompts, const nlohmann::json& reference) {
  torch::NoGradGuard no_grad;
  double worst = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto ids = prompts[p].get<std::vector<int64_t>>();
    const auto ours = model.forward(torch::tensor(ids).unsqueeze(0))[0];
    std::vector<float> flat;
    for (const auto& row : reference["logits"][p]) for (float v : row) flat.push_back(v);
    const auto expected = torch::tensor(flat).view(ours.sizes());
    EXPECT_GT(expected.abs().max().item<double>(), 1.0) << "reference logits are near zero: the test would prove little";
    worst = std::max(worst, (ours - expected).abs().max().item<double>());
  }
  return worst;
}

void expect_transformers_parity(bool tied) {
  const fs::path root = test::scratch_dir(), source = test::tiny_llama_dir(tied), run = root / "runs" / "hf" / "tiny";
  import_hf(source, run, {});
  const HfTokenizer tokenizer(run / "tokenizer");
  auto model = load_run_model(run, tokenizer.vocab_size());
  const auto prompts = prompts_of(tokenizer);
  const auto reference = test::transformers_logits(source, prompts, 12);
  const double imported = max_difference(*model, prompts, reference);
  std::printf("import: max |logit difference| vs transformers %.3g\n", imported);
  EXPECT_LT(imported, kLogitTolerance);

  // The same greedy continuation (transformers does not stop at the end token here; ours does, so compare
  // up to it).
  GenerationOptions options;
  options.max_new_tokens = 12;
  const auto completion = generate_greedy(*model, tokenizer, {prompts[0].get<std::vector<int32_t>>()}, options)[0];
  auto expected = reference["greedy"].get<std::vector<int32_t>>();
  if (auto end = std::find(expected.begin(), expected.end(), tokenizer.end_of_text()); end != expected.end())
    expected.erase(end, expected.end());
  EXPECT_EQ(completion.tokens, expected);

  // Export -> transformers reloads it with our logits, and the tensors are the imported ones, byte for byte.
  const fs::path exported = root / "export";
  export_hf(run, exported);
  const double reloaded = max_difference(*model, prompts, test::transformers_logits(exported, prompts, 0));
  std::printf("export: max |logit difference| vs transformers reloading it %.3g\n", reloaded);
  EXPECT_LT(reloaded, kLogitTolerance);
  const auto original = read_safetensors_dir(source), round_trip = read_safetensors_dir(exported);
  ASSERT_EQ(original.size(), round_trip.size());
  for (const auto& [name, tensor] : original) {
    ASSERT_TRUE(round_trip.count(name)) << name;
    const auto& other = round_trip.at(name);
    ASSERT_TRUE(tensor.sizes().equals(other.sizes()) && tensor.scalar_type() == other.scalar_type()) << name;
    EXPECT_EQ(std::memcmp(tensor.data_ptr(), other.data_ptr(), size_t(tensor.nbytes())), 0) << name;
  }
  EXPECT_TRUE(fs::exists(exported / "tokenizer.json"));
}

TEST(HfInterop, UntiedGqaLlamaMatchesTransformersThroughImportAndExport) { expect_transformers_parity(false); }

TEST(HfInterop, TiedLlamaMatchesTransformersThroughImportAndExport) { expect_transformers_parity(true); }

// MistralForCausalLM is Llama with a sliding window: a window shorter than max_position_embeddings caps
// model.max_seq_len, so within it attention is exact.
TEST(HfInterop, MistralWithASlidingWindowMatchesTransformers) {
  const fs::path root = test::scratch_dir(), source = root / "mistral", run = root / "runs" / "hf" / "mistral";
  test::run_hf_reference(fmt::format("tiny-llama {} --mistral --text {}", source.string(),
                                     (find_dataset_dir("", "wikitext-2", "wikitext2") / "wiki.train.tokens").string()));
  import_hf(source, run, {});
  const Config config = load_run_config(run, {});
  EXPECT_EQ(config.model.max_seq_len, 64);
  const HfTokenizer tokenizer(run / "tokenizer");
  auto model = load_run_model(run, tokenizer.vocab_size());
  const auto prompts = prompts_of(tokenizer);
  EXPECT_LT(max_difference(*model, prompts, test::transformers_logits(source, prompts, 0)), kLogitTolerance);
}

// An imported run is a run: `oasis eval` scores it and writes results.json and stats.h5.
TEST(HfInterop, ImportedRunEvaluatesWithTheCli) {
  const fs::path run = test::scratch_dir() / "runs" / "hf" / "tiny";
  const auto imported = test::run_cli(fmt::format("import-hf {} --out {} eval.splits=[test] eval.max_tokens=512 "
                                                  "data.seq_len=64 data.cache_dir={}",
                                                  test::tiny_llama_dir(false).string(), run.string(), test::shared_cache_dir()));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const auto evaluated = test::run_cli("eval " + run.string());
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const auto results = read_json_file(run / "results.json");
  EXPECT_EQ(results["data"]["tokenizer"], "hf");
  EXPECT_GT(results["perplexity"]["fp"]["test"]["perplexity"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(run / "stats.h5"));
}

// A copy of the tiny checkpoint with `edit` applied, for the bad-input tests.
fs::path damaged_copy(const std::function<void(const fs::path&)>& edit) {
  const fs::path dir = test::scratch_dir() / "checkpoint";
  fs::copy(test::tiny_llama_dir(false), dir, fs::copy_options::recursive);
  edit(dir);
  return dir;
}

void expect_import_fails(const fs::path& source, int exit_code, const std::string& message) {
  const fs::path run = source.parent_path() / "runs" / "hf" / "bad";
  const auto r = test::run_cli(fmt::format("import-hf {} --out {}", source.string(), run.string()));
  EXPECT_EQ(r.exit_code, exit_code) << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(run)) << "a failed import left " << run;
  for (const auto& entry : fs::directory_iterator(run.parent_path().parent_path().parent_path()))
    EXPECT_EQ(entry.path().filename().string().find(".partial."), std::string::npos) << entry.path();
}

TEST(HfInterop, TruncatedSafetensorsIsAClearError) {
  const auto dir = damaged_copy([](const fs::path& d) { fs::resize_file(d / "model.safetensors", fs::file_size(d / "model.safetensors") - 100); });
  expect_import_fails(dir, 1, "the file is truncated");
}

TEST(HfInterop, ShapeMismatchNamesTheTensor) {
  const auto dir = damaged_copy([](const fs::path& d) {
    auto config = read_json_file(d / "config.json");
    config["intermediate_size"] = 128;
    test::write_text(d / "config.json", config.dump());
  });
  expect_import_fails(dir, 1, "tensor 'model.layers.0.mlp.gate_proj.weight' is [96, 64] in the checkpoint; config.json implies [128, 64]");
}

TEST(HfInterop, MissingTokenizerIsAClearError) {
  const auto dir = damaged_copy([](const fs::path& d) { fs::remove(d / "tokenizer.json"); });
  expect_import_fails(dir, 1, "tokenizer.json' is missing");
}

TEST(HfInterop, UnsupportedConfigKeysAreNamed) {
  const auto dir = damaged_copy([](const fs::path& d) {
    auto config = read_json_file(d / "config.json");
    config["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 5000.0}};
    test::write_text(d / "config.json", config.dump());
  });
  expect_import_fails(dir, 1, "rope_parameters");
}

TEST(HfInterop, ModelOverridesPointToInitFrom) {
  const auto r = test::run_cli(fmt::format("import-hf {} --out {} model.preset=oasis", test::tiny_llama_dir(false).string(),
                                           (test::scratch_dir() / "runs/hf/x").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.init_from="), std::string::npos) << r.output;
}

TEST(HfInterop, ExtraTensorsAreNamed) {  // Qwen2-style q/k/v biases are not modelled
  const auto dir = damaged_copy([](const fs::path& d) {
    auto file = read_safetensors(d / "model.safetensors");
    file.tensors.emplace_back("model.layers.0.self_attn.q_proj.bias", torch::zeros({96}));
    write_safetensors(d / "model.safetensors", file.tensors, file.metadata);
  });
  expect_import_fails(dir, 1, "'model.layers.0.self_attn.q_proj.bias' [96] has no counterpart");
}

// A sharded checkpoint (model.safetensors.index.json + two files) imports to the same weights as the whole one.
TEST(HfInterop, ShardedCheckpointImportsTheSameWeights) {
  const fs::path root = test::scratch_dir(), sharded = root / "sharded";
  fs::copy(test::tiny_llama_dir(false), sharded, fs::copy_options::recursive);
  auto file = read_safetensors(sharded / "model.safetensors");
  fs::remove(sharded / "model.safetensors");
  const size_t half = file.tensors.size() / 2;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < file.tensors.size(); ++i)
    weight_map[file.tensors[i].first] = i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  write_safetensors(sharded / "model-00001-of-00002.safetensors", NamedTensors(file.tensors.begin(), file.tensors.begin() + half));
  write_safetensors(sharded / "model-00002-of-00002.safetensors", NamedTensors(file.tensors.begin() + half, file.tensors.end()));
  test::write_text(sharded / "model.safetensors.index.json", nlohmann::json{{"weight_map", weight_map}}.dump());
  import_hf(test::tiny_llama_dir(false), root / "runs/hf/whole", {});
  import_hf(sharded, root / "runs/hf/sharded", {});
  const HfTokenizer tokenizer(root / "runs/hf/whole/tokenizer");
  auto whole = load_run_model(root / "runs/hf/whole", tokenizer.vocab_size());
  auto parts = load_run_model(root / "runs/hf/sharded", tokenizer.vocab_size());
  auto theirs = parts->named_parameters();
  for (const auto& p : whole->named_parameters()) EXPECT_TRUE(p.value().equal(theirs[p.key()])) << p.key();
}

// The GGUF converter refuses a quantization type it cannot dequantize, with exit 2 and no output directory.
TEST(HfInterop, UnsupportedGgufQuantTypeIsAClearError) {
  const fs::path root = test::scratch_dir();
  test::run_hf_reference("bad-gguf " + (root / "bad.gguf").string());
  const auto r = test::run_command(fmt::format("{} {} {} {}", (repo_root() / ".venv/bin/python").string(),
                                               (repo_root() / "tools/hf/gguf_to_hf.py").string(),
                                               (root / "bad.gguf").string(), (root / "out").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("tensor token_embd.weight has quantization type IQ2_XXS, which this converter does not "
                          "dequantize"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(root / "out"));
  EXPECT_FALSE(fs::exists(root / "out.partial"));
}

// AttnRes/OASIS runs export our own tensor names and config, and say that transformers cannot load them.
TEST(HfInterop, AttnResRunExportsOurFormatAndSaysSo) {
  const fs::path root = test::scratch_dir();
  const fs::path run = root / "runs" / "hf" / "tiny";
  import_hf(test::tiny_llama_dir(false), run, {"data.seq_len=32", "eval.max_tokens=256", "stats.enabled=false"});
  const auto retrofit = test::run_cli(fmt::format("train {} run=attnres model.preset=attnres model.init_from={} "
                                                  "data.cache_dir={}",
                                                  (run / "config.yaml").string(), run.string(), test::shared_cache_dir()));
  ASSERT_EQ(retrofit.exit_code, 0) << retrofit.output;
  const auto r = test::run_cli(fmt::format("export-hf {} --out {}", (run.parent_path() / "attnres").string(),
                                           (root / "out").string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("transformers cannot load"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(root / "out" / "config.json"));
  EXPECT_TRUE(fs::exists(root / "out" / "oasis_config.yaml"));
  const auto tensors = read_safetensors_dir(root / "out");
  EXPECT_TRUE(tensors.count("blocks.1.route_attn.query"));
}

}  // namespace
}  // namespace oasis
