"""Per-layer activation outliers: max |x| (mean over sequences of the per-sequence max) and Pearson kurtosis,
one line per model. By default each layer's value is the max over its tap sites; --site picks one site
(e.g. attn.normed, the input of W_QKV).

usage: /usr/bin/python3 analysis/plot_outliers.py --out outliers.png RUN_OR_STATS.h5 [...] [--site SITE] [--scheme fp]
"""
import sys

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

import oasis_stats
import plotting


def draw(files, out, scheme="fp", site=None):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for path in files:
        f = oasis_stats.open_stats(path)
        for ax, statistic in zip(axes, ["inf_norm_per_seq", "kurtosis_per_seq"]):
            values = oasis_stats.per_layer(f, statistic, scheme, site)
            ax.plot(range(len(values)), values, marker="o", label=oasis_stats.label(f))
    where = site or "max over sites"
    axes[0].set_title(f"max |x| per layer ({where})")
    axes[1].set_title(f"Pearson kurtosis per layer ({where})")
    axes[1].axhline(3.0, color="grey", linestyle=":", linewidth=1)  # Gaussian
    for ax in axes:
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    plotting.save(fig, out)


def main(argv=None):
    parser = plotting.argument_parser(__doc__)
    parser.add_argument("--site")
    args = parser.parse_args(argv)
    draw(args.files, args.out, args.scheme, args.site)


if __name__ == "__main__":
    sys.exit(main())
