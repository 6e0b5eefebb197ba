#!/usr/bin/env bash
# Downloads every file of data/manifest into data/cache/ (or $OASIS_DATA_DIR when set), converting the
# C4 parquet to JSON Lines (pyarrow, from the project's Python environment: `make data` makes it), and verifies
# each file's sha256. Files already present and correct are kept.
# Usage: data/fetch.sh [--verify-only DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${OASIS_DATA_DIR:-$here/cache}
verify_only=0
if [ "${1:-}" = "--verify-only" ]; then verify_only=1; dest=${2:?usage: fetch.sh --verify-only DIR}; fi
python=${OASIS_PYTHON:-$here/../.venv/bin/python}

failed=0
while IFS=$'\t' read -r path sha bytes licence url; do
  case "$path" in ''|'#'*) continue ;; esac
  file="$dest/$path"
  if [ -f "$file" ] && echo "$sha  $file" | sha256sum --check --status; then
    echo "ok       $path"
    continue
  fi
  if [ "$verify_only" = 1 ]; then echo "MISSING  $path" >&2; failed=1; continue; fi
  mkdir -p "$(dirname "$file")"
  tmp="$file.download"
  if ! curl -fsSL --retry 3 -o "$tmp" "$url"; then
    echo "FAILED   $path: could not download $url (no network?)" >&2; rm -f "$tmp"; failed=1; continue
  fi
  if [[ "$url" == *.parquet ]]; then
    "$python" "$here/parquet_to_jsonl.py" "$tmp" "$tmp.jsonl"
    mv "$tmp.jsonl" "$tmp"
  fi
  if echo "$sha  $tmp" | sha256sum --check --status; then
    mv "$tmp" "$file"; echo "fetched  $path ($licence)"
  else
    echo "FAILED   $path: sha256 mismatch (expected $sha)" >&2; rm -f "$tmp"; failed=1
  fi
done < "$here/manifest"
exit $failed
