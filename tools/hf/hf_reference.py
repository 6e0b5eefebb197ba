#!/usr/bin/env python3
"""Hugging Face's own libraries as the referee of import-hf, export-hf and data.tokenizer=hf (tests/hf/).

  tiny-llama OUT --text FILE [--tied] [--seed N]   a seeded tiny LlamaForCausalLM (GQA, explicit head_dim) and a
             [--mistral]                           byte-level BPE tokenizer.json trained on FILE by `tokenizers`;
                                                   --mistral: MistralForCausalLM with a 64-token sliding window
  logits DIR IN.json OUT.json [--greedy N]         transformers' fp32 logits for each id list in IN.json, and the
                                                   greedy continuation of the first one
  score DIR IN.json OUT.json                       per window {"inputs", "targets"} of IN.json: transformers' summed
                                                   NLL of the targets and its top-1 prediction at every position
  tokenize DIR IN.json OUT.json                    `tokenizers` ids (no special tokens added) of each string in IN.json
  bad-gguf OUT.gguf                                a GGUF whose one tensor has a type the converter refuses (IQ2_XXS)
  tokenizer-json KIND OUT [--text F] [--gpt2-dir D] another tokenizer.json for the tokenizer tests: gpt2 (GPT-2's
                                                   encoder.json/vocab.bpe) or split-regex (Llama 3's Split pattern,
                                                   ByteLevel without its regex, ignore_merges)

Nothing is downloaded: the model is built from a config, the tokenizer trained locally.
"""
import argparse
import json
import os

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def tiny_llama(args):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    with open(args.text, encoding="utf-8") as f:
        lines = f.read().splitlines()[: args.lines]
    tokenizer.train_from_iterator(lines, trainer)
    os.makedirs(args.out, exist_ok=True)
    tokenizer.save(os.path.join(args.out, "tokenizer.json"))

    torch.manual_seed(args.seed)
    sizes = dict(vocab_size=tokenizer.get_vocab_size(), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=24, max_position_embeddings=128,
                 rope_theta=5000.0, rms_norm_eps=1e-6, tie_word_embeddings=args.tied, bos_token_id=0, eos_token_id=0)
    if args.mistral:
        model = MistralForCausalLM(MistralConfig(sliding_window=64, **sizes))
    else:
        model = LlamaForCausalLM(LlamaConfig(**sizes))
    with torch.no_grad():  # larger than the 0.02 init, so the logits (and any mismatch) are far from uniform
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2)
            else:
                p.uniform_(0.5, 1.5)
    model.save_pretrained(args.out)


def logits(args):
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32, attn_implementation="eager").eval()
    with open(args.input) as f:
        prompts = json.load(f)
    out = {"logits": []}
    with torch.no_grad():
        for ids in prompts:
            out["logits"].append(model(torch.tensor([ids])).logits[0].tolist())
        if args.greedy:
            generated = model.generate(torch.tensor([prompts[0]]), max_new_tokens=args.greedy, do_sample=False,
                                       eos_token_id=None, pad_token_id=0)
            out["greedy"] = generated[0, len(prompts[0]):].tolist()
    with open(args.output, "w") as f:
        json.dump(out, f)


def score(args):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32, attn_implementation="eager").eval()
    with open(args.input) as f:
        windows = json.load(f)
    out = {"nll": [], "argmax": []}
    with torch.no_grad():
        for w in windows:
            logits = model(torch.tensor([w["inputs"]])).logits[0].double()
            targets = torch.tensor(w["targets"])
            out["nll"].append(torch.nn.functional.cross_entropy(logits, targets, reduction="sum").item())
            out["argmax"].append(logits.argmax(-1).tolist())
    with open(args.output, "w") as f:
        json.dump(out, f)


def tokenize(args):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(args.dir, "tokenizer.json"))
    with open(args.input, encoding="utf-8") as f:
        texts = json.load(f)
    ids = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    with open(args.output, "w") as f:
        json.dump(ids, f)


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def tokenizer_json(args):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    os.makedirs(args.out, exist_ok=True)
    if args.kind == "gpt2":
        tokenizer = Tokenizer(models.BPE.from_file(os.path.join(args.gpt2_dir, "encoder.json"),
                                                   os.path.join(args.gpt2_dir, "vocab.bpe")))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
        bos = tokenizer.token_to_id("<|endoftext|>")
    else:
        tokenizer = Tokenizer(models.BPE(ignore_merges=True))
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                      show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        with open(args.text, encoding="utf-8") as f:
            tokenizer.train_from_iterator(f.read().splitlines()[:4000], trainer)
        bos = tokenizer.token_to_id("<|begin_of_text|>")
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"bos_token_id": bos, "vocab_size": tokenizer.get_vocab_size()}, f)


def bad_gguf(args):
    import numpy as np
    import gguf

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_block_count(1)
    writer.add_uint32("llama.attention.head_count", 2)
    writer.add_tensor("token_embd.weight", np.zeros((4, 66), dtype=np.uint8),  # one 256-value IQ2_XXS block per row
                      raw_dtype=gguf.GGMLQuantizationType.IQ2_XXS)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tiny-llama")
    p.add_argument("out")
    p.add_argument("--text", required=True)
    p.add_argument("--lines", type=int, default=4000)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--tied", action="store_true")
    p.add_argument("--mistral", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=tiny_llama)
    def dir_in_out(name, run):  # the subcommands that read DIR and IN.json and write OUT.json
        p = sub.add_parser(name)
        for arg in ("dir", "input", "output"):
            p.add_argument(arg)
        p.set_defaults(run=run)
        return p

    dir_in_out("logits", logits).add_argument("--greedy", type=int, default=0)
    dir_in_out("score", score)
    dir_in_out("tokenize", tokenize)
    p = sub.add_parser("bad-gguf")
    p.add_argument("out")
    p.set_defaults(run=bad_gguf)
    p = sub.add_parser("tokenizer-json")
    p.add_argument("kind", choices=["gpt2", "split-regex"])
    p.add_argument("out")
    p.add_argument("--text")
    p.add_argument("--gpt2-dir")
    p.set_defaults(run=tokenizer_json)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
