"""runtime_py (both backends) against Keras model.predict, for every zoo model, from .h5 and .keras."""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from parity import assert_parity


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_runtime_matches_keras(zoo, zoo_name, container, suffix, backend):
    model = runtime_py.load(zoo.exported(zoo_name, container, suffix), backend=backend)
    for scale in (1.0, 3.0):
        inputs = zoo.inputs(zoo_name, rows=8, scale=scale)
        expected = zoo.keras_predict(zoo_name, inputs)
        got = model.predict(inputs if len(inputs) > 1 else inputs[0])
        got = got if isinstance(got, list) else [got]
        for k, (mine, theirs) in enumerate(zip(got, expected)):
            assert isinstance(mine, np.ndarray) and mine.dtype == np.float32
            assert_parity(mine, theirs, f"{zoo_name}.{container}{suffix} [{backend}] output {k} scale {scale}")


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_embedded_vectors_verify(zoo, zoo_name, backend):
    model = runtime_py.load(zoo.exported(zoo_name, "keras", ".json"), backend=backend)
    assert model.verify() <= 1e-3


def test_list_input_gives_list_output(zoo):
    inputs = zoo.inputs("regressor", rows=3)
    expected = zoo.keras_predict("regressor", inputs)[0]
    for backend in ("numpy", "python"):
        model = runtime_py.load(zoo.exported("regressor", "h5", ".json"), backend=backend)
        got = model.predict(inputs[0].tolist())
        assert isinstance(got, list) and isinstance(got[0], list) and isinstance(got[0][0], float)
        assert_parity(got, expected, backend)


def test_batch_one_and_nested_shapes(zoo):
    """Keras shapes go in and come out: (batch, 8, 8) in, (batch, 10) out."""
    model = runtime_py.load(zoo.exported("digits", "keras", ".npz"))
    x = zoo.inputs("digits", rows=1)[0]
    assert x.shape == (1, 8, 8)
    assert model.predict(x).shape == (1, 10)
    assert model.inputs == [runtime_py.TensorInfo("input_layer", (8, 8))] or model.inputs[0].shape == (8, 8)
    assert model.outputs[0].shape == (10,)
    nested = runtime_py.load(zoo.exported("digits", "keras", ".npz"), backend="python").predict(x.tolist())
    assert len(nested) == 1 and len(nested[0]) == 10
