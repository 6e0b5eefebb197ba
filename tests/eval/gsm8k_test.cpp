// GSM8K: CPython-identical few-shot draws, lm-eval's prompts byte for byte, the answer filters and
// normalisation on all 1319 test solutions, KV-cached greedy decoding against full recomputation for
// every preset, stop strings, fine-tuning targets, and the train -> fine-tune -> Pass@1 pipeline.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "framework/core/paths.h"
#include "framework/core/python_random.h"
#include "framework/data/tokenizer.h"
#include "framework/data/token_data.h"
#include "framework/eval/generate.h"
#include "framework/eval/gsm8k.h"
#include "framework/model/presets.h"
#include "framework/run/pipeline.h"
#include "framework/train/finetune_data.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

fs::path data_root() { return find_dataset_dir("", "gsm8k", "gsm8k").parent_path(); }

// Bytes as tokens (0-255) plus an end-of-text token: lossless, so stop strings are exact.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t id : ids) s += id == 256 ? std::string("<eot>") : std::string(1, char(id));
    return s;
  }
  int64_t vocab_size() const override { return 257; }
  int32_t end_of_text() const override { return 256; }
  int64_t token_bytes(int32_t id) const override { return id == 256 ? 0 : 1; }
  std::string cache_key() const override { return "bytes"; }
};

TEST(PythonRandom, DrawsWhatCPythonDraws) {
  // Values printed by /usr/bin/python3 (CPython 3.11): random.Random(seed).sample(range(n), k).
  PythonRandom lm_eval(1234);
  EXPECT_EQ(lm_eval.sample(7473, 5), (std::vector<int64_t>{6374, 3610, 957, 61, 742}));
  EXPECT_EQ(lm_eval.sample(7473, 5), (std::vector<int64_t>{7462, 6610, 4769, 286, 5501}));
  PythonRandom zero(0);  // the small-population (pool) branch, then a raw 32-bit draw
  EXPECT_EQ(zero.sample(10, 4), (std::vector<int64_t>{6, 9, 0, 2}));
  EXPECT_EQ(zero.getrandbits(32), 4146640122u);
  PythonRandom wide((uint64_t(1) << 40) + 7);  // a two-word seed key
  EXPECT_EQ(wide.sample(100, 8), (std::vector<int64_t>{78, 95, 81, 73, 90, 60, 32, 16}));
}

TEST(Gsm8k, PromptsMatchLmEvalByteForByte) {
  const auto train = load_gsm8k("", "train"), test_items = load_gsm8k("", "test");
  ASSERT_EQ(train.size(), 7473u);
  ASSERT_EQ(test_items.size(), 1319u);
  const std::vector<Gsm8kItem> first(test_items.begin(), test_items.begin() + 12);
  for (const auto& [task, shots] : std::vector<std::pair<std::string, int>>{{"gsm8k", 5}, {"gsm8k-cot", 8}, {"gsm8k", 0}}) {
    const auto ours = gsm8k_prompts(gsm8k_task(task), shots, 1234, train, first);
    const auto python = test::run_command(fmt::format("/usr/bin/python3 {}/tests/fixtures/lm_eval_gsm8k_prompts.py {} {} {} 1234 12",
                                                      repo_root().string(), data_root().string(), task, shots));
    ASSERT_EQ(python.exit_code, 0) << python.output;
    const auto expected = nlohmann::json::parse(python.output).get<std::vector<std::string>>();
    ASSERT_EQ(expected.size(), ours.size());
    for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], expected[i]) << task << " item " << i;
  }
  // The first 5-shot prompt by hand: train items 6374, 3610, 957, 61, 742 (CPython's first draw).
  const auto prompts = gsm8k_prompts(gsm8k_task("gsm8k"), 5, 1234, train, first);
  std::string expected;
  for (int i : {6374, 3610, 957, 61, 742})
    expected += "Question: " + train[size_t(i)].question + "\nAnswer: " + train[size_t(i)].answer + "\n\n";
  EXPECT_EQ(prompts[0], expected + "Question: " + first[0].question + "\nAnswer:");
  EXPECT_THROW(gsm8k_prompts(gsm8k_task("gsm8k-cot"), 9, 1234, train, first), ConfigError);
  EXPECT_THROW(gsm8k_task("gsm8k-5shot"), ConfigError);
}

TEST(Gsm8k, FiltersRecoverEveryGoldAnswer) {
  const auto items = load_gsm8k("", "test");
  const Gsm8kTask &plain = gsm8k_task("gsm8k"), &cot = gsm8k_task("gsm8k-cot");
  int strict = 0, flexible = 0, cot_strict = 0;
  for (const auto& item : items) {
    const std::string reference = gsm8k_reference(plain, item);
    strict += gsm8k_exact_match(strict_extract(plain, item.answer), reference);
    flexible += gsm8k_exact_match(flexible_extract(item.answer), reference);
    // The chain-of-thought fine-tuning text ends "The answer is N.", which the cot filter must read.
    cot_strict += gsm8k_exact_match(strict_extract(cot, gsm8k_training_text(cot, item).target), gsm8k_reference(cot, item));
  }
  EXPECT_EQ(strict, 1319);
  EXPECT_EQ(flexible, 1319);
  EXPECT_EQ(cot_strict, 1319);
}

TEST(Gsm8k, NormalisationAndFiltersFollowLmEval) {
  const Gsm8kTask &plain = gsm8k_task("gsm8k"), &cot = gsm8k_task("gsm8k-cot");
  EXPECT_EQ(normalize_gsm8k_answer("She has $1,000."), "she has 1000");
  EXPECT_EQ(normalize_gsm8k_answer("a\nb\n#### 72"), "72");
  EXPECT_TRUE(gsm8k_exact_match("$1,200.", "Step one.\n#### 1200"));
  EXPECT_FALSE(gsm8k_exact_match("120", "#### 1200"));
  EXPECT_EQ(strict_extract(plain, "so #### 1,234 and #### 5"), "1,234");  // the first match
  EXPECT_EQ(strict_extract(plain, "the answer is 5"), "[invalid]");
  EXPECT_EQ(flexible_extract("3 apples and 4 pears, so 7."), "7.");        // the last number
  EXPECT_EQ(flexible_extract("costs $12 or -3"), "-3");
  EXPECT_EQ(flexible_extract("no numbers"), "[invalid]");
  EXPECT_EQ(strict_extract(cot, "So 5 + 4 = 9. The answer is 9."), "9");
  // lm-eval's pattern ends in an unescaped `.`, which takes the last digit when nothing follows it.
  EXPECT_EQ(strict_extract(cot, "The answer is 18"), "1");
}

ModelConfig decoding_model(const std::string& preset) {
  ModelConfig c = test::small_model(preset, 2, 2);
  c.max_seq_len = 64;
  c.context_len = 32;
  c.init_std = 0.4;  // well-separated logits: greedy choices are not near ties
  return c;
}

TEST(Generation, CachedDecodingEqualsRecomputationForEveryPreset) {
  const ByteTokenizer tokenizer;
  const std::vector<std::vector<int32_t>> prompts = {tokenizer.encode("Question: 2+3?"), tokenizer.encode("Q:"),
                                                     tokenizer.encode("A longer prompt, left padded")};
  for (const auto& preset : model_preset_names()) {
    torch::manual_seed(3);
    auto model = build_model(decoding_model(preset), tokenizer.vocab_size());
    model->eval();
    torch::NoGradGuard no_grad;
    // decode() on one unpadded sequence is forward(); on a left-padded batch each row is its own forward().
    auto row = torch::tensor(std::vector<int64_t>(prompts[2].begin(), prompts[2].end())).unsqueeze(0);
    KVCache fresh;
    EXPECT_TRUE(torch::allclose(model->decode(row, torch::ones_like(row, torch::kBool), fresh), model->forward(row), 1e-5, 1e-5))
        << preset;
    auto padded = torch::cat({torch::full({1, 5}, 256, torch::kLong), row}, 1);
    auto valid = torch::cat({torch::zeros({1, 5}, torch::kBool), torch::ones_like(row, torch::kBool)}, 1);
    KVCache with_padding;
    auto logits = model->decode(padded, valid, with_padding).slice(1, 5);
    EXPECT_TRUE(torch::allclose(logits, model->forward(row), 1e-5, 1e-5)) << preset;

    GenerationOptions options{24, {}, 3, true};
    const auto cached = generate_greedy(*model, tokenizer, prompts, options);
    options.use_cache = false;
    const auto recomputed = generate_greedy(*model, tokenizer, prompts, options);
    options = {24, {}, 1, true};
    const auto one_by_one = generate_greedy(*model, tokenizer, prompts, options);
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_FALSE(cached[i].tokens.empty()) << preset;
      EXPECT_EQ(cached[i].tokens, recomputed[i].tokens) << preset << " prompt " << i;
      EXPECT_EQ(cached[i].tokens, one_by_one[i].tokens) << preset << " prompt " << i;
    }
  }
}

TEST(Generation, StopsAtStopStringsAndLength) {
  const ByteTokenizer tokenizer;
  torch::manual_seed(5);
  auto model = build_model(decoding_model("attnres-softmax1"), tokenizer.vocab_size());
  const std::vector<std::vector<int32_t>> prompts = {tokenizer.encode("Question: 7*6?\nAnswer:")};
  const auto free = generate_greedy(*model, tokenizer, prompts, {30, {}, 1, true})[0];
  ASSERT_EQ(free.finish, "length");
  ASSERT_EQ(free.tokens.size(), 30u);
  // Stop at a string the unconstrained completion contains, starting at its 6th byte: the text is cut
  // before it, and generation ended on the token that completed it.
  const std::string stop = free.text.substr(5, 3);
  const auto stopped = generate_greedy(*model, tokenizer, prompts, {30, {"@@never@@", stop}, 1, true})[0];
  EXPECT_EQ(stopped.finish, "stop");
  const size_t at = free.text.find(stop);
  EXPECT_EQ(stopped.text, free.text.substr(0, at));
  EXPECT_EQ(stopped.tokens.size(), at + stop.size());
  // Room: a prompt longer than max_seq_len - max_new_tokens keeps its end.
  std::vector<int32_t> long_prompt(60, 'x');
  const auto cut = generate_greedy(*model, tokenizer, {long_prompt}, {10, {}, 1, true})[0];
  EXPECT_TRUE(cut.prompt_truncated);
  EXPECT_EQ(cut.prompt_tokens, 54);
}

TEST(Finetune, OnlySolutionTokensAreTargets) {
  Config c = test::tiny_config(test::scratch_dir());
  c.model.max_seq_len = 512;
  c.finetune.steps = 1;
  const TokenizedData data = prepare_data(c.data, {"train"});
  const FinetuneExamples examples(c, *data.tokenizer);
  EXPECT_GT(examples.valid_size(), 200);  // the last 256 items, less those too long for 512 tokens
  EXPECT_LE(examples.valid_size(), 256);
  EXPECT_EQ(examples.train_size() + examples.valid_size() + examples.skipped(), 7473);
  const Batch b = examples.batch(0, 3);
  const auto items = load_gsm8k("", "train");
  for (int64_t r = 0; r < 3; ++r) {
    std::vector<int32_t> scored;
    for (int64_t j = 0; j < b.targets.size(1); ++j)
      if (int64_t t = b.targets[r][j].item<int64_t>(); t != -100) scored.push_back(int32_t(t));
    ASSERT_FALSE(scored.empty());
    EXPECT_EQ(scored.back(), data.tokenizer->end_of_text());  // the model learns to stop
    scored.pop_back();
    const std::string text = data.tokenizer->decode(scored);
    EXPECT_EQ(text.substr(0, 1), " ");
    EXPECT_NE(text.find("\n#### "), std::string::npos) << text;
    // The same sample is the same item however the stream is read.
    EXPECT_TRUE(torch::equal(examples.batch(r, 1).targets[0].slice(0, 0, b.targets.size(1)).masked_select(
                                 examples.batch(r, 1).targets[0].slice(0, 0, b.targets.size(1)) != -100),
                             b.targets[r].masked_select(b.targets[r] != -100)));
  }
}

TEST(Finetune, TrainFinetuneScoreEveryScheme) {
  Config c = test::tiny_config(test::scratch_dir());
  c.model.max_seq_len = 512;
  c.train.steps = 4;
  c.finetune.steps = 6;
  c.finetune.batch_size = 2;
  c.finetune.checkpoint_every = 3;
  c.gsm8k.enabled = true;
  c.gsm8k.num_fewshot = 0;
  c.gsm8k.limit = 4;
  c.gsm8k.max_new_tokens = 12;
  c.quant.schemes = {"fp", "w8a8-dynamic"};
  c.stats.enabled = false;
  const auto results = train_and_evaluate(c);
  const fs::path run = c.run_dir();
  EXPECT_EQ(results["finetune"]["steps"], 6);
  EXPECT_TRUE(fs::exists(run / "finetune/checkpoints/step_00000006/DONE"));
  EXPECT_TRUE(fs::exists(run / "finetune/metrics.jsonl"));
  for (const char* scheme : {"fp", "w8a8-dynamic"}) {
    const auto& g = results["gsm8k"][scheme];
    EXPECT_EQ(g["items"], 4) << scheme;
    EXPECT_EQ(g["num_fewshot"], 0);
    EXPECT_EQ(g["model"], "finetuned");
    std::ifstream in(run / g["samples_file"].get<std::string>());
    std::string line;
    int rows = 0, correct = 0;
    while (std::getline(in, line)) {
      const auto row = nlohmann::json::parse(line);
      for (const char* key : {"id", "prompt", "completion", "extracted", "gold", "correct", "finish"})
        EXPECT_TRUE(row.contains(key)) << key;
      EXPECT_EQ(row["prompt"].get<std::string>().rfind("Question: ", 0), 0u);
      correct += row["correct"].get<bool>();
      ++rows;
    }
    EXPECT_EQ(rows, 4);
    EXPECT_DOUBLE_EQ(g["pass_at_1"].get<double>(), correct / 4.0);
  }
  // `oasis eval` re-scores from the fine-tuning checkpoint with other settings.
  const auto again = test::run_cli(fmt::format("eval {} gsm8k.limit=2 quant.schemes=[fp] eval.splits=[valid]", run.string()));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto rescored = nlohmann::json::parse(read_file(run / "results.json"));
  EXPECT_EQ(rescored["gsm8k"]["fp"]["items"], 2);
  EXPECT_FALSE(rescored["gsm8k"].contains("w8a8-dynamic"));
}

}  // namespace
}  // namespace oasis
