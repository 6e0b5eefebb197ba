// The safetensors format, read and written directly: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}} and the raw tensor bytes. It is
// what Hugging Face checkpoints hold; a sharded checkpoint adds model.safetensors.index.json, mapping each
// tensor to its file. Every inconsistency (a short file, offsets outside the data, a byte count that does
// not match the shape) is an error naming the file and the tensor.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace oasis {

struct SafetensorsFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in the file's data order
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::filesystem::path& file);

// Tensors of a checkpoint directory: model.safetensors, or the shards model.safetensors.index.json lists.
// Each name once (a tensor in two shards is an error).
std::map<std::string, at::Tensor> read_safetensors_dir(const std::filesystem::path& dir);

// Writes contiguous CPU copies of `tensors` in the given order; the file appears complete or not at all.
void write_safetensors(const std::filesystem::path& file, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace oasis
