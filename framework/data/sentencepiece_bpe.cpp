#include "framework/data/sentencepiece_bpe.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/hash.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/data/datasets.h"

namespace oasis {
namespace fs = std::filesystem;

static const char* kNewline = "<nl>";

namespace {

// The functions of liboasis_spm.so, resolved once.
struct Shim {
  int (*train)(const char*, char*, int);
  void* (*load)(const char*, size_t, char*, int);
  void (*free)(void*);
  int (*size)(void*);
  int (*eos)(void*);
  int (*piece_to_id)(void*, const char*);
  void (*piece)(void*, int, char*, int, int*);
  int (*encode)(void*, const char*, size_t, int*, int);
  int (*decode)(void*, const int*, int, char*, int);
};

const Shim& shim() {
  static const Shim s = [] {
    const char* env = std::getenv("OASIS_SPM_SHIM");
    const std::string path = env && *env ? env : OASIS_SPM_SHIM;
    // A separate link-map namespace: the module and its libraries (libsentencepiece with its protobuf,
    // its own libstdc++) are fully isolated from LibTorch's; only the C functions below cross over.
    void* lib = ::dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw RuntimeError(fmt::format("cannot load the sentencepiece module '{}': {}", path, ::dlerror()));
    auto get = [&](const char* name) {
      void* f = ::dlsym(lib, name);
      if (!f) throw RuntimeError(fmt::format("{}: missing symbol {}", path, name));
      return f;
    };
    Shim out;
    out.train = reinterpret_cast<decltype(out.train)>(get("oasis_spm_train"));
    out.load = reinterpret_cast<decltype(out.load)>(get("oasis_spm_load"));
    out.free = reinterpret_cast<decltype(out.free)>(get("oasis_spm_free"));
    out.size = reinterpret_cast<decltype(out.size)>(get("oasis_spm_size"));
    out.eos = reinterpret_cast<decltype(out.eos)>(get("oasis_spm_eos"));
    out.piece_to_id = reinterpret_cast<decltype(out.piece_to_id)>(get("oasis_spm_piece_to_id"));
    out.piece = reinterpret_cast<decltype(out.piece)>(get("oasis_spm_piece"));
    out.encode = reinterpret_cast<decltype(out.encode)>(get("oasis_spm_encode"));
    out.decode = reinterpret_cast<decltype(out.decode)>(get("oasis_spm_decode"));
    return out;
  }();
  return s;
}

}  // namespace

void SentencePieceBpe::train(const std::vector<std::string>& train_documents, int64_t vocab_size,
                             const fs::path& model_path) {
  if (vocab_size < 300)
    throw ConfigError(fmt::format("data.sentencepiece.vocab_size: sentencepiece with byte fallback needs at least 300 pieces, got {}",
                                  vocab_size));
  // sentencepiece reads sentences line by line from a file.
  const fs::path input = model_path.string() + fmt::format(".input.{}.txt", ::getpid());
  {
    std::ofstream out(input, std::ios::binary);
    for (const auto& doc : train_documents) {
      out << doc;
      if (!doc.empty() && doc.back() != '\n') out << '\n';
    }
  }
  const fs::path prefix = model_path.string() + fmt::format(".train.{}", ::getpid());
  const std::string args = fmt::format(
      "--input={} --model_prefix={} --vocab_size={} --model_type=bpe --character_coverage=1.0 "
      "--byte_fallback=true --normalization_rule_name=identity --add_dummy_prefix=false "
      "--remove_extra_whitespaces=false --user_defined_symbols={} --unk_id=0 --bos_id=-1 --eos_id=1 --pad_id=-1 "
      "--input_sentence_size=0 --max_sentence_length=65536 --num_threads=2 --minloglevel=2",
      input.string(), prefix.string(), vocab_size, kNewline);
  char error[512] = "";
  const int rc = shim().train(args.c_str(), error, sizeof error);
  fs::remove(input);
  if (rc != 0) throw RuntimeError(fmt::format("sentencepiece training failed: {}", error));
  fs::remove(prefix.string() + ".vocab");
  fs::rename(prefix.string() + ".model", model_path);
}

SentencePieceBpe::SentencePieceBpe(const fs::path& model_path) {
  const std::string blob = read_file(model_path);
  char error[512] = "";
  handle_ = shim().load(blob.data(), blob.size(), error, sizeof error);
  if (!handle_) throw RuntimeError(fmt::format("{}: not a sentencepiece model: {}", model_path.string(), error));
  model_hash_ = hex16(fnv1a64(blob));
  eos_ = shim().eos(handle_);
  newline_ = shim().piece_to_id(handle_, kNewline);
  bytes_.resize(size_t(shim().size(handle_)));
  char piece[1024];
  for (int id = 0; id < int(bytes_.size()); ++id) {
    int kind = 0;
    shim().piece(handle_, id, piece, sizeof piece, &kind);
    if (kind == 1 || kind == 2) {  // control, unknown
      bytes_[id] = 0;
    } else if (kind == 3 || id == newline_) {
      bytes_[id] = 1;
    } else {
      int64_t n = 0;  // U+2581 (sentencepiece's visible space, 3 bytes) stands for one space byte
      for (size_t i = 0; piece[i];) {
        const bool space = std::strncmp(piece + i, "\xE2\x96\x81", 3) == 0;
        n += 1;
        i += space ? 3 : 1;
      }
      bytes_[id] = n;
    }
  }
}

SentencePieceBpe::~SentencePieceBpe() { shim().free(handle_); }

std::vector<int32_t> SentencePieceBpe::encode(std::string_view text) const {
  std::vector<int32_t> out;
  std::vector<int> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) end = text.size();
    if (end > start) {
      // Byte fallback bounds the count by the byte length.
      ids.resize(end - start + 1);
      const int n = shim().encode(handle_, text.data() + start, end - start, ids.data(), int(ids.size()));
      out.insert(out.end(), ids.begin(), ids.begin() + n);
    }
    if (!has_newline) break;
    out.push_back(newline_);
    start = end + 1;
  }
  return out;
}

std::string SentencePieceBpe::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  std::vector<int> line;
  auto flush = [&] {
    std::string text(line.size() * 64 + 16, '\0');
    int n = shim().decode(handle_, line.data(), int(line.size()), text.data(), int(text.size()));
    if (n < 0) {
      text.resize(size_t(-n));
      n = shim().decode(handle_, line.data(), int(line.size()), text.data(), int(text.size()));
    }
    out.append(text.data(), size_t(n));
    line.clear();
  };
  for (int32_t id : ids) {
    if (id == newline_) {
      flush();
      out += '\n';
    } else if (id != eos_) {
      line.push_back(id);
    }
  }
  flush();
  return out;
}

namespace {
const bool sentencepiece_options_registered = register_options<SentencePieceOptions>("sentencepiece", OptionsScope::data);
const bool sentencepiece_registered = tokenizer_registry().add(
    "sentencepiece", {"sentencepiece BPE with data.sentencepiece.vocab_size pieces, trained on the train split and cached",
                      [](const DataConfig& data, const Corpus& corpus) -> std::unique_ptr<Tokenizer> {
                        const int64_t pieces = data.components.get<SentencePieceOptions>("sentencepiece").vocab_size;
                        const auto model = tokenizer_cache(data) / fmt::format("spm-{}-v{}-{}.model", corpus.dataset,
                                                                               pieces, train_split_hash(corpus));
                        if (!std::filesystem::exists(model)) {
                          log_line(fmt::format("training sentencepiece BPE ({} pieces) on {} train -> {}", pieces,
                                               corpus.dataset, model.string()));
                          SentencePieceBpe::train(corpus.split("train"), pieces, model);
                        }
                        return std::make_unique<SentencePieceBpe>(model);
                      }});
}  // namespace

}  // namespace oasis
