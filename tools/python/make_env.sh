#!/usr/bin/env bash
# Makes the project's Python environment (requirements.txt: the torch wheel that supplies LibTorch, and the
# packages of the cross-checks) and links it as .venv. The environment lives outside the clone, under
# ${XDG_CACHE_HOME:-~/.cache}/oasis/python-<hash of requirements.txt>, so every clone on a machine shares one
# install of the multi-gigabyte wheel; a changed requirements.txt gets a new one. An install that was cut off
# is never used: the folder counts only once it holds `.complete`.
# Usage: tools/python/make_env.sh   (from anywhere; prints the environment's path, progress on stderr)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
requirements=$root/requirements.txt
key=$(sha256sum "$requirements" | cut -c1-16)
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
env_dir=${OASIS_PYTHON_ENV:-${XDG_CACHE_HOME:-$home/.cache}/oasis/python-$key}
python=${OASIS_BASE_PYTHON:-/usr/bin/python3}

if [ ! -f "$env_dir/.complete" ]; then
  echo "python env: installing requirements.txt into $env_dir (the torch wheel and its CUDA libraries: ~5 GB)" >&2
  rm -rf "$env_dir"
  mkdir -p "$(dirname "$env_dir")"
  start=$(date +%s)
  "$python" -m venv "$env_dir"
  # Every package is pinned in requirements.txt, dependencies included: --no-deps keeps out anything unpinned,
  # and `pip check` fails if the list is missing one.
  "$env_dir/bin/pip" install --quiet --no-deps -r "$requirements"
  "$env_dir/bin/pip" check >/dev/null
  echo "$key" >"$env_dir/.complete"
  echo "python env: ready in $(( $(date +%s) - start )) s" >&2
fi
ln -sfn "$env_dir" "$root/.venv"
echo "$env_dir"
