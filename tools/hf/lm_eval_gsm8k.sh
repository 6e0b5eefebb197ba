#!/usr/bin/env bash
# lm-evaluation-harness as the outside referee of `oasis` GSM8K: the same model, exported by `oasis export-hf`,
# scored by lm-eval's Hugging Face backend on GSM8K from the local data (a task file equal to lm-eval's gsm8k
# v3 except that it reads ../shared/data's JSON lines; nothing is downloaded), then compared item by item
# with the oasis run's gsm8k_fp.jsonl (tools/hf/compare_gsm8k.py).
# Usage: tools/hf/lm_eval_gsm8k.sh RUN_DIR [LIMIT=20]
#   RUN_DIR must have been evaluated with gsm8k.enabled=true gsm8k.limit=LIMIT gsm8k.num_fewshot=5 (fp).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run=${1:?usage: lm_eval_gsm8k.sh RUN_DIR [LIMIT]}
limit=${2:-20}
python=$("$root/tools/hf/lm_eval_env.sh")
data=$(cd "$root" && "$root/.venv/bin/python" -c '
import os, sys
for d in [os.environ.get("OASIS_DATA_DIR", ""), "data/cache", "../shared/data"]:
    if d and os.path.isfile(os.path.join(d, "gsm8k", "test.jsonl")): print(os.path.abspath(os.path.join(d, "gsm8k"))); sys.exit()
sys.exit("gsm8k/test.jsonl not found under $OASIS_DATA_DIR, data/cache or ../shared/data")')
work=$run/lm_eval
rm -rf "$work"
mkdir -p "$work/tasks"
"$root/build/oasis" export-hf "$run" --out "$work/model"
sed -e "s#@TRAIN@#$data/train.jsonl#" -e "s#@TEST@#$data/test.jsonl#" "$root/tools/hf/lm_eval_gsm8k_local.yaml" \
  >"$work/tasks/gsm8k_local.yaml"
HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error "$python" -m lm_eval --model hf \
  --model_args "pretrained=$work/model,dtype=float32" --include_path "$work/tasks" --tasks gsm8k_local \
  --num_fewshot 5 --limit "$limit" --batch_size 1 --log_samples --output_path "$work/out" --device cpu \
  >"$work/lm_eval.log" 2>&1 || { tail -30 "$work/lm_eval.log"; exit 1; }
"$root/.venv/bin/python" "$root/tools/hf/compare_gsm8k.py" "$run/gsm8k_fp.jsonl" "$work/out"
