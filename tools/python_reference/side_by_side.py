"""Ours against PyTorch on the same CPU, the same torch (the .venv wheel: our LibTorch is its LibTorch) and
the same thread count, interleaved: each round measures every preset with `oasis bench`, then PyTorch eager,
then PyTorch under torch.compile, training step and forward-only evaluation step, so the machine's slow
phases hit all of them alike. Prints one markdown row per (round, preset) and the medians over rounds;
--json FILE keeps every measurement.

usage: .venv/bin/python tools/python_reference/side_by_side.py [--rounds 3] [--threads 2] [--steps 10]
       [--warmup 3] [--presets standard,attnres,oasis] [--oasis build/oasis] [--json FILE]
The size is configs/bench/cpu.yaml (d_model 256, 6 layers, 4 heads, seq 256, batch 8, vocabulary 4,096).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODES = [("eager", []), ("compile", ["--compile"])]


def ours(oasis, preset, a):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([oasis, "bench", os.path.join(ROOT, "configs/bench/cpu.yaml"), f"threads={a.threads}",
                        "--presets", preset, "--steps", str(a.steps), "--warmup", str(a.warmup), "--eval-schemes", "fp",
                        "--decode-tokens", "0", "--out", out.name], check=True, capture_output=True)
        row = json.load(open(out.name))[0]
    return {"train_ms": row["median_step_ms"], "eval_ms": row["eval"]["fp"]["median_ms"]}


def python(preset, flags, kind, a):
    command = [sys.executable, os.path.join(HERE, "train_step.py"), "--preset", preset, "--threads", str(a.threads),
               "--steps", str(a.steps), "--warmup", str(a.warmup), "--json"] + flags + (["--eval"] if kind == "eval" else [])
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--presets", default="standard,attnres,oasis")
    p.add_argument("--oasis", default=os.path.join(ROOT, "build/oasis"))
    p.add_argument("--json", help="write every measurement here")
    a = p.parse_args()
    presets = a.presets.split(",")
    records = []
    print("| round | preset | ours train ms | eager train ms | compile train ms | ours eval ms | eager eval ms | compile eval ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in range(a.rounds):
        for preset in presets:
            rec = {"round": r, "preset": preset, "ours": ours(a.oasis, preset, a)}
            for mode, flags in MODES:
                for kind in ("train", "eval"):
                    rec[f"{mode}_{kind}"] = python(preset, flags, kind, a)
            records.append(rec)
            print(f"| {r} | {preset} | {rec['ours']['train_ms']:.1f} | {rec['eager_train']['median_ms']:.1f} | "
                  f"{rec['compile_train']['median_ms']:.1f} | {rec['ours']['eval_ms']:.1f} | "
                  f"{rec['eager_eval']['median_ms']:.1f} | {rec['compile_eval']['median_ms']:.1f} |", flush=True)
    print("\nmedians over rounds (ms; ratio = PyTorch / ours, > 1 means ours is faster)\n")
    print("| preset | ours train | eager | ratio | compile | ratio | ours eval | eager | ratio | compile | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for preset in presets:
        rows = [x for x in records if x["preset"] == preset]
        med = lambda f: statistics.median(f(x) for x in rows)
        ot, oe = med(lambda x: x["ours"]["train_ms"]), med(lambda x: x["ours"]["eval_ms"])
        cells = []
        for kind, base in (("train", ot), ("eval", oe)):
            cells.append(f"{base:.1f}")
            for mode, _ in MODES:
                m = med(lambda x: x[f"{mode}_{kind}"]["median_ms"])
                cells += [f"{m:.1f}", f"{m / base:.2f}x"]
        print(f"| {preset} | " + " | ".join(cells) + " |")
    if a.json:
        json.dump(records, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
