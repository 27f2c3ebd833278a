"""Run a trained network backwards: recover inputs from outputs with runtime_py's Model.invert.

Loads examples/tanh_inverse.json (a 4-4-4-4 tanh MLP trained by examples/train_tanh_inverse.py,
committed), predicts outputs for random inputs, inverts them layer by layer
(x = W^-T (atanh(y) - b) for each tanh layer, in double precision) and prints how closely the
recovered inputs agree with the original ones, next to the kernels' condition numbers that
bound the error. Then shows the clear refusal for an output no input can produce. No Keras,
no numpy needed.

    python examples/invert.py
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runtime_py from this checkout when it is not installed


def kernel_condition(node, lu_class) -> float:
    """||W||_1 ||W^-1||_1 of a dense node's square kernel W^T (what invert solves with)."""
    from array import array

    raw = node["weights"]["kernel"]
    values = array("f")
    values.frombytes(raw.data)
    n = raw.shape[0]
    return lu_class([[values[i * n + j] for i in range(n)] for j in range(n)]).condition_number()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(HERE / "tanh_inverse.json"), help="kerasless model file")
    parser.add_argument("--rows", type=int, default=1000, help="random inputs to round-trip")
    args = parser.parse_args(argv)

    import runtime_py
    from runtime_py.invert import MAX_CONDITION
    from runtime_py.linalg import LU

    model = runtime_py.load(args.model, backend="python")  # the standard library alone
    model.verify()
    size = model.inputs[0].shape[0]
    rng = random.Random(0)
    x = [[rng.uniform(-1.0, 1.0) for _ in range(size)] for _ in range(args.rows)]
    y = model.predict(x)
    recovered = model.invert(y)
    errors = [abs(a - b) for row, back in zip(x, recovered) for a, b in zip(row, back)]
    print(f"{model.name}: {args.rows} random inputs in [-1, 1]^{size} -> predict -> invert")
    print(f"  max |recovered - original| = {max(errors):.3g}, mean = {sum(errors) / len(errors):.3g}")
    for node in model.spec["nodes"]:
        if node["op"] == "dense":
            print(f"  layer {node['name']}: kernel condition number {kernel_condition(node, LU):.3g} "
                  f"(invert refuses above {MAX_CONDITION:g})")
    sample = 0
    print(f"  e.g. x = [{', '.join(f'{v:+.6f}' for v in x[sample])}]")
    print(f"       y = [{', '.join(f'{v:+.6f}' for v in y[sample])}]")
    print(f"  invert = [{', '.join(f'{v:+.6f}' for v in recovered[sample])}]")

    impossible = [list(y[sample])]
    impossible[0][0] = 1e6  # far outside what the network can output
    try:
        model.invert(impossible)
        print("  an impossible output was inverted?")
        return 1
    except runtime_py.NotInvertibleError as exc:
        print(f"  an output no input gives: NotInvertibleError: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
