"""runtime_py's fast paths give Keras's results: both backends and the automatic choice, batch 1 and 1024.

The fast paths (a float32 array of the model's shape skips the general conversions; the
automatic backend runs small calls in pure Python) are separate code, so each is checked
against Keras here, with numpy and list inputs. Speed itself is measured by
benchmarks/run.py, never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from parity import assert_parity

BACKENDS = (None, "numpy", "python")


def _rows_for(backend, name):
    # the pure-Python backend at batch 1024 on MNIST takes seconds: it is checked on the smaller models
    return (1, 1024) if backend != "python" or name not in ("mnist",) else (1, 64)


@pytest.mark.parametrize("backend", BACKENDS, ids=["auto", "numpy", "python"])
def test_array_fast_path_matches_keras(zoo, zoo_name, backend):
    model = runtime_py.load(zoo.exported(zoo_name, "keras", ".json"), backend=backend)
    for rows in _rows_for(backend, zoo_name):
        x = zoo.inputs(zoo_name, rows=rows, seed=rows)
        want = zoo.keras_predict(zoo_name, x)[0]
        got = model.predict(x[0])
        assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == want.shape
        assert_parity(got, want, f"{zoo_name} backend={backend} rows={rows}")


@pytest.mark.parametrize("backend", BACKENDS, ids=["auto", "numpy", "python"])
def test_list_input_matches_keras(zoo, backend):
    model = runtime_py.load(zoo.exported("digits", "keras", ".json"), backend=backend)
    x = zoo.inputs("digits", rows=3, seed=5)
    got = model.predict(x[0].tolist())
    assert isinstance(got, list)
    assert_parity(got, zoo.keras_predict("digits", x)[0], f"digits lists backend={backend}")


@pytest.fixture(scope="module")
def tiny(keras, tmp_path_factory):
    """XOR-sized 2-1-1 with a skip (concatenate): small enough for the automatic pure-Python path."""
    from exporter.export import export

    keras.utils.set_random_seed(3)
    inp = keras.Input((2,), name="x")
    hidden = keras.layers.Dense(1, activation="tanh", name="hidden")(inp)
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(keras.layers.Concatenate()([inp, hidden]))
    model = keras.Model(inp, out, name="tiny")
    folder = tmp_path_factory.mktemp("tiny")
    model.save(folder / "tiny.keras")
    export(folder / "tiny.keras", [folder / "tiny.json"])
    return model, folder / "tiny.json"


@pytest.mark.parametrize("rows", [1, 2, 1024])
def test_automatic_choice_on_a_tiny_model(tiny, rows):
    model, path = tiny
    auto = runtime_py.load(path)
    python = runtime_py.load(path, backend="python")
    numpy_ = runtime_py.load(path, backend="numpy")
    assert auto._small_rows >= 1, "a 7-weight model should take the pure-Python path at batch 1"
    x = np.random.default_rng(rows).uniform(-3, 3, (rows, 2)).astype(np.float32)
    got = auto.predict(x)
    assert_parity(got, model.predict(x, verbose=0), f"tiny rows={rows}")
    expected_engine = python if rows <= auto._small_rows else numpy_
    assert got.tobytes() == expected_engine.predict(x).tobytes(), "the automatic choice ran the other engine"
    assert_parity(auto.predict(x.tolist()), model.predict(x, verbose=0), f"tiny lists rows={rows}")


def test_automatic_choice_keeps_numpy_for_large_models(zoo):
    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"))
    assert model.backend == "numpy" and model._small_rows == 0


def test_extreme_inputs_through_the_fast_path(zoo):
    x = zoo.inputs("mnist", rows=4, seed=2, scale=1e4)
    want = zoo.keras_predict("mnist", x)[0]
    for backend in BACKENDS:
        got = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend=backend).predict(x[0])
        assert_parity(got, want, f"mnist x1e4 backend={backend}")
