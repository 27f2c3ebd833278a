"""The parity sweep: every registry layer and every activation, inputs x1, x50 and x1e4, all three runtimes.

Each case is one small Keras model, predicted once by Keras and once by its float64 rebuild
(exporter/float64_reference.py) on the same stacked rows: every case of tests/layer_cases.py and
an Activation layer per activation, each straight on the input (large inputs reach it unchanged,
the same float32 values in every runtime), at x1, x50 and x1e4; and Dense(8, activation=name) per
activation at x1 and x50. Not at x1e4: there a dense sum of 1e4-sized terms reaches the activation
an ulp apart in each runtime (the pure-Python backend sums in double), and an activation that
cancels (squareplus of large negative values) turns that ulp into differences the judge cannot
tell from error where Keras's own result happens to be nearly exact (docs/format.md, "Parity"). Those become the test vectors of a model file and a header, and every
runtime must pass the parity judge on them: runtime_py's pure-Python and numpy backends through
Model.verify_report(), the C header through NAME_selftest's judge intervals and its predictions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import runtime_py
from cheader import MultiModelProgram
from layer_cases import build_case, cases
from parity import assert_parity
from test_activations import HALVING, STRING_ACTIVATIONS

SCALES = {"layer": (1.0, 50.0, 1e4), "activation": (1.0, 50.0, 1e4), "dense": (1.0, 50.0)}
ROWS = 4  # per scale


def _activation_model(keras, name, dense):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((2, 8), name="x")
    layer = keras.layers.Dense(8, activation=name) if dense else keras.layers.Activation(name)
    model = keras.Model(inputs, layer(inputs), name=f"act_{name}")
    if dense:
        rng = np.random.default_rng(9)
        kernel, bias = model.layers[-1].get_weights()
        model.layers[-1].set_weights([kernel, rng.normal(0, 0.5, bias.shape).astype(np.float32)])
    return model


def _case_names(keras):
    activations = STRING_ACTIVATIONS + HALVING
    return ([("layer", n) for n in sorted(cases(keras))] + [("activation", a) for a in activations]
            + [("dense", a) for a in activations])


def _inputs(model, seed, scales):
    rng = np.random.default_rng(seed)
    return [np.concatenate([(s * rng.standard_normal((ROWS, *t.shape[1:]))).astype(np.float32) for s in scales])
            for t in model.inputs]


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


@pytest.fixture(scope="module")
def sweep(keras, tmp_path_factory):
    """Every case: its model file, its header in one compiled program, its inputs and references."""
    from exporter.c.render import to_header
    from exporter.float64_reference import float64_predict
    from exporter.frontend_keras import _collect_weights
    from exporter.graph import build_graph
    from exporter.model_file import to_json

    directory = tmp_path_factory.mktemp("sweep")
    program, table = MultiModelProgram(directory), {}
    for k, (kind, name) in enumerate(_case_names(keras)):
        model = build_case(keras, name) if kind == "layer" else _activation_model(keras, name, kind == "dense")
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        weights = {}
        _collect_weights(model, (), weights)
        prefix = f"sweep{k}"
        graph = build_graph(config, lambda path: weights.get(path, []), prefix)
        inputs = _inputs(model, k, SCALES[kind])
        outputs = [np.asarray(o, np.float32) for o in _as_list(model.predict(inputs if len(inputs) > 1
                                                                              else inputs[0], verbose=0))]
        exact = float64_predict(model)(inputs)
        vectors = [{"inputs": inputs, "outputs": outputs, "outputs64": exact}]
        (directory / f"{prefix}.json").write_bytes(to_json(graph, vectors, {"source": name}))
        (directory / f"{prefix}.h").write_bytes(to_header(graph, vectors, {"source": name}))
        program.add((kind, name), directory / f"{prefix}.h", prefix, len(inputs), len(outputs))
        table[(kind, name)] = (directory / f"{prefix}.json", inputs, outputs, exact)
    return program, program.build(), table


def _ids():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from exporter.frontend_keras import import_keras

    return _case_names(import_keras())


CASES = _ids()


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_every_runtime_passes_the_judge(sweep, kind, name):
    program, exe, table = sweep
    path, inputs, outputs, exact = table[(kind, name)]
    for backend in runtime_py.BACKENDS:
        model = runtime_py.load(path, backend=backend)
        reports = model.verify_report()
        assert all(r.ok for r in reports), f"{name} [{backend}]: {[r.describe() for r in reports]}"
        got = _as_list(model.predict(inputs if len(inputs) > 1 else inputs[0]))
        for k, (mine, want, want64) in enumerate(zip(got, outputs, exact)):
            assert_parity(mine, want, f"{name} [{backend}] output {k}", keras64=want64)
    failures, _ = program.selftest(exe, (kind, name))
    assert failures == 0, f"{name}: NAME_selftest refuses {failures} values"
    mine = program.predict(exe, (kind, name), inputs, [o.shape[1:] for o in outputs])
    for k, (ours, want, want64) in enumerate(zip(mine, outputs, exact)):
        assert_parity(ours, want, f"{name} [C] output {k}", keras64=want64)
