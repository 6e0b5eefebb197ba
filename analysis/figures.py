"""All figures for a set of runs (what `make figures RUNS="dir..."` calls): outliers.png and sinks.png
compare the runs; each run also gets attention_map_<run>.png (last layer, head 0, first sequence),
sink_heatmap_<run>.png (first-token attention per layer and head) and, for AttnRes models,
depth_routing_<run>.png.

usage: /usr/bin/python3 analysis/figures.py --out DIR RUN_OR_STATS.h5 [...]
"""
import os
import re
import sys

import oasis_stats
import plotting
import plot_attention_map
import plot_depth_routing
import plot_outliers
import plot_sink_heatmap
import plot_sinks


def run_name(path):
    f = oasis_stats.open_stats(path)
    run_dir = f["meta"].attrs.get("run_dir", "") or os.path.dirname(os.path.abspath(oasis_stats.stats_path(path)))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(os.path.normpath(str(run_dir))))


def main(argv=None):
    parser = plotting.argument_parser(__doc__)
    args = parser.parse_args(argv)
    try:
        for path in args.files:
            oasis_stats.open_stats(path)  # every file is checked before anything is drawn
    except oasis_stats.StatsFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    written = [os.path.join(args.out, "outliers.png"), os.path.join(args.out, "sinks.png")]
    plot_outliers.draw(args.files, written[0], args.scheme)
    plot_sinks.draw(args.files, written[1], args.scheme)
    for path in args.files:
        name = run_name(path)
        target = os.path.join(args.out, f"attention_map_{name}.png")
        plot_attention_map.draw(path, target, scheme=args.scheme)
        written.append(target)
        target = os.path.join(args.out, f"sink_heatmap_{name}.png")
        plot_sink_heatmap.draw(path, target, args.scheme)
        written.append(target)
        if oasis_stats.depth_sites(oasis_stats.open_stats(path), args.scheme):
            target = os.path.join(args.out, f"depth_routing_{name}.png")
            plot_depth_routing.draw(path, target, args.scheme)
            written.append(target)
    for w in written:
        print(f"wrote {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
