"""What every figure script shares: the non-interactive backend, the command line (files, --out,
--scheme) and saving."""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def argument_parser(doc, many_files=True):
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files" if many_files else "file", nargs="+" if many_files else None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scheme", default="fp")
    return parser


def save(fig, out):
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
