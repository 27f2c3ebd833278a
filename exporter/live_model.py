"""Export a live Keras model object, as from a notebook: export_model(model, ["m.h", "m.json"], name="m").

The model goes through exactly what `export-model` does with a file: Keras saves it into a
private temporary directory (a Keras 3 model as `.keras`, a Keras 2 (tf_keras) model as legacy
`.h5`, the files Keras 2 and Keras 3 users write), and export() reads that file with the same
config scan, converters, Keras 2 vs Keras 3 judgement and file-wins check as any other file.
What a file path would keep is kept: the test vectors are the live model's own predict (and its
float64 twin and gradients), so anything saving loses that changes the result fails the parity
check instead of being exported; the files record the model's name as their source, the C
prefix defaults to that name, and messages name the model, never the temporary file, which is
removed however the call ends. Errors raise exporter.ExportError (a user error) or its subclasses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from exporter.c.identifiers import c_identifier, check_prefix
from exporter.errors import ExportError
from exporter.export import ExportResult, choose_frontend, export_reading, plan_outputs
from exporter.reading import read

SAVED_STEM = "kerasless-live-model"  # the temporary file's stem; messages show the model's name instead


def keras_flavour(model) -> str:
    """'keras' for a Keras 3 model, 'tf_keras' for a Keras 2 one (tf_keras); refuse anything else."""
    modules = [cls.__module__ for cls in type(model).__mro__]
    is_model = any(cls.__name__ == "Model" for cls in type(model).__mro__)
    if is_model and any(m.startswith("keras.") for m in modules):
        return "keras"
    if is_model and any(m.startswith("tf_keras.") for m in modules):
        return "tf_keras"
    raise ExportError(f"export_model takes a Keras model (Sequential or functional), not a "
                      f"{type(model).__module__}.{type(model).__name__}; for a model file use export-model or "
                      f"exporter.export.export(path, outputs)")


def _model_name(model) -> str:
    name = getattr(model, "name", None)
    return name if isinstance(name, str) and name else "model"


def _check_built(model, label: str) -> None:
    if type(model).__name__ not in ("Sequential", "Functional"):
        raise ExportError(f"{label}: is a {type(model).__name__}; only Sequential and functional models are "
                          f"supported (a subclassed model's call() is Python code, which kerasless never runs)")
    try:
        inputs = model.inputs
    except Exception:  # an unbuilt Sequential raises on .inputs in some Keras versions
        inputs = None
    if not inputs:
        raise ExportError(f"{label}: is not built, so its input shape is unknown; start it with "
                          f"keras.Input(shape=(...)) or call model.build((None, ...)) before exporting")


def _save(model, flavour: str, scratch: Path, label: str) -> Path:
    from exporter.frontend_keras import quiet_stderr

    path = scratch / (SAVED_STEM + (".keras" if flavour == "keras" else ".h5"))
    try:
        with quiet_stderr():
            model.save(str(path))
    except Exception as exc:  # whatever Keras raises on a model it cannot serialize
        raise ExportError(f"{label}: Keras cannot save it ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:300]})") from None
    return path


def _live_reference(reading, model, flavour: str) -> None:
    """Make the live model the reference where the reading kept its Keras's semantics."""
    from exporter.float64_reference import float64_predict
    from exporter.frontend_keras import predict_rows
    from exporter.gradient_vectors import keras_gradients

    if flavour == "keras":
        if reading.frontend != "keras":
            return  # frontend="files": a self-check by kerasless's numpy runtime, as asked
        import keras

        version = f"keras {keras.__version__}"
    else:
        if reading.frontend != "files" or not reading.reference_keras.startswith("tf_keras"):
            return  # frontend="files" (self-check) or "keras" (Keras 3's reading of a Keras 2 model)
        version = reading.reference_keras
    if reading.file_wins:  # Keras's reload differs from the saved config; the live model computes the config
        reading.notes = [n for n in reading.notes if "otherwise than the file says" not in n]
        reading.notes.append(f"note: Keras reloads the saved model otherwise than its config says "
                             f"({'; '.join(map(str, reading.file_wins))}): exported as the live model's config "
                             f"says and checked against the live model's predict")
    reading.reference, reading.reference_keras, reading.backend = "keras", version, "tensorflow"

    def predict(batches: list) -> list:
        try:
            return predict_rows(model, batches)
        except Exception as exc:  # the user's model cannot run: say so, not a traceback from inside Keras
            raise ExportError(f"model {_model_name(model)!r}: Keras's predict fails on it ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:300]})") from None

    reading.predict = predict
    reading.predict64 = float64_predict(model)
    reading.gradient = keras_gradients(model)


def _relabel(text: str, path: Path, label: str) -> str:
    return text.replace(str(path), label).replace(path.name, label)


def export_model(model, outputs, name: str | None = None, frontend: str | None = None, gradients: bool = False,
                 weights: str = "float32", check_data=None, check_labels=None, integer: bool = False,
                 calibrate=None) -> ExportResult:
    """Export a live Keras model (Sequential or functional) to every path in outputs (format from the extension).

    name: the C prefix (default: the model's name made into a C identifier). The other options are
    export-model's (exporter/export.py's export()): frontend "keras" (default) or "files", gradients,
    weights "float32"/"float16"/"int8", check_data and check_labels (.npy paths), integer with
    calibrate (a .npy path: an integer-only int8 model, docs/format.md "Integer models"). Returns the
    ExportResult the command line prints; raises ExportError on a user error, writing nothing.
    """
    flavour = keras_flavour(model)
    label = f"model {_model_name(model)!r}"
    frontend = choose_frontend(frontend)
    if isinstance(outputs, (str, Path)):
        outputs = [outputs]
    targets = plan_outputs(None, list(outputs))
    prefix = check_prefix(name) if name is not None else c_identifier(_model_name(model))
    _check_built(model, label)
    with tempfile.TemporaryDirectory(prefix="kerasless-") as scratch:
        path = _save(model, flavour, Path(scratch), label)

        def reader():
            reading = read(path, prefix, frontend)
            reading.notes = [_relabel(n, path, label) for n in reading.notes]
            _live_reference(reading, model, flavour)
            return reading

        try:
            return export_reading(reader, _model_name(model), targets, True, gradients, weights, check_data,
                                  check_labels, integer, calibrate)
        except ExportError as exc:
            raise type(exc)(_relabel(str(exc), path, label)) from None
