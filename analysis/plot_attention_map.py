"""The stored attention map of one layer and head for one of the first sequences (log colour scale, so
small weights and a sink column both show).

usage: /usr/bin/python3 analysis/plot_attention_map.py --out map.png RUN_OR_STATS.h5 [--layer L] [--head H]
       [--sequence S] [--scheme fp]      (layer defaults to the last)
"""
import sys

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np

import oasis_stats
import plotting


def draw(path, out, layer=None, head=0, sequence=0, scheme="fp"):
    f = oasis_stats.open_stats(path)
    group = f[f"{scheme}/attention"]
    names = sorted((n for n in group if n.isdigit()), key=int)
    name = names[-1] if layer is None else f"{int(layer):02d}"
    if name not in group or "maps" not in group[name]:
        raise SystemExit(f"{path}: no attention maps for layer {name} (stats.map_sequences = 0?)")
    maps = group[name]["maps"]
    if sequence >= maps.shape[0] or head >= maps.shape[1]:
        raise SystemExit(f"{path}: maps of layer {name} have shape {maps.shape}; asked for sequence {sequence}, head {head}")
    a = maps[sequence, head].astype(np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    image = ax.imshow(np.where(a > 0, a, np.nan), norm=LogNorm(vmin=1e-4, vmax=1.0), cmap="viridis")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(f"{oasis_stats.label(f)}\nlayer {int(name)}, head {head}, sequence {sequence}", fontsize=9)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    plotting.save(fig, out)


def main(argv=None):
    parser = plotting.argument_parser(__doc__, many_files=False)
    parser.add_argument("--layer", type=int)
    parser.add_argument("--head", type=int, default=0)
    parser.add_argument("--sequence", type=int, default=0)
    args = parser.parse_args(argv)
    draw(args.file, args.out, args.layer, args.head, args.sequence, args.scheme)


if __name__ == "__main__":
    sys.exit(main())
