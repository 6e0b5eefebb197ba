#!/usr/bin/env python3
"""Forward-only evaluation speed of a pretrained model, ours against transformers on the same torch wheel (our
LibTorch is its LibTorch), the same threads and the same batches (B windows of T tokens, fp32), interleaved:
each round runs `oasis bench --forward-only`, then transformers eager, then transformers under torch.compile,
so the machine's slow phases hit all three alike. Peak memory is each process's own (wait4's ru_maxrss).
Prints a markdown row per round and the medians; --json FILE keeps every measurement.

usage: .venv/bin/python tools/hf/side_by_side_eval.py [--rounds 3] [--steps 3] [--warmup 1]
       [--config configs/bench/smollm2-eval.yaml] [--hf .cache/models/SmolLM2-135M-Instruct] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measured(command):
    """Runs `command`; returns its stdout and peak resident memory in MB."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(command)}")
        out.seek(0)
        return out.read().decode(), usage.ru_maxrss / 1024


def ours(a):
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        _, rss = measured([a.oasis, "bench", a.config, "--presets", "standard", "--forward-only", "--eval-schemes", "fp",
                           "--decode-tokens", "0", "--steps", str(a.steps), "--warmup", str(a.warmup), "--out", result.name])
        record = json.load(open(result.name))[0]["eval"]["fp"]
    return {"median_ms": record["median_ms"], "tokens_per_s": record["tokens_per_s"], "peak_rss_mb": rss}


def transformers(a, compiled):
    command = [sys.executable, os.path.join(ROOT, "tools/hf/eval_speed.py"), a.hf, "--batch", "4", "--seq", "512",
               "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", "2"] + (["--compile"] if compiled else [])
    stdout, rss = measured(command)
    record = json.loads(stdout.strip().splitlines()[-1])
    return {"median_ms": record["median_ms"], "tokens_per_s": record["tokens_per_s"], "peak_rss_mb": rss}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--config", default="configs/bench/smollm2-eval.yaml")
    parser.add_argument("--hf", default=".cache/models/SmolLM2-135M-Instruct")
    parser.add_argument("--oasis", default="build/oasis")
    parser.add_argument("--json")
    a = parser.parse_args()
    kinds = [("oasis", lambda: ours(a)), ("transformers eager", lambda: transformers(a, False)),
             ("transformers torch.compile", lambda: transformers(a, True))]
    rows = {name: [] for name, _ in kinds}
    print("| round | implementation | forward ms (median) | tokens/s | peak RSS MB |\n|---|---|---|---|---|")
    for r in range(a.rounds):
        for name, run in kinds:
            m = run()
            rows[name].append(m)
            print(f"| {r + 1} | {name} | {m['median_ms']:.0f} | {m['tokens_per_s']:.0f} | {m['peak_rss_mb']:.0f} |",
                  flush=True)
    print("\n| implementation | tokens/s (median of rounds) | vs transformers eager | peak RSS MB (median) |\n|---|---|---|---|")
    eager = statistics.median(m["tokens_per_s"] for m in rows["transformers eager"])
    for name, _ in kinds:
        rate = statistics.median(m["tokens_per_s"] for m in rows[name])
        print(f"| {name} | {rate:.0f} | {rate / eager:.2f}x | {statistics.median(m['peak_rss_mb'] for m in rows[name]):.0f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
