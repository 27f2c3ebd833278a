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


def make_test_vectors(graph: Graph, predict, predict64=None) -> tuple:
    """Run predict (Keras's) on make_inputs() and pair inputs with outputs; return (vectors, note).

    All rows go to predict at once; the Keras front-end's predict runs them one row at a time, so
    each row's outputs are what Keras gives for that row alone (docs/format.md, "Test vectors"). predict64, where given, is the float64
    run of the same Keras model: its outputs go in as outputs64. note says why they are missing
    when the float64 run failed ("" otherwise).
    """
    from exporter.float64_reference import Float64Unavailable

    batches = make_inputs(graph)
    stacked = [np.concatenate([batch[k] for batch in batches]) for k in range(len(graph.inputs))]
    outputs = [np.asarray(o, dtype=np.float32) for o in predict(stacked)]
    exact, note = None, ""
    if predict64 is not None:
        try:
            exact = [np.asarray(o, dtype=np.float64) for o in predict64(stacked)]
        except Float64Unavailable as exc:
            note = str(exc)
    vectors, start = [], 0
    for inputs in batches:
        rows = len(inputs[0])
        vector = {"inputs": inputs, "outputs": [o[start:start + rows] for o in outputs]}
        if exact is not None:
            vector["outputs64"] = [o[start:start + rows] for o in exact]
        vectors.append(vector)
        start += rows
    return vectors, note
