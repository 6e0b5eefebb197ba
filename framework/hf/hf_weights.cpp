#include "framework/hf/hf_weights.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "framework/core/errors.h"
#include "framework/model/transformer.h"

namespace oasis {

namespace {

std::string shape_of(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

// One (ours, theirs) name pair per tensor that maps one to one.
std::vector<std::pair<std::string, std::string>> plain_names(const ModelConfig& m) {
  std::vector<std::pair<std::string, std::string>> out = {{"embed.weight", "model.embed_tokens.weight"},
                                                          {"final_norm.weight", "model.norm.weight"}};
  if (!m.tie_embeddings) out.emplace_back("lm_head.weight", "lm_head.weight");
  for (int64_t i = 0; i < m.n_layers; ++i) {
    const std::string o = fmt::format("blocks.{}.", i), h = fmt::format("model.layers.{}.", i);
    out.emplace_back(o + "attn_norm.weight", h + "input_layernorm.weight");
    out.emplace_back(o + "attn.wo.weight", h + "self_attn.o_proj.weight");
    out.emplace_back(o + "mlp_norm.weight", h + "post_attention_layernorm.weight");
    out.emplace_back(o + "mlp.w_gate.weight", h + "mlp.gate_proj.weight");
    out.emplace_back(o + "mlp.w_up.weight", h + "mlp.up_proj.weight");
    out.emplace_back(o + "mlp.w_down.weight", h + "mlp.down_proj.weight");
  }
  return out;
}

const char* const kProjections[] = {"q_proj", "k_proj", "v_proj"};

}  // namespace

NamedTensors ours_from_hf(const std::map<std::string, at::Tensor>& hf, const ModelConfig& m, int64_t vocab_size) {
  std::set<std::string> used;
  auto take = [&](const std::string& name, std::vector<int64_t> shape) {
    auto it = hf.find(name);
    if (it == hf.end()) throw RuntimeError(fmt::format("checkpoint has no tensor '{}'", name));
    if (!it->second.sizes().equals(shape))
      throw RuntimeError(fmt::format("tensor '{}' is {} in the checkpoint; config.json implies [{}]", name,
                                     shape_of(it->second), fmt::join(shape, ", ")));
    used.insert(name);
    return it->second.to(at::kFloat);
  };
  const int64_t d = m.d_model, hd = m.head_size(), ff = swiglu_hidden(m);
  auto shape_of_ours = [&](const std::string& ours) -> std::vector<int64_t> {
    if (ours == "embed.weight" || ours == "lm_head.weight") return {vocab_size, d};
    if (ours.find("norm.weight") != std::string::npos) return {d};
    if (ours.find("attn.wo") != std::string::npos) return {d, m.n_heads * hd};
    if (ours.find("w_down") != std::string::npos) return {d, ff};
    return {ff, d};  // w_gate, w_up
  };
  NamedTensors out;
  for (const auto& [ours, theirs] : plain_names(m)) out.emplace_back(ours, take(theirs, shape_of_ours(ours)));
  for (int64_t i = 0; i < m.n_layers; ++i) {
    std::vector<at::Tensor> parts;
    const int64_t heads[] = {m.n_heads, m.kv_heads(), m.kv_heads()};
    for (int j = 0; j < 3; ++j)
      parts.push_back(take(fmt::format("model.layers.{}.self_attn.{}.weight", i, kProjections[j]), {heads[j] * hd, d}));
    out.emplace_back(fmt::format("blocks.{}.attn.wqkv.weight", i), torch::cat(parts, 0));
  }
  // Tied checkpoints may still carry lm_head.weight; it must then be the embedding.
  if (m.tie_embeddings)
    if (auto it = hf.find("lm_head.weight"); it != hf.end()) {
      if (!it->second.to(at::kFloat).equal(out.front().second))
        throw RuntimeError("config.json ties the embeddings, but lm_head.weight differs from model.embed_tokens.weight");
      used.insert("lm_head.weight");
    }
  for (const auto& [name, tensor] : hf)
    if (!used.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos)
      throw RuntimeError(fmt::format("checkpoint tensor '{}' {} has no counterpart in the model (biases and other extra "
                                     "parameters are not modelled)",
                                     name, shape_of(tensor)));
  return out;
}

NamedTensors hf_from_ours(const std::map<std::string, at::Tensor>& ours, const ModelConfig& m) {
  auto get = [&](const std::string& name) {
    auto it = ours.find(name);
    if (it == ours.end()) throw RuntimeError(fmt::format("the model has no tensor '{}'", name));
    return it->second;
  };
  std::map<std::string, at::Tensor> hf;
  for (const auto& [o, h] : plain_names(m)) hf[h] = get(o);
  const int64_t hd = m.head_size();
  for (int64_t i = 0; i < m.n_layers; ++i) {
    const auto wqkv = get(fmt::format("blocks.{}.attn.wqkv.weight", i));
    const int64_t rows[] = {m.n_heads * hd, m.kv_heads() * hd, m.kv_heads() * hd};
    int64_t start = 0;
    for (int j = 0; j < 3; ++j) {
      hf[fmt::format("model.layers.{}.self_attn.{}.weight", i, kProjections[j])] = wqkv.narrow(0, start, rows[j]);
      start += rows[j];
    }
  }
  return NamedTensors(hf.begin(), hf.end());
}

void load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors, const std::string& source) {
  auto params = module.named_parameters();
  std::set<std::string> given;
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : tensors) {
    auto* p = params.find(name);
    if (!p) throw RuntimeError(fmt::format("{}: tensor '{}' has no parameter of that name in the model", source, name));
    if (!p->sizes().equals(tensor.sizes()))
      throw RuntimeError(fmt::format("{}: tensor '{}' is {}, the model's parameter is {}", source, name, shape_of(tensor),
                                     shape_of(*p)));
    p->copy_(tensor.to(p->scalar_type()));
    given.insert(name);
  }
  for (const auto& p : params)
    if (!given.count(p.key())) throw RuntimeError(fmt::format("{}: no tensor for the model's parameter '{}'", source, p.key()));
}

}  // namespace oasis
