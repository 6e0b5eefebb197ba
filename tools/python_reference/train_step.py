"""Times the training step (or, with --eval, a forward-only evaluation step) of the `standard`, `attnres`,
`attnres-softmax1` or `oasis` preset in Python PyTorch, eager or under torch.compile, to hold against `oasis
bench` on the same machine (ours must not be slower). The models are framework/model's (models.py); the step
is the C++ one (framework/run/bench.cpp, SpeedTrial::step_ms): gradients cleared, cross-entropy, backward,
global-norm clip 1.0, AdamW (lr 1e-3, betas 0.9/0.95, eps 1e-8, decay 0.1 on matrices only, not the
embedding) as multi-tensor updates like MultiTensorAdamW. The evaluation step is SpeedTrial::eval_ms: the
forward pass under no_grad, the loss left out. The default size is configs/bench/cpu.yaml with
data/wikitext2-spm's vocabulary; tokens are random, which the step time does not depend on.

--compile compiles the model (torch.compile, default mode, inductor); the loss, backward driver and
optimizer stay eager. Compilation happens in the first warm-up step, whose time is reported apart.

usage: .venv/bin/python tools/python_reference/train_step.py [--preset standard|attnres|attnres-softmax1|oasis]
       [--compile] [--eval] [--attention fused|written] [--json] [--threads 2] [--steps 20] [--warmup 3]
       [--d-model 256] [--layers 6] [--heads 4] [--seq 256] [--batch 8] [--vocab 4096]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from models import PRESETS, Transformer


def make_optimizer(model):
    # framework/train/optimizer.cpp: matrices decay; vectors, scalars and the embedding do not.
    decay, other = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed" not in name else other).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="standard")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (default mode)")
    parser.add_argument("--eval", action="store_true", help="time a forward-only step under no_grad")
    parser.add_argument("--attention", choices=["fused", "written"], default="fused",
                        help="fused: one scaled_dot_product_attention call, as the C++ attention_kernel auto "
                             "(= fused); written: scores -> normalizer -> weighted sum")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the line")
    for name, default in [("threads", 2), ("steps", 20), ("warmup", 3), ("d-model", 256), ("layers", 6), ("heads", 4),
                          ("seq", 256), ("batch", 8), ("vocab", 4096)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    a = parser.parse_args()
    if a.compile and a.warmup < 1:
        parser.error("--compile needs --warmup >= 1: the first warm-up step compiles")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Transformer(a.preset, a.vocab, a.d_model, a.layers, a.heads, a.seq, fused=a.attention == "fused")
    params = sum(p.numel() for p in model.parameters())
    forward = torch.compile(model) if a.compile else model
    if a.eval:
        model.eval()
    else:
        optimizer = make_optimizer(model)

    def train_step(tokens):
        optimizer.zero_grad()  # gradients to None, as the C++ clear_gradients
        logits = forward(tokens[:, :-1])
        F.cross_entropy(logits.reshape(-1, a.vocab), tokens[:, 1:].reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def eval_step(tokens):
        with torch.no_grad():
            forward(tokens[:, :-1])

    step = eval_step if a.eval else train_step
    times = []
    for i in range(a.warmup + a.steps):
        tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1))
        t0 = time.perf_counter()
        step(tokens)
        times.append(time.perf_counter() - t0)
    ms = 1000 * statistics.median(times[a.warmup:])
    tokens_per_s = a.batch * a.seq / (ms / 1000)
    mode, kind = ("compile" if a.compile else "eager"), ("eval" if a.eval else "train")
    first_s = round(times[0], 2) if a.compile else None  # compilation plus one step
    if a.json:
        print(json.dumps({"preset": a.preset, "mode": mode, "kind": kind, "attention": a.attention,
                          "threads": a.threads, "params": params, "median_ms": round(ms, 3),
                          "tokens_per_s": round(tokens_per_s, 1), "compile_s": first_s,
                          "torch": torch.__version__}))
        return
    compiled = f" | first step (compilation) {first_s:.1f} s" if a.compile else ""
    print(f"python torch {torch.__version__} | {a.preset} | {mode} | {kind} | attention {a.attention} | "
          f"parameters {params} | threads {a.threads} | median {kind} step {ms:.1f} ms | {tokens_per_s:.0f} tokens/s"
          f"{compiled}")


if __name__ == "__main__":
    main()
