"""Functional graphs through runtime_py: several inputs/outputs, shared layers, nested models, random graphs, XOR."""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from exporter.export import export
from graph_cases import GRAPHS, build_graph_case, random_graph, xor_with_skip
from parity import assert_parity

RANDOM_SEEDS = list(range(50))


def _inputs(model, rows=5, seed=2, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal((rows, *t.shape[1:]))).astype(np.float32) for t in model.inputs]


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def check_python_runtimes(keras_model, path, scales=(1.0,)):
    """Both runtime_py backends against model.predict; the file's own vectors too."""
    for backend in runtime_py.BACKENDS:
        model = runtime_py.load(path, backend=backend)
        model.verify()
        assert [t.shape for t in model.inputs] == [tuple(t.shape[1:]) for t in keras_model.inputs]
        for scale in scales:
            inputs = _inputs(keras_model, scale=scale)
            expected = _as_list(keras_model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))
            got = _as_list(model.predict(inputs if len(inputs) > 1 else inputs[0]))
            assert len(got) == len(expected) == len(keras_model.outputs)
            for k, (mine, theirs) in enumerate(zip(got, expected)):
                assert_parity(mine, theirs, f"{path.name} [{backend}] output {k} scale {scale}")


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_parity(keras, tmp_path, name, container):
    model = build_graph_case(keras, name)
    source = tmp_path / f"{name}.{container}"
    model.save(source)
    result = export(source, [tmp_path / f"{name}.json"])
    assert [t.name for t in result.graph.inputs] == [t.name.split(":")[0] for t in model.inputs] or \
        len(result.graph.inputs) == len(model.inputs)
    check_python_runtimes(model, tmp_path / f"{name}.json", scales=(1.0, 3.0))


def test_dict_inputs_by_name(keras, tmp_path):
    model = build_graph_case(keras, "multi_io")
    model.save(tmp_path / "m.keras")
    export(tmp_path / "m.keras", [tmp_path / "m.npz"])
    ours = runtime_py.load(tmp_path / "m.npz")
    a, b = _inputs(model)
    by_position = ours.predict([a, b])
    by_name = ours.predict({"b": b, "a": a})
    for x, y in zip(by_position, by_name):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="2 inputs"):
        ours.predict(a)


def test_shared_layer_is_applied_twice(keras, tmp_path):
    model = build_graph_case(keras, "shared_layer")
    model.save(tmp_path / "s.keras")
    result = export(tmp_path / "s.keras", [tmp_path / "s.json"])
    dense_nodes = [n for n in result.graph.nodes if n.op == "dense"]
    assert len(dense_nodes) == 2
    np.testing.assert_array_equal(dense_nodes[0].weights["kernel"], dense_nodes[1].weights["kernel"])


def test_nested_models_are_flattened(keras, tmp_path):
    model = build_graph_case(keras, "nested")
    model.save(tmp_path / "n.keras")
    result = export(tmp_path / "n.keras", [tmp_path / "n.json"])
    assert {n.op for n in result.graph.nodes} <= {"dense", "concatenate"}
    assert len([n for n in result.graph.nodes if n.op == "dense"]) == 5  # block twice (2 each) + head


@pytest.fixture(scope="module")
def random_models(keras, tmp_path_factory):
    directory = tmp_path_factory.mktemp("random")
    built = {}
    for seed in RANDOM_SEEDS:
        model = random_graph(keras, seed)
        container = "keras" if seed % 2 else "h5"
        source = directory / f"random_{seed}.{container}"
        model.save(source)
        export(source, [directory / f"random_{seed}.json"])
        built[seed] = (model, directory / f"random_{seed}.json")
    return built


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_graph(random_models, seed):
    model, path = random_models[seed]
    check_python_runtimes(model, path)


@pytest.fixture(scope="module")
def xor_model(keras, tmp_path_factory):
    """Train the XOR-with-skip network until it solves XOR (rounded outputs equal the truth table)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    for seed in range(10):
        keras.utils.set_random_seed(seed)
        model = xor_with_skip(keras)
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
        # One epoch over 400 copies: the same 400 steps as 400 epochs, without per-epoch overhead.
        model.fit(np.tile(x, (400, 1)), np.tile(y, (400, 1)), epochs=1, batch_size=4, shuffle=False, verbose=0)
        if np.array_equal(np.round(model.predict(x, verbose=0)), y):
            path = tmp_path_factory.mktemp("xor") / "xor.h5"
            model.save(path)
            return model, path, x, y
    pytest.fail("XOR did not train in 10 seeds")


def test_xor_solved_by_runtime_py(xor_model, tmp_path):
    model, path, x, y = xor_model
    export(path, [tmp_path / "xor.json"])
    for backend in runtime_py.BACKENDS:
        ours = runtime_py.load(tmp_path / "xor.json", backend=backend)
        got = np.asarray(ours.predict(x.tolist()))
        assert np.array_equal(np.round(got), y)
        assert_parity(got, model.predict(x, verbose=0), backend)
