"""Keras 2's own outputs for a Keras 2 file: tf_keras (Keras 2 on TensorFlow), where it is installed.

A file written by Keras 2 is exported with Keras 2's semantics (the files front-end and
exporter/keras2.py); its test vectors should then hold what Keras 2 predicts, not Keras 3.
tf_keras loads the file (after config_scan refused anything that could run code) and predicts,
and a float64 twin of it gives the parity judge's float64 outputs (exporter/float64_reference.py).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from exporter.errors import ExportError
from exporter.float64_reference import float64_predict
from exporter.frontend_keras import predict_rows, quiet_stderr


@dataclass
class Reference:
    predict: Callable  # list of input batches -> list of float32 output batches
    predict64: Callable  # the same in float64 (may raise Float64Unavailable)
    version: str
    gradient: Callable  # input gradients by tf.GradientTape (exporter/gradient_vectors.py)


def tf_keras_available() -> bool:
    """Whether tf_keras (and so TensorFlow) is findable, without importing it."""
    try:
        return importlib.util.find_spec("tf_keras") is not None
    except (ImportError, ValueError):
        return False


def load(path: Path) -> Reference:
    """Load a Keras 2 file with tf_keras; raise ExportError if tf_keras cannot read it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with quiet_stderr():
            import tf_keras

            model = tf_keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # anything tf_keras raises on a file it cannot read
        raise ExportError(f"{path}: tf_keras cannot load it: {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}") from None

    from exporter.gradient_vectors import keras_gradients

    return Reference(lambda batches: predict_rows(model, batches), float64_predict(model), tf_keras.__version__,
                     keras_gradients(model))
