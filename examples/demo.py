"""The demo behind `make demo`: export the shipped digits model, then predict with runtime_py and Keras.

Run from the repository root with the project's venv:  python examples/demo.py
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "demo"


def read_holdout():
    with open(ROOT / "examples" / "digits_holdout.csv") as stream:
        rows = list(csv.reader(stream))[1:]
    labels = [int(r[0]) for r in rows]
    images = [[[float(v) for v in r[1 + 8 * i:9 + 8 * i]] for i in range(8)] for r in rows]
    return labels, images


def argmax(row):
    return max(range(len(row)), key=row.__getitem__)


def main():
    BUILD.mkdir(parents=True, exist_ok=True)
    model_file = BUILD / "digits.json"
    print("$ export-model examples/digits.h5 -o build/demo/digits.json")
    subprocess.run([sys.executable, "-m", "exporter", str(ROOT / "examples" / "digits.h5"), "-o", str(model_file)],
                   check=True)

    import numpy as np

    import runtime_py

    labels, images = read_holdout()
    ours = runtime_py.load(model_file, backend="python").predict(images)  # nested lists in, lists out

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from exporter.frontend_keras import import_keras, quiet_stderr

    keras = import_keras()
    with quiet_stderr():
        model = keras.saving.load_model(ROOT / "examples" / "digits.h5", compile=False)
        theirs = model.predict(np.asarray(images, dtype=np.float32), verbose=0)

    print(f"\n{len(labels)} held-back digits (the model never saw them):")
    print("  label  runtime_py  Keras   p(runtime_py)  p(Keras)")
    for label, mine, keras_row in list(zip(labels, ours, theirs))[:10]:
        k, j = argmax(mine), argmax(list(keras_row))
        print(f"  {label:>5}  {k:>10}  {j:>5}   {mine[k]:.7f}      {keras_row[j]:.7f}")
    print("  ...")
    correct = sum(argmax(row) == label for row, label in zip(ours, labels))
    agree = sum(argmax(row) == argmax(list(k)) for row, k in zip(ours, theirs))
    worst = max(abs(a - float(b)) for row, keras_row in zip(ours, theirs) for a, b in zip(row, keras_row))
    print(f"runtime_py accuracy {correct}/{len(labels)}; agrees with Keras on {agree}/{len(labels)} digits; "
          f"max |probability difference| {worst:.2g}")


if __name__ == "__main__":
    main()
