"""Keras front-end: load a .h5/.keras file with Keras 3 and hand over plain data.

What leaves this module is the serialized model config, the weights of every
layer keyed by its path, the Keras version, and a predict function for the test
vectors. No live Keras object reaches the converters.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from exporter.config_scan import check_config, read_config
from exporter.errors import ExportError


class KerasLoadError(ExportError):
    """Keras 3 could not load a file that passed the config scan."""


@dataclass
class LoadedModel:
    config: dict  # {"class_name": ..., "config": ...} as Keras serializes the model
    weights: dict  # layer path (tuple of names) -> list of numpy arrays
    keras_version: str
    backend: str
    predict: Callable  # list of input batches -> list of output batches (numpy)
    gradient: Callable | None = None  # (input batches, flat output index per row) -> input gradients (--gradients)
    predict64: Callable | None = None  # the same from the model rebuilt in float64 (exporter/float64_reference.py)

    def weights_for(self, path: tuple) -> list:
        return self.weights.get(path, [])


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 to a temp file while TensorFlow talks (its C++ logs bypass Python).

    The captured text is replayed when KERASLESS_DEBUG is set.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if os.environ.get("KERASLESS_DEBUG"):
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))


def import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with quiet_stderr():
            import keras  # noqa: F401 (imported for its side effect of loading TensorFlow)
    except ImportError as exc:
        raise ExportError(f"the Keras front-end needs TensorFlow and Keras 3 installed ({exc})") from None
    import keras

    return keras


def _collect_weights(model, prefix: tuple, table: dict) -> None:
    for layer in model.layers:
        path = prefix + (layer.name,)
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):
            _collect_weights(layer, path, table)
        else:
            table[path] = [w for w in layer.get_weights()]


def predict_rows(model, batches: list) -> list:
    """A live Keras model's outputs for input batches, one row at a time (Keras 3 or tf_keras).

    What Keras gives for a row then does not depend on the rows beside it (oneDNN picks its
    kernels by batch size). predict_on_batch on one row computes what predict(row) does, bit for
    bit, at a third of the cost (no tf.data pipeline; measured).
    """
    rows = []
    with quiet_stderr():
        for row in range(len(batches[0])):
            result = model.predict_on_batch([b[row:row + 1] for b in batches] if len(batches) > 1
                                            else batches[0][row:row + 1])
            rows.append([np.asarray(r) for r in result] if isinstance(result, (list, tuple))
                        else [np.asarray(result)])
    return [np.concatenate([row[k] for row in rows]) for k in range(len(rows[0]))]


def load(path: Path) -> LoadedModel:
    """Load a Keras model file with Keras 3 (safe_mode on, no compile), after a config scan without Keras."""
    check_config(read_config(path), path)
    keras = import_keras()
    try:
        with quiet_stderr():
            model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
            # Through JSON, so the config is exactly what a file holds (lists, not tuples).
            serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    except Exception as exc:  # Keras raises anything from ValueError to OSError on a bad file
        message = " ".join(str(exc).split())
        if len(message) > 300:
            message = message[:297] + "..."
        raise KerasLoadError(f"{path}: cannot load it as a Keras model: {type(exc).__name__}: {message}") from None
    if not hasattr(model, "layers") or not hasattr(model, "inputs"):
        raise ExportError(f"{path}: holds a {type(model).__name__}, not a Keras model")
    weights = {}
    _collect_weights(model, (), weights)

    def predict(batches: list) -> list:
        return predict_rows(model, batches)

    from exporter.float64_reference import float64_predict
    from exporter.gradient_vectors import keras_gradients

    return LoadedModel(serialized, weights, keras.__version__, keras.backend.backend(), predict,
                       gradient=keras_gradients(model), predict64=float64_predict(model))
