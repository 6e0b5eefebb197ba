"""Where the sinks are: mean attention to the first token for every layer (rows) and head (columns) of one
run, over the statistics windows' sequences and queries. A head above stats.sink_eps (0.3 by default)
counts as a sink head in the sink rate.

usage: /usr/bin/python3 analysis/plot_sink_heatmap.py --out heatmap.png RUN_OR_STATS.h5 [--scheme fp]
"""
import sys

import matplotlib.pyplot as plt

import oasis_stats
import plotting


def draw(path, out, scheme="fp"):
    f = oasis_stats.open_stats(path)
    values = oasis_stats.attention_per_layer_head(f, "first_token_per_seq", scheme)
    fig, ax = plt.subplots(figsize=(1.6 + 0.45 * values.shape[1], 1.2 + 0.22 * values.shape[0]))
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"attention to the first token\n{oasis_stats.label(f)}, {scheme}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.08)
    plotting.save(fig, out)


def main(argv=None):
    parser = plotting.argument_parser(__doc__)
    args = parser.parse_args(argv)
    for path in args.files:
        draw(path, args.out, args.scheme)


if __name__ == "__main__":
    sys.exit(main())
