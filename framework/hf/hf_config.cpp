#include "framework/hf/hf_config.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/model/transformer.h"

namespace oasis {
namespace fs = std::filesystem;

namespace {

const std::set<std::string> kArchitectures = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};
// Keys that describe the file or the training run, not the function the model computes.
const std::set<std::string> kInformational = {
    "initializer_range", "dtype", "torch_dtype", "transformers_version", "use_cache", "pad_token_id", "_name_or_path",
    "max_window_layers", "tokenizer_class", "output_attentions", "output_hidden_states", "return_dict",
    "is_llama_config", "rope_interleaved", "transformers.js_config", "bos_token_id", "eos_token_id", "model_type",
    "architectures", "layer_types"};

struct Reader {
  const nlohmann::json& json;
  fs::path file;
  std::set<std::string> used;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw RuntimeError(fmt::format("{}: {}: {}", file.string(), key, what));
  }
  const nlohmann::json* find(const std::string& key) {
    used.insert(key);
    auto it = json.find(key);
    return it == json.end() ? nullptr : &*it;
  }
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) {
    const auto* v = find(key);
    if (!v || v->is_null()) {
      if (fallback) return *fallback;
      fail(key, "missing; expected an integer");
    }
    if (!v->is_number_integer() || v->get<int64_t>() < 1) fail(key, fmt::format("expected a positive integer, got {}", v->dump()));
    return v->get<int64_t>();
  }
  double number(const std::string& key, std::optional<double> fallback = std::nullopt) {
    const auto* v = find(key);
    if (!v || v->is_null()) {
      if (fallback) return *fallback;
      fail(key, "missing; expected a number");
    }
    if (!v->is_number()) fail(key, fmt::format("expected a number, got {}", v->dump()));
    return v->get<double>();
  }
  // A key whose only value we model: absent, null or `expected` is fine; anything else is an error.
  void require(const std::string& key, const nlohmann::json& expected, const std::string& why) {
    const auto* v = find(key);
    if (!v || v->is_null() || *v == expected) return;
    fail(key, fmt::format("{} is not supported ({}); expected {}", v->dump(), why, expected.dump()));
  }
  std::optional<int64_t> token_id(const std::string& key) {
    const auto* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_array() && !v->empty()) v = &v->front();  // a list of end tokens: the first is the document end
    if (!v->is_number_integer()) fail(key, fmt::format("expected a token id, got {}", v->dump()));
    return v->get<int64_t>();
  }
};

}  // namespace

HfModelConfig read_hf_config(const fs::path& config_json) {
  if (!fs::is_regular_file(config_json))
    throw RuntimeError(fmt::format("'{}' is missing: a Hugging Face checkpoint directory holds config.json",
                                   config_json.string()));
  const nlohmann::json json = read_json_file(config_json);
  if (!json.is_object()) throw RuntimeError(fmt::format("{}: expected a JSON object", config_json.string()));
  Reader r{json, config_json, {}};
  HfModelConfig out;
  const auto* arch = r.find("architectures");
  if (!arch || !arch->is_array() || arch->size() != 1 || !arch->front().is_string() ||
      !kArchitectures.count(arch->front().get<std::string>()))
    r.fail("architectures", fmt::format("{} is not supported; expected one of [{}]", arch ? arch->dump() : "missing",
                                        fmt::join(kArchitectures, ", ")));
  out.architecture = arch->front().get<std::string>();

  ModelConfig& m = out.model;
  m.preset = "standard";
  m.d_model = r.integer("hidden_size");
  m.n_layers = r.integer("num_hidden_layers");
  m.n_heads = r.integer("num_attention_heads");
  m.n_kv_heads = r.integer("num_key_value_heads", m.n_heads);
  const int64_t derived_head = m.d_model / m.n_heads;
  const int64_t head_dim = r.integer("head_dim", derived_head);
  m.head_dim = head_dim == derived_head && m.d_model % m.n_heads == 0 ? 0 : head_dim;
  m.d_ff = r.integer("intermediate_size");
  m.max_seq_len = r.integer("max_position_embeddings");
  m.norm_eps = r.number("rms_norm_eps");
  m.tie_embeddings = false;
  if (const auto* tie = r.find("tie_word_embeddings")) {
    if (!tie->is_boolean()) r.fail("tie_word_embeddings", "expected true or false");
    m.tie_embeddings = tie->get<bool>();
  }
  out.vocab_size = r.integer("vocab_size");
  out.bos_token_id = r.token_id("bos_token_id");
  out.eos_token_id = r.token_id("eos_token_id");

  // RoPE: transformers 5 writes rope_parameters {rope_type, rope_theta}; older files rope_theta and rope_scaling.
  m.rope_theta = r.number("rope_theta", 10000.0);
  if (const auto* rope = r.find("rope_parameters"); rope && !rope->is_null()) {
    for (const auto& [key, value] : rope->items()) {
      if (key == "rope_theta") {
        m.rope_theta = value.get<double>();
      } else if (key == "rope_type" || key == "type") {
        if (value != "default") r.fail("rope_parameters.rope_type", fmt::format("{} is not supported (rope scaling is not modelled); expected \"default\"", value.dump()));
      } else {
        r.fail("rope_parameters." + key, "is not supported (rope scaling is not modelled)");
      }
    }
  }
  if (const auto* scaling = r.find("rope_scaling"); scaling && !scaling->is_null()) {
    const bool plain = scaling->is_object() && scaling->size() == 1 && scaling->value("rope_type", scaling->value("type", "")) == "default";
    if (!plain) r.fail("rope_scaling", fmt::format("{} is not supported (rope scaling is not modelled); expected null", scaling->dump()));
  }
  r.require("hidden_act", "silu", "the MLP is SwiGLU with SiLU");
  r.require("attention_bias", false, "the attention projections have no biases");
  r.require("mlp_bias", false, "the MLP projections have no biases");
  r.require("pretraining_tp", 1, "tensor-parallel slicing of the MLP changes its rounding");
  r.require("attention_dropout", 0.0, "the model has no dropout");
  r.require("use_sliding_window", false, "attention covers the whole context");
  if (const auto* window = r.find("sliding_window"); window && !window->is_null()) {
    if (!window->is_number_integer() || window->get<int64_t>() < 1) r.fail("sliding_window", "expected a positive integer or null");
    const int64_t w = window->get<int64_t>();
    // A window as long as every sequence is full attention: the context is capped at it.
    if (w < m.max_seq_len) {
      out.note = fmt::format("sliding_window {} < max_position_embeddings {}: model.max_seq_len capped at {}, so every "
                             "sequence fits the window and attention is exact",
                             w, m.max_seq_len, w);
      m.max_seq_len = w;
    }
  }
  for (const auto& [key, value] : json.items())
    if (!r.used.count(key) && !kInformational.count(key))
      r.fail(key, fmt::format("unknown key (value {}); import-hf maps, checks or ignores every key and does not know "
                              "this one, so it cannot tell whether the model would compute the same function",
                              value.dump().substr(0, 80)));
  return out;
}

nlohmann::json llama_config_json(const ModelConfig& m, int64_t vocab_size, std::optional<int64_t> bos_token_id,
                                 std::optional<int64_t> eos_token_id) {
  auto id = [](std::optional<int64_t> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", m.d_model},
          {"intermediate_size", swiglu_hidden(m)},
          {"num_hidden_layers", m.n_layers},
          {"num_attention_heads", m.n_heads},
          {"num_key_value_heads", m.kv_heads()},
          {"head_dim", m.head_size()},
          {"hidden_act", "silu"},
          {"max_position_embeddings", m.max_seq_len},
          {"rms_norm_eps", m.norm_eps},
          {"rope_theta", m.rope_theta},
          {"rope_scaling", nullptr},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"tie_word_embeddings", m.tie_embeddings},
          {"vocab_size", vocab_size},
          {"bos_token_id", id(bos_token_id)},
          {"eos_token_id", id(eos_token_id)},
          {"torch_dtype", "float32"}};
}

}  // namespace oasis
