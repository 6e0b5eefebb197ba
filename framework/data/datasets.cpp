#include "framework/data/datasets.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/core/text.h"

namespace oasis {
namespace fs = std::filesystem;

Registry<DatasetEntry>& dataset_registry() {
  static Registry<DatasetEntry> registry("dataset");
  return registry;
}

std::vector<std::string> dataset_names() { return dataset_registry().names(); }

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

}  // namespace

Corpus single_file_corpus(const fs::path& file) {
  Corpus c;
  c.split_rule = "first 90% train, next 5% valid, last 5% test (cuts at line starts)";
  c.splits = split_single_file(read_text_file(file));
  for (const auto& [split, docs] : c.splits)
    if (docs.front().empty())
      throw RuntimeError(fmt::format("'{}': its {} split is empty ({}); the file needs more lines", file.string(),
                                     split, c.split_rule));
  return c;
}

Corpus load_corpus(const DataConfig& data) {
  const DatasetEntry& entry = dataset_registry().get(data.dataset);
  const fs::path dir = entry.folder.empty() ? fs::path() : find_dataset_dir(data.data_dir, entry.folder, data.dataset);
  Corpus c = entry.load(data, dir);
  c.dataset = data.dataset;
  if (c.source.empty()) c.source = dir;
  return c;
}

namespace {

const bool wikitext2_registered = dataset_registry().add(
    "wikitext2", {"WikiText-2 v1 (tokenized, <unk>), official train/valid/test", "wikitext-2",
                  [](const DataConfig&, const fs::path& dir) { return three_files("wikitext2", dir, "wiki.{}.tokens"); }});
const bool ptb_registered = dataset_registry().add(
    "ptb", {"Penn Treebank (Mikolov LM version), official train/valid/test", "ptb",
            [](const DataConfig&, const fs::path& dir) { return three_files("ptb", dir, "ptb.{}.txt"); }});
const bool c4_registered = dataset_registry().add(
    "c4", {"C4-en validation sample (2,000 docs): docs 0-1599 train, 1600-1799 valid, 1800-1999 test",
           "c4-validation-sample", [](const DataConfig&, const fs::path& dir) { return c4_documents(dir); }});
const bool tinystories_registered = dataset_registry().add(
    "tinystories", {"TinyStories validation prefix: 90/5/5 split at line starts", "tinystories-sample",
                    [](const DataConfig&, const fs::path& dir) {
                      return single_file_corpus(require_file(dir, "tinystories_val_sample.txt", "tinystories"));
                    }});
const bool shakespeare_registered = dataset_registry().add(
    "shakespeare", {"Tiny Shakespeare: 90/5/5 split at line starts", "tinyshakespeare",
                    [](const DataConfig&, const fs::path& dir) {
                      return single_file_corpus(require_file(dir, "input.txt", "shakespeare"));
                    }});
const bool text_options_registered = register_options<TextFileOptions>("text", OptionsScope::data);
const bool text_registered = dataset_registry().add(
    "text", {"any UTF-8 text file (data.text.path): 90/5/5 split at line starts", "", [](const DataConfig& data, const fs::path&) {
               const fs::path file = data.components.get<TextFileOptions>("text").path;
               if (fs::is_directory(file))
                 throw ConfigError(fmt::format("data.text.path: '{}' is a directory; expected a text file", file.string()));
               if (!fs::is_regular_file(file))
                 throw RuntimeError(fmt::format("data.text.path: text file '{}' does not exist", file.string()));
               Corpus c = single_file_corpus(file);
               c.source = file;
               return c;
             }});

}  // namespace

}  // namespace oasis
