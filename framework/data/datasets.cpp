#include "framework/data/datasets.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/paths.h"
#include "framework/core/text.h"
#include "framework/data/bigram_backcopy.h"

namespace oasis {
namespace fs = std::filesystem;

const std::map<std::string, DatasetInfo>& dataset_registry() {
  static const std::map<std::string, DatasetInfo> registry = {
      {"wikitext2", {"WikiText-2 v1 (tokenized, <unk>), official train/valid/test", "wikitext-2"}},
      {"ptb", {"Penn Treebank (Mikolov LM version), official train/valid/test", "ptb"}},
      {"c4", {"C4-en validation sample (2,000 docs): docs 0-1599 train, 1600-1799 valid, 1800-1999 test",
              "c4-validation-sample"}},
      {"tinystories", {"TinyStories validation prefix: 90/5/5 split at line starts", "tinystories-sample"}},
      {"shakespeare", {"Tiny Shakespeare: 90/5/5 split at line starts", "tinyshakespeare"}},
      {"text", {"any UTF-8 text file (data.path): 90/5/5 split at line starts", ""}},
      {"bigram_backcopy", {"Bigram-Backcopy (generated from data.bigram_backcopy.source): a sink forms fast", ""}},
  };
  return registry;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& [name, info] : dataset_registry()) names.push_back(name);
  return names;
}

const std::vector<std::string>& Corpus::split(const std::string& name) const {
  auto it = splits.find(name);
  if (it == splits.end()) throw ConfigError(fmt::format("dataset '{}' has no split '{}'", dataset, name));
  return it->second;
}

std::map<std::string, std::vector<std::string>> split_single_file(const std::string& text) {
  auto cut = [&](double fraction) {
    size_t at = size_t(double(text.size()) * fraction);
    if (at >= text.size()) return text.size();
    size_t nl = text.find('\n', at == 0 ? 0 : at - 1);  // the line start at or after `at`
    return nl == std::string::npos ? text.size() : nl + 1;
  };
  const size_t a = cut(0.90), b = cut(0.95);
  return {{"train", {text.substr(0, a)}}, {"valid", {text.substr(a, b - a)}}, {"test", {text.substr(b)}}};
}

namespace {

// A dataset file's text: refused, naming the file, when it is not UTF-8 (a binary or mis-encoded file
// would otherwise train a tokenizer on noise) or holds nothing.
std::string read_text_file(const fs::path& file) {
  if (fs::is_directory(file))
    throw RuntimeError(fmt::format("'{}' is a directory; expected a text file", file.string()));
  std::string text = read_file(file);
  if (text.empty()) throw RuntimeError(fmt::format("'{}' is empty; expected text", file.string()));
  if (const auto at = invalid_utf8_offset(text))
    throw RuntimeError(fmt::format("'{}' is not valid UTF-8 text: byte offset {} (0x{:02x}) begins no UTF-8 character",
                                   file.string(), *at, static_cast<unsigned char>(text[*at])));
  return text;
}

fs::path require_file(const fs::path& dir, const std::string& name, const std::string& dataset) {
  fs::path p = dir / name;
  if (fs::is_directory(p))
    throw RuntimeError(fmt::format("dataset '{}': '{}' is a directory; expected a file", dataset, p.string()));
  if (!fs::is_regular_file(p))
    throw RuntimeError(fmt::format("dataset '{}': file '{}' is missing (run `make data` to fetch and verify it)",
                                   dataset, p.string()));
  return p;
}

Corpus three_files(const std::string& dataset, const fs::path& dir, const std::string& pattern) {
  Corpus c;
  c.split_rule = "official " + fmt::format(fmt::runtime(pattern), "{train,valid,test}") + " files";
  for (const char* split : {"train", "valid", "test"})
    c.splits[split] = {read_text_file(require_file(dir, fmt::format(fmt::runtime(pattern), split), dataset))};
  return c;
}

Corpus c4_documents(const fs::path& dir) {
  const fs::path file = require_file(dir, "c4_validation_2k.jsonl", "c4");
  const std::string text = read_text_file(file);
  std::vector<std::string> docs;
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    if (end > start) {
      try {
        docs.push_back(nlohmann::json::parse(text.substr(start, end - start)).at("text").get<std::string>());
      } catch (const nlohmann::json::exception& e) {
        throw RuntimeError(fmt::format("{}:{}: expected a JSON object with a \"text\" string: {}", file.string(),
                                       line_no, e.what()));
      }
    }
    start = end + 1;
  }
  if (docs.size() != 2000)
    throw RuntimeError(fmt::format("{}: expected 2000 documents, found {}", file.string(), docs.size()));
  Corpus c;
  c.multi_document = true;
  c.split_rule = "documents 0-1599 train, 1600-1799 valid, 1800-1999 test";
  c.splits["train"] = {docs.begin(), docs.begin() + 1600};
  c.splits["valid"] = {docs.begin() + 1600, docs.begin() + 1800};
  c.splits["test"] = {docs.begin() + 1800, docs.end()};
  return c;
}

Corpus single_file(const fs::path& file) {
  Corpus c;
  c.split_rule = "first 90% train, next 5% valid, last 5% test (cuts at line starts)";
  c.splits = split_single_file(read_text_file(file));
  for (const auto& [split, docs] : c.splits)
    if (docs.front().empty())
      throw RuntimeError(fmt::format("'{}': its {} split is empty ({}); the file needs more lines", file.string(),
                                     split, c.split_rule));
  return c;
}

// Documents of seq_len - 1 characters: with the end-of-text token after each and data.bos, window k of
// a split is [BOS, document k] at token k * seq_len, which the window period keeps.
Corpus bigram_backcopy(const DataConfig& data) {
  const BigramBackcopyConfig& g = data.bigram_backcopy;
  DataConfig source = data;
  source.dataset = g.source;
  const Corpus base = load_corpus(source);
  std::string text;
  for (const auto& doc : base.split("train")) text += doc;
  const BigramChain chain(text);
  std::string triggers;
  try {
    triggers = chain.choose_triggers(g.triggers);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("data.bigram_backcopy.triggers: {} ({} has {} characters)", e.what(), g.source,
                                  chain.alphabet().size()));
  }
  auto task = std::make_shared<BackcopyTask>();
  task->triggers = triggers;
  task->alphabet = chain.alphabet();
  task->transition.assign(256, std::vector<double>(256, 0.0));
  for (int from = 0; from < 256; ++from)
    for (int to = 0; to < 256; ++to) task->transition[from][to] = chain.probability(from, to);
  Corpus c;
  c.multi_document = true;
  c.alphabet = chain.alphabet();
  c.window_period = data.seq_len;
  c.backcopy = task;
  c.split_rule = fmt::format("generated from {} train bigrams, triggers '{}', seed {}: {} / {} / {} sequences of {} "
                             "characters after BOS",
                             g.source, triggers, g.seed, g.train_sequences, g.eval_sequences, g.eval_sequences,
                             data.seq_len - 1);
  const std::pair<const char*, int64_t> splits[] = {
      {"train", g.train_sequences}, {"valid", g.eval_sequences}, {"test", g.eval_sequences}};
  for (const auto& [split, count] : splits)
    c.splits[split] = generate_bigram_backcopy(chain, triggers, count, data.seq_len - 1,
                                               fnv1a64(split, splitmix64(uint64_t(g.seed))));
  return c;
}

}  // namespace

Corpus load_corpus(const DataConfig& data) {
  const DatasetInfo& info = dataset_registry().at(data.dataset);
  Corpus c;
  fs::path source;
  if (data.dataset == "bigram_backcopy") {
    c = bigram_backcopy(data);
    source = find_dataset_dir(data.data_dir, dataset_registry().at(data.bigram_backcopy.source).folder,
                              data.bigram_backcopy.source);
  } else if (data.dataset == "text") {
    source = data.path;
    if (fs::is_directory(source))
      throw ConfigError(fmt::format("data.path: '{}' is a directory; expected a text file", data.path));
    if (!fs::is_regular_file(source))
      throw RuntimeError(fmt::format("data.path: text file '{}' does not exist", data.path));
    c = single_file(source);
  } else {
    source = find_dataset_dir(data.data_dir, info.folder, data.dataset);
    if (data.dataset == "wikitext2") c = three_files("wikitext2", source, "wiki.{}.tokens");
    else if (data.dataset == "ptb") c = three_files("ptb", source, "ptb.{}.txt");
    else if (data.dataset == "c4") c = c4_documents(source);
    else if (data.dataset == "tinystories") c = single_file(require_file(source, "tinystories_val_sample.txt", data.dataset));
    else if (data.dataset == "shakespeare") c = single_file(require_file(source, "input.txt", data.dataset));
  }
  c.dataset = data.dataset;
  c.source = source;
  return c;
}

}  // namespace oasis
