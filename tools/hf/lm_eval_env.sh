#!/usr/bin/env bash
# The lm-eval referee's Python environment: a venv holding tools/hf/requirements-lm-eval.txt (pinned, --no-deps)
# that also sees the project environment's packages (torch, transformers) through a .pth file, so the
# multi-gigabyte torch wheel is not installed twice. Kept under ~/.cache/oasis/lm-eval-<hash of both files>;
# counts only once `.complete` is written. Prints the environment's python.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
base=$("$root/tools/python/make_env.sh")
requirements=$root/tools/hf/requirements-lm-eval.txt
key=$(cat "$root/requirements.txt" "$requirements" | sha256sum | cut -c1-16)
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
env_dir=${XDG_CACHE_HOME:-$home/.cache}/oasis/lm-eval-$key
if [ ! -f "$env_dir/.complete" ]; then
  echo "lm-eval env: installing $requirements into $env_dir" >&2
  rm -rf "$env_dir"
  /usr/bin/python3 -m venv "$env_dir"
  site=$("$env_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/oasis-base.pth"
  "$env_dir/bin/pip" install --quiet --no-deps -r "$requirements"
  "$env_dir/bin/pip" check >/dev/null
  echo "$key" >"$env_dir/.complete"
fi
echo "$env_dir/bin/python"
