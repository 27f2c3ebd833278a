"""Train the shipped example: an MLP on scikit-learn's bundled 8x8 digits (no download).

Writes examples/digits.h5, examples/digits.keras and examples/digits_holdout.csv
(digits the model never saw: label, then 64 pixel values scaled to [0, 1]).
Run from the repository root:  python examples/train_digits.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

HERE = Path(__file__).resolve().parent
HOLDOUT = 100


def main():
    keras.utils.set_random_seed(0)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8), pixels 0..16 -> 0..1
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    train, holdout = order[HOLDOUT:], order[:HOLDOUT]

    model = keras.Sequential(
        [
            keras.Input((8, 8), name="pixels"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="sigmoid", name="hidden"),
            keras.layers.Dropout(0.1, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits",
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images[train], labels[train], epochs=60, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(images[holdout], labels[holdout], verbose=0)
    print(f"held-back accuracy: {accuracy:.3f}")

    model.save(HERE / "digits.keras")
    model.save(HERE / "digits.h5")
    with open(HERE / "digits_holdout.csv", "w") as stream:
        stream.write("label," + ",".join(f"p{i}" for i in range(64)) + "\n")
        for index in holdout:
            pixels = ",".join(f"{v:.4g}" for v in images[index].ravel())
            stream.write(f"{labels[index]},{pixels}\n")


if __name__ == "__main__":
    main()
