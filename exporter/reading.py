"""Choose how to read a Keras model file, and who computes the test vectors' reference outputs.

* A file Keras 3 wrote, read with Keras 3 (the default where TensorFlow is installed): the graph
  is converted from the file's own config (the file wins, exporter/reading_check.py); Keras's
  predict gives the reference outputs, a float64 rebuild of the model the float64 ones. Where
  Keras 3 reloads a layer otherwise than the file says, its predict computed another model: the
  export follows the file and the reference is kerasless's numpy runtime, and the summary says so.
  Where Keras 3 cannot load the file at all, the files front-end reads it and the summary says so.
* A file Keras 2 wrote: by default read with the files front-end, which keeps Keras 2's formulas
  (exporter/keras2.py); tf_keras's predict gives the reference where tf_keras is installed.
  `--frontend keras` keeps Keras 3's reading of it and warns.
* `--frontend files`, or no TensorFlow: no Keras runs; the test vectors are a self-check computed
  by kerasless's numpy runtime (producer reference "kerasless").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from exporter.errors import ExportError
from exporter.graph import build_graph
from exporter.ir import Graph

FRONTENDS = ("keras", "files")


@dataclass
class Reading:
    graph: Graph
    keras_version: str  # of the Keras that wrote the file
    frontend: str  # "keras" (Keras 3 loaded the file) or "files"
    reference: str  # "keras": the test vectors are a Keras's predict; "kerasless": our numpy runtime's
    reference_keras: str  # which Keras computed them: "keras 3.15.1", "tf_keras 2.21.0" ("" for kerasless)
    backend: str  # producer.backend: the Keras backend, or "kerasless-numpy"
    predict: Callable
    predict64: Callable | None = None  # the float64 run (may raise Float64Unavailable); None: none exists
    notes: list = field(default_factory=list)
    gradient: Callable | None = None  # --gradients: the reference Keras's input gradients (None: kerasless's)
    file_wins: list = field(default_factory=list)  # reading_check.Difference: Keras 3 reloads these otherwise


def read(model: Path, prefix: str, frontend: str | None) -> Reading:
    """Read MODEL as asked (frontend "keras", "files" or None for the default above)."""
    from exporter.frontend_files import tensorflow_available

    if frontend is not None and frontend not in FRONTENDS:
        raise ExportError(f"unknown front-end {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    if frontend == "files" or (frontend is None and not tensorflow_available()):
        return _with_files(model, prefix, keras2_reference=False)
    if frontend == "keras":
        return _with_keras(model, prefix)
    if _written_by_keras2(model):
        return _with_files(model, prefix, keras2_reference=True)
    from exporter.frontend_keras import KerasLoadError

    try:
        return _with_keras(model, prefix)
    except KerasLoadError as keras_failed:
        try:
            reading = _with_files(model, prefix, keras2_reference=False)
        except ExportError as exc:
            raise ExportError(f"{exc} (Keras 3 cannot load the file either: {keras_failed})") from None
        reading.notes.insert(0, f"note: Keras 3 cannot load {model.name} ({keras_failed}); read it with the files "
                                f"front-end instead, so the test vectors come from kerasless's numpy runtime")
        return reading


def _written_by_keras2(model: Path) -> bool:
    from exporter import keras2
    from exporter.config_scan import read_config
    from exporter.frontend_files import read_version

    try:
        return keras2.written_by_keras2(read_config(model), read_version(model))
    except ExportError:
        return False  # the front-end reading it reports what is wrong


def _with_keras(model: Path, prefix: str) -> Reading:
    from exporter import frontend_keras, keras2, reading_check
    from exporter.config_scan import read_config
    from exporter.frontend_files import read_version, reference_predict

    version = read_version(model)
    raw = read_config(model)
    differences = keras2.divergences(raw, version) if keras2.written_by_keras2(raw, version) else None
    hint = (f"written by Keras {version or '2'}, which Keras 3 reads differently ({'; '.join(differences)}): "
            f"export it with --frontend files (or without --frontend) to keep Keras 2's formulas"
            if differences else "")
    try:
        loaded = frontend_keras.load(model)
    except ExportError as exc:
        raise type(exc)(f"{exc}; {hint}" if hint else str(exc)) from None
    reading = Reading(None, loaded.keras_version, "keras", "keras", f"keras {loaded.keras_version}",
                      loaded.backend, loaded.predict, loaded.predict64, gradient=loaded.gradient)
    if differences is not None:  # a Keras 2 file: Keras 3's reading, as --frontend keras asks
        reading.graph = build_graph(loaded.config, loaded.weights_for, prefix)
        reading.notes.append(f"warning: {model.name} was {hint}" if hint else
                             f"warning: {model.name} was written by Keras {version or '2'}: exported as Keras 3 "
                             f"reads it (--frontend keras); without --frontend kerasless keeps Keras 2's semantics")
        return reading
    reading.graph, found = reading_check.build_from_file(raw, loaded.config, loaded.weights_for, prefix)
    if found:
        reading.file_wins = list(found)
        reading.reference, reading.reference_keras, reading.backend = "kerasless", "", "kerasless-numpy"
        reading.predict, reading.predict64, reading.gradient = reference_predict(reading.graph), None, None
        reading.notes.append(
            f"warning: Keras {loaded.keras_version} reloads {model.name} otherwise than the file says "
            f"({'; '.join(map(str, found))}): exported as the file says (the file wins); Keras's predict "
            f"computes the misread model, so the test vectors come from kerasless's numpy runtime")
    return reading


def _with_files(model: Path, prefix: str, keras2_reference: bool) -> Reading:
    from exporter import frontend_files, tf_keras_reference

    loaded = frontend_files.load(model)
    graph = loaded.build_graph(prefix)
    reading = Reading(graph, loaded.keras_version, "files", "kerasless", "", "kerasless-numpy",
                      frontend_files.reference_predict(graph), None, list(loaded.notes))
    if not (keras2_reference and loaded.writer_keras2):
        return reading
    if not tf_keras_reference.tf_keras_available():
        reading.notes.append(f"note: {model.name} was written by Keras {loaded.keras_version}: exported with "
                             f"Keras 2's semantics; tf_keras is not installed, so the test vectors come from "
                             f"kerasless's numpy runtime (pip install tf_keras to check against Keras 2)")
        return reading
    try:
        keras2_model = tf_keras_reference.load(model)
    except ExportError as exc:
        reading.notes.append(f"note: {exc}; the test vectors come from kerasless's numpy runtime")
        return reading
    reading.reference, reading.reference_keras, reading.backend = \
        "keras", f"tf_keras {keras2_model.version}", "tensorflow"
    reading.predict, reading.predict64 = keras2_model.predict, keras2_model.predict64
    reading.gradient = keras2_model.gradient
    reading.notes.append(f"note: {model.name} was written by Keras {loaded.keras_version}: exported with Keras 2's "
                         f"semantics and checked against tf_keras {keras2_model.version}'s predict")
    return reading
