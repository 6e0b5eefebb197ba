"""Depth routing of an AttnRes model as a heatmap: routing site (rows, in forward order) x source (columns:
0 = the embedding, then the completed blocks, then the current partial block), mean weight over sequences
and tokens. Cells a site cannot see are blank.

usage: /usr/bin/python3 analysis/plot_depth_routing.py --out depth.png RUN_OR_STATS.h5 [--scheme fp]
"""
import sys

import matplotlib.pyplot as plt
import numpy as np

import oasis_stats
import plotting


def routing_matrix(f, scheme="fp"):
    sites = oasis_stats.depth_sites(f, scheme)
    rows = [np.mean(f[f"{scheme}/depth/{s}/weights_per_seq"][()], axis=0) for s in sites]
    width = max((len(r) for r in rows), default=0)
    matrix = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        matrix[i, : len(r)] = r
    return sites, matrix


def draw(path, out, scheme="fp"):
    f = oasis_stats.open_stats(path)
    sites, matrix = routing_matrix(f, scheme)
    if not sites:
        raise SystemExit(f"{path}: no depth routing (a standard-residual model)")
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * matrix.shape[1], 1.2 + 0.32 * len(sites)))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma", aspect="auto")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if not np.isnan(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if matrix[i, j] < 0.5 else "black")
    ax.set_yticks(range(len(sites)))
    ax.set_yticklabels(sites, fontsize=7)
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels(["emb"] + [str(i) for i in range(1, matrix.shape[1])], fontsize=7)
    ax.set_xlabel("source (emb = embedding)")
    ax.set_title(f"depth routing: {oasis_stats.label(f)}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    plotting.save(fig, out)


def main(argv=None):
    parser = plotting.argument_parser(__doc__, many_files=False)
    args = parser.parse_args(argv)
    draw(args.file, args.out, args.scheme)


if __name__ == "__main__":
    sys.exit(main())
