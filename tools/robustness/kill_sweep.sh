#!/usr/bin/env bash
# Crash safety, measured: runs a small sweep once cleanly, then again while killing `oasis run` and every
# cell it started (kill -9 of the process group) at N random moments, reruns it to completion, and
# compares every cell's results.json with the clean run's. Prints the number of kills, cells lost or
# corrupted, and whether each cell's numbers are bit-identical. docs/robustness.md has a measured run.
#
# usage: [MAX_DELAY=4] tools/robustness/kill_sweep.sh [KILLS=20] [SEED=1]   (repository root, after `make build`)
set -euo pipefail
kills=${1:-20}
seed=${2:-1}
oasis=${OASIS:-build/oasis}
work=$(mktemp -d /tmp/oasis-kill-sweep.XXXXXX)
config=$work/sweep.yaml
# Four tiny cells (two presets x two seeds) on Tiny Shakespeare, checkpointed often so kills land at
# every stage: training, checkpoint writes, evaluation, statistics, results.
cat > "$config" <<YAML
defaults: [model/standard]
experiment: kill-sweep
model: {d_model: 32, n_layers: 2, n_heads: 2, max_seq_len: 64}
data: {dataset: shakespeare, tokenizer: sentencepiece, sentencepiece: {vocab_size: 512}, seq_len: 32}
train: {steps: 1000, batch_size: 8, warmup_steps: 20, log_every: 100, eval_every: 250, checkpoint_every: 50}
eval: {max_tokens: 4000}
quant: {schemes: [fp, w8a8]}
stats: {sequences: 4}
sweep:
  model.preset: [standard, oasis]
  seed: [0, 1]
YAML

# The tokenizer is trained and cached by the first run: a throw-away run first, so the timed clean run
# (and with it the kill delays) measures the cells themselves.
"$oasis" run "$config" runs_dir="$work/warm-up" 'sweep.seed=[0]' 'sweep.model.preset=[standard]' train.steps=1 \
  train.warmup_steps=0 > "$work/warm-up.log" 2>&1
start=$(date +%s.%N)
"$oasis" run "$config" runs_dir="$work/clean" --jobs 2 > "$work/clean.log" 2>&1
clean_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "clean run: ${clean_s}s"

# Each attempt resumes the previous one's work; short random delays (up to MAX_DELAY seconds, a few
# checkpoints' worth) spread the kills over start-up, training, checkpoint writes and evaluation of
# every cell, instead of killing a sweep that has already finished.
max_delay=${MAX_DELAY:-4}
RANDOM=$seed
landed=0
for i in $(seq 1 "$kills"); do
  delay=$(awk -v t="$max_delay" -v r="$RANDOM" 'BEGIN { printf "%.2f", t * r / 32768 }')
  setsid "$oasis" run "$config" runs_dir="$work/killed" --jobs 2 >> "$work/killed.log" 2>&1 &
  leader=$!
  sleep "$delay"
  if kill -9 -- "-$leader" 2> /dev/null; then landed=$((landed + 1)); state=killed; else state="had finished"; fi
  wait "$leader" 2> /dev/null || true
  echo "attempt $i: ${delay}s, $state"
done
echo "kills that hit a running sweep: $landed of $kills"
"$oasis" run "$config" runs_dir="$work/killed" --jobs 2 >> "$work/killed.log" 2>&1

python3 - "$work/clean/kill-sweep" "$work/killed/kill-sweep" <<'PY'
import json, os, sys
clean, killed = sys.argv[1:]
def numbers(results):  # everything but wall times, paths and the config hash (it covers runs_dir too)
    drop = {"timing", "run_dir", "wall_s", "created_utc", "config_hash"}
    if isinstance(results, dict):
        return {k: numbers(v) for k, v in results.items() if k not in drop}
    return results
cells = sorted(d for d in os.listdir(clean) if os.path.isdir(os.path.join(clean, d)))
lost = corrupt = differ = 0
for cell in cells:
    path = os.path.join(killed, cell, "results.json")
    if not os.path.exists(os.path.join(killed, cell, "DONE")) or not os.path.exists(path):
        lost += 1; print(f"{cell}: lost"); continue
    try:
        got = json.load(open(path))
    except ValueError:
        corrupt += 1; print(f"{cell}: corrupt results.json"); continue
    want = json.load(open(os.path.join(clean, cell, "results.json")))
    same = numbers(got) == numbers(want)
    differ += not same
    print(f"{cell}: {'bit-identical' if same else 'DIFFERENT'}")
print(f"cells {len(cells)} | lost {lost} | corrupt {corrupt} | different numbers {differ}")
sys.exit(1 if lost or corrupt or differ else 0)
PY
echo "work folder: $work"
