"""Attention sinks per layer: mean attention to the first token (over sequences, heads and queries) and,
for normalizers with a null (softmax1, sink, softpick), the mean null mass; one line per model. The dotted
line is what uniform causal attention would give the first token, (1/T) sum_t 1/t.

usage: /usr/bin/python3 analysis/plot_sinks.py --out sinks.png RUN_OR_STATS.h5 [...] [--scheme fp]
"""
import sys

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

import oasis_stats
import plotting


def draw(files, out, scheme="fp"):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    seq_len = None
    for path in files:
        f = oasis_stats.open_stats(path)
        seq_len = int(f["meta"].attrs["seq_len"])
        first = oasis_stats.attention_per_layer(f, "first_token_per_seq", scheme)
        null = oasis_stats.attention_per_layer(f, "null_mass_per_seq", scheme)
        axes[0].plot(range(len(first)), first, marker="o", label=oasis_stats.label(f))
        if not np.all(np.isnan(null)):
            axes[1].plot(range(len(null)), null, marker="o", label=oasis_stats.label(f))
    if seq_len:
        axes[0].axhline(np.mean(1.0 / np.arange(1, seq_len + 1)), color="grey", linestyle=":", linewidth=1)
    axes[0].set_title("attention to the first token")
    axes[1].set_title("null mass (normalizers with a null)")
    for ax in axes:
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    plotting.save(fig, out)


def main(argv=None):
    parser = plotting.argument_parser(__doc__)
    args = parser.parse_args(argv)
    draw(args.files, args.out, args.scheme)


if __name__ == "__main__":
    sys.exit(main())
