// Tensor names and layouts between Hugging Face's Llama (model.layers.i.self_attn.q_proj.weight, ...) and
// ours (blocks.i.attn.wqkv.weight, ...). The layouts agree except that our attention has one fused
// projection: wqkv = [q_proj; k_proj; v_proj] (rows), and both rotate the "half" layout, so no row of q or k is
// permuted. Tied embeddings are stored once (model.embed_tokens.weight), as save_pretrained does.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "framework/core/config.h"

namespace oasis {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Our standard model's tensors from a Hugging Face state dict. Every HF tensor must be used and every one of
// ours found, with the shapes `model` implies; the first that is not is an error naming it.
NamedTensors ours_from_hf(const std::map<std::string, at::Tensor>& hf, const ModelConfig& model, int64_t vocab_size);

// The inverse: Hugging Face names (sorted, as save_pretrained writes them) from our standard model's tensors.
NamedTensors hf_from_ours(const std::map<std::string, at::Tensor>& ours, const ModelConfig& model);

// Copies `tensors` into `module`'s parameters (converted to their dtype) after checking that the names are
// exactly the module's and every shape matches; the first mismatch is an error naming the tensor.
void load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors, const std::string& source);

}  // namespace oasis
