#!/usr/bin/env python3
"""transformers' forward-only evaluation speed on a Hugging Face directory, the counterpart of
`oasis bench CONFIG --forward-only` (docs/performance.md): batches of B windows of T tokens, fp32, no_grad,
eager attention or torch.compile, on `--threads` CPU threads. Prints the median forward time, tokens/s and the
process's peak resident memory as one JSON line.

usage: .venv/bin/python tools/hf/eval_speed.py DIR [--batch 4] [--seq 512] [--steps 3] [--warmup 1]
       [--threads 2] [--compile]
"""
import argparse
import json
import os
import resource
import statistics
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    a = parser.parse_args()
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(a.threads)
    model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32, attn_implementation="sdpa").eval()
    forward = torch.compile(model) if a.compile else model
    generator = torch.Generator().manual_seed(0)
    times = []
    with torch.no_grad():
        for step in range(a.warmup + a.steps):
            ids = torch.randint(0, model.config.vocab_size, (a.batch, a.seq), generator=generator)
            start = time.perf_counter()
            forward(ids)
            if step >= a.warmup:
                times.append(time.perf_counter() - start)
    ms = 1000 * statistics.median(times)
    print(json.dumps({"tool": "transformers", "mode": "compile" if a.compile else "eager", "median_ms": ms,
                      "tokens_per_s": a.batch * a.seq / (ms / 1000), "ms": [1000 * t for t in times],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
