"""Score rows from Parquet four ways: one plain process, Spark + runtime_py (numpy, model.so), Spark + Keras.

    python benchmarks/spark_bench.py                  # 2M digits-width rows, table into docs/scale-out.md
    python benchmarks/spark_bench.py --model mnist --rows 200000 --no-write

* plain:    one Python process, pyarrow.parquet batches -> runtime_py (numpy) -> discard
* spark:    Spark local[2], runtime_py.spark.predict_map (mapInArrow) on model.npz, written to the noop sink
* spark-so: the same job on model.so (export-model -o NAME.so: the compiled header through ctypes)
* keras:    Spark local[2], mapInPandas loading the Keras model once per Python worker
          (what a job does today: TensorFlow on every executor), same sink

The model is digits-sized, 64-32-10, or MNIST-sized, 784-300-10 (sigmoid, then
softmax), with random weights; pixels are k/255 like MNIST's. Worker RSS is sampled from /proc every 0.2 s.
Needs the test and spark extras (TensorFlow, pyspark, pyarrow, pandas) and Java.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "scale-out.md"
BEGIN, END = "<!-- spark_bench:{model}:begin -->", "<!-- spark_bench:{model}:end -->"  # one block per model
FILES = 8
MODELS = {"digits": (64, 32, 10), "mnist": (784, 300, 10)}  # input width, hidden units, classes
PLAIN_BATCH = 2000  # rows per model call in the plain process, the size the Spark path slices to


# ---- inputs ------------------------------------------------------------------------------------


def make_model(directory: Path, name: str) -> tuple:
    """Save the Keras model and export it; return (keras path, npz path, so path)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from exporter.export import export

    width, hidden, classes = MODELS[name]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((width,)), keras.layers.Dense(hidden, activation="sigmoid"),
                              keras.layers.Dense(classes, activation="softmax")], name=name)
    saved, exported, library = directory / f"{name}.keras", directory / f"{name}.npz", directory / f"{name}.so"
    model.save(saved)
    export(saved, [exported, library])
    return saved, exported, library


def make_parquet(directory: Path, rows: int, width: int) -> Path:
    """rows x width pixels (k/255, float32 lists) and an id, in FILES Parquet files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = directory / f"pixels-{width}x{rows}"
    if data.exists():
        return data
    data.mkdir()
    rng = np.random.default_rng(0)
    per_file = -(-rows // FILES)
    for k in range(FILES):
        start, count = k * per_file, min(per_file, rows - k * per_file)
        pixels = (rng.integers(0, 256, (count, width), dtype=np.uint8) / np.float32(255)).astype(np.float32)
        offsets = pa.array(np.arange(0, count * width + 1, width, dtype=np.int32))
        table = pa.table({"id": np.arange(start, start + count, dtype=np.int64),
                          "pixels": pa.ListArray.from_arrays(offsets, pa.array(pixels.reshape(-1)))})
        pq.write_table(table, data / f"part-{k}.parquet", row_group_size=50_000)
    return data


# ---- worker RSS --------------------------------------------------------------------------------


class WorkerRss:
    """Sample the RSS of Spark's Python workers (forks of pyspark.daemon) while a job runs."""

    def __init__(self):
        self.peak = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"pyspark.daemon" not in cmdline and b"pyspark.worker" not in cmdline:
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                ppid = int(re.search(r"PPid:\s+(\d+)", status).group(1))
                rss = re.search(r"VmRSS:\s+(\d+)", status)
                if rss and _is_daemon_child(ppid):
                    self.peak[pid] = max(self.peak.get(pid, 0), int(rss.group(1)) // 1024)
            self._stop.wait(0.2)

    def summary(self) -> str:
        if not self.peak:
            return "n/a"
        return f"{max(self.peak.values())} MB (max of {len(self.peak)} workers)"


def _is_daemon_child(ppid: int) -> bool:
    try:
        return b"pyspark.daemon" in Path(f"/proc/{ppid}/cmdline").read_bytes()
    except OSError:
        return False


# ---- the three ways ------------------------------------------------------------------------------


def run_plain(npz: str, data: str) -> dict:
    """In this process: Parquet batches through runtime_py; report rows/s and peak RSS."""
    import pyarrow.parquet as pq

    import runtime_py

    start = time.perf_counter()
    model = runtime_py.load(npz)
    rows = 0
    for path in sorted(Path(data).glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PLAIN_BATCH, columns=["pixels"]):
            pixels = batch.column(0).flatten().to_numpy().reshape(len(batch), -1)
            model.predict(pixels)
            rows += len(pixels)
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would report the parent's TensorFlow
    peak = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024
    return {"rows": rows, "seconds": seconds, "rss": f"{peak} MB"}


def keras_partitions(path, batches):
    """mapInPandas body: the Keras model once per Python worker, predict_on_batch per pandas batch."""
    import sys
    import types

    # Functions of this script are pickled by value, so a global here would be fresh in every task;
    # a module in sys.modules lives as long as the worker process.
    cache = sys.modules.setdefault("_spark_bench_keras_cache", types.ModuleType("_spark_bench_keras_cache"))
    model = getattr(cache, "model", None)
    if model is None:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        model = cache.model = keras.saving.load_model(path, compile=False)
    import numpy
    import pandas

    for frame in batches:
        pixels = numpy.stack(frame["pixels"].to_numpy()).astype(numpy.float32)
        probs = numpy.asarray(model.predict_on_batch(pixels))
        yield pandas.DataFrame({"id": frame["id"], "prediction": list(probs)})


def spark_session():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("kerasless-spark-bench")
               .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
               .config("spark.ui.enabled", "false").config("spark.driver.memory", "3g")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def timed_job(frame, rows: int) -> dict:
    with WorkerRss() as rss:
        start = time.perf_counter()
        frame.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "rss": rss.summary()}


def pass_through(batches):
    """mapInArrow body that only reads: starts the Python workers and warms the JVM before timing."""
    yield from batches


def warm_up(spark, data: str):
    """Run one untimed job so neither timed job pays for JVM warm-up and Python worker start."""
    frame = spark.read.parquet(data)
    frame.mapInArrow(pass_through, frame.schema).write.format("noop").mode("overwrite").save()


def run_spark(spark, model_path: str, data: str, rows: int) -> dict:
    """predict_map on a model file (numpy backend) or a model.so (its compiled code)."""
    from runtime_py.spark import predict_map

    return timed_job(predict_map(spark.read.parquet(data), model_path, input_col="pixels", keep=["id"]), rows)


def run_keras(spark, saved: str, data: str, rows: int) -> dict:
    from functools import partial

    frame = spark.read.parquet(data).mapInPandas(partial(keras_partitions, saved), "id long, prediction array<float>")
    return timed_job(frame, rows)


# ---- report ------------------------------------------------------------------------------------


def versions() -> str:
    import pyarrow
    import pyspark

    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    return (f"Python {platform.python_version()}, pyspark {pyspark.__version__}, pyarrow {pyarrow.__version__}, "
            f"numpy {np.__version__}; {cpus} CPUs, load average {load:.1f} at the end of the run")


def table(results: dict, rows: int, name: str, repeat: int = 1) -> str:
    width, hidden, classes = MODELS[name]
    best = f" The predict_map rows are the fastest of {repeat} alternating runs." if repeat > 1 else ""
    lines = [f"Scoring {rows:,} {name}-width rows ({width} float32 -> {hidden} sigmoid -> {classes} softmax) "
             f"from {FILES} Parquet files.{best}",
             "", "| way | seconds | rows/s | peak RSS |", "|---|---:|---:|---:|"]
    for label, result in results.items():
        lines.append(f"| {label} | {result['seconds']:.1f} | {result['rows'] / result['seconds']:,.0f} | {result['rss']} |")
    speed = {label: result["rows"] / result["seconds"] for label, result in results.items()}
    if SPARK in speed and SPARK_SO in speed:
        lines += ["", f"predict_map on model.so: {speed[SPARK_SO] / speed[SPARK]:.2f}x the rows/s of the numpy backend."]
    return "\n".join(lines)


SPARK = "Spark local[2], predict_map (mapInArrow)"
SPARK_SO = "Spark local[2], predict_map on model.so (mapInArrow)"


def write_doc(text: str, model: str):
    doc = DOC.read_text()
    begin, end = BEGIN.format(model=model), END.format(model=model)
    if begin not in doc or end not in doc:
        raise SystemExit(f"error: {DOC} has no {begin} ... {end} block to replace")
    head, rest = doc.split(begin, 1)
    DOC.write_text(head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--model", choices=sorted(MODELS), default="digits")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/kerasless-spark-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each predict_map job (the fastest is kept)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/scale-out.md alone")
    parser.add_argument("--plain", nargs=2, metavar=("NPZ", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:  # the child process of the "plain" measurement
        print(json.dumps(run_plain(*args.plain)))
        return 0

    args.dir.mkdir(parents=True, exist_ok=True)
    saved, npz, library = make_model(args.dir, args.model)
    start = time.perf_counter()
    data = make_parquet(args.dir, args.rows, MODELS[args.model][0])
    print(f"data: {data} ({time.perf_counter() - start:.0f} s)", flush=True)
    results = {}
    child = subprocess.run([sys.executable, __file__, "--plain", str(npz), str(data)], check=True,
                           capture_output=True, text=True)
    results["plain process, runtime_py (numpy)"] = json.loads(child.stdout.strip().splitlines()[-1])
    print(results, flush=True)
    spark = spark_session()
    try:
        warm_up(spark, str(data))
        for _ in range(args.repeat):  # alternate the two, keep each one's fastest: drift on a shared machine
            for label, path in ((SPARK, npz), (SPARK_SO, library)):
                result = run_spark(spark, str(path), str(data), args.rows)
                if label not in results or result["seconds"] < results[label]["seconds"]:
                    results[label] = result
                print(label, f"{result['seconds']:.2f} s", flush=True)
        results["Spark local[2], Keras in mapInPandas"] = run_keras(spark, str(saved), str(data), args.rows)
    finally:
        spark.stop()
    text = table(results, args.rows, args.model, args.repeat) + "\n\n" + versions() + "."
    print(text)
    if not args.no_write:
        write_doc(text, args.model)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
