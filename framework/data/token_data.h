// Turns a dataset into token arrays, one per split, through the cache: an array is stored once per
// (dataset, split content, tokenizer and its settings) as a binary file, so later runs skip tokenizing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/datasets.h"
#include "framework/data/tokenizer.h"

namespace oasis {

struct DataConfig;

struct TokenizedData {
  Corpus corpus;
  std::unique_ptr<Tokenizer> tokenizer;
  std::map<std::string, std::vector<int32_t>> splits;  // split -> token ids
  std::map<std::string, bool> from_cache;             // split -> whether it was read from the cache

  const std::vector<int32_t>& split(const std::string& name) const;
};

// Loads the dataset, builds the tokenizer and the token arrays of `splits` (all three when empty).
TokenizedData prepare_data(const DataConfig& data, const std::vector<std::string>& splits = {});

// The cache file format: "OASISTK1", uint64 count, uint64 vocab size, then int32 ids (little endian).
void write_token_file(const std::filesystem::path& path, const std::vector<int32_t>& ids, int64_t vocab_size);
std::vector<int32_t> read_token_file(const std::filesystem::path& path, int64_t expected_vocab_size);

}  // namespace oasis
