"""Every activation: the exporter's records, the Python, numpy and C kernels, and model.predict parity.

The reference is Keras: keras.activations.<name> run inside a tf.function (as
model.predict runs it) for the kernel rows, model.predict itself for the model
rows. Kernel rows cover every parameterisation that takes its own code path;
model rows cover every activation Keras accepts by name, as a Dense activation
and as an Activation layer, exported from .h5 and .keras.

One measured exception: TensorFlow's oneDNN softmax (on by default on x86) puts
NaN in a row with a NaN or +inf only at positions that depend on its vector
lanes (0 elsewhere); with TF_ENABLE_ONEDNN_OPTS=0 the whole row is NaN, which
is what kerasless computes. Those softmax rows are checked to be all NaN instead.
And in graph mode TensorFlow's division by a constant can be 1 ulp off in vector
lanes, which flips sparsemax's support where a support test is an exact tie
(e.g. a row dominated by 1e20), and tf.sort places a NaN by its position; such
rows are skipped (sparsemax_borderline_rows).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import runtime_py
from cbuild import RUNTIME_C, SANITIZE, build, compiler, float32_bytes, read_float32, run
from exporter import activations as exporter_activations
from exporter.errors import ExportError
from parity import assert_parity
from runtime_py import activations as runtime_activations
from runtime_py import activations_numpy, activations_python

# ---- the table: one row per code path --------------------------------------------------------

# (row id, IR name, Keras parameters as exporter.activations.make_record takes them, Keras call)
# The Keras call is evaluated as keras.activations.<call> with `x` bound to the input.
KERNEL_ROWS = [
    ("celu", "celu", {"alpha": 1.0}, "celu(x)"),
    ("celu-alpha", "celu", {"alpha": 0.7}, "celu(x, alpha=0.7)"),
    ("elu", "elu", {"alpha": 1.0}, "elu(x)"),
    ("elu-alpha", "elu", {"alpha": 0.3}, "elu(x, alpha=0.3)"),
    ("exponential", "exponential", {}, "exponential(x)"),
    ("gelu", "gelu", {"approximate": False}, "gelu(x)"),
    ("gelu-approximate", "gelu", {"approximate": True}, "gelu(x, approximate=True)"),
    ("glu", "glu", {}, "glu(x)"),
    ("hard_shrink", "hard_shrink", {"threshold": 0.5}, "hard_shrink(x)"),
    ("hard_shrink-threshold", "hard_shrink", {"threshold": 0.3}, "hard_shrink(x, threshold=0.3)"),
    ("hard_sigmoid", "hard_sigmoid", {}, "hard_sigmoid(x)"),
    ("hard_silu", "hard_silu", {}, "hard_silu(x)"),
    ("hard_tanh", "hard_tanh", {}, "hard_tanh(x)"),
    ("leaky_relu", "leaky_relu", {"negative_slope": 0.2}, "leaky_relu(x)"),
    ("leaky_relu-slope", "leaky_relu", {"negative_slope": 0.01}, "leaky_relu(x, negative_slope=0.01)"),
    ("linear", "linear", {}, "linear(x)"),
    ("log_sigmoid", "log_sigmoid", {}, "log_sigmoid(x)"),
    ("log_softmax", "log_softmax", {}, "log_softmax(x)"),
    ("mish", "mish", {}, "mish(x)"),
    ("relu", "relu", {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}, "relu(x)"),
    ("relu-max5", "relu", {"negative_slope": 0.0, "max_value": 5.0, "threshold": 0.0}, "relu(x, max_value=5.0)"),
    ("relu-max6", "relu", {"negative_slope": 0.0, "max_value": 6.0, "threshold": 0.0}, "relu(x, max_value=6.0)"),
    ("relu-threshold", "relu", {"negative_slope": 0.0, "max_value": None, "threshold": 0.3},
     "relu(x, threshold=0.3)"),
    ("relu-leaky", "relu", {"negative_slope": 0.1, "max_value": None, "threshold": 0.0},
     "relu(x, negative_slope=0.1)"),
    ("relu-all", "relu", {"negative_slope": 0.1, "max_value": 5.0, "threshold": 0.3},
     "relu(x, negative_slope=0.1, max_value=5.0, threshold=0.3)"),
    ("relu-leaky-max6", "relu", {"negative_slope": 0.1, "max_value": 6.0, "threshold": 0.0},
     "relu(x, negative_slope=0.1, max_value=6.0)"),
    ("relu-leaky-negative-threshold", "relu", {"negative_slope": 0.3, "max_value": None, "threshold": -0.7},
     "relu(x, negative_slope=0.3, threshold=-0.7)"),
    ("relu6", "relu6", {}, "relu6(x)"),
    ("selu", "selu", {}, "selu(x)"),
    ("sigmoid", "sigmoid", {}, "sigmoid(x)"),
    ("silu", "silu", {}, "silu(x)"),
    ("soft_shrink", "soft_shrink", {"threshold": 0.5}, "soft_shrink(x)"),
    ("soft_shrink-threshold", "soft_shrink", {"threshold": 0.3}, "soft_shrink(x, threshold=0.3)"),
    ("softmax", "softmax", {}, "softmax(x)"),
    ("softplus", "softplus", {}, "softplus(x)"),
    ("softsign", "softsign", {}, "softsign(x)"),
    ("sparse_plus", "sparse_plus", {}, "sparse_plus(x)"),
    ("sparse_sigmoid", "sparse_sigmoid", {}, "sparse_sigmoid(x)"),
    ("sparsemax", "sparsemax", {}, "sparsemax(x)"),
    ("squareplus", "squareplus", {"b": 4.0}, "squareplus(x)"),
    ("squareplus-b", "squareplus", {"b": 0.3}, "squareplus(x, b=0.3)"),
    ("squareplus-negative-b", "squareplus", {"b": -2.0}, "squareplus(x, b=-2.0)"),
    ("tanh", "tanh", {}, "tanh(x)"),
    ("tanh_shrink", "tanh_shrink", {}, "tanh_shrink(x)"),
    ("threshold", "threshold", {"threshold": 0.3, "default_value": -2.5}, "threshold(x, 0.3, -2.5)"),
    ("threshold-zero", "threshold", {"threshold": 0.0, "default_value": -1.0}, "threshold(x, 0.0, -1.0)"),
    # Keras 2's ThresholdedReLU (tf_keras: inputs * cast(greater(inputs, theta))), no Keras 3 function
    ("thresholded_relu", "thresholded_relu", {"theta": 0.3},
     "x * tf.cast(tf.greater(x, tf.constant(0.3, x.dtype)), x.dtype)"),
    ("thresholded_relu-negative", "thresholded_relu", {"theta": -1.5},
     "x * tf.cast(tf.greater(x, tf.constant(-1.5, x.dtype)), x.dtype)"),
    # keras.ops on tensors (exporter/operations.py): elementwise records that no Keras activation name gives
    ("abs", "abs", {}, "ops.abs(x)"),
    ("square", "square", {}, "ops.square(x)"),
    ("sqrt", "sqrt", {}, "ops.sqrt(x)"),
    ("log", "log", {}, "ops.log(x)"),
    ("clip", "clip", {"low": -0.5, "high": 2.5}, "ops.clip(x, -0.5, 2.5)"),
    ("clip-crossed", "clip", {"low": 1.0, "high": -1.0}, "ops.clip(x, 1.0, -1.0)"),
    ("maximum_constant", "maximum_constant", {"value": 0.3}, "ops.maximum(x, 0.3)"),
    ("maximum_constant-zero", "maximum_constant", {"value": 0.0}, "ops.maximum(x, 0.0)"),
    ("minimum_constant", "minimum_constant", {"value": -1.5}, "ops.minimum(x, -1.5)"),
    ("divide_by", "divide_by", {"divisor": 3.0}, "ops.divide(x, 3.0)"),
    ("divide_by-zero", "divide_by", {"divisor": 0.0}, "ops.divide(x, 0.0)"),
    ("divide_into", "divide_into", {"dividend": 3.0}, "ops.divide(3.0, x)"),
    ("divide_into-negative", "divide_into", {"dividend": -0.7}, "ops.divide(-0.7, x)"),
]
# Activations that need arguments: no Keras model can use them by name.
NEEDS_ARGUMENTS = {"threshold", "thresholded_relu"}

OPERATION_ONLY = exporter_activations.OPERATION_ONLY  # keras.ops records: no string activation names them

# Every name Keras 3 accepts as a string activation (keras.activations.get), except threshold,
# which needs arguments. The aliases are exported as their IR name.
STRING_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh", "tanh_shrink",
]
HALVING = ["glu"]  # Keras's glu halves the last axis: exported as a node of its own
AXIS_WISE = {"softmax", "log_softmax", "sparsemax", "glu"}

N = 8  # last axis of every kernel row (even, for glu)

SPECIAL = [np.nan, np.inf, -np.inf, 1e4, -1e4, 100.0, -100.0, 0.0, -0.0, 1e-30, -1e-30, 3.0, -3.0, 6.0, 0.5, -0.5,
           1.0, -1.0, 89.0, -89.0, -9.5, 20.0, -20.0, 1e20, -1e20, 13.9, 14.0, -13.9, -14.0, 88.7, 5.5, -5.5,
           2.9999998, -2.9999998, 0.3, -0.3, 1e-7, 4e-3, 0.30000001, 5.0, 1e-40, -1e-40, 3e-39, 1e-45, 7.0, -7.0,
           50.0, -50.0]
FINITE_SPECIAL = [v for v in SPECIAL if np.isfinite(v)]


def kernel_inputs() -> np.ndarray:
    """(rows, N) float32: special values in several arrangements, standard normal, normal * 50."""
    rng = np.random.default_rng(7)
    special = np.array(SPECIAL, np.float32)
    blocks = [special, special[::-1], rng.permutation(special),
              np.array([np.inf, 1, 2, 3, 4, 5, 6, 7] + [-np.inf] * 8 + [np.inf] * 8 + [np.nan] * 8
                       + [1e20, 1e20, -1e20, 3, 2, 1, 0, 0] + [3, 3, 3, 2, 2, 2, 1, 1], np.float32),
              rng.standard_normal(40 * N).astype(np.float32),
              (50 * rng.standard_normal(40 * N)).astype(np.float32)]
    return np.concatenate(blocks).reshape(-1, N)


@pytest.fixture(scope="module")
def tf_keras(keras):
    import tensorflow as tf

    return tf, keras


@pytest.fixture(scope="module")
def kernel_x():
    return kernel_inputs()


def keras_reference(tf_keras, call: str, x: np.ndarray) -> np.ndarray:
    """keras.activations.<call> in graph mode (as model.predict runs it) on the rows of x."""
    tf, keras = tf_keras
    fn = tf.function(lambda t: eval(call, {"x": t, "tf": tf, "ops": keras.ops, **vars(keras.activations)}), autograph=False)  # noqa: S307
    return np.asarray(fn(tf.constant(x)))


def record_of(name, params) -> dict:
    return exporter_activations.make_record(name, "test row", **params)


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Rows with a NaN or +inf: where TF's oneDNN softmax gives lane-dependent NaN placement."""
    return np.isnan(x).any(axis=1) | np.isposinf(x).any(axis=1)


def sparsemax_borderline_rows(x: np.ndarray) -> np.ndarray:
    """Rows with a NaN, or where a support test s[r] - (c[r] - 1) / r lands within 2 ulp of 0.

    tf.sort places a NaN depending on where it is in the row (kerasless: first).
    In graph mode TensorFlow divides by the constant r = 1..n with a result up to
    1 ulp low in its vector lanes and exact in the tail (it depends on n): at such
    a tie the support, and so the whole row, can flip. kerasless divides exactly.
    """
    with np.errstate(all="ignore"):
        ordered = np.sort(x, axis=1)[:, ::-1]
        quotient = (np.cumsum(ordered, axis=1, dtype=np.float32) - np.float32(1)) / np.arange(
            1, x.shape[1] + 1, dtype=np.float32)
        margin = ordered - quotient
        tie = np.isfinite(margin) & (np.abs(margin) <= 2 * np.spacing(np.abs(quotient)))
        return tie.any(axis=1) | np.isnan(x).any(axis=1)


def assert_activation_parity(name, ours, keras_out, x_rows, what):
    """Parity, except two measured TensorFlow artifacts (see the module docstring):

    softmax rows with NaN/+inf must be all NaN; sparsemax rows with a support tie are skipped.
    """
    ours = np.asarray(ours, np.float32).reshape(keras_out.shape)
    if name == "softmax":
        odd = nonfinite_rows(x_rows)
        assert np.isnan(ours[odd]).all(), f"{what}: softmax rows with NaN/+inf must be all NaN"
        ours, keras_out = ours[~odd], keras_out[~odd]
    if name == "sparsemax":
        odd = sparsemax_borderline_rows(x_rows)
        assert odd.mean() <= 0.5, f"{what}: too many sparsemax rows to skip ({odd.sum()} of {odd.size})"
        ours, keras_out = ours[~odd], keras_out[~odd]
    assert_parity(ours, keras_out, what)


# ---- completeness: every activation has its four parts -----------------------------------------


def test_exporter_and_runtime_agree_on_names_and_parameters():
    assert exporter_activations.PARAMETERS == runtime_activations.ACTIVATIONS
    assert set(exporter_activations.ACTIVATIONS) == set(runtime_activations.ACTIVATIONS)
    assert exporter_activations.FLAGS == runtime_activations.FLAGS
    assert exporter_activations.RESHAPING == runtime_activations.HALVING


@pytest.mark.parametrize("name", sorted(runtime_activations.ACTIVATIONS))
def test_every_activation_has_kernels_and_a_test_row(name):
    assert callable(getattr(activations_python, f"{name}_forward", None)), f"no Python kernel for {name}"
    assert callable(getattr(activations_numpy, f"{name}_forward", None)), f"no numpy kernel for {name}"
    header = RUNTIME_C / f"{name}.h"
    assert header.is_file(), f"no C kernel runtime_c/{name}.h"
    text = header.read_text()
    assert f"#ifndef KERASLESS_KERNEL_{name.upper()}" in text
    assert re.search(rf"static inline void kl_{name}_forward\(float \*out,", text), f"no kl_{name}_forward"
    assert name in {row[1] for row in KERNEL_ROWS}, f"no kernel test row for {name}"
    if name not in NEEDS_ARGUMENTS and name not in OPERATION_ONLY:
        assert name in {exporter_activations.ALIASES.get(s, s) for s in STRING_ACTIVATIONS + HALVING}


def test_every_keras_activation_is_known(keras):
    from keras.src.activations import ALL_OBJECTS_DICT

    known = set(exporter_activations.ACTIVATIONS) | set(exporter_activations.ALIASES)
    assert set(ALL_OBJECTS_DICT) <= known, set(ALL_OBJECTS_DICT) - known
    assert set(ALL_OBJECTS_DICT) - {"threshold", "glu"} <= set(STRING_ACTIVATIONS)
    for name, function in ALL_OBJECTS_DICT.items():  # the serialized (dict) form reads back to the same record
        if name != "threshold":
            serialized = keras.saving.serialize_keras_object(function)
            assert exporter_activations.convert_activation(serialized, "L") == \
                exporter_activations.convert_activation(name, "L")


def test_kernel_parameters_follow_the_registry():
    """Python and numpy kernels take (x, rows, n, *params) with the registry's parameter names."""
    import inspect

    for name, params in runtime_activations.ACTIVATIONS.items():
        for module in (activations_python, activations_numpy):
            got = tuple(inspect.signature(getattr(module, f"{name}_forward")).parameters)
            assert got == ("x", "rows", "n") + params, f"{module.__name__}.{name}_forward{got}"
        text = (RUNTIME_C / f"{name}.h").read_text()
        signature = re.search(rf"kl_{name}_forward\((.*?)\)\s*{{", text, re.S).group(1)
        c_params = [arg.split()[-1] for arg in re.sub(r"/\*.*?\*/", "", signature).split(",")][4:]
        assert tuple(c_params) == params, f"runtime_c/{name}.h parameters {c_params}"


# ---- exporter records ----------------------------------------------------------------------------


def test_string_activations_spell_out_every_parameter():
    convert = exporter_activations.convert_activation
    assert convert("leaky_relu", "L") == {"name": "leaky_relu", "negative_slope": 0.2}
    assert convert("gelu", "L") == {"name": "gelu", "approximate": False}
    assert convert("relu", "L") == {"name": "relu", "negative_slope": 0.0, "has_max_value": False,
                                    "max_value": 0.0, "threshold": 0.0}
    assert convert("swish", "L") == {"name": "silu"}
    assert convert("hard_swish", "L") == {"name": "hard_silu"}
    assert convert("softmax_v2", "L") == {"name": "softmax"}
    assert convert(None, "L") == {"name": "linear"}
    serialized = {"module": "keras.activations", "class_name": "function", "config": "elu",
                  "registered_name": "function"}
    assert convert(serialized, "L") == {"name": "elu", "alpha": 1.0}
    serialized["module"] = "builtins"  # Keras 3.15's keras.saving.serialize_keras_object(keras.activations.elu)
    assert convert(serialized, "L") == {"name": "elu", "alpha": 1.0}
    for name in exporter_activations.ACTIVATIONS:
        if name in OPERATION_ONLY:
            with pytest.raises(ExportError, match="is not supported"):
                convert(name, "L")
            continue
        if name in NEEDS_ARGUMENTS:
            continue
        record = convert(name, "L")
        assert set(record) == {"name", *exporter_activations.PARAMETERS[name]}


def test_records_refuse_what_the_runtimes_cannot_do():
    make = exporter_activations.make_record
    with pytest.raises(ExportError, match=r"layer 'soft' .*softmax.*axis 1"):
        make("softmax", "layer 'soft' (Activation)", axis=1, rank=2)
    assert make("softmax", "L", axis=2, rank=2) == {"name": "softmax"}
    with pytest.raises(ExportError, match="needs arguments"):
        exporter_activations.convert_activation("threshold", "layer 'd' (Dense)")
    with pytest.raises(ExportError, match="missing max_value"):
        make("relu", "L", negative_slope=0.0, threshold=0.0)
    with pytest.raises(ExportError, match="true or false"):
        make("gelu", "L", approximate=1)
    with pytest.raises(ExportError, match="finite"):
        make("elu", "L", alpha=float("nan"))
    assert exporter_activations.output_shape({"name": "glu"}, (3, 8), "L") == (3, 4)
    with pytest.raises(ExportError, match="odd"):
        exporter_activations.output_shape({"name": "glu"}, (3, 7), "layer 'g' (Activation)")
    assert not exporter_activations.fusable({"name": "glu"})


def test_custom_activation_config_is_refused_with_the_list():
    custom = {"module": "builtins", "class_name": "function", "config": "Custom>doubled",
              "registered_name": "function"}
    with pytest.raises(ExportError, match=r"layer 'odd_dense' \(Dense\): custom activation 'Custom>doubled'; "
                                          r"supported activations: celu, elu, "):
        exporter_activations.convert_activation(custom, "layer 'odd_dense' (Dense)")
    with pytest.raises(ExportError, match=r"layer 'a' \(Activation\): activation 'bent' is not supported; supported"):
        exporter_activations.convert_activation("bent", "layer 'a' (Activation)")


def test_python_kernels_never_raise_on_degenerate_parameters():
    """Python raises where float32 arithmetic gives inf or NaN: the kernels must not."""
    x = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e30, -1e30, 1.0, -1.0]
    got = activations_python.celu_forward(x, 1, len(x), 0.0)  # Keras: NaN where min(x, 0) / 0 is 0 / 0
    with np.errstate(all="ignore"):
        want = activations_numpy.celu_forward(np.array([x], np.float32), 1, len(x), 0.0)[0]
    np.testing.assert_array_equal(np.array(got, np.float32), want)
    assert math.isnan(activations_python.squareplus_forward([0.5], 1, 1, -4.0)[0])


def test_runtime_refuses_malformed_records():
    check = runtime_activations.check_activation_record
    node = {"name": "n", "op": "activation"}
    check(node, {"name": "gelu", "approximate": True})
    for bad in ({"name": "gelu", "approximate": 1}, {"name": "elu"}, {"name": "elu", "alpha": True},
                {"name": "relu", "negative_slope": 0.0, "has_max_value": None, "max_value": 0.0, "threshold": 0.0},
                {"name": "nope"}):
        with pytest.raises(runtime_py.ModelFormatError):
            check(node, bad)
    with pytest.raises(runtime_py.ModelFormatError, match="shape"):
        check({"name": "d", "op": "dense"}, {"name": "glu"})


def test_unsupported_activation_names_the_layer_and_the_list(keras, tmp_path):
    from exporter.export import export

    @keras.saving.register_keras_serializable(package="kerasless_test")
    def doubled(x):
        return x * 2.0

    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2, activation=doubled, name="odd_dense")(inp))
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(ExportError) as info:
        export(path, [tmp_path / "custom.json"])
    message = str(info.value)
    assert "odd_dense" in message and "Dense" in message and "doubled" in message
    assert "supported activations: celu, elu" in message
    assert not (tmp_path / "custom.json").exists()


# ---- kernels against Keras -------------------------------------------------------------------------


def run_python_kernel(name, record, x):
    params = [record[p] for p in runtime_activations.ACTIVATIONS[name]]
    kernel = getattr(activations_python, f"{name}_forward")
    n_out = x.shape[1] // 2 if name in HALVING else x.shape[1]
    flat = kernel(x.ravel().tolist(), x.shape[0], x.shape[1], *params)
    return np.array(flat, dtype=np.float32).reshape(x.shape[0], n_out)


def run_numpy_kernel(name, record, x):
    params = [record[p] for p in runtime_activations.ACTIVATIONS[name]]
    kernel = getattr(activations_numpy, f"{name}_forward")
    with np.errstate(all="ignore"):  # as the engine runs kernels
        out = kernel(x.copy().reshape(1, -1), x.shape[0], x.shape[1], *params)
    assert out.dtype == np.float32
    return out.reshape(x.shape[0], -1)


@pytest.mark.parametrize("row", KERNEL_ROWS, ids=[r[0] for r in KERNEL_ROWS])
def test_python_and_numpy_kernels_match_keras(tf_keras, kernel_x, row):
    row_id, name, params, call = row
    record = record_of(name, params)
    want = keras_reference(tf_keras, call, kernel_x)
    for backend, run_kernel in (("python", run_python_kernel), ("numpy", run_numpy_kernel)):
        got = run_kernel(name, record, kernel_x)
        assert_activation_parity(name, got, want, kernel_x, f"{row_id} [{backend}]")


# ---- C kernels: one driver holds them all ----------------------------------------------------------

C_DRIVER = r"""
/* Activation kernel driver: argv = name rows n in_place params...; float32 rows on stdin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
%(includes)s

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: name rows n in_place params...\n");
        return 2;
    }
    const char *name = argv[1];
    const int rows = atoi(argv[2]), n = atoi(argv[3]), in_place = atoi(argv[4]);
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 5; i < argc && i < 9; i++) {
        p[i - 5] = strtof(argv[i], NULL);
    }
    const size_t count = (size_t)rows * (size_t)n;
    float *inp = (float *)malloc(count * sizeof(float) + 1);
    if (inp == NULL || fread(inp, sizeof(float), count, stdin) != count) {
        fprintf(stderr, "short input\n");
        return 2;
    }
    float *out = in_place ? inp : (float *)calloc(count + 1, sizeof(float));
    size_t out_count = count;
    if (0) {
    }
%(branches)s
    else {
        fprintf(stderr, "unknown activation %%s\n", name);
        return 2;
    }
    fwrite(out, sizeof(float), out_count, stdout);
    if (out != inp) {
        free(out);
    }
    free(inp);
    return 0;
}
"""


def c_parameter_args(name: str) -> str:
    """The activation's parameters as C arguments read from a driver's float array p (flags as int)."""
    return "".join(f", (int)p[{i}]" if p in runtime_activations.FLAGS else f", p[{i}]"
                   for i, p in enumerate(runtime_activations.ACTIVATIONS[name]))


def c_driver_source() -> str:
    names = sorted(runtime_activations.ACTIVATIONS)
    branches = []
    for name in names:
        args = c_parameter_args(name)
        extra = "\n        out_count = count / 2;" if name in HALVING else ""
        branches.append(f'    else if (strcmp(name, "{name}") == 0) {{\n'
                        f'        kl_{name}_forward(out, inp, rows, n{args});{extra}\n    }}')
    return C_DRIVER % {"includes": "\n".join(f'#include "{name}.h"' for name in names),
                       "branches": "\n".join(branches)}


@pytest.fixture(scope="module")
def c_driver(tmp_path_factory):
    directory = tmp_path_factory.mktemp("activation-kernels")
    source = directory / "driver.c"
    source.write_text(c_driver_source())
    return build([source], directory / "driver", include=[RUNTIME_C], opt="-O2")


@pytest.mark.parametrize("cc", ["clang", "g++", "clang++"])
def test_c_kernels_compile_warning_free(tmp_path, cc):
    """All activation headers together (gcc is covered by the driver build)."""
    source = tmp_path / ("all.cpp" if cc.endswith("++") else "all.c")
    source.write_text(c_driver_source())
    build([source], tmp_path / "driver", cc=cc, include=[RUNTIME_C], opt="-O2")


def run_c_kernel(driver, name, record, x, in_place=False):
    params = [record[p] for p in runtime_activations.ACTIVATIONS[name]]
    args = [str(int(p)) if isinstance(p, bool) else float(p).hex() for p in params]
    done = run(driver, name, x.shape[0], x.shape[1], int(in_place), *args, stdin=float32_bytes(x))
    n_out = x.shape[1] // 2 if name in HALVING else x.shape[1]
    return read_float32(done.stdout, (x.shape[0], n_out))


def test_c_kernels_under_sanitizers(tmp_path, kernel_x, c_driver):
    """ASan/UBSan build of every kernel, copy and in place; same bits as the -O2 build."""
    source = tmp_path / "driver.c"
    source.write_text(c_driver_source())
    sanitized = build([source], tmp_path / "driver", include=[RUNTIME_C], flags=SANITIZE, opt="-O1")
    for row_id, name, params, _ in KERNEL_ROWS:
        record = record_of(name, params)
        for in_place in (False, True):
            got = run_c_kernel(sanitized, name, record, kernel_x, in_place)
            want = run_c_kernel(c_driver, name, record, kernel_x, in_place)
            assert_parity(got, want, f"{row_id} sanitized, in_place={in_place}")


@pytest.mark.parametrize("row", KERNEL_ROWS, ids=[r[0] for r in KERNEL_ROWS])
def test_c_kernels_match_keras(tf_keras, kernel_x, c_driver, row):
    row_id, name, params, call = row
    record = record_of(name, params)
    want = keras_reference(tf_keras, call, kernel_x)
    for in_place in (False, True):
        got = run_c_kernel(c_driver, name, record, kernel_x, in_place)
        assert_activation_parity(name, got, want, kernel_x, f"{row_id} [C, in_place={in_place}]")


# ---- models: every string activation as Dense activation and as Activation layer ----------------

INPUT_SHAPE = (2, 6)  # two rows of six: the axis-wise activations see rows > 1


def build_models(keras):
    """name -> Keras model; each is multi-output with one head per activation."""
    keras.utils.set_random_seed(11)
    L = keras.layers
    models = {}
    inp = keras.Input(INPUT_SHAPE, name="x")
    heads = [L.Activation(name, name=f"act_{name}")(inp) for name in STRING_ACTIVATIONS]
    models["activation_heads"] = keras.Model(inp, heads, name="activation_heads")
    inp = keras.Input(INPUT_SHAPE, name="x")
    heads = [L.Dense(4, activation=name, name=f"dense_{name}")(inp) for name in STRING_ACTIVATIONS]
    models["dense_heads"] = keras.Model(inp, heads, name="dense_heads")
    for model in models.values():  # non-zero biases, so every weight matters
        rng = np.random.default_rng(3)
        for layer in model.layers:
            weights = layer.get_weights()
            if len(weights) == 2:
                layer.set_weights([weights[0], rng.normal(0, 0.5, weights[1].shape).astype(np.float32)])
    inp = keras.Input(INPUT_SHAPE, name="x")
    hidden = L.Dense(8, name="hidden")(inp)
    models["glu"] = keras.Model(inp, [L.Activation("glu", name="act_glu")(inp),
                                      L.Dense(8, activation="glu", name="dense_glu")(inp),
                                      L.Activation("glu", name="glu_after_dense")(hidden)], name="glu")
    return models


def model_batches(name) -> dict:
    """Batch name -> (rows, *INPUT_SHAPE) float32."""
    rng = np.random.default_rng(5)
    size = int(np.prod(INPUT_SHAPE))
    normal = rng.standard_normal((16, size)).astype(np.float32)
    values = SPECIAL if name == "activation_heads" else FINITE_SPECIAL  # inf and NaN only straight from the input
    extreme = np.array(values * (-(-3 * size // len(values))), np.float32)[:3 * size]
    extreme = np.concatenate([extreme, np.random.default_rng(6).permutation(extreme)])
    batches = {"normal": normal, "scaled50": normal * np.float32(50), "extreme": extreme.reshape(-1, size)}
    return {k: v.reshape((-1, *INPUT_SHAPE)) for k, v in batches.items()}


class Models:
    def __init__(self, keras, directory: Path):
        self.keras = keras
        self.directory = directory
        self.models = build_models(keras)
        self.saved = {}
        self.exported = {}
        self.predictions = {}

    def path(self, name, container):
        key = (name, container)
        if key not in self.saved:
            path = self.directory / f"{name}.{container}"
            self.models[name].save(path)
            self.saved[key] = path
        return self.saved[key]

    def export(self, name, container, suffix):
        key = (name, container, suffix)
        if key not in self.exported:
            from exporter.export import export

            out = self.directory / f"{name}-{container}{suffix}"
            export(self.path(name, container), [out])
            self.exported[key] = out
        return self.exported[key]

    def keras_band(self, name, batch, head):
        """(low, high) of Keras's activation of `head` over its dense output z moved by -2..2 ulp."""
        key = ("band", name, batch, head)
        if key not in self.predictions:
            import tensorflow as tf

            keras = self.keras
            layer = self.models[name].get_layer(head)
            inp = keras.Input(INPUT_SHAPE)
            twin = keras.layers.Dense(layer.units)
            twin_model = keras.Model(inp, twin(inp))
            twin.set_weights(layer.get_weights())
            z = twin_model.predict(model_batches(name)[batch], verbose=0)
            function = tf.function(keras.activations.get(layer.get_config()["activation"]), autograph=False)
            shifted, values = z.copy(), []
            with np.errstate(all="ignore"):
                for direction in (np.float32(np.inf), np.float32(-np.inf)):
                    shifted = z.copy()
                    for _ in range(2):
                        shifted = np.nextafter(shifted, direction)
                        values.append(np.asarray(function(tf.constant(shifted))))
            values.append(np.asarray(function(tf.constant(z))))
            stack = np.stack(values)
            self.predictions[key] = (np.nanmin(stack, axis=0), np.nanmax(stack, axis=0))
        return self.predictions[key]

    def keras_predict(self, name, batch):
        key = (name, batch)
        if key not in self.predictions:
            result = self.models[name].predict(model_batches(name)[batch], verbose=0)
            self.predictions[key] = list(result) if isinstance(result, (list, tuple)) else [result]
        return self.predictions[key]


@pytest.fixture(scope="module")
def models(keras, tmp_path_factory):
    return Models(keras, tmp_path_factory.mktemp("activation-models"))


def output_names(keras_model) -> list:
    return [t._keras_history.operation.name for t in keras_model.outputs]


def check_outputs(models, name, batch, got_outputs, what):
    keras_model = models.models[name]
    x = model_batches(name)[batch]
    for head, ours, theirs in zip(output_names(keras_model), got_outputs, models.keras_predict(name, batch)):
        activation = exporter_activations.ALIASES.get(head.split("_", 1)[1], head.split("_", 1)[1])
        rows = x.reshape(-1, INPUT_SHAPE[-1])
        if head.startswith("dense") or activation not in AXIS_WISE:
            rows = np.zeros((theirs.size // theirs.shape[-1], 1), np.float32)  # no softmax exception needed
        ours = np.asarray(ours, np.float32).reshape(theirs.shape)
        if head.startswith("dense") and activation not in AXIS_WISE:
            assert_within_keras_band(ours, theirs, models.keras_band(name, batch, head), f"{what} head {head}")
            continue
        assert_activation_parity(activation, ours.reshape(-1, theirs.shape[-1]), theirs.reshape(-1, theirs.shape[-1]),
                                 rows, f"{what} head {head}")


def assert_within_keras_band(ours, theirs, band, what):
    """Parity with Keras, or within tolerance of Keras's own activation at the dense output moved by 2 ulp.

    A dense output z differs from Keras's in the last bit when the runtime sums in
    another order (the pure-Python backend sums in double and rounds once). Some
    activations turn that into more than the tolerance, as Keras itself would:
    squareplus for z << 0, whose float32 formula cancels (measured: 3.8e-6 absolute
    at z ~ -47 in the batch scaled by 50), and in principle exp (relative error
    |z| ulp: 1e-5 at z = 80).
    band = (low, high): Keras's activation over z - 2 ulp .. z + 2 ulp.
    """
    low, high = band
    finite = np.isfinite(theirs)
    assert_parity(ours[~finite], theirs[~finite], what)
    o, lo, hi = ours[finite].astype(np.float64), low[finite].astype(np.float64), high[finite].astype(np.float64)
    outside = (o < lo - (1e-6 + 1e-5 * np.abs(lo))) | (o > hi + (1e-6 + 1e-5 * np.abs(hi)))
    assert not outside.any(), (f"{what}: outside Keras's own 2-ulp band: ours {o[outside][:5]}, "
                               f"Keras {theirs[finite][outside][:5]}, band {lo[outside][:5]} .. {hi[outside][:5]}")


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("container, suffix", [("h5", ".json"), ("keras", ".npz"), ("keras", ".json")])
@pytest.mark.parametrize("name", ["activation_heads", "dense_heads"])
def test_models_match_keras(models, name, container, suffix, backend):
    model = runtime_py.load(models.export(name, container, suffix), backend=backend)
    for batch in ("normal", "scaled50", "extreme"):
        got = model.predict(model_batches(name)[batch])
        check_outputs(models, name, batch, got, f"{name}.{container}{suffix} [{backend}] {batch}")


def test_numpy_runtime_raises_no_warning(models):
    import warnings

    model = runtime_py.load(models.export("activation_heads", "keras", ".npz"), backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(model_batches("activation_heads")["extreme"])


def test_glu_is_a_node_of_its_own(models):
    """Keras's glu halves the last axis: never fused into a dense node, and the runtimes get it right."""
    import json

    path = models.export("glu", "keras", ".json")
    nodes = json.loads(path.read_text())["nodes"]
    for node in nodes:
        if node["op"] == "dense":
            assert node["attrs"]["activation"]["name"] != "glu"
    glu_nodes = [node for node in nodes if node["op"] == "activation" and node["attrs"]["activation"]["name"] == "glu"]
    assert [node["shape"] for node in glu_nodes] == [[2, 3], [2, 4], [2, 4]]
    for backend in ("numpy", "python"):
        model = runtime_py.load(path, backend=backend)
        for batch in ("normal", "scaled50", "extreme"):
            got = model.predict(model_batches("glu")[batch])
            for k, (ours, theirs) in enumerate(zip(got, models.keras_predict("glu", batch))):
                assert_parity(ours, theirs, f"glu [{backend}] {batch} output {k}")


# ---- models through the generated C header ------------------------------------------------------


def header_driver(header: Path, prefix: str, n_outputs: int) -> str:
    outs = " + ".join(f"{prefix}_OUTPUT_{k}_SIZE" for k in range(n_outputs))
    pointers = ", ".join("out" + "".join(f" + {prefix}_OUTPUT_{j}_SIZE" for j in range(k)) for k in range(n_outputs))
    return f"""\
#include <stdio.h>
#include "{header.name}"

int main(void)
{{
    static float in[{prefix}_INPUT_0_SIZE];
    static float out[{outs}];
    const float *const inputs[1] = {{in}};
    float *const outputs[{n_outputs}] = {{{pointers}}};
    while (fread(in, sizeof(float), {prefix}_INPUT_0_SIZE, stdin) == {prefix}_INPUT_0_SIZE) {{
        {prefix}_predict_multi(inputs, outputs);
        fwrite(out, sizeof(float), {outs}, stdout);
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", ["activation_heads", "dense_heads", "glu"])
def test_models_match_keras_in_c(models, tmp_path, name, container):
    compiler("gcc")
    header = models.export(name, container, ".h")
    prefix = name  # the C prefix is the Keras file's stem
    keras_model = models.models[name]
    n_outputs = len(keras_model.outputs)
    source = tmp_path / "main.c"
    source.write_text(header_driver(header, prefix, n_outputs))
    program = build([source], tmp_path / "main", include=[header.parent], opt="-O2")
    # from predict, not keras_model.outputs: Keras's symbolic shape of an Activation("glu") is not halved
    sizes = [int(np.prod(y.shape[1:])) for y in models.keras_predict(name, "normal")]
    for batch in ("normal", "scaled50", "extreme"):
        x = model_batches(name)[batch]
        done = run(program, stdin=float32_bytes(x))
        flat = read_float32(done.stdout, (x.shape[0], sum(sizes)))
        got = np.split(flat, np.cumsum(sizes)[:-1], axis=1)
        if name == "glu":
            for k, (ours, theirs) in enumerate(zip(got, models.keras_predict(name, batch))):
                assert_parity(ours.reshape(theirs.shape), theirs, f"glu [C] {batch} output {k}")
        else:
            check_outputs(models, name, batch, got, f"{name}.{container}.h [C] {batch}")
