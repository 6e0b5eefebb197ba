#include "framework/hf/safetensors.h"

#include <cstring>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/core/paths.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

const std::pair<const char*, c10::ScalarType> kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool}};

c10::ScalarType dtype_named(const std::string& name, const fs::path& file, const std::string& tensor) {
  for (const auto& [text, type] : kDtypes)
    if (name == text) return type;
  throw RuntimeError(fmt::format("{}: tensor '{}' has dtype '{}'; expected one of F64, F32, F16, BF16, I64, I32, I16, "
                                 "I8, U8, BOOL",
                                 file.string(), tensor, name));
}

const char* dtype_name(c10::ScalarType type) {
  for (const auto& [text, t] : kDtypes)
    if (t == type) return text;
  throw RuntimeError(fmt::format("safetensors: cannot store dtype {}", c10::toString(type)));
}

}  // namespace

SafetensorsFile read_safetensors(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw RuntimeError(fmt::format("cannot open '{}'", file.string()));
  const auto file_size = int64_t(fs::file_size(file));
  uint8_t length_bytes[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(length_bytes), 8))
    throw RuntimeError(fmt::format("{}: truncated safetensors file ({} bytes, no header length)", file.string(), file_size));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length_bytes[i];
  if (header_len > uint64_t(file_size - 8))
    throw RuntimeError(fmt::format("{}: truncated safetensors file: the header claims {} bytes, the file has {} after the "
                                   "length",
                                   file.string(), header_len, file_size - 8));
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), std::streamsize(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw RuntimeError(fmt::format("{}: the safetensors header is not valid JSON: {}", file.string(), e.what()));
  }
  if (!header.is_object()) throw RuntimeError(fmt::format("{}: the safetensors header is not a JSON object", file.string()));
  const int64_t data_start = 8 + int64_t(header_len), data_size = file_size - data_start;

  SafetensorsFile out;
  struct Entry {
    int64_t begin, end;
    std::string name;
    c10::ScalarType type;
    std::vector<int64_t> shape;
  };
  std::vector<Entry> entries;
  for (const auto& [name, spec] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : spec.items())
        out.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    auto bad = [&](const std::string& what) {
      return RuntimeError(fmt::format("{}: tensor '{}': {}", file.string(), name, what));
    };
    if (!spec.is_object() || !spec.contains("dtype") || !spec.contains("shape") || !spec.contains("data_offsets"))
      throw bad("expected {dtype, shape, data_offsets}");
    Entry e{0, 0, name, dtype_named(spec.at("dtype").get<std::string>(), file, name), spec.at("shape").get<std::vector<int64_t>>()};
    const auto offsets = spec.at("data_offsets").get<std::vector<int64_t>>();
    if (offsets.size() != 2 || offsets[0] < 0 || offsets[1] < offsets[0]) throw bad("data_offsets is not [begin, end]");
    e.begin = offsets[0];
    e.end = offsets[1];
    if (e.end > data_size)
      throw bad(fmt::format("its bytes [{}, {}) run past the end of the data ({} bytes): the file is truncated", e.begin,
                            e.end, data_size));
    int64_t numel = 1;
    for (int64_t d : e.shape) {
      if (d < 0) throw bad("negative dimension");
      numel *= d;
    }
    const int64_t expected = numel * int64_t(c10::elementSize(e.type));
    if (e.end - e.begin != expected)
      throw bad(fmt::format("shape [{}] of {} needs {} bytes, data_offsets give {}", fmt::join(e.shape, ", "),
                            spec.at("dtype").get<std::string>(), expected, e.end - e.begin));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      throw RuntimeError(fmt::format("{}: tensors '{}' and '{}' overlap", file.string(), entries[i - 1].name, entries[i].name));
  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    in.seekg(data_start + e.begin);
    if (!in.read(static_cast<char*>(t.data_ptr()), std::streamsize(e.end - e.begin)))
      throw RuntimeError(fmt::format("{}: tensor '{}': read failed", file.string(), e.name));
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

std::map<std::string, at::Tensor> read_safetensors_dir(const fs::path& dir) {
  std::vector<fs::path> files;
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::is_regular_file(index)) {
    const auto json = read_json_file(index);
    if (!json.contains("weight_map") || !json.at("weight_map").is_object())
      throw RuntimeError(fmt::format("{}: expected a \"weight_map\" object", index.string()));
    std::set<std::string> names;
    for (const auto& [tensor, shard] : json.at("weight_map").items()) names.insert(shard.get<std::string>());
    for (const auto& name : names) files.push_back(dir / name);
  } else if (fs::is_regular_file(dir / "model.safetensors")) {
    files.push_back(dir / "model.safetensors");
  } else {
    throw RuntimeError(fmt::format("'{}' holds neither model.safetensors nor model.safetensors.index.json", dir.string()));
  }
  std::map<std::string, at::Tensor> out;
  for (const auto& file : files) {
    if (!fs::is_regular_file(file)) throw RuntimeError(fmt::format("shard '{}' (named by the index) is missing", file.string()));
    for (auto& [name, tensor] : read_safetensors(file).tensors)
      if (!out.emplace(name, tensor).second)
        throw RuntimeError(fmt::format("tensor '{}' appears in more than one shard of '{}'", name, dir.string()));
  }
  return out;
}

void write_safetensors(const fs::path& file, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(at::kCPU).contiguous();
    const int64_t bytes = t.numel() * int64_t(t.element_size());
    header[name] = {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned, as the reference writer does
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RuntimeError(fmt::format("cannot write '{}'", tmp.string()));
    uint64_t n = text.size();
    char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = char((n >> (8 * i)) & 0xFF);
    out.write(length_bytes, 8);
    out.write(text.data(), std::streamsize(text.size()));
    for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
    if (!out.flush()) throw RuntimeError(fmt::format("cannot write '{}' (disk full?)", tmp.string()));
  }
  fs::rename(tmp, file);
}

}  // namespace oasis
