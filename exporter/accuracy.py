"""What smaller weights cost (export-model --weights float16|int8): the quantized model against the float one.

On the test rows, and on --check-data rows (optionally with --check-labels): the largest absolute
difference between the outputs, and for a classifier the share of rows whose argmax is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter.errors import ExportError
from exporter.ir import Graph


@dataclass
class Cost:
    storage: str  # "float16" or "int8"
    weight_bytes: int  # as stored
    float_weight_bytes: int  # the same weights in float32
    test_rows: int
    test_max_error: float  # max |quantized - float| over the test rows, every output
    check_rows: int = 0
    check_max_error: float | None = None
    argmax_unchanged: float | None = None  # share of check rows (first output's last axis), or None
    float_accuracy: float | None = None  # with labels: accuracy of the float model and of the quantized one
    accuracy: float | None = None


def load_check_data(inputs, labels) -> tuple | None:
    """Read --check-data (and --check-labels) .npy files, without pickles; None when not given."""
    if inputs is None:
        return None
    arrays = []
    for path in (inputs, labels):
        if path is None:
            arrays.append(None)
            continue
        path = Path(path)
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ExportError(f"{path}: cannot read it as a .npy array ({exc})") from None
    x, y = arrays
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise ExportError(f"{inputs}: expected numbers shaped (rows, *input shape), got {x.dtype} {x.shape}")
    if y is not None and (y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer)):
        raise ExportError(f"{labels}: expected {len(x)} integer class labels, got {y.dtype} {y.shape}")
    return x.astype(np.float32), y


def _max_error(a: list, b: list) -> float:
    with np.errstate(invalid="ignore"):
        return max((float(np.nanmax(np.abs(x - y))) if x.size else 0.0 for x, y in zip(a, b)), default=0.0)


def measure_cost(graph: Graph, vectors: list, float_predict, quantized_predict, checks) -> Cost:
    """Run the float model on the test rows (and the check rows) and compare with the quantized outputs."""
    inputs = [np.concatenate([v["inputs"][k] for v in vectors]) for k in range(len(graph.inputs))]
    quantized = [np.concatenate([v["outputs"][k] for v in vectors]) for k in range(len(graph.outputs))]
    reference = [np.asarray(o, dtype=np.float32) for o in float_predict(inputs)]
    stored = graph.weight_bytes()
    cost = Cost(graph.weight_storage(), stored, 4 * graph.parameter_count(), len(inputs[0]),
                _max_error(quantized, reference))
    if checks is None:
        return cost
    x, labels = checks
    if len(graph.inputs) != 1 or tuple(x.shape[1:]) != tuple(graph.inputs[0].shape):
        raise ExportError(f"--check-data has rows of shape {tuple(x.shape[1:])}; the model takes one input of shape "
                          f"{tuple(graph.inputs[0].shape)}")
    ours = [np.asarray(o, dtype=np.float32) for o in quantized_predict([x])]
    theirs = [np.asarray(o, dtype=np.float32) for o in float_predict([x])]
    cost.check_rows = len(x)
    cost.check_max_error = _max_error(ours, theirs)
    if ours[0].ndim >= 2 and ours[0].shape[-1] > 1:
        ours_class = ours[0].reshape(len(x), -1, ours[0].shape[-1]).argmax(-1)
        float_class = theirs[0].reshape(len(x), -1, theirs[0].shape[-1]).argmax(-1)
        cost.argmax_unchanged = float(np.mean(np.all(ours_class == float_class, axis=1)))
        if labels is not None and ours_class.shape[1] == 1:
            cost.float_accuracy = float(np.mean(float_class[:, 0] == labels))
            cost.accuracy = float(np.mean(ours_class[:, 0] == labels))
    elif labels is not None:
        raise ExportError("--check-labels needs a classifier: an output whose last axis has several classes")
    return cost
