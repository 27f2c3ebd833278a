"""Regenerate the conformance suite: `.venv/bin/python tests/conformance/generate.py` (needs Keras 3).

Writes tests/conformance/models/<case>.json and tests/conformance/malformed/<case>.json plus
tests/conformance/cases.json, the index a runner reads. Every model file's test vectors are the
suite's expectations: inputs chosen to reach every code path (special values, extreme rows,
-0.0, NaN and infinities), outputs from Keras 3's predict one row at a time and, where Keras can
run the model in float64, the float64 run (outputs64). The few records Keras 3 cannot write
(the Keras 2 unit_norm clamp, kernels stored in fewer bits) get outputs from an exact float64
formula here instead; Keras 2 files (tf_keras) have tf_keras's predict as the expectation. kerasless's own runtimes never produce an expectation.

TensorFlow runs without oneDNN (TF_ENABLE_ONEDNN_OPTS=0): with it, softmax of a row holding NaN or
+inf puts NaN at lane-dependent places (docs/format.md), which is not a behaviour to conform to.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import numpy as np  # noqa: E402

from exporter.ir import Graph, Node, TensorSpec  # noqa: E402
from exporter.model_file import to_json, to_npz  # noqa: E402
from exporter.test_vectors import add_float64_outputs, make_test_vectors  # noqa: E402

SEED = 18

# Values that reach the edges of the formulas: signed zeros, subnormals, thresholds of the
# activations (±1, ±3, 6, softplus's ±13.94), exp's overflow (88.72) and underflow (-87, -104),
# values whose square overflows (1e19, 3e38), infinities and NaN.
SPECIAL = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-30, 0.5, -0.5, 1.0, -1.0, 2.9, -3.0, 3.0, 6.0, 7.5,
                    -7.5, 13.9, -13.95, 20.0, -20.0, 88.5, 89.0, -87.0, -104.0, 1e4, -1e4, 1e19, -1e19,
                    3e38, -3e38, np.inf, -np.inf, np.nan], dtype=np.float32)


def special_rows(shape, rotate=0) -> np.ndarray:
    """The special values, cycled (rotated by `rotate`) to fill whole rows of the per-sample shape."""
    size = int(np.prod(shape))
    rows = -(-len(SPECIAL) // size)
    values = np.resize(np.roll(SPECIAL, rotate), rows * size)
    return values.reshape(rows, *shape).astype(np.float32)


def extreme_rows(shape, rng) -> np.ndarray:
    """Zeros, -0.0, a normal row times 4 and rows zero but for one +-1e4 (the exporter's extreme batch)."""
    size = int(np.prod(shape))
    rows = np.zeros((5, size), dtype=np.float32)
    rows[1] = -0.0
    rows[2] = 4.0 * rng.standard_normal(size)
    rows[3, rng.integers(size)] = 1e4
    rows[4, rng.integers(size)] = -1e4
    return rows.reshape(5, *shape)


def batches_for(shapes, special=True, seed=SEED) -> list:
    """Three batches per model: normal values, the special values (optional), the extreme rows."""
    rng = np.random.default_rng(seed)
    batches = [[rng.standard_normal((3, *s)).astype(np.float32) for s in shapes]]
    if special:
        batches.append([special_rows(s, rotate=7 * k) for k, s in enumerate(shapes)])
        count = max(len(b) for b in batches[-1])
        batches[-1] = [np.resize(b, (count, *s)).astype(np.float32) for b, s in zip(batches[-1], shapes)]
    batches.append([extreme_rows(s, rng) for s in shapes])
    return batches


# ---- cases: (what it covers, build(keras, rng) -> model, options) -----------------------------


def _seeded(model, rng, scale=0.5):
    """Give every weight seeded normal values (variances positive) so files are reproducible."""
    for layer in model.layers:
        if layer.weights:
            new = []
            for variable in layer.weights:
                values = (scale * rng.standard_normal(tuple(variable.shape))).astype(np.float32)
                if "variance" in getattr(variable, "path", variable.name):
                    values = np.abs(values) + np.float32(0.1)
                new.append(values)
            layer.set_weights(new)
    return model


def sequential(keras, shape, *layers):
    return keras.Sequential([keras.Input(shape=shape), *layers])


def merge(keras, layer_class, count, shape=(8,), **kwargs):
    inputs = [keras.Input(shape=shape, name=f"x{k}") for k in range(count)]
    return keras.Model(inputs, getattr(keras.layers, layer_class)(**kwargs)(inputs))


def dot_of(keras, shapes, **kwargs):
    """keras.layers.Dot of inputs of the given shapes."""
    inputs = [keras.Input(shape=shape, name=f"x{k}") for k, shape in enumerate(shapes)]
    return keras.Model(inputs, keras.layers.Dot(**kwargs)(inputs))


def operation(keras, count, function, shape=(8,)):
    """A functional model calling a keras.ops function on its inputs (an operation node, exporter/operations.py)."""
    inputs = [keras.Input(shape=shape, name=f"x{k}") for k in range(count)]
    return keras.Model(inputs, function(*inputs))


def broadcasting_merges(keras):
    """Multiply of (4, 3) by (1, 3), then Add of (3,): both merges read broadcast nodes."""
    a, b, c = keras.Input(shape=(4, 3), name="a"), keras.Input(shape=(1, 3), name="b"), keras.Input(shape=(3,), name="c")
    L = keras.layers
    return keras.Model([a, b, c], L.Add()([L.Multiply()([a, b]), c]))


ACTIVATION_NAMES = ["celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_tanh",
                    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid",
                    "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
                    "sparsemax", "squareplus", "tanh", "tanh_shrink"]

# sparsemax sorts: NaN and ties at the support's edge are placed by position in TensorFlow (docs/format.md),
# so its rows hold no special values.
NO_SPECIAL = {"activation_sparsemax"}
NPZ_TOO = {"dense"}  # also written in the NPZ encoding


def keras_cases(keras) -> dict:
    L = keras.layers
    cases = {}
    for name in ACTIVATION_NAMES:
        # linear alone would be dropped; a Reshape keeps the graph non-empty
        layer = L.Activation(name) if name != "linear" else L.Reshape((8,))
        cases[f"activation_{name}"] = (f"activation {name} on special values, extreme rows",
                                       lambda k, rng, layer=layer: sequential(k, (8,), layer))
    cases.update({
        "activation_glu": ("glu halves the last axis (an activation node of its own)",
                           lambda k, rng: sequential(k, (3, 8), L.Activation("glu"))),
        "activation_elu_alpha": ("elu with alpha 0.5 (the scaled branch)", lambda k, rng: sequential(k, (8,), L.ELU(alpha=0.5))),
        "activation_leaky_relu_layer": ("LeakyReLU's own slope", lambda k, rng: sequential(k, (8,), L.LeakyReLU(negative_slope=0.3))),
        "activation_relu_max": ("relu with max_value 6 (relu6 path)", lambda k, rng: sequential(k, (8,), L.ReLU(max_value=6.0))),
        "activation_relu_all": ("relu with negative_slope, max_value and threshold", lambda k, rng: sequential(
            k, (8,), L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5))),
        "activation_relu_threshold": ("relu with a threshold only", lambda k, rng: sequential(k, (8,), L.ReLU(threshold=1.5))),
        "activation_relu_leaky": ("relu with a slope only (leaky_relu path)", lambda k, rng: sequential(
            k, (8,), L.ReLU(negative_slope=0.25))),
        "dense": ("dense with bias and a fused tanh", lambda k, rng: sequential(k, (8,), L.Dense(5, activation="tanh"))),
        "dense_no_bias": ("dense without bias", lambda k, rng: sequential(k, (8,), L.Dense(4, use_bias=False))),
        "dense_rank3": ("dense over the last axis of a (3, 4) input", lambda k, rng: sequential(k, (3, 4), L.Dense(2))),
        "dense_softmax": ("dense with a fused softmax (axis-wise) activation",
                          lambda k, rng: sequential(k, (8,), L.Dense(6, activation="softmax"))),
        "dense_squareplus": ("dense then squareplus: an ulp of the sum magnified on the extreme rows",
                             lambda k, rng: sequential(k, (8,), L.Dense(6, activation="squareplus"))),
        "dense_exponential": ("dense then exponential", lambda k, rng: sequential(k, (8,), L.Dense(4, activation="exponential"))),
        "reshape": ("reshape and flatten", lambda k, rng: sequential(k, (8,), L.Reshape((2, 4)), L.Dense(3), L.Flatten())),
        "scale_shift_batch_norm": ("BatchNormalization folded to scale_shift", lambda k, rng: sequential(
            k, (2, 4), L.BatchNormalization())),
        "scale_shift_rescaling": ("Rescaling", lambda k, rng: sequential(k, (8,), L.Rescaling(scale=0.25, offset=-1.5))),
        "prelu": ("PReLU with a shared axis (alpha broadcast at export)", lambda k, rng: sequential(
            k, (3, 4), L.PReLU(shared_axes=[1]))),
        "layer_norm": ("LayerNormalization", lambda k, rng: sequential(k, (2, 6), L.LayerNormalization())),
        "layer_norm_bare": ("LayerNormalization without gamma and beta", lambda k, rng: sequential(
            k, (6,), L.LayerNormalization(center=False, scale=False, epsilon=1e-5))),
        "layer_norm_rms": ("LayerNormalization with rms_scaling", lambda k, rng: sequential(
            k, (6,), L.LayerNormalization(rms_scaling=True))),
        "rms_norm": ("RMSNormalization", lambda k, rng: sequential(k, (6,), L.RMSNormalization(epsilon=1e-6))),
        "unit_norm": ("UnitNormalization (Keras 3 clamp)", lambda k, rng: sequential(k, (6,), L.UnitNormalization())),
        "standardize": ("Normalization with per-channel mean and variance", lambda k, rng: sequential(
            k, (2, 3), L.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1e-20]))),
        "standardize_invert": ("Normalization with invert", lambda k, rng: sequential(
            k, (3,), L.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 9.0], invert=True))),
        "axis_batch_norm": ("BatchNormalization over axis 1 of a (3, 4) sample: scale_shift through transposes",
                            lambda k, rng: sequential(k, (3, 4), L.BatchNormalization(axis=1))),
        "axis_layer_norm": ("LayerNormalization over axes [1, 2] of a (2, 3, 4) sample: reshape, layer_norm, reshape",
                            lambda k, rng: sequential(k, (2, 3, 4), L.LayerNormalization(axis=[1, 2]))),
        "axis_layer_norm_middle": ("LayerNormalization over axis 1 of a (3, 4) sample: transposes around layer_norm",
                                   lambda k, rng: sequential(k, (3, 4), L.LayerNormalization(axis=1))),
        "axis_rms_norm": ("RMSNormalization over axes [1, 2] of a (3, 4) sample", lambda k, rng: sequential(
            k, (3, 4), L.RMSNormalization(axis=[1, 2], epsilon=1e-6))),
        "axis_unit_norm": ("UnitNormalization over axes [1, 2] of a (2, 3, 4) sample", lambda k, rng: sequential(
            k, (2, 3, 4), L.UnitNormalization(axis=[1, 2]))),
        "transpose": ("Permute of a rank-3 sample", lambda k, rng: sequential(k, (2, 3, 4), L.Permute((3, 1, 2)))),
        "transpose_softmax_axis": ("Softmax over axis 1: transpose, softmax, transpose", lambda k, rng: sequential(
            k, (3, 4), L.Softmax(axis=1))),
        "transpose_flatten_channels_first": ("Flatten of channels_first data", lambda k, rng: sequential(
            k, (3, 4), L.Flatten(data_format="channels_first"))),
        "broadcast": ("merges of shapes that broadcast: (4, 3) * (1, 3) + (3,)",
                      lambda k, rng: broadcasting_merges(k)),
        "repeat": ("RepeatVector", lambda k, rng: sequential(k, (4,), L.RepeatVector(3))),
        "concatenate_last": ("Concatenate on axis -1", lambda k, rng: merge(k, "Concatenate", 2, (2, 3), axis=-1)),
        "concatenate_first": ("Concatenate on Keras axis 1 (sample axis 0) of three inputs",
                              lambda k, rng: merge(k, "Concatenate", 3, (2, 3), axis=1)),
        "add": ("Add of three inputs", lambda k, rng: merge(k, "Add", 3)),
        "subtract": ("Subtract", lambda k, rng: merge(k, "Subtract", 2)),
        "multiply": ("Multiply of three inputs", lambda k, rng: merge(k, "Multiply", 3)),
        "average": ("Average of three inputs", lambda k, rng: merge(k, "Average", 3)),
        "maximum": ("Maximum of three inputs (NaN and signed zeros)", lambda k, rng: merge(k, "Maximum", 3)),
        "minimum": ("Minimum of two inputs", lambda k, rng: merge(k, "Minimum", 2)),
        "dot": ("Dot of two vectors", lambda k, rng: merge(k, "Dot", 2, axes=1)),
        "dot_normalize": ("Dot with normalize (cosine)", lambda k, rng: merge(k, "Dot", 2, axes=1, normalize=True)),
        "matmul": ("Dot of (3, 4) and (4, 5) matrices on axes (2, 1): one matmul",
                   lambda k, rng: dot_of(k, [(3, 4), (4, 5)], axes=(2, 1))),
        "matmul_transposed_normalize": ("Dot of (3, 4) and (5, 4) on axis -1, normalized: unit_norm, transpose, matmul",
                                        lambda k, rng: dot_of(k, [(3, 4), (5, 4)], axes=-1, normalize=True)),
        # keras.ops called on tensors in functional models
        "op_abs": ("keras.ops.abs", lambda k, rng: operation(k, 1, k.ops.abs)),
        "op_square": ("keras.ops.square (overflow to inf)", lambda k, rng: operation(k, 1, k.ops.square)),
        "op_sqrt": ("keras.ops.sqrt (NaN below 0, subnormals as zeros)", lambda k, rng: operation(k, 1, k.ops.sqrt)),
        "op_log": ("keras.ops.log (-inf at 0, NaN below, subnormals as zeros)", lambda k, rng: operation(k, 1, k.ops.log)),
        "op_clip": ("keras.ops.clip with number bounds", lambda k, rng: operation(
            k, 1, lambda x: k.ops.clip(x, -0.5, 3.0))),
        "op_maximum_constant": ("keras.ops.maximum of a tensor and a number", lambda k, rng: operation(
            k, 1, lambda x: k.ops.maximum(x, 0.0))),
        "op_minimum_constant": ("keras.ops.minimum of a tensor and a number", lambda k, rng: operation(
            k, 1, lambda x: k.ops.minimum(x, 1.5))),
        "op_divide_by": ("a tensor divided by a number: one division, not a multiplication by 1/c",
                         lambda k, rng: operation(k, 1, lambda x: x / 0.7)),
        "op_divide_into": ("a number divided by a tensor (subnormals as zeros)", lambda k, rng: operation(
            k, 1, lambda x: 3.0 / x)),
        "op_divide": ("keras.ops.divide of two tensors (subnormals as zeros)", lambda k, rng: operation(
            k, 2, k.ops.divide)),
        "op_sum_axes": ("keras.ops.sum over axes 1 and 3 of a (2, 3, 4) sample, keepdims: transpose, reshape, reduce",
                        lambda k, rng: operation(k, 1, lambda x: k.ops.sum(x, axis=[1, 3], keepdims=True), (2, 3, 4))),
        "op_mean": ("keras.ops.mean over the last axis (special values: inf - inf is NaN)",
                    lambda k, rng: operation(k, 1, lambda x: k.ops.mean(x, axis=-1, keepdims=True))),
        "op_max": ("keras.ops.max over axis 1 of a (8, 2) sample (NaN propagates)",
                   lambda k, rng: operation(k, 1, lambda x: k.ops.max(x, axis=1), (8, 2))),
        "op_min": ("keras.ops.min over every sample axis, keepdims",
                   lambda k, rng: operation(k, 1, lambda x: k.ops.min(x, axis=-1, keepdims=True))),
        "op_get_item": ("x[:, ::-1, 1::2] of a (2, 8) sample: a slice node (values copied, -0 and NaN kept)",
                        lambda k, rng: operation(k, 1, lambda x: x[:, ::-1, 1::2], (2, 8))),
        "op_split": ("keras.ops.split into three parts: one slice node per output",
                     lambda k, rng: operation(k, 1, lambda x: k.ops.split(x, [2, 5], axis=-1))),
        "op_arithmetic_constants": ("x * 0.1, then + 2.5, then 1 - that, then its negative: exact scale_shift nodes",
                                    lambda k, rng: operation(k, 1, lambda x: -(1.0 - (x * 0.1 + 2.5)))),
    })
    return cases


def keras2_cases(tf_keras) -> dict:
    """Keras 2 semantics (tf_keras's predict is the expectation): what Keras 3 reads otherwise or not at all."""
    L = tf_keras.layers
    return {
        "keras2_thresholded_relu": ("Keras 2's ThresholdedReLU: the threshold activation", lambda k, rng: sequential(
            k, (8,), L.ThresholdedReLU(theta=0.5))),
        "keras2_hard_sigmoid": ("Keras 2's hard_sigmoid, clip(0.2x + 0.5, 0, 1), lowered to existing ops",
                                lambda k, rng: sequential(k, (8,), L.Dense(4, activation="hard_sigmoid"))),
        "keras2_leaky_relu_alpha": ("Keras 2's LeakyReLU(alpha)", lambda k, rng: sequential(
            k, (8,), L.LeakyReLU(alpha=0.2))),
        "keras2_dot_matrices_normalize": ("Keras 2's Dot(normalize=True) of matrices: l2_normalize's clamp, matmul",
                                          lambda k, rng: dot_of(k, [(4, 3), (4, 5)], axes=1, normalize=True)),
    }


def write_keras_case(keras, name: str, build, directory: Path, suffix=".keras", frontend="keras") -> dict:
    from exporter.reading import read

    keras.backend.clear_session()  # layer names restart per case, so adding a case leaves the others' files alone
    rng = np.random.default_rng(SEED)
    model = _seeded(build(keras, rng), rng)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{name}{suffix}"
        model.save(path)
        reading = read(path, name, frontend)
        if reading.reference != "keras":
            raise SystemExit(f"{name}: Keras reloads the model otherwise than its file says: {reading.notes}")
        graph = reading.graph
        shapes = [t.shape for t in graph.inputs]
        vectors = make_test_vectors(graph, reading.predict, batches_for(shapes, special=name not in NO_SPECIAL))
        missing = add_float64_outputs(vectors, reading.predict64)
    producer = {"keras_version": reading.keras_version, "backend": reading.backend, "source": f"{name}{suffix}",
                "reference": "keras", "reference_keras": reading.reference_keras}
    if missing:
        producer["float64_unavailable"] = missing
    (directory / f"{name}.json").write_bytes(to_json(graph, vectors, producer))
    if name in NPZ_TOO:
        (directory / f"{name}.npz").write_bytes(to_npz(graph, vectors, producer))
    return {"ops": sorted({n.op for n in graph.nodes}),
            "activations": sorted({n.attrs["activation"]["name"] for n in graph.nodes if "activation" in n.attrs})}


# ---- cases Keras 3 cannot write: outputs from an exact float64 formula --------------------------


def _above64(x, threshold):
    """x (as float64) and where x > threshold, TensorFlow comparing subnormals as 0."""
    tiny = np.finfo(np.float32).tiny
    x64 = x.astype(np.float64)
    return x64, np.where(np.abs(x64) < tiny, 0.0, x64) > np.float64(np.float32(threshold))


def _threshold64(x, threshold, default):
    """x if x > threshold else default (exact: no rounding at all)."""
    x64, above = _above64(x, threshold)
    return np.where(above, x64, np.float64(np.float32(default)))


def _thresholded_relu64(x, theta):
    """x * (1 if x > theta else 0), a multiplication: NaN for NaN and -inf (exact)."""
    x64, above = _above64(x, theta)
    return x64 * above.astype(np.float64)


def _unit_norm_square_sum64(x, epsilon):
    """Keras 2's l2_normalize, x / sqrt(max(sum x^2, eps)), exactly in float64 (ours is the float32 one)."""
    x64 = x.astype(np.float64)
    return x64 / np.sqrt(np.maximum((x64 * x64).sum(axis=-1, keepdims=True), np.float64(np.float32(epsilon))))


def _stored_dense(name: str, dtype: str, n_in=8, n_out=5):
    """A dense node (tanh) whose kernel is stored as int8 or float16, and its exact float64 formula.

    The weights the file stands for are docs/format.md's decoding, written here from the spec:
    float16 values as they are; int8 as the float32 product q * scale, rounded once.
    """
    from exporter.ir import Stored

    rng = np.random.default_rng(SEED + len(dtype))
    bias = (0.5 * rng.standard_normal(n_out)).astype(np.float32)
    if dtype == "int8":
        q = rng.integers(-127, 128, (n_in, n_out)).astype(np.int8)
        q[:, 0] = 0  # an all-zero column with scale 0, as the exporter writes one
        scale = (0.01 * rng.random(n_out) + 0.001).astype(np.float32)
        scale[0] = 0.0
        stored = Stored("int8", q, scale)
        weight = q.astype(np.float32) * scale  # float32 * float32: one rounding
    else:
        values = (0.5 * rng.standard_normal((n_in, n_out))).astype(np.float16)
        values[0, 0] = np.float16(6e-8)  # a float16 subnormal: exactly a float32
        stored = Stored("float16", values, None)
        weight = values.astype(np.float32)
    node = Node(name, "dense", ["x"], (n_out,), {"activation": {"name": "tanh"}}, {"kernel": weight, "bias": bias},
                name, "Dense", {"kernel": stored})
    return node, lambda x: np.tanh(x.astype(np.float64) @ weight.astype(np.float64) + bias.astype(np.float64))


def formula_cases() -> dict:
    """name -> (what it covers, node, input shape, exact float64 function, rows: "special", "normal" or "exact")."""
    int8_node, int8_exact = _stored_dense("dense_int8", "int8")
    float16_node, float16_exact = _stored_dense("dense_float16", "float16")
    return {
        "activation_thresholded_relu": ("thresholded_relu (Keras 2's ThresholdedReLU, a multiplication): exact, "
                                        "from float64", Node("t", "activation", ["x"], (8,), {"activation": {
                                            "name": "thresholded_relu", "theta": 0.5}}, {}, "t", "ThresholdedReLU"),
                                        (8,), lambda x: _thresholded_relu64(x, 0.5), "special"),
        "activation_threshold": ("threshold (keras.ops.threshold): outputs are exact, from float64",
                                 Node("t", "activation", ["x"], (8,), {"activation": {
                                     "name": "threshold", "threshold": 0.5, "default_value": -2.0}}, {}, "t", "ThresholdedReLU"),
                                 (8,), lambda x: _threshold64(x, 0.5, -2.0), "special"),
        "unit_norm_square_sum": ("unit_norm with Keras 2's clamp: outputs from float64 (normal rows only)",
                                 Node("u", "unit_norm", ["x"], (6,), {"epsilon": 1e-12, "clamp": "square_sum"}, {},
                                      "u", "UnitNormalization"),
                                 (6,), lambda x: _unit_norm_square_sum64(x, 1e-12), "normal"),
        "dense_int8": ("dense with an int8 kernel (kernel_scale, a zero column) and tanh: float64 of the decoded weights",
                       int8_node, (8,), int8_exact, "exact"),
        "dense_float16": ("dense with a float16 kernel (a subnormal value) and tanh: float64 of the decoded weights",
                          float16_node, (8,), float16_exact, "exact"),
    }


def write_formula_case(name: str, node: Node, shape, exact, rows: str, directory: Path) -> dict:
    graph = Graph(name, [TensorSpec("x", shape)], [TensorSpec(node.name, node.shape)], [node])
    batches = batches_for([shape], special=rows == "special")
    if rows == "normal":  # float64 of a sum is not the float32 result Keras would give on extreme rows
        batches = batches[:1]
    elif rows == "exact":  # extreme rows whose dot products are exact in float32: zeros, -0.0, a single +-1e4
        batches = [batches[0], [np.delete(batches[-1][0], 2, axis=0)]]
    vectors = []
    for (x,) in batches:
        exact_out = exact(x)
        # the float32 expectation is the float64 value rounded once; outputs64 carries the exact one
        vectors.append({"inputs": [x], "outputs": [exact_out.astype(np.float32)], "outputs64": [exact_out]})
    producer = {"keras_version": "", "backend": "float64-formula", "source": "tests/conformance/generate.py",
                "reference": "float64"}
    (directory / f"{name}.json").write_bytes(to_json(graph, vectors, producer))
    storage = sorted({stored.dtype for stored in node.storage.values()})
    return {"ops": [node.op], "activations": [node.attrs["activation"]["name"]] if "activation" in node.attrs else [],
            **({"storage": storage} if storage else {})}


# ---- a strict case: the required dense order, where the judge's float64 clause cannot tell ---------


def _fma_chain32(x, kernel):
    """docs/format.md's dense order: acc = +0, then acc = fma(x[i], kernel[i][j], acc) for i = 0, 1, ...

    Evaluated in float64 and rounded to float32 once per step; the case's values make every float64
    step exact (integers below 2^53), so that is the exact fused multiply-add (checked below).
    """
    from fractions import Fraction

    out = np.zeros((x.shape[0], kernel.shape[1]), np.float32)
    for r in range(x.shape[0]):
        for j in range(kernel.shape[1]):
            acc = np.float32(0.0)
            for i in range(kernel.shape[0]):
                wide = float(x[r, i]) * float(kernel[i, j]) + float(acc)
                assert Fraction(wide) == Fraction(float(x[r, i])) * Fraction(float(kernel[i, j])) + Fraction(float(acc))
                acc = np.float32(wide)
            out[r, j] = acc
    return out


def order_case():
    """A dense whose float32 results depend on the summation order and on the single rounding of fma.

    Column 0, (1e8, 1, -1e8, 0): in order, 1e8 + 1 rounds back to 1e8 and the sum is 0; the exact sum (a
    double-precision sum rounded once) is 1. Column 1, (1, 1e8, -1e8, 0): 0 in order, 1 summed from the end.
    Column 2, (-16785408, 0, 0, 4097) on x = (1, 1, 1, 4097): fma(4097, 4097, -16785408) is 1, while
    rounding 4097^2 = 16785409 to float32 first (16785408, ties to even) gives 0. Each difference is 1, far
    outside the judge; the file has no outputs64, so only the required order passes.
    """
    kernel = np.array([[1e8, 1.0, -16785408.0], [1.0, 1e8, 0.0], [-1e8, -1e8, 0.0], [0.0, 0.0, 4097.0]], np.float32)
    node = Node("order", "dense", ["x"], (3,), {"activation": {"name": "linear"}},
                {"kernel": kernel, "bias": np.zeros(3, np.float32)}, "order", "Dense")
    x = np.array([[1.0, 1.0, 1.0, 4097.0], [2.0, 2.0, 2.0, 4097.0], [1.0, 0.0, 1.0, -4097.0]], np.float32)
    return node, x, _fma_chain32(x, kernel)


def write_order_case(directory: Path) -> dict:
    node, x, expected = order_case()
    graph = Graph("dense_order", [TensorSpec("x", (4,))], [TensorSpec(node.name, node.shape)], [node])
    vectors = [{"inputs": [x], "outputs": [expected]}]  # no outputs64: the float64 clause must not apply
    producer = {"keras_version": "", "backend": "float64-formula", "source": "tests/conformance/generate.py",
                "reference": "float64"}
    (directory / "dense_order.json").write_bytes(to_json(graph, vectors, producer))
    return {"ops": ["dense"], "activations": ["linear"], "strict": True,
            "covers": "the required dense accumulation order and fma's single rounding (a strict case: "
                      "results of the formula in docs/format.md, no outputs64)"}


# ---- integer models (format version 2): TensorFlow Lite's reference kernels as the expectation ------


def _litert_int8(keras_model, calibration):
    """TFLiteConverter's full-integer int8 model of keras_model, in LiteRT's reference-kernel interpreter."""
    import tensorflow as tf
    from ai_edge_litert import interpreter as litert

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[np.newaxis]] for row in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    found = litert.Interpreter(model_content=converter.convert(),
                               experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    found.allocate_tensors()
    return found


def write_integer_case(keras, name: str, model, calibration, directory: Path) -> dict:
    """Export model with --integer; keep the file only if TFLite's int8 model computes the same int8 outputs.

    The exporter's test vectors (its calibrated rows and random int8 rows) are kerasless's own outputs; here
    every one of them, and the input's scale and zero point, must equal what LiteRT's reference kernels give
    for TFLiteConverter's conversion of the same model with the same rows, so the expectation is TFLite's.
    """
    import ai_edge_litert
    from exporter.export import export

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"{name}.keras"
        model.save(source)
        rows = Path(scratch) / "calibration.npy"
        np.save(rows, calibration)
        target = directory / f"{name}.json"
        export(source, [target], name=name, integer=True, calibrate=rows)
    document = json.loads(target.read_text(encoding="utf-8"))
    interpreter = _litert_int8(model, calibration)
    entry, exit_ = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    theirs_in = entry["quantization_parameters"]
    mine_in = document["inputs"][0]
    assert (np.float32(theirs_in["scales"][0]), int(theirs_in["zero_points"][0])) == \
        (np.float32(mine_in["scale"]), mine_in["zero_point"]), f"{name}: input quantization differs from TFLite's"
    for vector in document["test_vectors"]:
        inputs = np.frombuffer(base64.b64decode(vector["inputs"][0]["data"]), np.int8).reshape(vector["inputs"][0]["shape"])
        expected = np.frombuffer(base64.b64decode(vector["outputs"][0]["data"]), np.int8).reshape(
            vector["outputs"][0]["shape"])
        for row, want in zip(inputs, expected):
            interpreter.set_tensor(entry["index"], row[np.newaxis])
            interpreter.invoke()
            got = interpreter.get_tensor(exit_["index"])[0]
            assert np.array_equal(got, want), f"{name}: TFLite's int8 outputs differ from the file's: {got} {want}"
    document["producer"].update(reference="litert", reference_litert=f"ai-edge-litert {ai_edge_litert.__version__}")
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return {"ops": sorted({n["op"] for n in document["nodes"]}), "activations": [], "format_version": 2}


def integer_cases(keras) -> dict:
    """name -> (what it covers, Keras model, calibration rows): integer models whose every int8 output TFLite agrees with."""
    L = keras.layers
    rng = np.random.default_rng(SEED + 3)
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    relu = keras.Sequential([keras.Input((10,)), L.Dense(16, activation="relu"), L.Dense(12), L.Activation("relu6"),
                             L.Dense(5)], name="integer_dense_relu")
    keras.utils.set_random_seed(SEED + 1)
    smooth = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="tanh"), L.Dense(6, activation="sigmoid"),
                               L.Dense(4, activation="softmax")], name="integer_tables")
    return {"integer_dense_relu": ("integer model: dense_int8 chain with relu, relu6 and linear clamps; "
                                   "expectations equal TFLite's reference int8 kernels",
                                   relu, rng.normal(size=(300, 10)).astype(np.float32)),
            "integer_tables": ("integer model: tanh and sigmoid tables, softmax_int8; expectations equal TFLite's "
                               "reference int8 kernels", smooth, rng.normal(size=(300, 6)).astype(np.float32))}


def main() -> int:
    from exporter.frontend_keras import import_keras

    keras = import_keras()
    models = HERE / "models"
    models.mkdir(exist_ok=True)
    for old in list(models.glob("*.json")) + list(models.glob("*.npz")):
        old.unlink()
    index = {"models": {}, "malformed": {}}
    for name, (what, build) in sorted(keras_cases(keras).items()):
        print(name, flush=True)
        index["models"][name] = {"covers": what, **write_keras_case(keras, name, build, models)}
    import tf_keras

    for name, (what, build) in sorted(keras2_cases(tf_keras).items()):
        print(name, flush=True)  # a Keras 2 .h5, read with Keras 2's semantics (the default for such files)
        index["models"][name] = {"covers": what, **write_keras_case(tf_keras, name, build, models, ".h5", None)}
    for name, (what, node, shape, exact, rows) in sorted(formula_cases().items()):
        index["models"][name] = {"covers": what, **write_formula_case(name, node, shape, exact, rows, models)}
    index["models"]["dense_order"] = write_order_case(models)
    for name, (what, model, calibration) in sorted(integer_cases(keras).items()):
        index["models"][name] = {"covers": what, **write_integer_case(keras, name, model, calibration, models)}
    from malformed import write_malformed

    index["malformed"] = write_malformed(models / "dense.json", models / "dense.npz", HERE / "malformed")
    (HERE / "cases.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
