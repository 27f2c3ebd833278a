"""Spark scoring (runtime_py.spark) on a local[2] session: same numbers as runtime_py, our errors.

Needs pyspark, pyarrow, pandas and a Java runtime (`.ci/install-spark` installs them);
the Spark tests skip with the reason when one is missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import runtime_py
from graph_cases import build_graph_case
from parity import assert_parity

ROWS = 4096


def _spark_missing() -> str:
    for module in ("pyspark", "pyarrow", "pandas"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java not on PATH, JAVA_HOME unset; .ci/install-spark installs one)"
    return ""


@pytest.fixture(scope="module")
def spark():
    reason = _spark_missing()
    if reason:
        pytest.skip(reason)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kerasless-tests")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        # Short jobs: the C1 compiler alone and the serial GC start the JVM about twice as fast (measured 10 s vs 20 s)
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def models(zoo, keras, tmp_path_factory):
    """A single-input model (digits, input 8x8) and a two-input, two-output one (multi_io)."""
    from exporter.export import export

    directory = tmp_path_factory.mktemp("spark_models")
    saved = directory / "multi_io.keras"
    build_graph_case(keras, "multi_io").save(saved)
    multi = directory / "multi_io.json"
    export(saved, [multi])
    return {"digits": zoo.exported("digits", "keras", ".npz"), "multi_io": multi}


@pytest.fixture(scope="module")
def digits_so(zoo):
    """digits exported to a shared library (export-model -o NAME.so), for the native path."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the .so path is tested on Linux (ELF)")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (cc or gcc) to build the .so")
    return zoo.exported("digits", "keras", ".so")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """ROWS rows in two Parquet files: id, pixels (64 floats), grid (8x8 nested), a (5 doubles), b (3 floats)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    arrays = {
        "pixels": rng.standard_normal((ROWS, 64)).astype(np.float32),
        "a": rng.standard_normal((ROWS, 5)),
        "b": rng.standard_normal((ROWS, 3)).astype(np.float32),
    }

    def lists(values):
        flat = pa.array(values.reshape(-1))
        return pa.ListArray.from_arrays(pa.array(np.arange(0, values.size + 1, values.shape[1], dtype=np.int32)), flat)

    grid_rows = pa.ListArray.from_arrays(pa.array(np.arange(0, ROWS * 8 + 1, 8, dtype=np.int32)),
                                         lists(arrays["pixels"].reshape(-1, 8)))
    table = pa.table({
        "id": np.arange(ROWS, dtype=np.int64),
        "pixels": lists(arrays["pixels"]),
        "grid": grid_rows,
        "a": lists(arrays["a"]),
        "b": lists(arrays["b"]),
        "short": lists(arrays["pixels"][:, :10]),
    })
    directory = tmp_path_factory.mktemp("spark_data")
    pq.write_table(table.slice(0, ROWS // 2), directory / "part-0.parquet")
    pq.write_table(table.slice(ROWS // 2), directory / "part-1.parquet")
    return directory, arrays


def _sorted_column(frame, column):
    """Collect (id, column) to numpy, in id order."""
    rows = frame.select("id", column).toPandas().sort_values("id")
    assert rows["id"].tolist() == list(range(ROWS))
    return rows[column]


def _stack(series):
    return np.stack([np.asarray(v, dtype=np.float32) for v in series])


@pytest.fixture(params=["mapInArrow", "arrow_udf", "pandas_udf"])
def spark_path(request, monkeypatch):
    """Each code path Spark versions take: mapInArrow (3.3+), arrow_udf (4.1+), iterator pandas_udf."""
    from runtime_py import spark as spark_module

    if request.param != "mapInArrow":
        monkeypatch.setattr(spark_module, "has_map_in_arrow", lambda df: False)
    if request.param == "pandas_udf":
        monkeypatch.setattr(spark_module, "has_arrow_udf", lambda: False)
    return request.param


# ---- parity with runtime_py -------------------------------------------------------------------


def test_predict_map_single_input(spark, models, data, spark_path):
    from runtime_py.spark import predict_map

    directory, arrays = data
    df = spark.read.parquet(str(directory))
    expected = runtime_py.load(models["digits"]).predict(arrays["pixels"].reshape(-1, 8, 8))
    scored = predict_map(df, models["digits"], input_col="pixels", keep=["id"])
    assert scored.columns == ["id", "prediction"]
    assert_parity(_stack(_sorted_column(scored, "prediction")), expected, f"predict_map via {spark_path}")


def test_predict_udf_multi_input_multi_output(spark, models, data, spark_path):
    from runtime_py.spark import predict_udf

    directory, arrays = data
    df = spark.read.parquet(str(directory))
    model = runtime_py.load(models["multi_io"])
    expected = model.predict([arrays["a"], arrays["b"]])
    from pyspark.sql import functions as F

    scored = df.withColumn("out", predict_udf(models["multi_io"])(F.col("a"), "b"))  # Columns or names
    assert scored.schema["out"].dataType.simpleString() == "struct<second:array<float>,first:array<float>>"
    rows = _sorted_column(scored, "out")
    for k, info in enumerate(model.outputs):
        assert_parity(_stack([r[info.name] for r in rows]), expected[k], f"{info.name} via {spark_path}")


def test_predict_map_multi_io_shipped_as_file(spark, models, data):
    from runtime_py.spark import predict_map

    directory, arrays = data
    df = spark.read.parquet(str(directory))
    expected = runtime_py.load(models["multi_io"]).predict([arrays["a"], arrays["b"]])
    scored = predict_map(df, models["multi_io"], input_col=["a", "b"], keep="id", output_col="y", ship="file")
    flat = scored.select("id", "y.second", "y.first")
    for k, name in enumerate(["second", "first"]):
        assert_parity(_stack(_sorted_column(flat, name)), expected[k], f"multi_io output {name!r}, ship='file'")


def test_nested_and_scalar_columns_feed_one_input(spark, models, data):
    """array<array<float>> matching the input's 8x8 shape, and 64 scalar columns, give the same result."""
    from pyspark.sql import functions as F

    from runtime_py.spark import predict_map, predict_udf

    directory, arrays = data
    df = spark.read.parquet(str(directory))
    expected = runtime_py.load(models["digits"]).predict(arrays["pixels"].reshape(-1, 8, 8))
    nested = predict_map(df, models["digits"], input_col="grid", keep=["id"], batch_bytes=20_000)  # many slices
    assert_parity(_stack(_sorted_column(nested, "prediction")), expected, "nested 8x8 column")
    scalars = df.select("id", *[F.col("pixels")[i].alias(f"p{i}") for i in range(64)])
    scored = scalars.select("id", predict_udf(models["digits"])(*[f"p{i}" for i in range(64)]).alias("prediction"))
    assert_parity(_stack(_sorted_column(scored, "prediction")), expected, "64 scalar columns")


def test_a_compiled_library_scores_the_header_bits(spark, digits_so, data, monkeypatch):
    """model.so through predict_map (mapInArrow) and predict_udf (arrow_udf, pandas_udf): exactly
    runtime_py.load(model.so)'s rows."""
    from runtime_py import spark as spark_module
    from runtime_py.spark import predict_map, predict_udf

    directory, arrays = data
    df = spark.read.parquet(str(directory))
    library = runtime_py.load(digits_so)
    expected = library.predict(arrays["pixels"].reshape(-1, 8, 8))
    scored = {"predict_map": predict_map(df, digits_so, input_col="pixels", keep=["id"]),
              "predict_udf": df.select("id", predict_udf(digits_so)("pixels").alias("prediction")),
              "ship='file'": predict_map(df, digits_so, input_col="grid", keep="id", ship="file", batch_bytes=20_000)}
    monkeypatch.setattr(spark_module, "has_arrow_udf", lambda: False)
    scored["pandas_udf"] = df.select("id", predict_udf(digits_so)("pixels").alias("prediction"))
    for how, frame in scored.items():
        got = _stack(_sorted_column(frame, "prediction"))
        assert got.dtype == np.float32 and got.tobytes() == expected.tobytes(), how
    with pytest.raises(ValueError, match="backend must be None or 'native'"):
        predict_udf(digits_so, backend="numpy")


def test_a_library_for_another_machine_is_refused(spark, digits_so, data, tmp_path):
    """On the driver before any job; on an executor (a plan built around the driver) the job fails with
    the NativeLibraryError's message under one frame."""
    from functools import partial

    from runtime_py import spark as spark_module
    from runtime_py.native import NativeLibraryError

    directory, _ = data
    df = spark.read.parquet(str(directory))
    foreign = bytearray(digits_so.read_bytes())
    foreign[18:20] = (b"\x28\x00" if foreign[18] != 0x28 else b"\x3e\x00")  # e_machine: ARM (or x86_64)
    path = tmp_path / "foreign.so"
    path.write_bytes(bytes(foreign))
    with pytest.raises(NativeLibraryError, match="built for another machine"):
        spark_module.predict_map(df, path, input_col="pixels", keep=["id"])
    good, shipment = spark_module._ship_model(digits_so, None, "closure")
    bad = spark_module.ModelShipment("foreign.so", hashlib.sha256(foreign).hexdigest(), "native", data=bytes(foreign))
    plan = spark_module._plan(good, bad, ["pixels"], spark_module.BATCH_BYTES)
    schema = "id long, prediction array<float>"
    job = df.select("id", "pixels").mapInArrow(partial(spark_module.map_record_batches, plan, ["id"], "prediction"),
                                               schema)
    with pytest.raises(Exception) as failure:
        job.collect()
    message = str(failure.value)
    assert "NativeLibraryError: foreign.so: built for another machine" in message
    assert "re-export it here with export-model -o NAME.so" in message
    assert message.count('File "') == 1, f"one traceback frame, ours:\n{message}"


# ---- errors ------------------------------------------------------------------------------------


def test_shape_mismatch_fails_the_job_with_our_message(spark, models, data):
    from runtime_py.spark import predict_map, predict_udf

    directory, _ = data
    df = spark.read.parquet(str(directory))
    name = os.path.basename(models["digits"])
    for scored in (predict_map(df, models["digits"], input_col="short", keep=["id"]),
                   df.select(predict_udf(models["digits"])("short"))):
        with pytest.raises(Exception) as failure:
            scored.collect()
        message = str(failure.value)
        assert f"ScoringError: kerasless: model {name}, column 'short': a row holds 10 values, input" in message
        assert "needs 64 values per row (shape [8, 8])" in message
        assert message.count('File "') == 1, f"one traceback frame, ours:\n{message}"


def test_driver_refuses_what_can_never_work(spark, models, data):
    from runtime_py.spark import predict_map, predict_udf

    directory, _ = data
    df = spark.read.parquet(str(directory))
    with pytest.raises(ValueError, match="backend='python' is not available on Spark"):
        predict_udf(models["digits"], backend="python")
    with pytest.raises(ValueError, match=r"has 2 input\(s\) \('a' shape \[5\], 'b' shape \[3\]\).*got 1 column"):
        predict_udf(models["multi_io"])("a")
    with pytest.raises(ValueError, match=r"column\(s\) 'nope' not in the DataFrame"):
        predict_map(df, models["digits"], input_col="nope")
    with pytest.raises(ValueError, match="column type bigint cannot feed the model"):
        predict_map(df, models["digits"], input_col="id")
    with pytest.raises(runtime_py.ModelFormatError, match="missing.npz: cannot open"):
        predict_map(df, models["digits"].parent / "missing.npz", input_col="pixels")


# ---- no Spark needed ----------------------------------------------------------------------------


def test_spark_support_is_imported_only_on_request():
    """runtime_py never imports runtime_py.spark, which imports pyspark only when called."""
    code = ("import sys, runtime_py; assert 'runtime_py.spark' not in sys.modules; "
            "import runtime_py.spark; assert not [m for m in sys.modules if m.split('.')[0] in "
            "('pyspark', 'pyarrow', 'pandas')]")
    subprocess.run([sys.executable, "-c", code], check=True)



def test_worker_keeps_one_verified_model_per_sha256(models, tmp_path):
    from runtime_py import spark as spark_module

    data = open(models["digits"], "rb").read()
    ship = spark_module.ModelShipment("digits.npz", hashlib.sha256(data).hexdigest(), "numpy", data=data)
    first = spark_module.worker_model(ship)
    assert spark_module.worker_model(ship) is first
    other = open(models["multi_io"], "rb").read()
    reexport = spark_module.ModelShipment("digits.npz", hashlib.sha256(other).hexdigest(), "numpy", data=other)
    assert spark_module.worker_model(reexport) is not first  # same name, new bytes: never the stale model


def test_worker_loads_a_library_once(digits_so):
    from runtime_py import spark as spark_module
    from runtime_py.native import NativeModel

    data = digits_so.read_bytes()
    ship = spark_module.ModelShipment("digits.so", hashlib.sha256(data).hexdigest(), "native", data=data)
    first = spark_module.worker_model(ship)
    assert isinstance(first, NativeModel) and spark_module.worker_model(ship) is first
