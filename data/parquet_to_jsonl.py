"""Converts a parquet file to JSON Lines, one object per row with the columns in file order, written as the
manifest's C4 sample was (compact separators, UTF-8 kept as is), so the result matches its sha256.
Used by data/fetch.sh with the project's Python environment (.venv, which has pyarrow).

usage: .venv/bin/python data/parquet_to_jsonl.py IN.parquet OUT.jsonl
"""
import json
import sys

import pyarrow.parquet as pq


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    source, target = sys.argv[1:]
    table = pq.read_table(source)
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        for row in table.to_pylist():
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
