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
from exporter.accuracy import load_check_data, measure_cost
from exporter.c.render import to_header
from exporter.c.shared_library import to_shared_library
from exporter.errors import ExportError, Interrupted
from exporter.gradient_vectors import kerasless_gradients, make_gradient_check, runtime_gradient_error
from exporter.ir import Graph
from exporter.model_file import to_json, to_npz
from exporter.output import write_all
from exporter.quantize import STORAGES, apply_weight_storage, float_copy
from exporter.reading import FRONTENDS, read
from exporter.test_vectors import add_float64_outputs, make_test_vectors

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")
WRITERS = {".json": to_json, ".npz": to_npz, ".h": to_header, ".so": to_shared_library}
DEFAULT_SUFFIXES = (".json", ".h")


@dataclass
class Written:
    path: Path
    size: int
    judgements: list | None = None  # runtime_py's parity judge per output on the embedded vectors
    sha256: str = ""  # of the file's bytes: what runtime_py.load(path, sha256=...) pins

    @property
    def max_error(self) -> float | None:
        """Max |runtime - Keras| over the embedded vectors (None: not checked, a C header)."""
        return None if self.judgements is None else max((j.max_abs_error for j in self.judgements), default=0.0)


@dataclass
class ExportResult:
    graph: Graph
    keras_version: str
    written: list = field(default_factory=list)
    vector_rows: int = 0
    notes: list = field(default_factory=list)  # one line each, printed after the summary
    frontend: str = "keras"  # "keras" (Keras 3 on TensorFlow) or "files" (h5py/zipfile, no TensorFlow)
    gradient_error: float | None = None  # --gradients: max |runtime_py gradient - reference| on the check rows
    reference: str = "keras"  # who computed the test vectors' outputs: "keras", "kerasless" or "dequantized"
    cost: object = None  # --weights float16|int8: exporter.accuracy.Cost against the float model
    reference_keras: str = ""  # which Keras: "keras 3.15.1", "tf_keras 2.21.0"
    integer: object = None  # --integer: the exporter.integer.IntegerGraph written


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


def plan_outputs(model: Path | None, outputs: list) -> list:
    """Resolve -o targets (default: MODEL-stem.json and MODEL-stem.h beside MODEL) and refuse dangerous ones.

    model None: a live Keras model (exporter/live_model.py), which has no file beside which to write.
    """
    if model is None and not outputs:
        raise ExportError("no output files given; name them, e.g. [\"model.h\", \"model.json\"]")
    targets = [Path(o) for o in outputs] or [model.with_suffix(s) for s in DEFAULT_SUFFIXES]
    seen = set()
    for target in targets:
        if target.suffix.lower() not in WRITERS:
            raise ExportError(f"{target}: unknown output format {target.suffix!r}; use {', '.join(WRITERS)}")
        resolved = target.resolve()
        if model is not None and resolved == model.resolve():
            raise ExportError(f"{target}: is the input model; refusing to overwrite it")
        if resolved in seen:
            raise ExportError(f"{target}: given twice as an output")
        seen.add(resolved)
        if not target.parent.is_dir():
            raise ExportError(f"{target}: directory {str(target.parent)!r} does not exist")
        if target.is_dir():
            raise ExportError(f"{target}: is a directory")
    return targets


def choose_frontend(frontend: str | None) -> str | None:
    """Check a --frontend value (None: the default, exporter/reading.py)."""
    if frontend is not None and frontend not in FRONTENDS:
        raise ExportError(f"unknown front-end {frontend!r}; choose one of {', '.join(FRONTENDS)}")
    return frontend


def export(model, outputs=(), name: str | None = None, frontend: str | None = None,
           gradients: bool = False, weights: str = "float32", check_data=None, check_labels=None,
           integer: bool = False, calibrate=None) -> ExportResult:
    """Export MODEL to every path in outputs (format from the extension).

    frontend: "keras" (load with Keras 3 on TensorFlow; the test vectors are Keras's own outputs),
    "files" (read the file with h5py/zipfile; the vectors come from kerasless's numpy runtime), or None:
    Keras 3 for files Keras 3 wrote, Keras 2's semantics for Keras 2 files (checked against tf_keras
    where it is installed), the files front-end without TensorFlow (exporter/reading.py).
    gradients: give the C header NAME_input_gradient, checked by NAME_selftest on reference gradients
    (TensorFlow's on the Keras model that gave the test vectors, else kerasless's own).
    weights: "float32", or "float16"/"int8" to store the dense kernels in fewer bits (exporter/quantize.py).
    The test vectors then hold what the quantized model computes (kerasless's float32 numpy runtime on the
    decoded kernels), and result.cost what that costs against the float model, on the test rows and on
    check_data (a .npy of inputs; check_labels: a .npy of class labels).
    integer: write an integer-only int8 model (format version 2) quantized with the rows of the
    calibrate .npy (exporter/integer.py); the cost against the float model is reported the same way.
    """
    model = Path(model)
    frontend = choose_frontend(frontend)
    check_model_path(model)
    targets = plan_outputs(model, list(outputs))
    prefix = check_prefix(name) if name is not None else c_identifier(model.stem)
    return export_reading(lambda: read(model, prefix, frontend), model.name, targets, bool(outputs), gradients,
                          weights, check_data, check_labels, integer, calibrate)


def _check_integer_options(targets: list, gradients: bool, weights: str, calibrate) -> None:
    """--integer: refuse the options and outputs an integer model cannot have, before reading anything."""
    if weights != "float32":
        raise ExportError("--integer already stores int8 weights (and computes in integers): drop --weights")
    if gradients:
        raise ExportError("--gradients needs the float header: an integer model has no NAME_input_gradient")
    if calibrate is None:
        raise ExportError("--integer needs --calibrate X.npy: a few hundred representative input rows "
                          "(the activation ranges come from them)")
    for target in targets:
        if target.suffix.lower() == ".so":
            raise ExportError(f"{target}: --integer writes .json, .npz and .h files, not a compiled .so")


def export_reading(reader, source: str, targets: list, explicit: bool, gradients: bool = False,
                   weights: str = "float32", check_data=None, check_labels=None, integer: bool = False,
                   calibrate=None) -> ExportResult:
    """Check the options, call reader() for the Reading (exporter/reading.py), and write every target.

    The part of export() after the model is found, shared with export_model (exporter/live_model.py):
    source is what the files record as producer.source; explicit: the targets were asked for (else
    the default pair, which drops the header when the graph cannot have one).
    """
    if calibrate is not None and not integer:
        raise ExportError("--calibrate gives the rows --integer quantizes with: give --integer too")
    if integer:
        _check_integer_options(targets, gradients, weights, calibrate)
        if check_labels is not None and check_data is None:
            raise ExportError("--check-labels needs --check-data (the inputs the labels belong to)")
        checks_data = load_check_data(check_data, check_labels)
        from exporter.integer_export import export_integer

        return export_integer(reader(), targets, calibrate, checks_data, source)
    if gradients and not any(t.suffix.lower() == ".h" for t in targets):
        raise ExportError("--gradients adds NAME_input_gradient to the C header: ask for one with -o MODEL.h")
    if weights not in STORAGES:
        raise ExportError(f"unknown --weights {weights!r}; choose one of {', '.join(STORAGES)}")
    if weights == "float32" and (check_data is not None or check_labels is not None):
        raise ExportError("--check-data measures what --weights float16|int8 costs: give --weights too")
    if check_labels is not None and check_data is None:
        raise ExportError("--check-labels needs --check-data (the inputs the labels belong to)")
    if gradients and weights != "float32":
        raise ExportError("--gradients needs float32 weights: NAME_input_gradient reads float32 kernels")
    checks_data = load_check_data(check_data, check_labels)
    reading = reader()
    graph, notes = reading.graph, reading.notes
    predict, predict64, reference, reference_keras = (reading.predict, reading.predict64, reading.reference,
                                                      reading.reference_keras)
    if weights != "float32":  # the vectors: our float reference of the decoded kernels
        apply_weight_storage(graph, weights)
        from exporter.frontend_files import reference_predict

        predict, predict64, reference, reference_keras = reference_predict(float_copy(graph)), None, "dequantized", ""
    if gradients and header_unsupported(graph):
        raise ExportError(f"cannot write a C header with gradients: {header_unsupported(graph)}")
    if not explicit and header_unsupported(graph):  # the default pair: still write the model file
        targets = [t for t in targets if t.suffix.lower() != ".h"]
        notes.append(f"no C header written: {header_unsupported(graph)}")
    vectors = make_test_vectors(graph, predict)
    float64_missing = add_float64_outputs(vectors, predict64)
    cost = measure_cost(graph, vectors, reading.predict, predict, checks_data) if weights != "float32" else None
    producer = {"keras_version": reading.keras_version, "backend": reading.backend, "source": source,
                "reference": reference}
    if reference_keras:
        producer["reference_keras"] = reference_keras
    if float64_missing:
        producer["float64_unavailable"] = float64_missing
        notes.append(f"note: no float64 reference ({float64_missing}): the plain tolerance alone judges parity")
    check = None
    if gradients:
        keras_gradient = reading.gradient if reading.reference == "keras" else None
        check = make_gradient_check(graph, vectors, keras_gradient or kerasless_gradients(graph),
                                    "TensorFlow" if keras_gradient else "kerasless")
    documents = {t: (to_header(graph, vectors, producer, check) if t.suffix.lower() == ".h" and check
                     else WRITERS[t.suffix.lower()](graph, vectors, producer)) for t in targets}
    checks = {t: _self_check(t.suffix.lower(), data) for t, data in documents.items()}
    gradient_error = runtime_gradient_error(graph, check) if check else None
    write_all(documents)
    try:
        result = ExportResult(graph, reading.keras_version, vector_rows=sum(len(v["inputs"][0]) for v in vectors),
                              notes=notes, frontend=reading.frontend, reference=reference,
                              reference_keras=reference_keras)
        result.written = [Written(t, len(documents[t]), checks[t], hashlib.sha256(documents[t]).hexdigest())
                          for t in targets]
        result.gradient_error = gradient_error
        result.cost = cost
    except Interrupted as exc:
        exc.written = True
        raise
    return result


def _self_check(suffix: str, data: bytes) -> list | None:
    """Load the rendered model file with runtime_py; return the parity judge's report per output.

    A .so (the library just compiled here) is loaded too: runtime_py runs its selftest, and an
    export whose library does not reproduce the test vectors on this machine fails.
    """
    if suffix == ".so":
        from runtime_py import native
        from runtime_py.errors import ModelFormatError, VerificationError

        try:
            native.loads(data, name="the compiled library")
        except (ModelFormatError, VerificationError) as exc:
            raise ExportError(f"the compiled .so does not work here: {exc}") from None
        return None
    if suffix not in (".json", ".npz"):
        return None
    import runtime_py

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"model{suffix}"
        path.write_bytes(data)
        model = runtime_py.load(path)
        try:
            model.verify()
        except runtime_py.VerificationError as exc:
            raise ExportError(f"kerasless's own runtime disagrees with Keras on this model: {exc}") from None
        return model.verify_report()
