"""Train the inversion example's network: a small square tanh MLP, with Keras (setup for invert.py).

The network learns a smooth invertible map of 4 numbers to 4 numbers: y = tanh(B tanh(A x) + c)
for fixed, well-conditioned A and B, from 4000 random points in [-1, 1]^4. Its three Dense
layers are 4 x 4 (two tanh, one linear), so every layer can be run backwards. Writes
examples/tanh_inverse.h5 and its kerasless model file examples/tanh_inverse.json, which are
committed; invert.py only reads the model file.
Run from the repository root:  python examples/train_tanh_inverse.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = 4


def target_map(x: np.ndarray) -> np.ndarray:
    """The invertible map the network learns."""
    rng = np.random.default_rng(1)
    a = np.linalg.qr(rng.standard_normal((SIZE, SIZE)))[0] * 1.5
    b = np.linalg.qr(rng.standard_normal((SIZE, SIZE)))[0]
    c = rng.uniform(-0.2, 0.2, SIZE)
    return np.tanh(np.tanh(x @ a) @ b + c)


def main():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (4000, SIZE)).astype(np.float32)
    y = target_map(x).astype(np.float32)
    L = keras.layers
    model = keras.Sequential([keras.Input((SIZE,), name="x"), L.Dense(SIZE, activation="tanh", name="hidden_1"),
                              L.Dense(SIZE, activation="tanh", name="hidden_2"), L.Dense(SIZE, name="y")],
                             name="tanh_inverse")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    model.save(HERE / "tanh_inverse.h5")
    print(f"trained {model.name}: mean squared error {loss:.2e} on the training points; wrote examples/tanh_inverse.h5")
    subprocess.run([sys.executable, "-m", "exporter", str(HERE / "tanh_inverse.h5"), "-o",
                    str(HERE / "tanh_inverse.json")], check=True, cwd=HERE.parent)


if __name__ == "__main__":
    main()
