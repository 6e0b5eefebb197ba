"""Training curves from runs' metrics.jsonl: first-token attention (as a multiple of uniform causal
attention, H_T / T), sink rate, max |x| and average kurtosis against training tokens, one line per run;
with Bigram-Backcopy runs also the copy accuracy. Shows whether and when sinks and outliers form.

usage: /usr/bin/python3 analysis/plot_training_curves.py RUN_DIR [RUN_DIR ...] --out FILE.png [--labels a,b]
"""
import json
import os
import sys

from plotting import argument_parser, plt, save

PANELS = [("first_token_vs_uniform", "first-token attention / uniform"), ("max_first_token_head", "largest head's first-token attention"),
          ("max_inf_norm", "max |x|"), ("avg_kurtosis", "average kurtosis"), ("copy_accuracy", "copy accuracy")]


def metrics(run_dir):
    """The records of a run's metrics.jsonl; a line that is not a JSON object exits naming file and line."""
    path = os.path.join(run_dir, "metrics.jsonl")
    with open(path) as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except ValueError as e:
                sys.exit(f"error: {path}:{number}: not a JSON line ({e})")
            if not isinstance(record, dict):
                sys.exit(f"error: {path}:{number}: expected a JSON object")
            yield record


def validation_records(run_dir):
    rows, uniform = [], None
    for r in metrics(run_dir):
        if "val_loss" not in r:
            continue
        heads = r.get("first_token_vs_uniform_per_head")
        if heads and r.get("first_token_vs_uniform"):
            uniform = r["first_token_attention"] / r["first_token_vs_uniform"]
            r["max_first_token_head"] = max(max(v) for v in heads.values()) * uniform
        rows.append(r)
    return rows


def tokens_per_step(run_dir):
    steps = [r["tokens_seen"] / r["step"] for r in metrics(run_dir) if "tokens_seen" in r]
    return steps[-1] if steps else 1.0


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--labels", default="")
    a = parser.parse_args()
    labels = a.labels.split(",") if a.labels else [os.path.basename(os.path.normpath(d)) for d in a.files]
    present = [p for p in PANELS if any(p[0] in r for d in a.files for r in validation_records(d))]
    fig, axes = plt.subplots(1, len(present), figsize=(4 * len(present), 3.4))
    for run_dir, label in zip(a.files, labels):
        rows, per_step = validation_records(run_dir), tokens_per_step(run_dir)
        for ax, (key, title) in zip(axes, present):
            points = [(r["step"] * per_step / 1e6, r[key]) for r in rows if r.get(key) is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("training tokens (M)")
            if key == "max_first_token_head":
                ax.axhline(0.3, color="grey", linestyle="--", linewidth=0.8)  # Gu et al.'s sink threshold
    axes[0].legend(fontsize=8)
    save(fig, a.out)


if __name__ == "__main__":
    main()
