// data.tokenizer=hf id for id against the `tokenizers` package (PyPI), on samples of WikiText-2, PTB, C4 and
// GSM8K and on edge strings (spaces, digits, unicode, special tokens inside text), for three tokenizer.json
// kinds: Digits + ByteLevel (SmolLM2's layout), GPT-2's vocabulary as tokenizer.json, and a Llama 3-style
// Split regex with ignore_merges; plus SmolLM2's own when `make smollm2` has fetched it. decode(encode(x)) == x.
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/core/json_file.h"
#include "framework/core/paths.h"
#include "framework/data/hf_tokenizer.h"
#include "tests/hf/hf_test_util.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

fs::path data_file(const std::string& folder, const std::string& dataset, const std::string& name) {
  return find_dataset_dir("", folder, dataset) / name;
}

std::vector<std::string> sample_texts() {
  std::vector<std::string> texts;
  // Whole paragraphs of each corpus, cut at line ends so no UTF-8 character is split.
  auto lines_of = [&](const fs::path& file, size_t count, size_t skip) {
    std::ifstream in(file);
    std::string line, chunk;
    for (size_t i = 0; std::getline(in, line) && texts.size() < 10000; ++i) {
      if (i < skip) continue;
      chunk += line + "\n";
      if ((i - skip) % 25 == 24) texts.push_back(std::exchange(chunk, ""));
      if (i - skip >= count) break;
    }
  };
  lines_of(data_file("wikitext-2", "wikitext2", "wiki.test.tokens"), 800, 0);
  lines_of(data_file("ptb", "ptb", "ptb.test.txt"), 400, 0);
  auto jsonl = [&](const fs::path& file, size_t count, const std::vector<std::string>& keys) {
    std::ifstream in(file);
    std::string line;
    for (size_t i = 0; i < count && std::getline(in, line); ++i) {
      const auto record = nlohmann::json::parse(line);
      for (const auto& key : keys) texts.push_back(record.at(key).get<std::string>());
    }
  };
  jsonl(data_file("c4-validation-sample", "c4", "c4_validation_2k.jsonl"), 30, {"text"});
  jsonl(data_file("gsm8k", "gsm8k", "test.jsonl"), 30, {"question", "answer"});
  for (const char* edge : {"", " ", "  ", "\n", "\n\n\t x", "   leading spaces", "trailing spaces   ", "a  b   c\t\td",
                           "12345678 3.14159 1,000,000 007 x2y3", "½ x² ٣٤ Ⅻ ① 10³", "don't we'll I'M they've", "héllo wörld — naïve café",
                           "日本語のテキスト", "emoji 🤖🎉 and ZWJ 👩‍💻", "\u00a0non-breaking\u2003em space",
                           "<|endoftext|>", "text<|endoftext|>more", "<|im_start|>user\nhi<|im_end|>", "<|begin_of_text|>Hi",
                           "<|endoftext|><|endoftext|>", "<|endoftext", "\r\n windows\r\nlines"})
    texts.emplace_back(edge);
  return texts;
}

void expect_same_ids_as_tokenizers(const fs::path& dir) {
  const HfTokenizer ours(dir);
  const auto texts = sample_texts();
  const fs::path scratch = test::scratch_dir();
  test::write_text(scratch / "texts.json", nlohmann::json(texts).dump());
  test::run_hf_reference(fmt::format("tokenize {} {} {}", dir.string(), (scratch / "texts.json").string(),
                                     (scratch / "ids.json").string()));
  const auto reference = read_json_file(scratch / "ids.json");
  ASSERT_EQ(reference.size(), texts.size());
  size_t tokens = 0, mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = ours.encode(texts[i]);
    tokens += ids.size();
    const auto expected = reference[i].get<std::vector<int32_t>>();
    if (ids != expected && ++mismatches <= 3)
      ADD_FAILURE() << "text " << i << " " << nlohmann::json(texts[i].substr(0, 120)).dump() << ": ours "
                    << nlohmann::json(ids).dump().substr(0, 300) << "\n tokenizers " << nlohmann::json(expected).dump().substr(0, 300);
    EXPECT_EQ(ours.decode(ids), texts[i]) << "text " << i;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(tokens, 20000u);
  std::printf("%zu texts, %zu tokens: identical to tokenizers\n", texts.size(), tokens);
}

TEST(HfTokenizer, DigitsAndByteLevelMatchTokenizers) {
  expect_same_ids_as_tokenizers(test::tiny_llama_dir(false));
}

fs::path made_tokenizer(const std::string& kind) {
  const fs::path dir = fs::path(OASIS_TEST_WORK_DIR) / "test-cache" / ("tokenizer-" + kind);
  if (!fs::exists(dir / "tokenizer.json"))
    test::run_hf_reference(fmt::format("tokenizer-json {} {} --text {} --gpt2-dir {}", kind, dir.string(),
                                       data_file("wikitext-2", "wikitext2", "wiki.train.tokens").string(),
                                       find_dataset_dir("", "gpt2-bpe", "gpt2-bpe").string()));
  return dir;
}

TEST(HfTokenizer, Gpt2VocabularyAsTokenizerJsonMatchesTokenizers) { expect_same_ids_as_tokenizers(made_tokenizer("gpt2")); }

TEST(HfTokenizer, SplitRegexWithIgnoreMergesMatchesTokenizers) {
  expect_same_ids_as_tokenizers(made_tokenizer("split-regex"));
}

TEST(HfTokenizer, SmolLM2TokenizerMatchesTokenizers) {
  const fs::path dir = repo_root() / ".cache" / "models" / "SmolLM2-135M-Instruct";
  if (!fs::exists(dir / "tokenizer.json")) GTEST_SKIP() << dir << " absent: `make smollm2` fetches it";
  expect_same_ids_as_tokenizers(dir);
}

TEST(HfTokenizer, BeginTokenComesFromTheCheckpoint) {
  EXPECT_EQ(HfTokenizer(made_tokenizer("split-regex")).end_of_text(),
            read_json_file(made_tokenizer("split-regex") / "config.json")["bos_token_id"].get<int32_t>());
  EXPECT_EQ(HfTokenizer(test::tiny_llama_dir(false)).end_of_text(), 0);
}

TEST(HfTokenizer, UnsupportedPiecesAreNamed) {
  const fs::path dir = test::scratch_dir();
  auto json = read_json_file(test::tiny_llama_dir(false) / "tokenizer.json");
  json["normalizer"] = {{"type", "NFC"}};
  test::write_text(dir / "tokenizer.json", json.dump());
  test::write_text(dir / "config.json", R"({"bos_token_id": 0})");
  try {
    HfTokenizer tokenizer(dir);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("normalizer"), std::string::npos) << e.what();
  }
  json["normalizer"] = nullptr;
  json["pre_tokenizer"] = {{"type", "Metaspace"}};
  test::write_text(dir / "tokenizer.json", json.dump());
  try {
    HfTokenizer tokenizer(dir);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("pre_tokenizer.type: \"Metaspace\" is not supported"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace oasis
