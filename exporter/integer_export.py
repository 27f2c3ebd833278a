"""export-model --integer: quantize a read model with calibration rows and write its integer files.

The embedded test vectors are int8 rows (calibration rows quantized, plus random int8 rows) and
the outputs runtime_py's integer kernels give them: our own int8 reference, reproduced exactly
by every runtime. What the integers cost against Keras's float model is measured and reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from exporter.accuracy import _max_error
from exporter.errors import ExportError
from exporter.integer import build_integer, load_calibration, quantize_input
from exporter.integer_file import to_integer_json, to_integer_npz
from exporter.output import write_all

VECTOR_ROWS = 16  # calibration rows in the test vectors
RANDOM_ROWS = 4  # plus int8 rows drawn over the whole range (clamps, saturation)


@dataclass
class IntegerCost:
    weight_bytes: int
    float_weight_bytes: int
    rows: int  # calibration rows measured
    max_error: float  # max |dequantized int8 output - float model| on them
    argmax_unchanged: float | None
    check_rows: int = 0
    check_max_error: float | None = None
    check_argmax_unchanged: float | None = None
    float_accuracy: float | None = None
    accuracy: float | None = None
    storage: str = "integer int8"


def _argmax_share(ours: np.ndarray, theirs: np.ndarray) -> float | None:
    if ours.ndim < 2 or ours.shape[-1] < 2:
        return None
    return float(np.mean(ours.reshape(len(ours), -1).argmax(-1) == theirs.reshape(len(theirs), -1).argmax(-1)))


def _vectors(graph, calibration: np.ndarray, model) -> list:
    rows = quantize_input(calibration[:VECTOR_ROWS], graph.input_quant)
    extra = np.random.default_rng(0).integers(-128, 128, size=(RANDOM_ROWS, rows.shape[1])).astype(np.int8)
    inputs = np.concatenate([rows, extra]).reshape((-1,) + tuple(graph.input.shape))
    return [{"inputs": inputs, "outputs": model.predict_int8(inputs)}]


def export_integer(reading, targets: list, calibrate, checks, source: str):
    """Quantize reading.graph with --calibrate's rows, write every target, return the ExportResult."""
    from exporter.c.integer import to_integer_header
    from exporter.export import ExportResult, Written
    import runtime_py

    float_graph = reading.graph
    calibration = load_calibration(calibrate, float_graph)
    graph = build_integer(float_graph, calibration)
    producer = {"keras_version": reading.keras_version, "backend": reading.backend, "source": source,
                "reference": "kerasless-integer"}
    probe = to_integer_json(graph, [], producer)
    model = runtime_py.loads(probe, backend="numpy", name="the integer model")
    vectors = _vectors(graph, calibration, model)
    writers = {".json": lambda: to_integer_json(graph, vectors, producer),
               ".npz": lambda: to_integer_npz(graph, vectors, producer),
               ".h": lambda: to_integer_header(graph, vectors, producer, float_graph.name)}
    documents = {t: writers[t.suffix.lower()]() for t in targets}
    for target, data in documents.items():  # every model file must load and reproduce its vectors
        if target.suffix.lower() != ".h":
            for backend in ("numpy", "python"):
                runtime_py.loads(data, backend=backend, name=str(target)).verify()
    shaped = calibration.reshape((-1,) + tuple(float_graph.inputs[0].shape))
    theirs = np.asarray(reading.predict([shaped])[0], dtype=np.float32)
    ours = model.predict(shaped)
    cost = IntegerCost(graph.weight_bytes(), 4 * float_graph.parameter_count(), len(shaped),
                       _max_error([ours], [theirs]), _argmax_share(ours, theirs))
    if checks is not None:
        x, labels = checks
        if tuple(x.shape[1:]) != tuple(float_graph.inputs[0].shape):
            raise ExportError(f"--check-data has rows of shape {tuple(x.shape[1:])}; the model takes "
                              f"{tuple(float_graph.inputs[0].shape)}")
        theirs = np.asarray(reading.predict([x])[0], dtype=np.float32)
        ours = model.predict(x)
        cost.check_rows, cost.check_max_error = len(x), _max_error([ours], [theirs])
        cost.check_argmax_unchanged = _argmax_share(ours, theirs)
        if labels is not None:
            if cost.check_argmax_unchanged is None:
                raise ExportError("--check-labels needs a classifier: an output whose last axis has several classes")
            cost.float_accuracy = float(np.mean(theirs.reshape(len(x), -1).argmax(-1) == labels))
            cost.accuracy = float(np.mean(ours.reshape(len(x), -1).argmax(-1) == labels))
    write_all(documents)
    result = ExportResult(float_graph, reading.keras_version, notes=reading.notes, frontend=reading.frontend,
                          reference="integer", vector_rows=len(vectors[0]["inputs"]))
    result.written = [Written(t, len(documents[t]), None, hashlib.sha256(documents[t]).hexdigest()) for t in targets]
    result.cost = cost
    result.integer = graph
    return result
