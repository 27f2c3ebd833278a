"""Export one Keras model file to model files and C headers: the library entry point."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from exporter.c.forward import header_unsupported
from exporter.c.identifiers import c_identifier, check_prefix
from exporter.c.render import to_header
from exporter.errors import ExportError, Interrupted
from exporter.gradient_vectors import kerasless_gradients, make_gradient_check, runtime_gradient_error
from exporter.graph import build_graph
from exporter.ir import Graph
from exporter.model_file import to_json, to_npz
from exporter.output import write_all
from exporter.test_vectors import make_test_vectors

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")
WRITERS = {".json": to_json, ".npz": to_npz, ".h": to_header}
DEFAULT_SUFFIXES = (".json", ".h")


@dataclass
class Written:
    path: Path
    size: int
    max_error: float | None = None  # max |runtime - Keras| over the embedded vectors
    sha256: str = ""  # of the file's bytes: what runtime_py.load(path, sha256=...) pins


@dataclass
class ExportResult:
    graph: Graph
    keras_version: str
    written: list = field(default_factory=list)
    vector_rows: int = 0
    notes: list = field(default_factory=list)  # one line each, printed after the summary
    frontend: str = "keras"  # "keras" (Keras 3 on TensorFlow) or "files" (h5py/zipfile, no TensorFlow)
    gradient_error: float | None = None  # --gradients: max |runtime_py gradient - reference| on the check rows
    reference: str = "keras"  # who computed the test vectors' outputs: "keras" or "kerasless" (a self-check)


def check_model_path(model: Path) -> None:
    """Fail fast, before any heavy import, on a path that cannot be a Keras model file."""
    if not model.exists():
        raise ExportError(f"{model}: no such file")
    if model.is_dir():
        raise ExportError(f"{model}: is a directory, not a Keras model file")
    if not stat.S_ISREG(model.stat().st_mode):
        raise ExportError(f"{model}: is not a regular file (a device, FIFO or socket)")
    if model.suffix.lower() not in MODEL_SUFFIXES:
        raise ExportError(f"{model}: unknown extension {model.suffix!r}; expected one of {', '.join(MODEL_SUFFIXES)}")
    if not os.access(model, os.R_OK):
        raise ExportError(f"{model}: not readable")
    if model.stat().st_size == 0:
        raise ExportError(f"{model}: is empty")


def plan_outputs(model: Path, outputs: list) -> list:
    """Resolve -o targets (default: MODEL-stem.json and MODEL-stem.h beside MODEL) and refuse dangerous ones."""
    targets = [Path(o) for o in outputs] or [model.with_suffix(s) for s in DEFAULT_SUFFIXES]
    seen = set()
    for target in targets:
        if target.suffix.lower() not in WRITERS:
            raise ExportError(f"{target}: unknown output format {target.suffix!r}; use {', '.join(WRITERS)}")
        resolved = target.resolve()
        if resolved == model.resolve():
            raise ExportError(f"{target}: is the input model; refusing to overwrite it")
        if resolved in seen:
            raise ExportError(f"{target}: given twice as an output")
        seen.add(resolved)
        if not target.parent.is_dir():
            raise ExportError(f"{target}: directory {str(target.parent)!r} does not exist")
        if target.is_dir():
            raise ExportError(f"{target}: is a directory")
    return targets


FRONTENDS = ("keras", "files")


def choose_frontend(frontend: str | None) -> str:
    """The front-end to use: as asked, else Keras when TensorFlow and Keras are installed, else the files one."""
    if frontend is None:
        from exporter.frontend_files import tensorflow_available

        return "keras" if tensorflow_available() else "files"
    if frontend not in FRONTENDS:
        raise ExportError(f"unknown front-end {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    return frontend


def _load_with_keras(model: Path, prefix: str) -> tuple:
    """Keras 3 reads the file; a Keras 2 file that Keras 3 reads differently gets a note (or a hint on failure)."""
    from exporter import frontend_keras, keras2
    from exporter.config_scan import read_config
    from exporter.frontend_files import read_version

    version = read_version(model)
    try:
        differences = keras2.divergences(read_config(model), version)
    except ExportError:
        differences = []
    hint = (f"written by Keras {version or '2'}, which Keras 3 reads differently ({'; '.join(differences)}): "
            f"export it with --frontend files to keep Keras 2's formulas") if differences else ""
    try:
        loaded = frontend_keras.load(model)
    except ExportError as exc:
        raise ExportError(f"{exc}; {hint}" if hint else str(exc)) from None
    graph = build_graph(loaded.config, loaded.weights_for, prefix)
    return loaded, graph, loaded.predict, [f"note: {model.name} was {hint}"] if hint else []


def _load_from_files(model: Path, prefix: str) -> tuple:
    from exporter import frontend_files

    loaded = frontend_files.load(model)
    graph = loaded.build_graph(prefix)
    return loaded, graph, frontend_files.reference_predict(graph), list(loaded.notes)


def export(model, outputs=(), name: str | None = None, frontend: str | None = None,
           gradients: bool = False) -> ExportResult:
    """Export MODEL to every path in outputs (format from the extension).

    frontend: "keras" (load with Keras 3 on TensorFlow; the test vectors are Keras's own outputs),
    "files" (read the file with h5py/zipfile; the vectors come from kerasless's numpy runtime), or None:
    Keras when TensorFlow and Keras are importable, else files.
    gradients: give the C header NAME_input_gradient, checked by NAME_selftest on reference gradients
    (TensorFlow's, or with the files front-end kerasless's own).
    """
    model = Path(model)
    frontend = choose_frontend(frontend)
    check_model_path(model)
    targets = plan_outputs(model, list(outputs))
    if gradients and not any(t.suffix.lower() == ".h" for t in targets):
        raise ExportError("--gradients adds NAME_input_gradient to the C header: ask for one with -o MODEL.h")
    prefix = check_prefix(name) if name is not None else c_identifier(model.stem)

    load = _load_with_keras if frontend == "keras" else _load_from_files
    loaded, graph, predict, notes = load(model, prefix)
    reference = "keras" if frontend == "keras" else "kerasless"
    if gradients and header_unsupported(graph):
        raise ExportError(f"cannot write a C header with gradients: {header_unsupported(graph)}")
    if not outputs and header_unsupported(graph):  # the default pair: still write the model file
        targets = [t for t in targets if t.suffix.lower() != ".h"]
        notes.append(f"no C header written: {header_unsupported(graph)}")
    vectors = make_test_vectors(graph, predict)
    producer = {"keras_version": loaded.keras_version,
                "backend": loaded.backend if frontend == "keras" else "kerasless-numpy",
                "source": model.name, "reference": reference}
    check = None
    if gradients:
        gradient = loaded.gradient if frontend == "keras" else kerasless_gradients(graph)
        check = make_gradient_check(graph, vectors, gradient, "TensorFlow" if frontend == "keras" else "kerasless")
    documents = {t: (to_header(graph, vectors, producer, check) if t.suffix.lower() == ".h" and check
                     else WRITERS[t.suffix.lower()](graph, vectors, producer)) for t in targets}
    errors = {t: _runtime_error(t.suffix.lower(), data) for t, data in documents.items()}
    gradient_error = runtime_gradient_error(graph, check) if check else None
    write_all(documents)
    try:
        result = ExportResult(graph, loaded.keras_version, vector_rows=sum(len(v["inputs"][0]) for v in vectors),
                              notes=notes, frontend=frontend, reference=reference)
        result.written = [Written(t, len(documents[t]), errors[t], hashlib.sha256(documents[t]).hexdigest())
                          for t in targets]
        result.gradient_error = gradient_error
    except Interrupted as exc:
        exc.written = True
        raise
    return result


def _runtime_error(suffix: str, data: bytes) -> float | None:
    """Load the rendered model file with runtime_py and return its max error on the test vectors."""
    if suffix not in (".json", ".npz"):
        return None
    import runtime_py

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"model{suffix}"
        path.write_bytes(data)
        model = runtime_py.load(path)
        try:
            return model.verify()
        except runtime_py.VerificationError as exc:
            raise ExportError(f"kerasless's own runtime disagrees with Keras on this model: {exc}") from None
