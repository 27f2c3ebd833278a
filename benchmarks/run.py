"""Time kerasless against what users would pick instead; write docs/benchmarks.md and docs/benchmarks.png.

    make bench                      # installs the `bench` extra, then runs this script
    python benchmarks/run.py [--rounds 5] [--quick]

One run builds four MLPs with fixed seeds, exports each with kerasless (model file and
C header), and measures every contender at batch 1 (latency) and batch 1024
(throughput). Measurements are interleaved: each round visits every (model, batch,
contender) cell once, and the tables report the median over rounds, so a slow
moment of the machine hits every contender alike. C is timed inside C (a driver
loops NAME_predict and reports nanoseconds per call). Single thread everywhere.
The same header compiled into a shared library the way a user does it (export-model -o
NAME.so) is timed from Python through runtime_py.load. An FMA peak probe (a C loop of
independent vector multiply-adds, AVX-512 or AVX2+FMA picked at run time) gives the
single-core multiply-adds per second the dense models' batch figures are a share of.
This is not a test: nothing here asserts a time. Importing this file runs nothing
(tests/test_bench_helpers.py imports it for its pure helpers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
DOCS = ROOT / "docs"
NOTES = Path(__file__).resolve().parent / "notes.md"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if __name__ == "__main__":  # not on import: a test session importing the helpers keeps its environment
    # One thread for every library, set before any of them (numpy's BLAS first) starts its thread pool.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                 "TF_NUM_INTEROP_THREADS"):
        os.environ[_var] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BATCH = 1024
SAMPLE_SECONDS = 0.03  # each measurement loops a contender for about this long
SEED = 20261128

# (key, title, layer widths or None, activations); weights come from the seeds, not from training:
# speed does not depend on what the weights are.
MODELS = [
    ("xor_skip", "XOR 2-1-1 with a skip (concatenate)", None, None),
    ("digits", "digits 64-32-10", [64, 32, 10], ["relu", "softmax"]),
    ("mnist", "MNIST 784-300-10", [784, 300, 10], ["sigmoid", "softmax"]),
    ("wide", "wide 1024-1024-1024-10", [1024, 1024, 1024, 10], ["relu", "relu", "softmax"]),
]


# ---- models ------------------------------------------------------------------------------


def build_model(key, widths, activations):
    """A Keras model with seeded weights and biases (biases non-zero, so adding them costs what it costs)."""
    import keras

    keras.utils.set_random_seed(SEED)
    if key == "xor_skip":
        inp = keras.Input((2,), name="x")
        hidden = keras.layers.Dense(1, activation="tanh", name="hidden")(inp)
        joined = keras.layers.Concatenate(name="skip")([inp, hidden])
        out = keras.layers.Dense(1, activation="sigmoid", name="out")(joined)
        model = keras.Model(inp, out, name="xor_skip")
    else:
        layers = [keras.Input((widths[0],), name="x")]
        layers += [keras.layers.Dense(w, activation=a, name=f"dense_{k}")
                   for k, (w, a) in enumerate(zip(widths[1:], activations))]
        model = keras.Sequential(layers, name=key)
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:
            layer.set_weights([weights[0], rng.normal(0, 0.1, weights[1].shape).astype(np.float32)])
    model(np.zeros((1,) + tuple(model.inputs[0].shape[1:]), np.float32))  # built and called once (ONNX export)
    return model


def numpy_reference(model):
    """The plain numpy forward pass a user would write by hand: x @ W + b and the activation."""
    acts = {
        "relu": lambda z: np.maximum(z, 0, out=z),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "softmax": lambda z: (lambda e: e / e.sum(axis=1, keepdims=True))(np.exp(z - z.max(axis=1, keepdims=True))),
    }
    dense = [(*layer.get_weights(), acts[layer.get_config()["activation"]])
             for layer in model.layers if layer.__class__.__name__ == "Dense"]
    if model.name == "xor_skip":
        (w1, b1, f1), (w2, b2, f2) = dense
        return lambda x: f2(np.concatenate([x, f1(x @ w1 + b1)], axis=1) @ w2 + b2)

    def forward(x):
        for w, b, f in dense:
            x = f(x @ w + b)
        return x

    return forward


def python_reference(model):
    """The pure-Python formulation issue 6 measures against: sum(map(mul, column, x)) over pre-transposed weights."""
    import math
    from operator import mul

    def sigmoid(v):
        return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))

    def softmax(z):
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return [v / total for v in e]

    acts = {"relu": lambda z: [v if v > 0 else 0.0 for v in z], "sigmoid": lambda z: [sigmoid(v) for v in z],
            "tanh": lambda z: [math.tanh(v) for v in z], "softmax": softmax}
    dense = []
    for layer in model.layers:
        if layer.__class__.__name__ == "Dense":
            kernel, bias = layer.get_weights()
            dense.append((tuple(map(tuple, kernel.T.tolist())), bias.tolist(), acts[layer.get_config()["activation"]]))

    def layer(x, columns, bias, act):
        return act([b + sum(map(mul, column, x)) for column, b in zip(columns, bias)])

    if model.name == "xor_skip":
        (c1, b1, f1), (c2, b2, f2) = dense
        return lambda rows: [layer(x + layer(x, c1, b1, f1), c2, b2, f2) for x in rows]

    def forward(rows):
        out = []
        for x in rows:
            for columns, bias, act in dense:
                x = layer(x, columns, bias, act)
            out.append(x)
        return out

    return forward


# ---- C drivers -----------------------------------------------------------------------------

C_DRIVER = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "HEADER"

/* The naive reference: the header's own forward pass with dense as the plain documented loop. */
NAIVE

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static float inputs[BENCH_ROWS * P_INPUT_SIZE];   /* (BENCH_ROWS, input size) */
static float outputs[BENCH_ROWS * P_OUTPUT_SIZE]; /* (BENCH_ROWS, output size) */
static volatile float sink;

static void one(int k) { P_predict(inputs + (size_t)(k & 63) * P_INPUT_SIZE, outputs); }
static void naive(int k)
{
    const float *in[1] = {inputs + (size_t)(k & 63) * P_INPUT_SIZE};
    float *out[1] = {outputs};
    naive_predict_multi(in, out);
}
static void batch(int k)
{
    (void)k;
#ifdef HAS_BATCH
    P_predict_batch(inputs, outputs, BENCH_ROWS);
#else
    for (int r = 0; r < BENCH_ROWS; r++) {
        P_predict(inputs + (size_t)r * P_INPUT_SIZE, outputs + (size_t)r * P_OUTPUT_SIZE);
    }
#endif
}

/* ns per call of f: calibrate a count that runs ~seconds, then the median of 5 timings. */
static double per_call(void (*f)(int), double seconds)
{
    long n = 1;
    for (;;) {
        double t = now_ns();
        for (long k = 0; k < n; k++) f((int)k);
        double dt = now_ns() - t;
        if (dt > seconds * 1e9 / 5 || n > (1L << 30)) break;
        n *= 2;
    }
    double best[5];
    for (int rep = 0; rep < 5; rep++) {
        double t = now_ns();
        for (long k = 0; k < n; k++) f((int)k);
        best[rep] = (now_ns() - t) / (double)n;
    }
    for (int a = 0; a < 5; a++) for (int b = a + 1; b < 5; b++) if (best[b] < best[a]) { double s = best[a]; best[a] = best[b]; best[b] = s; }
    sink = outputs[0];
    return best[2];
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.03;
    srand(1);
    for (int k = 0; k < BENCH_ROWS * P_INPUT_SIZE; k++) inputs[k] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    /* parity check: batch rows equal single predictions bit for bit */
    batch(0);
    float row[P_OUTPUT_SIZE];
    int mismatches = 0;
    for (int r = 0; r < BENCH_ROWS; r += 97) {
        P_predict(inputs + (size_t)r * P_INPUT_SIZE, row);
        for (int j = 0; j < P_OUTPUT_SIZE; j++) mismatches += row[j] != outputs[(size_t)r * P_OUTPUT_SIZE + j];
    }
    double b1 = per_call(one, seconds);
    double nv = per_call(naive, seconds);
    double bb = per_call(batch, seconds);
    printf("{\"batch1_ns\": %.1f, \"naive_batch1_ns\": %.1f, \"batch_ns\": %.1f, \"mismatches\": %d, \"selftest\": %d}\n",
           b1, nv, bb, mismatches, P_selftest(NULL));
    return 0;
}
"""

BANDWIDTH_PROBE = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
/* Streaming read of a buffer of argv[1] bytes, over and over: bytes per second at that working set.
 * The words are OR-ed into 8 independent accumulators: a float sum would be bound by the
 * add latency, not by the memory. */
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec * 1e9 + (double)t.tv_nsec; }
int main(int argc, char **argv)
{
    size_t n = (size_t)atol(argv[1]) / 64 * 8; /* uint64 words, whole cache lines */
    if (n < 64) n = 64;
    uint64_t *a = aligned_alloc(64, n * sizeof(uint64_t));
    for (size_t k = 0; k < n; k++) a[k] = k;
    uint64_t acc = 0;
    double best = 1e30;
    long reps = 1;
    while ((double)reps * (double)n < 4e6) reps *= 2;
    for (int round = 0; round < 15; round++) {
        double t = now_ns();
        for (long r = 0; r < reps; r++) {
            uint64_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (size_t k = 0; k < n; k += 8) {
                for (int u = 0; u < 8; u++) s[u] |= a[k + (size_t)u];
            }
            for (int u = 0; u < 8; u++) acc |= s[u];
            __asm__ volatile("" : : "g"(a) : "memory");
        }
        double dt = (now_ns() - t) / (double)reps;
        if (dt < best) best = dt;
    }
    printf("{\"bytes\": %zu, \"ns_per_pass\": %.1f, \"gb_per_s\": %.2f, \"sink\": %llu}\n", n * sizeof(uint64_t),
           best, (double)(n * sizeof(uint64_t)) / best, (unsigned long long)(acc & 1));
    free(a);
    return 0;
}
"""

FMA_PROBE = r"""
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
/* Single-precision multiply-adds per second on one core: independent accumulator chains
 * r = r * m + a, enough of them to cover the FMA latency times the FMA ports. They are
 * named variables written out by a macro, not an array: an array of __m512 in a loop was
 * measured to stay in memory (a third of the peak). AVX2 has 16 ymm registers, so 12
 * chains there (20 would spill). Compiled at -O2 with no -march: target attributes and
 * __builtin_cpu_supports pick the widest unit this machine has. */
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP20(X) REP12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec * 1e9 + (double)t.tv_nsec; }
static volatile float sink;
static volatile float one = 0.9999999f, tiny = 1e-7f; /* volatile: not folded at compile time */

#define Z_DECL(i) __m512 r##i = _mm512_set1_ps((float)(i));
#define Z_STEP(i) r##i = _mm512_fmadd_ps(r##i, m, a);
#define Z_SUM(i) s = _mm512_add_ps(s, r##i);
__attribute__((target("avx512f"))) static double run_avx512(long n)
{
    __m512 m = _mm512_set1_ps(one), a = _mm512_set1_ps(tiny), s = _mm512_setzero_ps();
    REP20(Z_DECL)
    for (long k = 0; k < n; k++) { REP20(Z_STEP) }
    REP20(Z_SUM)
    sink = _mm512_reduce_add_ps(s);
    return (double)n * 20 * 16;
}

#define Y_DECL(i) __m256 r##i = _mm256_set1_ps((float)(i));
#define Y_STEP(i) r##i = _mm256_fmadd_ps(r##i, m, a);
#define Y_SUM(i) s = _mm256_add_ps(s, r##i);
__attribute__((target("avx2,fma"))) static double run_avx2(long n)
{
    __m256 m = _mm256_set1_ps(one), a = _mm256_set1_ps(tiny), s = _mm256_setzero_ps();
    REP12(Y_DECL)
    for (long k = 0; k < n; k++) { REP12(Y_STEP) }
    REP12(Y_SUM)
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    sink = lanes[0] + lanes[7];
    return (double)n * 12 * 8;
}

#define S_DECL(i) float r##i = (float)(i);
#define S_STEP(i) r##i = fmaf(r##i, m, a);
#define S_SUM(i) s += r##i;
static double run_scalar(long n)
{
    float m = one, a = tiny, s = 0.0f;
    REP20(S_DECL)
    for (long k = 0; k < n; k++) { REP20(S_STEP) }
    REP20(S_SUM)
    sink = s;
    return (double)n * 20;
}

int main(void)
{
    const char *isa = "scalar fmaf";
    double (*run)(long) = run_scalar;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) { isa = "avx512f"; run = run_avx512; }
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { isa = "avx2+fma"; run = run_avx2; }
    long n = 1024;
    for (;;) { double t = now_ns(); run(n); if (now_ns() - t > 2e7 || n > (1L << 34)) break; n *= 2; }
    double best = 0.0;
    for (int pass = 0; pass < 5; pass++) {
        double t = now_ns();
        double ops = run(n);
        double rate = ops / ((now_ns() - t) * 1e-9);
        if (rate > best) best = rate;
    }
    printf("{\"isa\": \"%s\", \"multiply_adds_per_s\": %.4g}\n", isa, best);
    return 0;
}
"""

C_BUILDS = [  # (contender label, flags); the -O2 builds are what a user gets with default flags
    ("C header -O2", ["-O2"]),
    ("C header -O3 -march=native", ["-O3", "-march=native"]),
    ("C header -O2, no dispatch", ["-O2", "-DKERASLESS_NO_TARGET_CLONES"]),
]


def naive_forward(header: str, prefix: str) -> str:
    """The header's NAME_predict_multi renamed naive_predict_multi, dense calls swapped for the naive loop."""
    match = re.search(rf"static inline void {prefix}_predict_multi\(.*?\n}}\n", header, re.S)
    body = match.group(0).replace(f"{prefix}_predict_multi(", "naive_predict_multi(")
    return body.replace("kl_dense_forward(", "kl_dense_forward_naive(")


def build_c(key: str, header_path: Path) -> dict:
    """Compile the driver once per flag set; return label -> executable."""
    header = header_path.read_text()
    source = (C_DRIVER.replace("HEADER", header_path.name).replace("NAIVE", naive_forward(header, key))
              .replace("P_", f"{key}_").replace("BENCH_ROWS", str(BATCH)))
    if f"{key}_predict_batch(" in header:
        source = "#define HAS_BATCH 1\n" + source
    driver = BUILD / f"{key}_driver.c"
    driver.write_text(source)
    programs = {}
    for label, flags in C_BUILDS:
        exe = BUILD / f"{key}_{'_'.join(f.strip('-').replace('=', '') for f in flags)}"
        subprocess.run(["gcc", "-std=c99", *flags, f"-I{BUILD}", str(driver), "-o", str(exe), "-lm"], check=True)
        programs[label] = exe
    return programs


def bandwidth(nbytes: int) -> dict:
    probe = BUILD / "bandwidth"
    if not probe.exists():
        (BUILD / "bandwidth.c").write_text(BANDWIDTH_PROBE)
        subprocess.run(["gcc", "-O3", "-march=native", str(BUILD / "bandwidth.c"), "-o", str(probe)],
                       check=True)
    return json.loads(subprocess.run([str(probe), str(nbytes)], capture_output=True, text=True, check=True).stdout)


def fma_peak() -> dict:
    """The FMA probe's {"isa", "multiply_adds_per_s"}: single-precision multiply-adds per second, one core."""
    source, probe = BUILD / "fma_peak.c", BUILD / "fma_peak"
    source.write_text(FMA_PROBE)
    subprocess.run(["gcc", "-std=c99", "-O2", str(source), "-o", str(probe), "-lm"], check=True,
                   capture_output=True, text=True)
    return json.loads(subprocess.run([str(probe)], capture_output=True, text=True, check=True).stdout)


def multiply_adds(widths) -> int:
    """Multiply-adds of one row through dense layers of these widths (input first): sum of w[i] * w[i + 1]."""
    return sum(a * b for a, b in zip(widths, widths[1:]))


# ---- contenders ----------------------------------------------------------------------------


def onnx_session(model, path: Path):
    import onnxruntime as ort

    from exporter.frontend_keras import quiet_stderr

    with quiet_stderr():
        model.export(str(path), format="onnx", verbose=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def litert_interpreters(model, path: Path):
    """batch -> predict function, through TFLiteConverter and the LiteRT interpreter (1 thread)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from exporter.frontend_keras import quiet_stderr

    with quiet_stderr():
        saved = path.with_suffix("")
        model.export(str(saved), format="tf_saved_model", verbose=False)
        flat = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
    path.write_bytes(flat)

    def make(batch):
        interpreter = Interpreter(model_content=flat, num_threads=1)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, [batch] + list(model.inputs[0].shape[1:]))
        interpreter.allocate_tensors()
        out = interpreter.get_output_details()[0]["index"]

        def predict(x):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            return interpreter.get_tensor(out)

        return predict

    return {1: make(1), BATCH: make(BATCH)}


def contenders(key, model, json_path, notes):
    """label -> {batch: function(x)} for the Python-side contenders of one model."""
    import runtime_py

    found = {
        "Keras predict": lambda x: model.predict(x, verbose=0),
        "Keras predict_on_batch": model.predict_on_batch,
        "Keras model(x)": lambda x: model(x, training=False),
    }
    found = {k: {1: f, BATCH: f} for k, f in found.items()}
    try:
        f = onnx_session(model, BUILD / f"{key}.onnx")
        found["onnxruntime 1 thread"] = {1: f, BATCH: f}
    except Exception as exc:  # a contender that cannot run is reported, not fatal
        notes.append(f"{key}: onnxruntime unavailable ({type(exc).__name__}: {exc})")
    try:
        found["LiteRT 1 thread"] = litert_interpreters(model, BUILD / f"{key}.tflite")
    except Exception as exc:
        notes.append(f"{key}: LiteRT unavailable ({type(exc).__name__}: {exc})")
    ref = numpy_reference(model)
    found["numpy x @ W + b"] = {1: ref, BATCH: ref}
    default = runtime_py.load(json_path)
    found["runtime_py default (automatic)"] = {1: default.predict, BATCH: default.predict}
    found["runtime_py numpy"] = {1: (m := runtime_py.load(json_path, backend="numpy")).predict, BATCH: m.predict}
    # pure Python is for programs without numpy: lists in, lists out (the lists are made before timing)
    m = runtime_py.load(json_path, backend="python")
    found["runtime_py python, lists"] = {1: m.predict, BATCH: m.predict}
    found["pure Python sum(map(mul)), lists"] = {1: python_reference(model)}
    try:  # the header compiled the way a user does it (export-model -o NAME.so), loaded through ctypes
        from exporter.export import export

        so_path = BUILD / f"{key}.so"
        export(json_path.with_suffix(".keras"), [so_path], name=key)
        m = runtime_py.load(so_path)
        found["runtime_py model.so"] = {1: m.predict, BATCH: m.predict}
    except Exception as exc:  # no C compiler, or a library that does not load: reported, not fatal
        notes.append(f"{key}: runtime_py model.so unavailable ({type(exc).__name__}: {exc})")
    return found


# ---- measuring -------------------------------------------------------------------------------


def calibrate(fn, x) -> int:
    """Calls per measurement so that one measurement lasts about SAMPLE_SECONDS (at least one)."""
    fn(x)  # warm-up: first-call costs (tracing, allocation) are not what we measure
    t = time.perf_counter()
    fn(x)
    once = time.perf_counter() - t
    return max(1, int(SAMPLE_SECONDS / max(once, 1e-7)))


def measure(fn, x, count) -> float:
    t = time.perf_counter()
    for _ in range(count):
        fn(x)
    return (time.perf_counter() - t) / count


def cpu_info() -> dict:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = re.search(r"flags\s*:\s*(.*)", text)
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_fp16", "amx_tile", "neon", "asimd")
    return {"model": model.group(1).strip() if model else platform.processor(),
            "flags": [f for f in (flags.group(1).split() if flags else []) if f in wanted],
            "cores": os.cpu_count()}


def versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "keras", "onnxruntime", "ai_edge_litert", "kerasless"):
        try:
            from importlib.metadata import version

            out[name] = version(name.replace("_", "-"))
        except Exception:
            out[name] = "not installed"
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()
    out["gcc"] = gcc[0] if gcc else "?"
    return out


def run(rounds: int, quick: bool) -> dict:
    from exporter.export import export

    BUILD.mkdir(parents=True, exist_ok=True)
    notes, cells, sizes, c_programs = [], [], {}, {}
    try:
        peak = fma_peak()
        print(f"FMA peak: {peak['multiply_adds_per_s']:.3g} multiply-adds/s ({peak['isa']})", flush=True)
    except Exception as exc:  # no compiler, or an assembler without AVX-512: the share table is left out
        peak = None
        notes.append(f"FMA peak probe failed ({type(exc).__name__}: {exc})")
    models = MODELS[:3] if quick else MODELS
    for key, title, widths, acts in models:
        model = build_model(key, widths, acts)
        path = BUILD / f"{key}.keras"
        model.save(path)
        json_path, header_path = BUILD / f"{key}.json", BUILD / f"{key}.h"
        result = export(path, [json_path], name=key)
        graph = result.graph
        sizes[key] = {"title": title, "weight_bytes": graph.weight_bytes(), "parameters": graph.parameter_count(),
                      "multiply_adds": multiply_adds(widths) if widths else None}
        try:
            export(path, [header_path], name=key)
            header = header_path.read_text()
            sizes[key]["stack_bytes"] = 4 * int(re.search(rf"#define {key}_SCRATCH_FLOATS (\d+)", header).group(1))
            c_programs[key] = build_c(key, header_path)
        except Exception as exc:
            notes.append(f"{key}: no C header ({exc})")
        sizes[key]["bandwidth"] = bandwidth(max(graph.weight_bytes(), 4096))
        rng = np.random.default_rng(1)
        shape = tuple(model.inputs[0].shape[1:])
        xs = {b: rng.uniform(-1, 1, (b,) + shape).astype(np.float32) for b in (1, BATCH)}
        for label, fns in contenders(key, model, json_path, notes).items():
            for batch, fn in fns.items():
                if label == "Keras predict" and quick and batch == BATCH:
                    continue
                x = xs[batch].tolist() if label.endswith(", lists") else xs[batch]
                if label.endswith(", lists") and batch == BATCH:
                    once = measure(fn, [x[0]], 1) * BATCH
                    if once > 0.5:
                        notes.append(f"{key}: {label} at batch {BATCH} skipped (about {once:.1f} s per call)")
                        continue
                count = calibrate(fn, x)
                cells.append({"model": key, "label": label, "batch": batch, "fn": fn, "x": x,
                              "count": count, "seconds": []})
        print(f"prepared {key}", flush=True)
    c_results = {key: {label: [] for label in programs} for key, programs in c_programs.items()}
    for r in range(rounds):
        for cell in cells:
            cell["seconds"].append(measure(cell["fn"], cell["x"], cell["count"]))
        for key, programs in c_programs.items():
            for label, exe in programs.items():
                out = subprocess.run([str(exe), str(SAMPLE_SECONDS)], capture_output=True, text=True, check=True)
                c_results[key][label].append(json.loads(out.stdout))
        print(f"round {r + 1}/{rounds} done", flush=True)
    table = {}
    for cell in cells:
        table.setdefault(cell["model"], {}).setdefault(cell["label"], {})[cell["batch"]] = statistics.median(
            cell["seconds"])
    for key, labels in c_results.items():
        for label, runs in labels.items():
            table[key][label] = {1: statistics.median(r["batch1_ns"] for r in runs) * 1e-9,
                                 BATCH: statistics.median(r["batch_ns"] for r in runs) * 1e-9}
            naive = f"naive C loop {label.split(' ', 2)[2]}"
            if "no dispatch" not in label:
                table[key][naive] = {1: statistics.median(r["naive_batch1_ns"] for r in runs) * 1e-9}
            bad = [r for r in runs if r["mismatches"] or r["selftest"]]
            if bad:
                notes.append(f"{key} {label}: batch rows differ from single predictions or selftest failed: {bad[0]}")
    return {"table": table, "sizes": sizes, "notes": notes, "cpu": cpu_info(), "versions": versions(), "peak": peak,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "rounds": rounds}


# ---- report ------------------------------------------------------------------------------------


def fmt_time(seconds) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


def targets(results) -> list:
    """(target, measured, met) for the issue's numbered targets, from the MNIST row and the tiny models."""
    t = results["table"].get("mnist", {})
    get = lambda label, b=1: t.get(label, {}).get(b)  # noqa: E731
    rows = []

    def ratio(a, b):
        return a / b if a and b else None

    def add(name, value, bound, better="below"):
        met = value is not None and (value <= bound if better == "below" else value >= bound)
        rows.append((name, "n/a" if value is None else f"{value:.2f}", met))

    ort = get("onnxruntime 1 thread")
    add("1a header -O3 -march=native batch 1 / onnxruntime (<= 0.8)", ratio(get("C header -O3 -march=native"), ort), 0.8)
    add("1b header -O3 -march=native batch 1 / naive loop -O3 -march=native (<= 1.1)",
        ratio(get("C header -O3 -march=native"), get("naive C loop -O3 -march=native")), 1.1)
    add("2 header -O2 batch 1 / header -O3 -march=native (<= 1.5)",
        ratio(get("C header -O2"), get("C header -O3 -march=native")), 1.5)
    def default_flags_batch(tk):  # the best batch-1024 time of the header builds a user gets with default flags
        return min((tk[label][BATCH] for label, flags in C_BUILDS
                    if flags[0] == "-O2" and tk.get(label, {}).get(BATCH)), default=None)

    add("3 header -O2 batch-1024 throughput / onnxruntime (>= 1.0)",
        ratio(get("onnxruntime 1 thread", BATCH), default_flags_batch(t)), 1.0, "above")
    wide = results["table"].get("wide", {})
    add("3b header -O2 batch-1024 throughput / onnxruntime, wide 1024-1024-1024-10 (>= 1.0)",
        ratio(wide.get("onnxruntime 1 thread", {}).get(BATCH), default_flags_batch(wide)), 1.0, "above")
    add("4a runtime_py numpy batch 1 / numpy reference (<= 1.2)", ratio(get("runtime_py numpy"), get("numpy x @ W + b")),
        1.2)
    add("4b runtime_py numpy batch-1024 throughput / numpy reference (>= 0.9)",
        ratio(get("numpy x @ W + b", BATCH), get("runtime_py numpy", BATCH)), 0.9, "above")
    for key in ("mnist", "digits"):
        tk = results["table"].get(key, {})
        add(f"5 {key}: runtime_py python batch 1 / pure-Python sum(map(mul)) (<= 1.0)",
            ratio(tk.get("runtime_py python, lists", {}).get(1), tk.get("pure Python sum(map(mul)), lists", {}).get(1)),
            1.0)
    for key in ("xor_skip", "digits"):
        tk = results["table"].get(key, {})
        default = next((v.get(1) for k, v in tk.items() if k.startswith("runtime_py default")), None)
        add(f"6 {key}: runtime_py default batch 1 / onnxruntime (< 1.0)",
            ratio(default, tk.get("onnxruntime 1 thread", {}).get(1)), 0.9999)
    for key in ("digits", "mnist"):
        tk = results["table"].get(key, {})
        add(f"7 {key}: runtime_py model.so batch 1 / onnxruntime (< 1.0)",
            ratio(tk.get("runtime_py model.so", {}).get(1), tk.get("onnxruntime 1 thread", {}).get(1)), 0.9999)
    add("7 mnist: runtime_py model.so batch-1024 throughput / onnxruntime (>= 1.0)",
        ratio(get("onnxruntime 1 thread", BATCH), get("runtime_py model.so", BATCH)), 1.0, "above")
    return rows


def peak_shares(results) -> list:
    """(model, contender, multiply-adds per second, share of the FMA peak) at batch 1024, dense models only."""
    peak = (results.get("peak") or {}).get("multiply_adds_per_s")
    rows = []
    for key, s in results["sizes"].items():
        t = results["table"].get(key, {})
        if not s.get("multiply_adds"):
            continue
        for label in [label for label, _ in C_BUILDS] + ["onnxruntime 1 thread", "runtime_py model.so"]:
            seconds = t.get(label, {}).get(BATCH)
            if seconds:
                rate = s["multiply_adds"] * BATCH / seconds
                rows.append((key, label, rate, rate / peak if peak else None))
    return rows


def write_report(results):
    table, sizes = results["table"], results["sizes"]
    lines = ["# Benchmarks", "",
             "Generated by `make bench` (`benchmarks/run.py`); do not edit by hand: the notes come from "
             "`benchmarks/notes.md`.", "",
             f"* Date: {results['date']}; {results['rounds']} interleaved rounds, medians.",
             f"* CPU: {results['cpu']['model']} ({results['cpu']['cores']} logical cores seen; "
             f"flags: {' '.join(results['cpu']['flags'])}). Every contender single-threaded.",
             "* FMA peak (one core, single precision, `FMA_PROBE` in `benchmarks/run.py`): " +
             (f"{results['peak']['multiply_adds_per_s'] / 1e9:.1f} G multiply-adds/s ({results['peak']['isa']})."
              if results.get("peak") else "not measured (Run notes)."),
             "* Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".",
             f"* Batch 1: latency per call. Batch {BATCH}: time per call and rows per second. Python contenders "
             "are timed from Python (call overhead included, as a user pays it); the C header is timed inside C.",
             "", "## Targets (issue 6, MNIST 784-300-10 unless named)", "",
             "| target | measured | met |", "|---|---|---|"]
    for name, value, met in targets(results):
        lines.append(f"| {name} | {value} | {'—' if met is None else ('yes' if met else '**no**')} |")
    lines += ["", "## Memory and the physical limit at batch 1", "",
              "| model | parameters | static weights | stack per predict | read bandwidth at that size | "
              "weights / bandwidth | header -O3 -march=native batch 1 |", "|---|---|---|---|---|---|---|"]
    for key, s in sizes.items():
        bw = s["bandwidth"]["gb_per_s"]
        floor = s["weight_bytes"] / (bw * 1e9)
        ours = table.get(key, {}).get("C header -O3 -march=native", {}).get(1)
        lines.append(f"| {key} | {s['parameters']:,} | {s['weight_bytes']:,} B | "
                     f"{s.get('stack_bytes', '—') if 'stack_bytes' not in s else format(s['stack_bytes'], ',') + ' B'} | "
                     f"{bw:.1f} GB/s | {fmt_time(floor)} | {fmt_time(ours)} |")
    shares = peak_shares(results)
    if shares:
        lines += ["", f"## Share of the FMA peak at batch {BATCH} (dense models)", "",
                  "| model | contender | multiply-adds per row | G multiply-adds/s | share of peak |",
                  "|---|---|---|---|---|"]
        for key, label, rate, share in shares:
            lines.append(f"| {key} | {label} | {sizes[key]['multiply_adds']:,} | {rate / 1e9:.2f} | "
                         f"{'—' if share is None else f'{share:.1%}'} |")
    for key, s in sizes.items():
        t = table.get(key, {})
        best_b1 = min((v[1] for v in t.values() if v.get(1)), default=None)
        lines += ["", f"## {s['title']}", "",
                  f"| contender | batch 1 latency | vs fastest | batch {BATCH} per call | rows/s |",
                  "|---|---|---|---|---|"]
        for label, v in sorted(t.items(), key=lambda kv: kv[1].get(1) or 1e9):
            b1, bb = v.get(1), v.get(BATCH)
            lines.append(f"| {label} | {fmt_time(b1)} | {b1 / best_b1:.1f}x | {fmt_time(bb)} | "
                         f"{(f'{BATCH / bb:,.0f}' if bb else '—')} |" if b1 else
                         f"| {label} | — | — | {fmt_time(bb)} | {(f'{BATCH / bb:,.0f}' if bb else '—')} |")
    if results["notes"]:
        lines += ["", "## Run notes", ""] + [f"* {n}" for n in results["notes"]]
    if NOTES.exists():
        lines += ["", NOTES.read_text().strip()]
    lines += ["", "![batch 1 latency and batch 1024 throughput](benchmarks.png)", ""]
    (DOCS / "benchmarks.md").write_text("\n".join(lines))


def plot(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = results["table"]
    keys = list(results["sizes"])
    fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 9))
    axes = np.array(axes).reshape(2, len(keys))
    for col, key in enumerate(keys):
        for row, batch in enumerate((1, BATCH)):
            items = sorted(((label, v[batch]) for label, v in table[key].items() if v.get(batch)),
                           key=lambda kv: kv[1])
            ax = axes[row, col]
            labels = [label for label, _ in items]
            values = [s * 1e6 if batch == 1 else BATCH / s for _, s in items]
            colors = ["tab:green" if l.startswith(("C header", "runtime_py")) else "tab:gray" for l in labels]
            ax.barh(range(len(items)), values, color=colors)
            ax.set_yticks(range(len(items)))
            ax.set_yticklabels(labels, fontsize=7)
            ax.set_xscale("log")
            ax.invert_yaxis()
            ax.set_title(f"{key}: " + ("batch 1 latency, µs (lower is better)" if batch == 1 else
                                      f"batch {BATCH}, rows/s (higher is better)"), fontsize=8)
    fig.suptitle(f"kerasless (green) vs alternatives, single thread — {results['cpu']['model']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(DOCS / "benchmarks.png", dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="three small models, for a smoke run")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite docs/benchmarks.md and .png from the last run's build/bench/results.json")
    args = parser.parse_args(argv)
    started = time.time()
    if args.report_only:
        results = json.loads((BUILD / "results.json").read_text())
        results["table"] = {m: {l: {int(b): s for b, s in v.items()} for l, v in t.items()}
                            for m, t in results["table"].items()}
    else:
        results = run(args.rounds, args.quick)
        saved = {k: v for k, v in results.items()}
        saved["table"] = {m: {l: {str(b): s for b, s in v.items()} for l, v in t.items()}
                          for m, t in results["table"].items()}
        (BUILD / "results.json").write_text(json.dumps(saved, indent=1))
    write_report(results)
    plot(results)
    print(f"wrote docs/benchmarks.md and docs/benchmarks.png in {time.time() - started:.0f} s")
    for name, value, met in targets(results):
        print(f"  {'MET ' if met else ('    ' if met is None else 'MISS')} {name}: {value}")


if __name__ == "__main__":
    main()
