// Data: the real files load with their documented sizes, GPT-2 BPE matches an independent
// implementation id for id, the word and sentencepiece tokenizers are exact, the cache is used, and a
// missing dataset says where it looked.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/data/batches.h"
#include "framework/data/datasets.h"
#include "framework/data/gpt2_bpe.h"
#include "framework/data/sentencepiece_bpe.h"
#include "framework/data/token_data.h"
#include "framework/core/text.h"
#include "framework/data/word_vocab.h"
#include "tests/test_util.h"

namespace oasis {
namespace {
namespace fs = std::filesystem;

std::string& text_path(DataConfig& d) { return d.components.get<TextFileOptions>("text").path; }

DataConfig data_config(const std::string& dataset, const std::string& tokenizer) {
  DataConfig d;
  d.dataset = dataset;
  d.tokenizer = tokenizer;
  d.cache_dir = test::shared_cache_dir();
  return d;
}

TEST(Gpt2Bpe, MatchesIndependentImplementation) {
  // tests/fixtures/gpt2_reference.json: ids from js-tiktoken, cross-checked with gpt-tokenizer (npm).
  const auto fixture = nlohmann::json::parse(read_file(repo_root() / "tests/fixtures/gpt2_reference.json"));
  Gpt2Bpe bpe(find_dataset_dir("", "gpt2-bpe", "gpt2-bpe"));
  EXPECT_EQ(bpe.vocab_size(), 50257);
  EXPECT_EQ(bpe.end_of_text(), 50256);
  ASSERT_GE(fixture["cases"].size(), 20u);
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(bpe.encode(text), c["ids"].get<std::vector<int32_t>>()) << "text: " << text;
    EXPECT_EQ(bpe.decode(bpe.encode(text)), text);
  }
  const std::string wiki = read_file(find_dataset_dir("", "wikitext-2", "wikitext2") / "wiki.valid.tokens");
  const std::string prefix = wiki.substr(0, fixture["wikitext_valid_prefix_bytes"].get<size_t>());
  EXPECT_EQ(bpe.encode(prefix), fixture["wikitext_valid_prefix_ids"].get<std::vector<int32_t>>());
}

TEST(Gpt2Bpe, TokenBytesSumToTextBytes) {
  Gpt2Bpe bpe(find_dataset_dir("", "gpt2-bpe", "gpt2-bpe"));
  const std::string text = "Unicode: café — 中文 🙂 and   spaces\n\n";
  int64_t bytes = 0;
  for (int32_t id : bpe.encode(text)) bytes += bpe.token_bytes(id);
  EXPECT_EQ(bytes, int64_t(text.size()));
  EXPECT_EQ(bpe.token_bytes(bpe.end_of_text()), 0);
}

TEST(Datasets, WikiTextAndPtbHaveTheirCanonicalWordCounts) {
  // pytorch/examples word_language_model token counts (SOURCE.md of each dataset).
  TokenizedData wiki = prepare_data(data_config("wikitext2", "word"));
  EXPECT_EQ(wiki.tokenizer->vocab_size(), 33278);
  EXPECT_EQ(wiki.split("train").size(), 2088628u);
  EXPECT_EQ(wiki.split("valid").size(), 217646u);
  EXPECT_EQ(wiki.split("test").size(), 245569u);
  // The word tokenizer's byte accounting reproduces the file sizes exactly.
  int64_t bytes = 0;
  for (int32_t id : wiki.split("test")) bytes += wiki.tokenizer->token_bytes(id);
  EXPECT_EQ(bytes, 1256449);
  EXPECT_EQ(wiki.tokenizer->decode({wiki.split("test").begin(), wiki.split("test").begin() + 6}), " \n = Robert <unk> = \n");

  TokenizedData ptb = prepare_data(data_config("ptb", "word"));
  EXPECT_EQ(ptb.tokenizer->vocab_size(), 10000);  // 9,999 words + <eos> (<unk> is one of the words)
  EXPECT_EQ(ptb.split("train").size(), 929589u);
  EXPECT_EQ(ptb.split("valid").size(), 73760u);
  EXPECT_EQ(ptb.split("test").size(), 82430u);
}

TEST(Datasets, EveryDatasetLoadsWithItsSplitRule) {
  Corpus c4 = load_corpus(data_config("c4", "gpt2"));
  EXPECT_TRUE(c4.multi_document);
  EXPECT_EQ(c4.split("train").size(), 1600u);
  EXPECT_EQ(c4.split("valid").size(), 200u);
  EXPECT_EQ(c4.split("test").size(), 200u);
  EXPECT_EQ(c4.split("train").front().rfind("We offer valet parking", 0), 0u);
  for (const char* name : {"tinystories", "shakespeare"}) {
    Corpus c = load_corpus(data_config(name, "gpt2"));
    const size_t train = c.split("train")[0].size(), valid = c.split("valid")[0].size(), test = c.split("test")[0].size();
    const double total = double(train + valid + test);
    EXPECT_NEAR(train / total, 0.90, 0.01) << name;
    EXPECT_NEAR(valid / total, 0.05, 0.01) << name;
    EXPECT_EQ(c.split("train")[0].back(), '\n') << name;  // cuts fall on line starts
    EXPECT_EQ(c.split("valid")[0].back(), '\n') << name;
  }
  Corpus shakespeare = load_corpus(data_config("shakespeare", "gpt2"));
  EXPECT_EQ(shakespeare.split("train")[0].size() + shakespeare.split("valid")[0].size() +
                shakespeare.split("test")[0].size(),
            1115394u);
}

// `make data` converts the C4 sample's parquet with pyarrow; the result must be the manifest's file, byte for byte.
TEST(Datasets, C4ParquetConvertsToTheManifestsJsonl) {
  const fs::path c4 = find_dataset_dir("", "c4-validation-sample", "c4");
  const fs::path python = fs::path(OASIS_SOURCE_DIR) / ".venv" / "bin" / "python";
  if (!fs::exists(c4 / "c4_validation_2k.parquet")) GTEST_SKIP() << "no c4_validation_2k.parquet beside the JSONL";
  ASSERT_TRUE(fs::exists(python)) << python << " missing: run `make venv`";
  const fs::path out = test::scratch_dir() / "c4.jsonl";
  const auto r = test::run_command(fmt::format("{} {}/data/parquet_to_jsonl.py {} {} && sha256sum {}", python.string(),
                                               OASIS_SOURCE_DIR, (c4 / "c4_validation_2k.parquet").string(),
                                               out.string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.substr(0, 64), "495eeec67b113def07cf59a9fecb12003b7cc9a5bcfd877b4ec7640e57bf15b4") << r.output;
}

TEST(Datasets, UserTextFile) {
  auto dir = test::scratch_dir();
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + "\n";
  DataConfig d = data_config("text", "word");
  text_path(d) = test::write_text(dir / "mine.txt", text);
  TokenizedData data = prepare_data(d);
  EXPECT_EQ(data.corpus.split("train")[0].substr(0, 7), "line 0\n");
  EXPECT_EQ(data.split("train").size() + data.split("valid").size() + data.split("test").size(), 300u);
}

TEST(Datasets, TextThatIsNotUtf8OrTooShortOrADirectoryIsRefusedNamingTheFile) {
  auto dir = test::scratch_dir();
  auto message_of = [](const DataConfig& d) {
    try {
      load_corpus(d);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  DataConfig d = data_config("text", "word");
  std::string text(500, 'a');
  text[300] = '\xff';
  text_path(d) = test::write_text(dir / "binary.txt", text);
  EXPECT_NE(message_of(d).find("'" + text_path(d) + "' is not valid UTF-8 text: byte offset 300 (0xff)"), std::string::npos)
      << message_of(d);
  text_path(d) = test::write_text(dir / "overlong.txt", "ok \xc0\xaf");  // an overlong '/'
  EXPECT_NE(message_of(d).find("byte offset 3 (0xc0)"), std::string::npos) << message_of(d);
  text_path(d) = test::write_text(dir / "one-line.txt", "a single line without a newline");
  EXPECT_NE(message_of(d).find("split is empty (first 90% train"), std::string::npos) << message_of(d);
  text_path(d) = test::write_text(dir / "empty.txt", "");
  EXPECT_NE(message_of(d).find("is empty; expected text"), std::string::npos) << message_of(d);
  text_path(d) = dir.string();
  EXPECT_NE(message_of(d).find("is a directory; expected a text file"), std::string::npos) << message_of(d);
  // Valid multi-byte text passes: 2-, 3- and 4-byte characters.
  EXPECT_FALSE(invalid_utf8_offset("a\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_EQ(invalid_utf8_offset("\xed\xa0\x80"), 0u);  // a UTF-16 surrogate
  EXPECT_EQ(invalid_utf8_offset("ab\xe2\x82"), 2u);       // cut short
}

TEST(Datasets, MissingDatasetSaysWhereItLooked) {
  auto dir = test::scratch_dir();
  DataConfig d = data_config("ptb", "word");
  d.data_dir = (dir / "empty").string();
  try {
    load_corpus(d);
    FAIL() << "expected an error";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("dataset 'ptb' not found"), std::string::npos) << m;
    EXPECT_NE(m.find((dir / "empty" / "ptb").string()), std::string::npos) << m;
    EXPECT_NE(m.find("make data"), std::string::npos) << m;
  }
  // The default lookup order: $OASIS_DATA_DIR, <repo>/data/cache, <repo>/../shared/data.
  ::setenv("OASIS_DATA_DIR", "/nonexistent/oasis-data", 1);
  auto roots = data_roots("");
  ::unsetenv("OASIS_DATA_DIR");
  ASSERT_EQ(roots.size(), 3u);
  EXPECT_EQ(roots[0], fs::path("/nonexistent/oasis-data"));
  EXPECT_EQ(roots[1], repo_root() / "data" / "cache");
  EXPECT_EQ(roots[2].filename(), "data");
}

TEST(TokenCache, SecondPreparationReadsTheCache) {
  auto dir = test::scratch_dir();
  DataConfig d = data_config("shakespeare", "gpt2");
  d.cache_dir = (dir / "cache").string();
  TokenizedData first = prepare_data(d, {"valid"});
  EXPECT_FALSE(first.from_cache.at("valid"));
  TokenizedData second = prepare_data(d, {"valid"});
  EXPECT_TRUE(second.from_cache.at("valid"));
  EXPECT_EQ(first.split("valid"), second.split("valid"));
  EXPECT_EQ(first.split("valid"), first.tokenizer->encode(first.corpus.split("valid")[0]));
  // A corrupt cache file is reported, not silently used.
  for (const auto& f : fs::directory_iterator(dir / "cache" / "tokens")) fs::resize_file(f.path(), 30);
  EXPECT_THROW(prepare_data(d, {"valid"}), RuntimeError);
}

TEST(SentencePiece, TrainedOnTheTrainSplitAndByteExact) {
  DataConfig d = data_config("shakespeare", "sentencepiece");
  d.components.get<SentencePieceOptions>("sentencepiece").vocab_size = 512;
  TokenizedData data = prepare_data(d, {"valid"});
  EXPECT_EQ(data.tokenizer->vocab_size(), 512);
  const std::string& valid = data.corpus.split("valid")[0];
  EXPECT_EQ(data.tokenizer->decode(data.split("valid")), valid);
  int64_t bytes = 0;
  for (int32_t id : data.split("valid")) bytes += data.tokenizer->token_bytes(id);
  EXPECT_EQ(bytes, int64_t(valid.size()));
  // Characters never seen in training fall back to bytes and still round-trip.
  const std::string odd = "Zürich — 東京 ✓\n  two  spaces\n";
  EXPECT_EQ(data.tokenizer->decode(data.tokenizer->encode(odd)), odd);
  // Clearly fewer tokens than bytes: it learned merges (256 of the 512 pieces are byte fallbacks).
  EXPECT_LT(double(data.split("valid").size()), 0.7 * double(valid.size()));
}

TEST(Batches, WindowsShiftTargetsAndStartWithBosWhenAsked) {
  std::vector<int32_t> tokens(1000);
  for (int i = 0; i < 1000; ++i) tokens[i] = i;
  WindowSampler plain(tokens, 16, false, 999, 7);
  Batch b = plain.batch(0, 4);
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t s = plain.start_of(r);
    EXPECT_EQ(b.inputs[r][0].item<int64_t>(), s);
    EXPECT_EQ(b.targets[r][15].item<int64_t>(), s + 16);
    EXPECT_TRUE(b.targets[r].equal(b.inputs[r].add(1)));
  }
  WindowSampler bos(tokens, 16, true, -5, 7);
  Batch c = bos.batch(10, 3);
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_EQ(c.inputs[r][0].item<int64_t>(), -5);
    EXPECT_EQ(c.inputs[r][1].item<int64_t>(), c.targets[r][0].item<int64_t>());
    EXPECT_EQ(c.targets[r][0].item<int64_t>(), bos.start_of(10 + r));
  }
  // Sample i's window depends only on (seed, i): the data position is one integer.
  EXPECT_TRUE(plain.batch(2, 2).inputs.equal(plain.batch(0, 4).inputs.slice(0, 2, 4)));
  EXPECT_THROW(WindowSampler(std::vector<int32_t>(10), 16, false, 0, 0), RuntimeError);
}

}  // namespace
}  // namespace oasis
