#!/usr/bin/env python3
"""A llama.cpp GGUF file (Llama architecture) as a Hugging Face checkpoint directory, with the `gguf` package.

  gguf_to_hf.py MODEL.gguf OUT_DIR

Every tensor is dequantized by gguf-py to float32 (so the weights keep the GGUF's quantization grid: Q4_1 blocks
of 32 values share a scale and a minimum, Q8_0 blocks a scale), renamed to transformers' Llama names, and q/k are
un-permuted (llama.cpp's converter interleaves the two rotary halves of each head; transformers rotates halves).
config.json comes from the GGUF metadata, tokenizer.json from transformers' GGUF tokenizer converter. A tensor of
a quantization type gguf-py cannot dequantize is an error naming it (exit 2); OUT_DIR appears only when complete.
"""
import hashlib
import json
import os
import shutil
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def unpermute(w, heads):
    """The inverse of llama.cpp's permute(): rows (head, pair, half) back to (head, half, pair)."""
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    if len(sys.argv) != 3:
        fail("usage: gguf_to_hf.py MODEL.gguf OUT_DIR")
    source, out = sys.argv[1], sys.argv[2]
    import numpy as np
    import torch
    import gguf
    from gguf.quants import dequantize
    from safetensors.torch import save_file

    try:
        reader = gguf.GGUFReader(source)
    except Exception as e:  # a truncated or foreign file
        fail(f"{source}: not a readable GGUF file: {e}")
    arch = field(reader, "general.architecture")
    if arch != "llama":
        fail(f"{source}: general.architecture is {arch!r}; only 'llama' is supported")
    heads = int(field(reader, "llama.attention.head_count"))
    kv_heads = int(field(reader, "llama.attention.head_count_kv", heads))
    supported = {gguf.GGMLQuantizationType[n] for n in ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                                           "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")}
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per_layer = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                 "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                 "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
    tensors, types = {}, {}
    for t in reader.tensors:
        if t.tensor_type not in supported:
            fail(f"{source}: tensor {t.name} has quantization type {t.tensor_type.name}, which this converter does not "
                 f"dequantize (supported: {', '.join(sorted(s.name for s in supported))})")
        parts = t.name.split(".")
        if t.name in names:
            name = names[t.name]
        elif parts[0] == "blk" and parts[2] in per_layer:
            name = f"model.layers.{parts[1]}.{per_layer[parts[2]]}.weight"
        else:
            fail(f"{source}: tensor {t.name} has no Llama counterpart")
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(list(reversed(t.shape.tolist())))
        if parts[-2] == "attn_q":
            w = unpermute(w, heads)
        elif parts[-2] == "attn_k":
            w = unpermute(w, kv_heads)
        tensors[name] = torch.from_numpy(np.array(w, dtype=np.float32, order="C"))
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    tied = "lm_head.weight" not in tensors
    vocab, hidden = tensors["model.embed_tokens.weight"].shape
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": int(hidden), "intermediate_size": int(field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(field(reader, "llama.block_count")), "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "head_dim": int(hidden) // heads, "hidden_act": "silu",
        "max_position_embeddings": int(field(reader, "llama.context_length")),
        "rms_norm_eps": float(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(field(reader, "llama.rope.freq_base", 10000.0)), "rope_scaling": None,
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": tied, "vocab_size": int(vocab),
        "bos_token_id": field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_token_id": field(reader, "tokenizer.ggml.eos_token_id"), "torch_dtype": "float32",
    }
    staging = out + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    save_file(dict(sorted(tensors.items())), os.path.join(staging, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(staging, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    from transformers import AutoTokenizer  # its GGUF converter rebuilds tokenizer.json from the GGUF vocabulary
    AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(source)),
                                  gguf_file=os.path.basename(source)).save_pretrained(staging)
    # The converter writes a plain ByteLevel pre-tokenizer whatever tokenizer.ggml.pre says; llama.cpp's "smollm"
    # first isolates every \p{N} character, which is tokenizers' Digits(individual_digits=True).
    pre = field(reader, "tokenizer.ggml.pre", "default")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    pre_tokenizers = {"default": byte_level, "gpt2": byte_level,
                      "smollm": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                                                       byte_level]}}
    if pre not in pre_tokenizers:
        fail(f"{source}: tokenizer.ggml.pre is {pre!r}; known: {', '.join(pre_tokenizers)}")
    tokenizer_file = os.path.join(staging, "tokenizer.json")
    with open(tokenizer_file, encoding="utf-8") as f:
        tokenizer = json.load(f)
    tokenizer["pre_tokenizer"] = pre_tokenizers[pre]
    with open(tokenizer_file, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
    with open(os.path.join(staging, "SOURCE.json"), "w") as f:
        json.dump({"gguf": os.path.basename(source), "sha256": digest, "tensor_types": types,
                   "note": "float32 weights dequantized by gguf-py: they sit on the GGUF's quantization grid"}, f, indent=2)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(staging, out)
    print(f"{source} -> {out}: {len(tensors)} tensors ({types}), tied embeddings: {tied}")


if __name__ == "__main__":
    main()
