"""Reading stats.h5 files written by `oasis eval` (schema: framework/stats/stats_file.h, docs/statistics.md).

Every reader goes through open_stats(), which checks the file against its stats.h5.sha256 (written beside it;
a damaged file is refused before libhdf5 parses it) and refuses a file without `complete = 1` or with a newer
schema version, so a figure never silently draws a damaged or half-written file. Run as a script, `--check FILE` reads every
dataset (what the C++ test suite uses to prove h5py can read the files).

Use /usr/bin/python3 (Debian's h5py, numpy, matplotlib).
"""
import argparse
import hashlib
import os
import sys

import h5py
import numpy as np

SCHEMA_VERSION = 1


class StatsFileError(Exception):
    pass


def stats_path(run_or_file):
    """A run directory or a stats.h5 path -> the stats.h5 path."""
    return os.path.join(run_or_file, "stats.h5") if os.path.isdir(run_or_file) else run_or_file


def check_sidecar(path):
    """Raises StatsFileError when `path` differs from the SHA-256 in `path`.sha256 (absent: nothing to check)."""
    sidecar = path + ".sha256"
    if not os.path.exists(sidecar):
        return
    with open(sidecar, "rb") as f:
        recorded = f.read().split(b" ", 1)[0].decode("ascii", "replace")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != recorded:
        raise StatsFileError(f"{path} is damaged: its SHA-256 is {digest.hexdigest()}, {sidecar} records {recorded}")


def open_stats(run_or_file):
    path = stats_path(run_or_file)
    check_sidecar(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise StatsFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {e}") from None
    version = f.attrs.get("schema_version")
    if version is None:
        raise StatsFileError(f"{path}: not an oasis stats file (no schema_version attribute)")
    if int(version) > SCHEMA_VERSION:
        raise StatsFileError(f"{path}: schema version {int(version)} is newer than this script reads ({SCHEMA_VERSION})")
    if int(f.attrs.get("complete", 0)) != 1:
        raise StatsFileError(f"{path}: incomplete stats file (no complete = 1 attribute: the writer did not finish)")
    return f


def label(f):
    """A short legend label: preset, dataset and seed from /meta."""
    meta = f["meta"].attrs
    return f"{meta['preset']} ({meta['dataset']}, seed {int(meta['seed'])})"


def layers(f, scheme="fp"):
    """Numbered layer groups under /<scheme>/sites, in order (without 'final')."""
    return sorted((name for name in f[f"{scheme}/sites"] if name.isdigit()), key=int)


def per_layer(f, statistic, scheme="fp", site=None):
    """Per layer: the mean over sequences of `statistic` (inf_norm_per_seq or kurtosis_per_seq), either at one
    site (e.g. 'attn.normed') or the max over the layer's sites."""
    values = []
    for layer in layers(f, scheme):
        group = f[f"{scheme}/sites/{layer}"]
        means = [float(np.nanmean(group[s][statistic][()])) for s in group if site is None or s == site]
        values.append(max(means) if means else np.nan)
    return np.array(values)


def attention_per_layer(f, dataset, scheme="fp"):
    """Per layer: the mean over sequences and heads of an /attention dataset (NaN where absent)."""
    group = f[f"{scheme}/attention"]
    names = sorted((n for n in group if n.isdigit()), key=int)
    return np.array([float(np.mean(group[n][dataset][()])) if dataset in group[n] else np.nan for n in names])


def attention_per_layer_head(f, dataset, scheme="fp"):
    """[layers, heads]: the mean over sequences of an /attention dataset stored per sequence and head."""
    group = f[f"{scheme}/attention"]
    names = sorted((n for n in group if n.isdigit()), key=int)
    return np.array([np.mean(group[n][dataset][()], axis=0) for n in names])


def depth_sites(f, scheme="fp"):
    """Routing sites in forward order: 00.route_attn, 00.route_mlp, 01.route_attn, ..., final_route."""
    if f"{scheme}/depth" not in f:
        return []
    names = list(f[f"{scheme}/depth"])
    return sorted(names, key=lambda n: (n.startswith("final"), n.split(".")[0], n.endswith("route_mlp")))


def check(path):
    """Reads every dataset; returns how many there were."""
    f = open_stats(path)
    count = 0

    def visit(name, obj):
        nonlocal count
        if isinstance(obj, h5py.Dataset):
            value = obj[()]
            if obj.dtype.kind == "f" and not isinstance(value, (bytes, str)):
                np.asarray(value, dtype=np.float64)
            count += 1

    f.visititems(visit)
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="FILE", help="read every dataset of FILE (a stats.h5 or a run directory)")
    args = parser.parse_args(argv)
    if not args.check:
        parser.print_help()
        return 2
    try:
        print(f"ok: {check(args.check)} datasets in {stats_path(args.check)}")
    except StatsFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
