"""Score Spark DataFrames with a kerasless model file: executors need numpy and pyarrow, not TensorFlow.

    from runtime_py.spark import predict_udf, predict_map
    df.withColumn("probs", predict_udf("model.npz")("features"))        # a column expression
    predict_map(df, "model.npz", input_col="features", keep=["id"])      # mapInArrow, the fast path
    predict_map(df, "model.so", input_col="features", keep=["id"])       # export-model -o model.so: compiled C

The model file's bytes and their sha256 travel in the task closure (or, with
ship="file", through SparkContext.addFile); each Python worker parses and
verifies a model once per sha256 and keeps it. A path ending in .so (as
runtime_py.load decides) ships the library's bytes the same way; each worker
loads them through runtime_py.native (an anonymous memfd, its checks, its
selftest once) and so refuses a library built for another machine. runtime_py never imports this
module, and pyspark, pyarrow and pandas are imported inside functions only.
See docs/scale-out.md.
"""

import hashlib
import os
import typing
from dataclasses import dataclass
from functools import partial

from runtime_py.errors import ModelFormatError, VerificationError

BATCH_BYTES = 6 << 20  # Arrow input bytes per model call: ~2k MNIST rows, measured faster than Spark's 10k
SHIP_MODES = ("closure", "file")
MAX_CACHED_MODELS = 4  # per Python worker; a re-export has a new sha256, so old entries age out

_MODELS = {}  # (sha256, backend) -> verified Model: one per model per Python worker


class ScoringError(ValueError):
    """A row, column or model that cannot be scored; the message names the model file and the column."""


# ---- what travels to the executors -------------------------------------------------------


@dataclass(frozen=True)
class ModelShipment:
    """How a task gets the model: its bytes (or a SparkFiles name), their sha256, a label for messages."""

    label: str
    sha256: str
    backend: str  # "numpy", or "native" for a library written by export-model -o NAME.so
    data: bytes = None
    file_name: str = None


@dataclass(frozen=True)
class ScoringPlan:
    """Everything a task needs: the shipment, the model's tensors and how columns map to inputs."""

    ship: ModelShipment
    inputs: tuple  # ((name, shape), ...)
    outputs: tuple  # ((name, shape), ...)
    columns: tuple  # column names (or Column reprs), for messages
    scalar_columns: bool  # True: one model input assembled from several scalar columns
    batch_bytes: int

    def where(self, column=None) -> str:
        """Prefix for a task error: model file, and the column if one is to blame."""
        if column is None:
            return f"kerasless: model {self.ship.label}, columns {', '.join(map(repr, self.columns))}"
        return f"kerasless: model {self.ship.label}, column {column!r}"


def worker_model(ship: ModelShipment):
    """Return this worker's parsed and verified model for the shipment, loading it on first use."""
    key = (ship.sha256, ship.backend)
    model = _MODELS.get(key)
    if model is not None:
        return model
    from runtime_py import model as model_module

    if model_module._np is None:
        raise ScoringError(f"kerasless: model {ship.label}: numpy is not importable on this executor; "
                           f"Spark's Arrow path needs numpy and pyarrow on every executor")
    data = ship.data if ship.data is not None else _read_spark_file(ship)
    if ship.backend == "native":
        from runtime_py import native

        model = native.loads(data, name=ship.label)  # checks the bytes for this machine, runs the selftest
    else:
        model = model_module.loads(data, backend=ship.backend, name=ship.label)
        model.verify()
    while len(_MODELS) >= MAX_CACHED_MODELS:
        _MODELS.pop(next(iter(_MODELS)))
    _MODELS[key] = model
    return model


def _read_spark_file(ship: ModelShipment) -> bytes:
    from pyspark import SparkFiles

    path = SparkFiles.get(ship.file_name)
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise ScoringError(f"kerasless: model {ship.label}: cannot read the copy Spark distributed "
                           f"({path}): {exc.strerror or exc}") from None
    if hashlib.sha256(data).hexdigest() != ship.sha256:
        raise ScoringError(
            f"kerasless: model {ship.label}: the file Spark distributed as {ship.file_name!r} is not the one this job "
            f"was built with (sha256 differs). SparkContext.addFile keeps the first file of a name: give a "
            f"re-exported model a new file name, or use ship='closure'"
        )
    return data


# ---- Arrow columns -> model inputs -> Arrow column ----------------------------------------


def _size(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _list_depth(arrow_type) -> int:
    import pyarrow as pa

    depth = 0
    while pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        arrow_type = arrow_type.value_type
        depth += 1
    return depth


def _array_values(plan: ScoringPlan, array, column, name, shape):
    """One model input from one column: a (nested) array column, or a numeric one for a 1-value input."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    rows, size = len(array), _size(shape)
    wanted = f"input {name!r} needs {size} values per row (shape {list(shape)})"
    if array.null_count:
        raise ScoringError(f"{plan.where(column)}: a row is null; {wanted}. Drop or fill null rows first")
    depth = _list_depth(array.type)
    if depth == 0:
        if size != 1 or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
            raise ScoringError(f"{plan.where(column)}: column type {array.type} cannot feed the model; {wanted} "
                             f"as an array<float> column")
        values = array
    else:
        levels = [size] if depth == 1 else list(shape) if depth == len(shape) else None
        if levels is None:
            raise ScoringError(f"{plan.where(column)}: column type {array.type} has {depth} array levels; {wanted} "
                             f"as a flat array or nested {len(shape)} deep")
        values = array
        for level, expected in enumerate(levels):
            if values.null_count:
                raise ScoringError(f"{plan.where(column)}: a nested array is null; {wanted}")
            lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(lengths != expected)
            if bad.size:
                got = int(lengths[bad[0]])
                what = "a row holds" if level == 0 else f"an array at depth {level + 1} holds"
                raise ScoringError(f"{plan.where(column)}: {what} {got} values, {wanted}")
            values = values.flatten()
    if values.null_count:
        raise ScoringError(f"{plan.where(column)}: a row contains a null value; {wanted}")
    flat = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape((rows,) + tuple(shape))


def _scalar_values(plan: ScoringPlan, arrays):
    """The one model input from several numeric columns, one value each."""
    import numpy as np
    import pyarrow as pa

    name, shape = plan.inputs[0]
    columns = []
    for array, column in zip(arrays, plan.columns):
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
            raise ScoringError(f"{plan.where(column)}: column type {array.type} is not numeric; input {name!r} "
                             f"is assembled from {len(plan.columns)} numeric columns, one value each")
        if array.null_count:
            raise ScoringError(f"{plan.where(column)}: a row is null. Drop or fill null rows first")
        columns.append(array.to_numpy(zero_copy_only=False).astype(np.float32, copy=False))
    return np.stack(columns, axis=1).reshape((len(columns[0]),) + tuple(shape))


def _output_array(plan: ScoringPlan, results):
    """array<float> per output (row-major, flattened), a struct of them for several outputs."""
    import numpy as np
    import pyarrow as pa

    arrays = []
    for (_, shape), value in zip(plan.outputs, results):
        size, rows = _size(shape), len(value)
        flat = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        offsets = pa.array(np.arange(0, (rows + 1) * size, size, dtype=np.int32))
        arrays.append(pa.ListArray.from_arrays(offsets, pa.array(flat, type=pa.float32())))
    if len(arrays) == 1:
        return arrays[0]
    return pa.StructArray.from_arrays(arrays, names=[name for name, _ in plan.outputs])


def score_arrays(plan: ScoringPlan, arrays):
    """Run the model on one slice of Arrow columns; return the prediction column."""
    import numpy as np

    model = worker_model(plan.ship)
    if plan.scalar_columns:
        inputs = [_scalar_values(plan, arrays)]
    else:
        inputs = [_array_values(plan, a, c, n, s) for a, c, (n, s) in zip(arrays, plan.columns, plan.inputs)]
    if not len(inputs[0]):
        return _output_array(plan, [np.zeros((0,) + tuple(s), np.float32) for _, s in plan.outputs])
    try:
        results = model.predict(inputs if len(inputs) > 1 else inputs[0])
    except (ValueError, TypeError) as exc:
        raise ScoringError(f"{plan.where()}: {exc}") from None
    return _output_array(plan, [results] if len(plan.outputs) == 1 else results)


def row_slices(rows: int, row_bytes: float, batch_bytes: int):
    """(start, length) pieces of a batch so each holds about batch_bytes."""
    step = max(1, int(batch_bytes // max(row_bytes, 1.0)))
    return [(start, min(step, rows - start)) for start in range(0, rows, step)]


def _row_bytes(arrays) -> float:
    rows = len(arrays[0])
    return sum(a.nbytes for a in arrays) / rows if rows else 1.0


def score_resliced(plan: ScoringPlan, arrays):
    """Score a whole Arrow batch in slices of about plan.batch_bytes; return one prediction column."""
    import pyarrow as pa

    pieces = [score_arrays(plan, [a.slice(start, length) for a in arrays])
              for start, length in row_slices(len(arrays[0]), _row_bytes(arrays), plan.batch_bytes)]
    if not pieces:
        return score_arrays(plan, arrays)
    return pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)


# ---- the functions Spark runs ---------------------------------------------------------------


def _one_frame_errors(results):
    """Re-raise our errors from here, so a failed task shows our message under one frame: a ScoringError,
    or a model the worker refuses (ModelFormatError such as NativeLibraryError, VerificationError)."""
    try:
        yield from results
    except (ScoringError, ModelFormatError, VerificationError) as exc:
        raise type(exc)(str(exc)) from None


def map_record_batches(plan: ScoringPlan, keep, output_col, batches):
    """mapInArrow body: pass the kept columns through, append the prediction column."""
    return _one_frame_errors(_map_record_batches(plan, keep, output_col, batches))


def _map_record_batches(plan: ScoringPlan, keep, output_col, batches):
    import pyarrow as pa

    for batch in batches:
        names = batch.schema.names
        inputs = [batch.column(names.index(c)) for c in plan.columns]
        for start, length in row_slices(batch.num_rows, _row_bytes(inputs), plan.batch_bytes):
            piece = batch.slice(start, length)
            prediction = score_arrays(plan, [piece.column(names.index(c)) for c in plan.columns])
            kept = [piece.column(names.index(c)) for c in keep]
            yield pa.RecordBatch.from_arrays(kept + [prediction], names=list(keep) + [output_col])


def score_arrow_batches(plan: ScoringPlan, batches):
    """Iterator arrow_udf body (Spark 4.1+): one prediction array per incoming batch."""
    return _one_frame_errors(score_resliced(plan, list(batch) if isinstance(batch, tuple) else [batch])
                             for batch in batches)


def score_pandas_batches(plan: ScoringPlan, batches):
    """Iterator pandas_udf body (older Spark): the same through pandas."""
    return _one_frame_errors(_score_pandas_batches(plan, batches))


def _score_pandas_batches(plan: ScoringPlan, batches):
    import pandas as pd
    import pyarrow as pa

    for batch in batches:
        series = list(batch) if isinstance(batch, tuple) else [batch]
        result = score_resliced(plan, [pa.Array.from_pandas(s) for s in series])
        if isinstance(result, pa.StructArray):
            yield pd.DataFrame({name: result.field(k).to_pandas() for k, (name, _) in enumerate(plan.outputs)})
        else:
            yield result.to_pandas()


# ---- driver side ---------------------------------------------------------------------------


def _ship_model(model_path, backend, ship: str, spark=None):
    """Load and verify the model on the driver; return (model, ModelShipment).

    backend None: "numpy" for a model file, "native" for a .so (the path decides, as in runtime_py.load).
    """
    from runtime_py.model import _is_library_path, loads

    path = os.fspath(model_path)
    library = _is_library_path(path)
    if library:
        from runtime_py import native

        native._check_backend(backend)  # a .so runs its compiled code: None or "native"
        backend = "native"
    elif backend is None:
        backend = "numpy"
    if backend not in ("numpy", "native") or (backend == "native" and not library):
        raise ValueError(f"backend={backend!r} is not available on Spark: Arrow hands executors numpy-backed "
                         f"columns, so the numpy backend runs a model file there (backend='numpy'), and a "
                         f"library written by export-model -o NAME.so runs its compiled code")
    if ship not in SHIP_MODES:
        raise ValueError(f"unknown ship={ship!r}; choose one of {', '.join(SHIP_MODES)}")
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if library:  # the driver loads it too (its shapes, an early refusal); executors must be this machine type
        model = native.loads(data, name=path)
    else:
        model = loads(data, backend=backend, name=path)
        model.verify()
    sha256 = hashlib.sha256(data).hexdigest()
    label = os.path.basename(path)
    if ship == "closure":
        return model, ModelShipment(label, sha256, backend, data=data)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
    context = getattr(spark, "sparkContext", None) if spark is not None else None
    if context is None:
        raise ValueError("ship='file' needs an active classic SparkSession (SparkContext.addFile); "
                         "use ship='closure' with Spark Connect")
    context.addFile(os.path.abspath(path))
    return model, ModelShipment(label, sha256, backend, file_name=label)


def _column_label(column) -> str:
    return column if isinstance(column, str) else str(column)


def _plan(model, shipment, columns, batch_bytes) -> ScoringPlan:
    inputs = tuple((t.name, tuple(t.shape)) for t in model.inputs)
    outputs = tuple((t.name, tuple(t.shape)) for t in model.outputs)
    labels = tuple(_column_label(c) for c in columns)
    if len(columns) == len(inputs):
        scalar = False
    elif len(inputs) == 1 and len(columns) == _size(inputs[0][1]):
        scalar = True
    else:
        described = ", ".join(f"{name!r} shape {list(shape)}" for name, shape in inputs)
        raise ValueError(f"model {shipment.label} has {len(inputs)} input(s) ({described}): pass one column per "
                         f"input, or for a single input of n values n scalar columns; got {len(columns)} column(s)")
    if batch_bytes <= 0:
        raise ValueError(f"batch_bytes must be positive, got {batch_bytes}")
    return ScoringPlan(shipment, inputs, outputs, labels, scalar, int(batch_bytes))


def output_type(plan: ScoringPlan):
    """Spark type of the prediction column: array<float>, or a struct of them named after the outputs."""
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    if len(plan.outputs) == 1:
        return ArrayType(FloatType())
    return StructType([StructField(name, ArrayType(FloatType())) for name, _ in plan.outputs])


def has_arrow_udf() -> bool:
    """Spark 4.1+ has pyspark.sql.functions.arrow_udf (pyarrow arrays in and out, no pandas)."""
    import pyspark.sql.functions as functions

    return hasattr(functions, "arrow_udf")


def has_map_in_arrow(df) -> bool:
    """Spark 3.3+ has DataFrame.mapInArrow."""
    return hasattr(df, "mapInArrow")


def _make_udf(plan: ScoringPlan):
    """Wrap the scoring function as an iterator arrow_udf, or an iterator pandas_udf before Spark 4.1."""
    from pyspark.sql.functions import pandas_udf

    if has_arrow_udf():
        import pyarrow as pa
        from pyspark.sql.functions import arrow_udf

        def score(batches):
            return score_arrow_batches(plan, batches)

        column, result = pa.Array, pa.Array
        wrap = arrow_udf
    else:
        import pandas as pd

        def score(batches):
            return score_pandas_batches(plan, batches)

        column = pd.Series
        result = pd.DataFrame if len(plan.outputs) > 1 else pd.Series
        wrap = pandas_udf
    # Spark picks the UDF kind from the type hints: Iterator[Tuple[column, ...]] -> Iterator[result]
    batch = column if len(plan.columns) == 1 else typing.Tuple[(column,) * len(plan.columns)]
    score.__annotations__ = {"batches": typing.Iterator[batch], "return": typing.Iterator[result]}
    score.__name__ = score.__qualname__ = f"kerasless_{plan.ship.label.replace('.', '_').replace('-', '_')}"
    return wrap(score, output_type(plan))


def predict_udf(model_path, *, backend=None, ship="closure", batch_bytes=BATCH_BYTES):
    """Return predict(*columns) -> Column: the model's prediction for each row.

    Pass one array column per model input (nested arrays are fine if they match
    the input's shape), or, for a model with one input of n values, n scalar
    columns. The result is array<float> (each output flattened row-major), or a
    struct of them named after the model's outputs when it has several.
    model_path is a .npz/.json model file (numpy backend), or a .so written by
    export-model -o NAME.so (its compiled code; executors must be the machine
    type, OS and libc it was built for, or they refuse it).
    """
    model, shipment = _ship_model(model_path, backend, ship)

    def predict(*columns):
        """The prediction Column for these input column(s) (names or Columns)."""
        if len(columns) == 1 and isinstance(columns[0], (list, tuple)):
            columns = tuple(columns[0])
        return _make_udf(_plan(model, shipment, columns, batch_bytes))(*columns)

    predict.__doc__ = f"Prediction of {shipment.label} for the given column(s)."
    return predict


def _check_column_types(df, plan: ScoringPlan):
    """Refuse, on the driver, a column whose type can never feed the model."""
    from pyspark.sql.types import ArrayType, NumericType

    fields = {f.name: f.dataType for f in df.schema.fields}
    for position, column in enumerate(plan.columns):
        kind = fields[column]
        if plan.scalar_columns:
            ok = isinstance(kind, NumericType)
            need = "a numeric column (one value of the input each)"
        else:
            name, shape = plan.inputs[position]
            ok = isinstance(kind, ArrayType) or (isinstance(kind, NumericType) and _size(shape) == 1)
            need = f"an array column with {_size(shape)} values per row for input {name!r} (shape {list(shape)})"
        if not ok:
            hint = "; convert ML vectors with pyspark.ml.functions.vector_to_array" if kind.typeName() == "vector" else ""
            raise ScoringError(f"{plan.where(column)}: column type {kind.simpleString()} cannot feed the model, "
                             f"it needs {need}{hint}")


def predict_map(df, model_path, input_col, keep=(), output_col="prediction", *, backend=None,
                ship="closure", batch_bytes=BATCH_BYTES):
    """Score df with mapInArrow: return the `keep` columns and `output_col` (see predict_udf for its type).

    input_col is one column name, or a list: one array column per model input,
    or n scalar columns for a model with one input of n values. Falls back to
    the iterator UDF where DataFrame.mapInArrow is missing (Spark < 3.3).
    """
    columns = [input_col] if isinstance(input_col, str) else list(input_col)
    keep = [keep] if isinstance(keep, str) else list(keep)
    missing = [c for c in columns + keep if c not in df.columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(map(repr, missing))} not in the DataFrame; it has "
                         f"{', '.join(df.columns)}")
    if output_col in keep:
        raise ValueError(f"output_col {output_col!r} is also in keep; choose another output_col")
    model, shipment = _ship_model(model_path, backend, ship, spark=df.sparkSession)
    plan = _plan(model, shipment, columns, batch_bytes)
    _check_column_types(df, plan)
    if not has_map_in_arrow(df):
        return df.select(*keep, _make_udf(plan)(*columns).alias(output_col))
    from pyspark.sql.types import StructField, StructType

    needed = list(dict.fromkeys(keep + columns))
    fields = {f.name: f for f in df.schema.fields}
    schema = StructType([fields[k] for k in keep] + [StructField(output_col, output_type(plan))])
    return df.select(*needed).mapInArrow(partial(map_record_batches, plan, keep, output_col), schema)
