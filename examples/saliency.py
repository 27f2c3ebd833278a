"""Which pixels drive the digits model's answer: held-back digits next to their input-gradient maps.

Trains nothing and needs no Keras: runtime_py loads the shipped model file (examples/digits.json,
`export-model examples/digits.h5 -o examples/digits.json`), predicts the held-back digits of
examples/digits_holdout.csv, and takes input gradients with model.gradient. The picture has one
column per digit 0-9 (the first held-back image of each): the image, labelled with the truth and
the prediction; d p / d pixel, the gradient of the predicted class's probability (red: more ink
there raises it, blue: lowers it), which all but vanishes where the softmax is saturated (p near
1); and d log(p / p2) / d pixel, the gradient of the margin over the runner-up class (the
difference of their logits), which does not. matplotlib draws it: pip install 'kerasless[examples]'.

    python examples/saliency.py                      # writes saliency.png here
    python examples/saliency.py --out docs/saliency.png
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runtime_py from this checkout when it is not installed


def read_holdout(path: Path):
    """(labels, images): the held-back digits, each an 8x8 list of pixels in [0, 1]."""
    with open(path) as stream:
        rows = list(csv.reader(stream))[1:]
    labels = [int(r[0]) for r in rows]
    images = [[[float(v) for v in r[1 + 8 * i:9 + 8 * i]] for i in range(8)] for r in rows]
    return labels, images


def first_of_each_class(labels) -> list:
    return [labels.index(digit) for digit in range(10) if digit in labels]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(HERE / "digits.json"), help="kerasless model file of the digits MLP")
    parser.add_argument("--holdout", default=str(HERE / "digits_holdout.csv"), help="held-back digits (CSV)")
    parser.add_argument("--out", default="saliency.png", help="PNG to write")
    args = parser.parse_args(argv)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("error: saliency.py draws with matplotlib: pip install 'kerasless[examples]'", file=sys.stderr)
        return 2
    import numpy as np

    import runtime_py

    model = runtime_py.load(args.model)
    model.verify()
    labels, images = read_holdout(Path(args.holdout))
    chosen = first_of_each_class(labels)
    x = np.asarray([images[k] for k in chosen], dtype=np.float32)  # (10, 8, 8)
    probabilities = model.predict(x)
    predicted = probabilities.argmax(axis=1)
    runner_up = np.argsort(probabilities, axis=1)[:, -2]
    rows = np.arange(len(chosen))
    saliency = model.gradient(x, output=predicted.tolist())  # one output value per row: its predicted class
    against = model.gradient(x, output=runner_up.tolist())
    # d log(p / p2) = dp / p - dp2 / p2: the logits' difference, which softmax saturation does not flatten
    margin = (saliency / probabilities[rows, predicted][:, None, None]
              - against / probabilities[rows, runner_up][:, None, None])

    figure, axes = plt.subplots(3, len(chosen), figsize=(1.3 * len(chosen), 4.4))
    for column, k in enumerate(chosen):
        axes[0, column].imshow(x[column], cmap="gray_r", vmin=0, vmax=1)
        axes[0, column].set_title(f"{labels[k]} -> {predicted[column]}\n"
                                  f"p={probabilities[column, predicted[column]]:.2f}", fontsize=8)
        for axis, gradient in ((axes[1, column], saliency[column]), (axes[2, column], margin[column])):
            scale = float(np.abs(gradient).max()) or 1.0
            axis.imshow(gradient, cmap="RdBu_r", vmin=-scale, vmax=scale)
        for axis in axes[:, column]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0, 0].set_ylabel("digit", fontsize=8)
    axes[1, 0].set_ylabel("d p / d pixel", fontsize=8)
    axes[2, 0].set_ylabel("d log(p/p2) / d pixel", fontsize=8)
    figure.suptitle("Held-back digits and the input gradients of the predicted class (each map scaled to its "
                    "largest value)", fontsize=9)
    figure.tight_layout()
    figure.savefig(args.out, dpi=100, metadata={"Software": None})
    plt.close(figure)
    correct = sum(int(labels[k] == p) for k, p in zip(chosen, predicted))
    print(f"wrote {args.out}: {len(chosen)} held-back digits ({correct} classified right) and their input gradients")
    for k, p, q, gradient, versus in zip(chosen, predicted, runner_up, saliency, margin):
        row, col = np.unravel_index(int(np.abs(versus).argmax()), versus.shape)
        print(f"  digit {labels[k]}: predicted {p} (runner-up {q}), largest |d p / d pixel| "
              f"{float(np.abs(gradient).max()):.2g}, pixel ({row}, {col}) moves log(p/p2) most: "
              f"{versus[row, col]:+.2f} per unit of ink")
    return 0


if __name__ == "__main__":
    sys.exit(main())
