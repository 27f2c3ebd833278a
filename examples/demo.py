"""The demo behind `make demo`: export the shipped digits model, predict with runtime_py, C and Keras.

`make demo` first builds examples/c (build/c/digits_c); this script then runs it
with --probs and puts its probabilities next to runtime_py's and Keras's.

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

    c_program = ROOT / "build" / "c" / "digits_c"
    c_rows = None
    if c_program.exists():
        done = subprocess.run([str(c_program), str(ROOT / "examples" / "digits_holdout.csv"), "--probs"],
                              capture_output=True, text=True, check=True)
        c_rows = [[float(v) for v in line.split(",")] for line in done.stdout.split()]

    print(f"\n{len(labels)} held-back digits (the model never saw them): predicted digit and its probability")
    print("  label   Keras             runtime_py        C header")
    for k, (label, mine, keras_row) in enumerate(list(zip(labels, ours, theirs))[:10]):
        cells = [(argmax(list(r)), float(r[argmax(list(r))])) for r in (keras_row, mine)]
        if c_rows:
            cells.append((argmax(c_rows[k]), c_rows[k][argmax(c_rows[k])]))
        print(f"  {label:>5}   " + "  ".join(f"{d} ({p:.7f})" for d, p in cells))
    print("  ...")
    runtimes = [("runtime_py", ours)] + ([("C header", c_rows)] if c_rows else [])
    for title, rows in runtimes:
        correct = sum(argmax(row) == label for row, label in zip(rows, labels))
        agree = sum(argmax(row) == argmax(list(k)) for row, k in zip(rows, theirs))
        worst = max(abs(a - float(b)) for row, keras_row in zip(rows, theirs) for a, b in zip(row, keras_row))
        print(f"{title:>10}: accuracy {correct}/{len(labels)}; same digit as Keras {agree}/{len(labels)}; "
              f"max |probability - Keras's| {worst:.2g}")
    if not c_rows:
        print("(run `make demo` to build the C example as well)")


if __name__ == "__main__":
    main()
