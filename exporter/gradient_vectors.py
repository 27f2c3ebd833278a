"""The input-gradient check rows of a header exported with --gradients: NAME_selftest reproduces them.

The first GRADIENT_ROWS test-vector rows (the standard normal and the uniform batches; the
extreme rows saturate most activations, where a gradient tells little) each get one output
value, spread over all of them, and the reference gradient of that value with respect to every
input: TensorFlow's tf.GradientTape on the Keras model, or, without Keras, kerasless's numpy
runtime (a self-check, like the test vectors then).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from exporter.ir import Graph, size_of

GRADIENT_ROWS = 7


def output_indices(total: int, rows: int) -> list:
    """One flat output index per row, spread evenly from 0 to total - 1."""
    return [(r * (total - 1)) // max(rows - 1, 1) for r in range(rows)]


def keras_gradients(model):
    """gradient(batches, indices) -> per input (rows, *shape): tf.GradientTape on a live Keras model."""

    def gradient(batches: list, indices: list) -> list:
        import tensorflow as tf

        xs = [tf.constant(np.asarray(b, dtype=np.float32)) for b in batches]
        rows = int(xs[0].shape[0])
        with tf.GradientTape(persistent=True) as tape:
            for x in xs:
                tape.watch(x)
            ys = model(xs if len(xs) > 1 else xs[0], training=False)
            ys = [tf.reshape(y, (rows, -1)) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]
        starts = np.cumsum([0] + [int(y.shape[1]) for y in ys[:-1]])
        result = [np.zeros((rows, *x.shape[1:]), dtype=np.float32) for x in xs]
        for k in sorted(set(indices)):
            which = int(np.searchsorted(starts, k, side="right") - 1)
            with tape:
                value = tf.reduce_sum(ys[which][:, k - int(starts[which])])  # rows are independent
            grads = tape.gradient(value, xs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            chosen = np.array(indices) == k
            for out, grad in zip(result, grads):
                out[chosen] = np.asarray(grad)[chosen]
        del tape
        return result

    return gradient


def kerasless_gradients(graph: Graph):
    """gradient(batches, indices) computed by runtime_py's numpy backend on the graph itself."""
    import runtime_py
    from exporter.model_file import to_npz

    def gradient(batches: list, indices: list) -> list:
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "reference.npz"
            target.write_bytes(to_npz(graph, [], {"source": "reference"}))
            model = runtime_py.load(target, backend="numpy")
        result = model.gradient(list(batches) if len(batches) > 1 else batches[0], output=list(indices))
        return result if len(batches) > 1 else [result]

    return gradient


def make_gradient_check(graph: Graph, vectors: list, gradient, reference: str) -> dict:
    """{"index", "values", "reference"} for the header: the first GRADIENT_ROWS test rows' reference gradients."""
    batches = [np.concatenate([v["inputs"][k] for v in vectors])[:GRADIENT_ROWS] for k in range(len(graph.inputs))]
    rows = len(batches[0])
    indices = output_indices(sum(size_of(t.shape) for t in graph.outputs), rows)
    grads = gradient(batches, indices)
    values = np.concatenate([np.asarray(g, dtype=np.float32).reshape(rows, -1) for g in grads], axis=1)
    return {"index": indices, "values": values, "reference": reference, "inputs": batches}


def runtime_gradient_error(graph: Graph, check: dict) -> float:
    """Max |runtime_py's numpy gradient - the reference| over the check rows (finite values)."""
    mine = kerasless_gradients(graph)(check["inputs"], check["index"])
    flat = np.concatenate([np.asarray(g, dtype=np.float32).reshape(len(check["index"]), -1) for g in mine], axis=1)
    with np.errstate(invalid="ignore"):
        error = np.abs(flat.astype(np.float64) - check["values"])
    finite = np.isfinite(error)
    return float(error[finite].max()) if finite.any() else 0.0
