#!/usr/bin/env python3
"""gguf_to_hf.py's weights against transformers' own GGUF loader (an independent dequantization and q/k
un-permutation): every tensor of OUT_DIR/model.safetensors must equal what
AutoModelForCausalLM.from_pretrained(gguf_file=...) builds. transformers' GGUF path imports accelerate, which
the lm-eval environment has: run it with that python.

usage: $(tools/hf/lm_eval_env.sh) tools/hf/check_gguf_against_transformers.py MODEL.gguf OUT_DIR
"""
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    source, converted = sys.argv[1], sys.argv[2]
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    theirs = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(source)),
                                                  gguf_file=os.path.basename(source), dtype=torch.float32).state_dict()
    ours = load_file(os.path.join(converted, "model.safetensors"))
    worst, missing = 0.0, [n for n in ours if n not in theirs]
    for name, tensor in ours.items():
        if name in theirs:
            worst = max(worst, (tensor - theirs[name]).abs().max().item())
    print(f"{len(ours)} tensors; missing in transformers' model: {missing}; max |difference| {worst:.3g}")
    sys.exit(0 if worst == 0.0 and not missing else 1)


if __name__ == "__main__":
    main()
