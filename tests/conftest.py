"""Shared fixtures: Keras models built once per session, exported once per format.

TensorFlow takes seconds to import, so everything Keras-related is session-scoped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from zoo import MODELS, build_model  # noqa: E402


@pytest.fixture(scope="session")
def keras():
    from exporter.frontend_keras import import_keras

    return import_keras()


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


class Zoo:
    """Builds each zoo model once, saves it as .h5 and .keras, exports on demand (cached)."""

    def __init__(self, keras, directory: Path):
        self.keras = keras
        self.directory = directory
        self.models = {}
        self.exports = {}

    def model(self, name):
        if name not in self.models:
            self.models[name] = build_model(self.keras, name)
        return self.models[name]

    def saved(self, name, container):
        """Path of the model saved as .h5 or .keras."""
        path = self.directory / f"{name}.{container}"
        if not path.exists():
            self.model(name).save(path)
        return path

    def exported(self, name, container, suffix):
        """Path of the model exported from its .h5/.keras file to suffix (.json, .npz, .h)."""
        key = (name, container, suffix)
        if key not in self.exports:
            from exporter.export import export

            out = self.directory / f"{name}-{container}{suffix}"
            export(self.saved(name, container), [out])
            self.exports[key] = out
        return self.exports[key]

    def inputs(self, name, rows=16, seed=1, scale=1.0):
        """Seeded random input batch(es) for the model: one array per model input."""
        rng = np.random.default_rng(seed)
        model = self.model(name)
        return [(scale * rng.standard_normal((rows, *t.shape[1:]))).astype(np.float32) for t in model.inputs]

    def keras_predict(self, name, inputs):
        result = self.model(name).predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        return list(result) if isinstance(result, (list, tuple)) else [result]


@pytest.fixture(scope="session")
def zoo(keras, zoo_dir):
    return Zoo(keras, zoo_dir)


@pytest.fixture(params=sorted(MODELS))
def zoo_name(request):
    return request.param
