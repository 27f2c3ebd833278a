"""Test vectors embedded in every exported file: inputs and the outputs Keras gave for them."""

from __future__ import annotations

import numpy as np

from exporter.ir import Graph

SEED = 20261128


def make_inputs(graph: Graph) -> list:
    """Return input batches: two seeded random ones, then one of extreme values.

    Each batch is a list with one float32 array (rows, *shape) per model input.
    The extreme batch holds zeros, a row scaled by 4 and rows with a single +-1e4
    entry. A single large entry drives activations into saturation and overflow
    while every dot product stays exact, so the expected outputs do not depend on
    float32 summation order (which differs between BLAS libraries; docs/format.md).
    """
    rng = np.random.default_rng(SEED)
    batches = [
        [rng.standard_normal((4, *t.shape)).astype(np.float32) for t in graph.inputs],
        [rng.uniform(-3.0, 3.0, (3, *t.shape)).astype(np.float32) for t in graph.inputs],
    ]
    extreme = []
    for t in graph.inputs:
        rows = np.zeros((4, int(np.prod(t.shape))), dtype=np.float32)
        rows[1] = 4.0 * rng.standard_normal(rows.shape[1])
        rows[2, rng.integers(rows.shape[1])] = 1e4
        rows[3, rng.integers(rows.shape[1])] = -1e4
        extreme.append(rows.reshape(4, *t.shape))
    batches.append(extreme)
    return batches


def _stack(batches: list) -> list:
    """One array per model input holding every batch's rows, in order."""
    return [np.concatenate([batch[k] for batch in batches]) for k in range(len(batches[0]))]


def _split(arrays: list, vectors: list) -> list:
    """Cut stacked outputs back into one list of arrays per vector (rows as in the vectors' inputs)."""
    parts, start = [], 0
    for vector in vectors:
        rows = len(vector["inputs"][0])
        parts.append([a[start:start + rows] for a in arrays])
        start += rows
    return parts


def make_test_vectors(graph: Graph, predict, batches=None) -> list:
    """Run predict (Keras's) on make_inputs() (or on batches, in its form) and pair inputs with outputs.

    All rows go to predict at once; the Keras front-end's predict runs them one row at a time, so
    each row's outputs are what Keras gives for that row alone (docs/format.md, "Test vectors").
    """
    vectors = [{"inputs": inputs} for inputs in (make_inputs(graph) if batches is None else batches)]
    outputs = [np.asarray(o, dtype=np.float32) for o in predict(_stack([v["inputs"] for v in vectors]))]
    for vector, part in zip(vectors, _split(outputs, vectors)):
        vector["outputs"] = part
    return vectors


def add_float64_outputs(vectors: list, predict64) -> str:
    """Add outputs64, the float64 run of the same Keras model, to every vector; return why not ("": added).

    predict64 may raise Float64Unavailable (exporter/float64_reference.py); None means no such run.
    """
    from exporter.float64_reference import Float64Unavailable

    if predict64 is None or not vectors:
        return ""
    try:
        exact = [np.asarray(o, dtype=np.float64) for o in predict64(_stack([v["inputs"] for v in vectors]))]
    except Float64Unavailable as exc:
        return str(exc)
    for vector, part in zip(vectors, _split(exact, vectors)):
        vector["outputs64"] = part
    return ""
