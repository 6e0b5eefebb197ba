#include "framework/data/hf_tokenizer.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/config.h"
#include "framework/core/errors.h"
#include "framework/core/file_digest.h"
#include "framework/core/json_file.h"
#include "framework/core/paths.h"
#include "framework/data/gpt2_bpe.h"

namespace oasis {
namespace fs = std::filesystem;

// Splits each piece further: the regex's matches become pieces (and, when `keep_gaps`, the text between them).
struct HfTokenizer::PreTokenizer {
  std::unique_ptr<Regex> regex;
  bool keep_gaps = true;
  bool prefix_space = false;  // ByteLevel's add_prefix_space: a piece not starting with ' ' gets one
  void apply(std::vector<std::string>& pieces) const {
    std::vector<std::string> out;
    for (auto& piece : pieces) {
      if (prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(piece.begin(), ' ');
      if (!regex) {
        out.push_back(std::move(piece));
        continue;
      }
      size_t done = 0;
      for (const auto& [begin, end] : regex->spans(piece)) {
        if (begin > done && keep_gaps) out.push_back(piece.substr(done, begin - done));
        if (end > begin) out.push_back(piece.substr(begin, end - begin));
        done = end;
      }
      if (done < piece.size() && keep_gaps) out.push_back(piece.substr(done));
    }
    pieces.swap(out);
  }
};

namespace {

struct JsonReader {
  fs::path file;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw RuntimeError(fmt::format("{}: {}: {}", file.string(), key, what));
  }
  // Options that must be absent, null, false or `expected` (the only behaviour implemented).
  void require(const nlohmann::json& node, const std::string& path, const char* key, const nlohmann::json& expected) const {
    auto it = node.find(key);
    if (it == node.end() || it->is_null() || *it == expected) return;
    fail(path + "." + key, fmt::format("{} is not supported; expected {}", it->dump(), expected.dump()));
  }
};

std::string quoted_literal(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

void add_pre_tokenizer(const nlohmann::json& node, const std::string& path, const JsonReader& r,
                       std::vector<std::unique_ptr<HfTokenizer::PreTokenizer>>& steps, bool& byte_level) {
  const std::string type = node.value("type", "");
  auto step = std::make_unique<HfTokenizer::PreTokenizer>();
  if (type == "Sequence") {
    size_t i = 0;
    for (const auto& child : node.at("pretokenizers")) add_pre_tokenizer(child, fmt::format("{}.pretokenizers[{}]", path, i++), r, steps, byte_level);
    return;
  } else if (type == "ByteLevel") {
    byte_level = true;
    step->prefix_space = node.value("add_prefix_space", false);
    if (node.value("use_regex", true)) step->regex = std::make_unique<Regex>(kGpt2Pattern, Regex::Mode::unicode);
  } else if (type == "Digits") {
    // tokenizers' Digits splits at char::is_numeric, Unicode's N categories (\p{N}), not only 0-9.
    step->regex = std::make_unique<Regex>(node.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+", Regex::Mode::unicode);
  } else if (type == "Split") {
    r.require(node, path, "invert", false);
    const std::string behavior = node.value("behavior", "");
    if (behavior != "Isolated" && behavior != "Removed")
      r.fail(path + ".behavior", fmt::format("\"{}\" is not supported; expected \"Isolated\" or \"Removed\"", behavior));
    step->keep_gaps = behavior == "Isolated";
    const auto& pattern = node.at("pattern");
    const std::string regex = pattern.contains("Regex") ? pattern.at("Regex").get<std::string>()
                                                        : quoted_literal(pattern.at("String").get<std::string>());
    try {
      step->regex = std::make_unique<Regex>(regex, Regex::Mode::unicode);
    } catch (const std::invalid_argument& e) {
      r.fail(path + ".pattern", e.what());
    }
  } else {
    r.fail(path + ".type", fmt::format("\"{}\" is not supported; expected ByteLevel, Digits, Split or Sequence", type));
  }
  steps.push_back(std::move(step));
}

// The begin token's id: config.json's bos_token_id (else eos_token_id) beside tokenizer.json, else
// tokenizer_config.json's bos_token, else -1.
int32_t begin_token(const fs::path& dir, const std::vector<std::pair<std::string, int32_t>>& added) {
  if (fs::is_regular_file(dir / "config.json")) {
    const auto config = read_json_file(dir / "config.json");
    for (const char* key : {"bos_token_id", "eos_token_id"})
      if (auto it = config.find(key); it != config.end() && !it->is_null())
        return it->is_array() ? it->front().get<int32_t>() : it->get<int32_t>();
  }
  if (fs::is_regular_file(dir / "tokenizer_config.json")) {
    const auto config = read_json_file(dir / "tokenizer_config.json");
    for (const char* key : {"bos_token", "eos_token"}) {
      auto it = config.find(key);
      if (it == config.end() || it->is_null()) continue;
      const std::string content = it->is_object() ? it->value("content", "") : it->get<std::string>();
      for (const auto& [text, id] : added)
        if (text == content) return id;
    }
  }
  return -1;
}

int64_t configured_vocab(const fs::path& dir) {
  if (!fs::is_regular_file(dir / "config.json")) return 0;
  const auto config = read_json_file(dir / "config.json");
  auto it = config.find("vocab_size");
  return it != config.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

HfTokenizer::HfTokenizer(const fs::path& dir) {
  const fs::path file = dir / "tokenizer.json";
  if (!fs::is_regular_file(file))
    throw RuntimeError(fmt::format("'{}' is missing (data.hf.path names the directory holding tokenizer.json)", file.string()));
  const JsonReader r{file};
  const nlohmann::json json = read_json_file(file);
  if (json.contains("normalizer") && !json.at("normalizer").is_null())
    r.fail("normalizer", fmt::format("{} is not supported (only byte-level BPE without a normalizer)",
                                     json.at("normalizer").dump().substr(0, 80)));
  const auto& model = json.at("model");
  if (model.value("type", "") != "BPE")
    r.fail("model.type", fmt::format("\"{}\" is not supported; expected \"BPE\"", model.value("type", "")));
  r.require(model, "model", "dropout", nullptr);
  r.require(model, "model", "byte_fallback", false);
  r.require(model, "model", "continuing_subword_prefix", "");
  r.require(model, "model", "end_of_word_suffix", "");

  std::unordered_map<std::string, int32_t> vocab;
  int64_t max_id = -1;
  for (const auto& [token, id] : model.at("vocab").items()) {
    vocab[token] = id.get<int32_t>();
    max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  }
  std::vector<std::string> merges;
  for (const auto& m : model.at("merges"))
    merges.push_back(m.is_array() ? m.at(0).get<std::string>() + " " + m.at(1).get<std::string>() : m.get<std::string>());

  size_t i = 0;
  for (const auto& t : json.value("added_tokens", nlohmann::json::array())) {
    const std::string path = fmt::format("added_tokens[{}]", i++);
    for (const char* flag : {"single_word", "lstrip", "rstrip"}) r.require(t, path, flag, false);
    const int32_t id = t.at("id").get<int32_t>();
    if (t.at("content").get<std::string>().empty()) r.fail(path + ".content", "is empty");
    added_.emplace_back(t.at("content").get<std::string>(), id);
    id_to_bytes_[id] = t.at("content").get<std::string>();
    special_[id] = t.value("special", false);
    max_id = std::max<int64_t>(max_id, id);
  }
  std::stable_sort(added_.begin(), added_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });

  bool byte_level = false;
  if (json.contains("pre_tokenizer") && !json.at("pre_tokenizer").is_null())
    add_pre_tokenizer(json.at("pre_tokenizer"), "pre_tokenizer", r, steps_, byte_level);
  if (!byte_level)
    r.fail("pre_tokenizer", "has no ByteLevel step; only byte-level BPE tokenizers are supported");
  for (const auto& [token, id] : vocab) {
    if (id_to_bytes_.count(id)) continue;  // an added token's entry
    std::string bytes;
    if (!unicode_to_bytes(token, bytes))
      r.fail("model.vocab", fmt::format("token '{}' is not in the byte-level alphabet", token));
    id_to_bytes_[id] = bytes;
  }
  bpe_ = std::make_unique<ByteLevelBpe>(std::move(vocab), merges, model.value("ignore_merges", false));
  vocab_size_ = std::max(max_id + 1, configured_vocab(dir));
  begin_ = begin_token(dir, added_);
  if (begin_ < 0)
    throw RuntimeError(fmt::format("{}: no begin/end token: config.json beside it has no bos_token_id or eos_token_id, "
                                   "and tokenizer_config.json no bos_token or eos_token among the added tokens",
                                   file.string()));
  cache_key_ = fmt::format("hf-{}-bos{}", digest_file(file).sha256.substr(0, 16), begin_);
}

HfTokenizer::~HfTokenizer() = default;

void HfTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<std::string> pieces = {std::string(text)};
  try {
    for (const auto& step : steps_) step->apply(pieces);
  } catch (const std::invalid_argument& e) {
    throw RuntimeError(fmt::format("hf tokenizer: {}", e.what()));
  }
  for (const auto& piece : pieces) bpe_->encode_piece(piece, out);
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  // Next occurrence of each added token at or after `at` (npos: none left); the earliest wins, then the longest.
  std::vector<size_t> next;
  for (const auto& token : added_) next.push_back(text.find(token.first));
  size_t at = 0;
  while (at < text.size()) {
    size_t best = std::string_view::npos, which = 0;
    for (size_t k = 0; k < added_.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < at) next[k] = text.find(added_[k].first, at);
      if (next[k] < best) best = next[k], which = k;
    }
    if (best == std::string_view::npos) {
      encode_plain(text.substr(at), out);
      break;
    }
    if (best > at) encode_plain(text.substr(at, best - at), out);
    out.push_back(added_[which].second);
    at = best + added_[which].first.size();
  }
  return out;
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    auto it = id_to_bytes_.find(id);
    if (it == id_to_bytes_.end()) throw RuntimeError(fmt::format("hf tokenizer: id {} is not in the vocabulary", id));
    out += it->second;
  }
  return out;
}

int64_t HfTokenizer::token_bytes(int32_t id) const {
  if (auto s = special_.find(id); s != special_.end() && s->second) return 0;
  auto it = id_to_bytes_.find(id);
  return it == id_to_bytes_.end() ? 0 : int64_t(it->second.size());
}

namespace {
const bool hf_options_registered = register_options<HfTokenizerOptions>("hf", OptionsScope::data);
const bool hf_registered = tokenizer_registry().add(
    "hf", {"a Hugging Face tokenizer.json (byte-level BPE) from data.hf.path, BOS from the checkpoint's config.json",
           [](const DataConfig& data, const Corpus&) -> std::unique_ptr<Tokenizer> {
             const auto& options = data.components.get<HfTokenizerOptions>("hf");
             if (options.path.empty())
               throw ConfigError("data.hf.path: expected the directory holding tokenizer.json (data.tokenizer is hf)");
             return std::make_unique<HfTokenizer>(resolve_config_path(options.path));
           }});
}  // namespace

}  // namespace oasis
