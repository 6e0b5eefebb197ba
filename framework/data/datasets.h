// The dataset registry (`data.dataset`): each entry knows its folder under a data root, its files and how
// the train / valid / test splits are formed, and registers itself beside its loader. Split rules are
// fixed and documented here and in data/README.md:
//   wikitext2   wiki.{train,valid,test}.tokens (WikiText-2 v1, tokenized)
//   ptb         ptb.{train,valid,test}.txt (Mikolov's PTB)
//   c4          c4_validation_2k.jsonl: documents 0-1599 train, 1600-1799 valid, 1800-1999 test
//   tinystories tinystories_val_sample.txt
//   shakespeare input.txt
//   text        data.text.path (any UTF-8 file)
//   bigram_backcopy  generated (data/bigram_backcopy.h) from data.bigram_backcopy.source's train split:
//               train_sequences / eval_sequences / eval_sequences documents of data.seq_len - 1
//               characters, each split from its own seed stream
// The last three are one file each: first 90% train, next 5% valid, last 5% test, each cut moved
// forward to the next line start.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/config_fields.h"
#include "framework/core/registry.h"

namespace oasis {

struct DataConfig;
struct BackcopyTask;

struct Corpus {
  std::string dataset;
  std::filesystem::path source;  // folder (or file for `text`) it was read from
  std::string split_rule;        // how the splits were formed, for the record
  bool multi_document = false;   // documents are separated by the end-of-text token when tokenized
  std::map<std::string, std::vector<std::string>> splits;  // "train" / "valid" / "test" -> documents
  // Generated datasets: the character set the `char` tokenizer uses (empty: the train split's bytes),
  // the token period at which training windows must start (0: anywhere) and the task's definition.
  std::string alphabet;
  int64_t window_period = 0;
  std::shared_ptr<const BackcopyTask> backcopy;

  const std::vector<std::string>& split(const std::string& name) const;
};

// The config section data.text.* of the `text` dataset.
struct TextFileOptions {
  std::string path;
  template <class V>
  void visit(V& v) {
    v.field("path", path, "the UTF-8 text file of dataset `text`");
  }
};

struct DatasetEntry {
  std::string description;
  std::string folder;  // under a data root; "" for a dataset that is not a folder there (text, generated)
  // The splits of the dataset; `dir` is its folder as found under the data roots (empty when `folder` is).
  // Sets split_rule and, for a dataset not read from `dir`, source.
  std::function<Corpus(const DataConfig& data, const std::filesystem::path& dir)> load;
};

Registry<DatasetEntry>& dataset_registry();

// Reads the configured dataset (looking through the data roots); missing data is a RuntimeError that
// says where it looked and how to get it.
Corpus load_corpus(const DataConfig& data);

// Cuts one text at the 90% / 95% marks, each cut moved to the next line start.
std::map<std::string, std::vector<std::string>> split_single_file(const std::string& text);

// The splits of one UTF-8 text file cut at the 90% / 95% marks (an empty split is an error naming the file).
Corpus single_file_corpus(const std::filesystem::path& file);

}  // namespace oasis
