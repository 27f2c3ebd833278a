"""runtime_c kernels on their own: compiled once, checked against numpy (float64 rounded) and exact arithmetic.

The expected values never come from runtime_py. One driver program holds every
kernel; each case runs it with the kernel's name and sizes on the command line and
the float32 data on stdin.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from cbuild import READ_FLOATS_C, RUNTIME_C, SANITIZE, build, float32_bytes, read_float32, run
from parity import assert_parity

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
KERNELS = ("dense", "reshape") + ACTIVATIONS
# C arguments after the sizes, from the driver's p[] (relu: negative_slope, has_max_value, max_value, threshold)
PARAMS = {"relu": ", p[0], (int)p[1], p[2], p[3]"}

DRIVER = r"""
/* Kernel test driver: argv = kernel rows n_in n_out bias(0/1) in_place(0/1) [params...]; float32 data on stdin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
%(includes)s

%(read_floats)s
int main(int argc, char **argv)
{
    if (argc < 7 || argc > 11) {
        fprintf(stderr, "usage: kernel rows n_in n_out bias in_place [params...]\n");
        return 2;
    }
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* activation parameters */
    for (int k = 7; k < argc; k++) {
        p[k - 7] = (float)atof(argv[k]);
    }
    const char *kernel = argv[1];
    const int rows = atoi(argv[2]), n_in = atoi(argv[3]), n_out = atoi(argv[4]);
    const int has_bias = atoi(argv[5]), in_place = atoi(argv[6]);
    float *inp = read_floats((size_t)rows * (size_t)n_in);
    float *out = in_place ? inp : (float *)calloc((size_t)rows * (size_t)n_out + 1, sizeof(float));
    if (strcmp(kernel, "dense") == 0) {
        float *weights = read_floats((size_t)n_in * (size_t)n_out);
        float *bias = has_bias ? read_floats((size_t)n_out) : NULL;
        kl_dense_forward(out, inp, weights, bias, rows, n_in, n_out);
        free(weights);
        free(bias);
    } else if (strcmp(kernel, "reshape") == 0) {
        kl_reshape_forward(out, inp, rows * n_in);
    }
%(activation_branches)s
    else {
        fprintf(stderr, "unknown kernel %%s\n", kernel);
        return 2;
    }
    fwrite(out, sizeof(float), (size_t)rows * (size_t)n_out, stdout);
    if (out != inp) {
        free(out);
    }
    free(inp);
    return 0;
}
"""


@pytest.fixture(scope="module", params=["strict", "sanitize"])
def driver(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"kernels-{request.param}")
    source = directory / "driver.c"
    source.write_text(DRIVER % {"read_floats": READ_FLOATS_C, 
        "includes": "\n".join(f'#include "{k}.h"' for k in KERNELS),
        "activation_branches": "\n".join(
            f'    else if (strcmp(kernel, "{a}") == 0) {{\n        kl_{a}_forward(out, inp, rows, n_in{PARAMS.get(a, "")});\n    }}'
            for a in ACTIVATIONS),
    })
    flags = SANITIZE if request.param == "sanitize" else []
    return build([source], directory / "driver", flags=flags, include=[RUNTIME_C], opt="-O1" if flags else "-O2")


def call(driver, kernel, x, n_out=None, weights=(), in_place=False, params=()):
    """Run one kernel on x (rows, n); return its output (rows, n_out)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows, n_in = x.shape
    n_out = n_in if n_out is None else n_out
    bias = len(weights) == 2
    done = run(driver, kernel, rows, n_in, n_out, int(bias), int(in_place), *(repr(float(p)) for p in params),
               stdin=float32_bytes(x, *weights))
    return read_float32(done.stdout, (rows, n_out))


# ---- expected values, computed independently of runtime_py -----------------------------------


def _round_to_float32(value: Fraction) -> np.float32:
    """Round an exact rational to the nearest float32, ties to even."""
    guess = np.float32(float(value))  # float() rounds correctly to double; fix a possible double rounding below
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    best = min(candidates, key=lambda c: (abs(Fraction(float(c)) - value),
                                          int(np.array(c, dtype=np.float32).view(np.uint32)) & 1))
    return np.float32(best)


def dense_exact(x, kernel, bias):
    """The documented order: acc = fmaf(x[i], w[i][j], acc) for i in order, then acc + bias[j], in float32."""
    rows, n_in = x.shape
    out = np.zeros((rows, kernel.shape[1]), dtype=np.float32)
    for r in range(rows):
        for j in range(kernel.shape[1]):
            acc = np.float32(0.0)
            for i in range(n_in):  # fmaf: exact product plus acc, rounded once
                acc = _round_to_float32(Fraction(float(x[r, i])) * Fraction(float(kernel[i, j])) + Fraction(float(acc)))
            out[r, j] = acc + bias[j] if bias is not None else acc
    return out


def expected_activation(name, x):
    v = x.astype(np.float64)
    if name == "linear":
        y = v
    elif name == "relu":
        y = np.where(np.isnan(v), v, np.maximum(v, 0.0))
    elif name == "sigmoid":
        with np.errstate(over="ignore"):
            y = 1.0 / (1.0 + np.exp(-v))
    elif name == "tanh":
        y = np.tanh(v)
    elif name == "softmax":
        shifted = v - v.max(axis=-1, keepdims=True)
        y = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    return y.astype(np.float32)


# ---- cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows, n_in, n_out, use_bias", [(1, 7, 5, True), (3, 4, 6, True), (2, 9, 3, False),
                                                         (1, 1, 1, True),
                                                         # AVX-512 batch kernel where the CPU has it: 12-row
                                                         # blocks and their rest, 32-output blocks and a masked
                                                         # tail, stretches of 64 kernel rows and a partial one
                                                         (25, 130, 45, True), (13, 64, 32, False), (4, 65, 17, True)])
def test_dense_follows_the_documented_order_bit_for_bit(driver, rows, n_in, n_out, use_bias):
    rng = np.random.default_rng(rows * 100 + n_in)
    x = rng.standard_normal((rows, n_in)).astype(np.float32)
    kernel = rng.standard_normal((n_in, n_out)).astype(np.float32)
    bias = rng.standard_normal(n_out).astype(np.float32) if use_bias else None
    weights = (kernel, bias) if use_bias else (kernel,)
    got = call(driver, "dense", x, n_out, weights)
    want = dense_exact(x, kernel, bias)
    assert got.tobytes() == want.tobytes()
    # and within the forward error bound of a recursive float32 sum of the float64 product:
    # |got - exact| <= (n_in + 1) u sum_i |x_i w_ij| + u |bias| + (the final rounding), u = 2^-24
    reference = x.astype(np.float64) @ kernel.astype(np.float64) + (bias if use_bias else 0.0)
    u = 2.0 ** -24
    magnitude = np.abs(x.astype(np.float64)) @ np.abs(kernel.astype(np.float64))
    bound = (n_in + 1) * u * magnitude + 2 * u * np.abs(reference) + (u * np.abs(bias) if use_bias else 0.0)
    assert np.all(np.abs(got.astype(np.float64) - reference) <= bound), "dense vs float64: outside the error bound"


def test_dense_with_large_inputs(driver):
    rng = np.random.default_rng(5)
    x = (1e4 * rng.standard_normal((4, 33))).astype(np.float32)
    kernel = rng.standard_normal((33, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    got = call(driver, "dense", x, 8, (kernel, bias))
    assert got.tobytes() == dense_exact(x, kernel, bias).tobytes()


EXTREMES = np.array([0.0, -0.0, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, 88.0, -88.0, 89.0, -89.0, 104.0,
                     -104.0, 1e4, -1e4, 3.4e38, -3.4e38, 1e-40, -1e-40], dtype=np.float32)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("in_place", [False, True], ids=["copy", "in_place"])
def test_elementwise_and_softmax_against_numpy(driver, name, in_place):
    rng = np.random.default_rng(3)
    random_rows = rng.standard_normal((3, EXTREMES.size)).astype(np.float32) * np.float32(4.0)
    x = np.vstack([EXTREMES, random_rows]) if name != "softmax" else random_rows
    got = call(driver, name, x, in_place=in_place, params=[0.0] * 4 if name == "relu" else ())
    assert_parity(got, expected_activation(name, x), name)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("in_place", [False, True], ids=["copy", "in_place"])
def test_softmax_large_logits_and_groups(driver, in_place):
    x = np.array([[1e4, 1e4 - 1.0, 0.0, -1e4],
                  [-1e4, -1e4 + 2.0, -1e4 + 1.0, -1e4],
                  [88.0, 89.0, 90.0, 200.0],
                  [0.0, 0.0, 0.0, 0.0],
                  [3.4e38, 3.4e38, -3.4e38, 1.0]], dtype=np.float32)
    got = call(driver, "softmax", x, in_place=in_place)
    assert_parity(got, expected_activation("softmax", x), "softmax")
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-6)
    # each row is its own group: no normalisation across rows
    groups = np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.5)
    got = call(driver, "softmax", groups)
    assert_parity(got, expected_activation("softmax", groups), "softmax groups")


def test_sigmoid_large_negatives_underflow_to_zero_not_nan(driver):
    x = np.array([[-1e4, -200.0, -104.0, -88.0, -3.4e38, 1e4, 200.0, 3.4e38]], dtype=np.float32)
    got = call(driver, "sigmoid", x)
    assert np.isfinite(got).all()
    assert (got[0, :5] >= 0).all() and got[0, 0] == 0.0 and (got[0, 5:] == 1.0).all()
    assert_parity(got, expected_activation("sigmoid", x), "sigmoid")


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "linear"])
def test_nan_and_inf_propagate_like_keras(driver, name):
    x = np.array([[np.nan, np.inf, -np.inf, 1.0]], dtype=np.float32)
    got = call(driver, name, x, params=[0.0] * 4 if name == "relu" else ())
    assert np.isnan(got[0, 0]), f"{name}(NaN) must be NaN"
    want = {"relu": [np.inf, 0.0], "sigmoid": [1.0, 0.0], "tanh": [1.0, -1.0], "linear": [np.inf, -np.inf]}[name]
    np.testing.assert_array_equal(got[0, 1:3], np.array(want, dtype=np.float32))


def test_softmax_row_with_nan_or_inf_is_nan(driver):
    x = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 2.0], [np.inf, 1.0, 2.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    got = call(driver, "softmax", x)
    assert np.isnan(got[:3]).all()
    assert_parity(got[3:], expected_activation("softmax", x[3:]), "softmax")


@pytest.mark.parametrize("in_place", [False, True], ids=["copy", "in_place"])
def test_reshape_copies_data_unchanged(driver, in_place):
    x = np.array([[0.0, -0.0, np.nan, np.inf, 1e-45, -3.4028235e38]], dtype=np.float32)
    got = call(driver, "reshape", x, in_place=in_place)
    assert got.tobytes() == x.tobytes()


RELU_CASES = {  # (negative_slope, max_value, threshold): every branch of Keras's relu
    "plain": (0.0, None, 0.0),
    "leaky": (0.1, None, 0.0),
    "relu6": (0.0, 6.0, 0.0),
    "max_value": (0.0, 2.5, 0.0),
    "threshold": (0.0, None, 1.5),
    "everything": (0.2, 4.0, -1.0),
    "relu6_with_slope": (0.3, 6.0, 0.0),
}


@pytest.mark.parametrize("case", sorted(RELU_CASES))
@pytest.mark.parametrize("in_place", [False, True], ids=["copy", "in_place"])
def test_relu_parameters_against_keras(driver, keras, case, in_place):
    slope, max_value, threshold = RELU_CASES[case]
    rng = np.random.default_rng(8)
    x = np.vstack([EXTREMES, 4 * rng.standard_normal(EXTREMES.size)]).astype(np.float32)
    x[1, :3] = [1.5, 6.0, -1.0]  # on the thresholds
    want = np.asarray(keras.activations.relu(x, negative_slope=slope, max_value=max_value, threshold=threshold))
    params = (slope, max_value is not None, max_value or 0.0, threshold)
    got = call(driver, "relu", x, in_place=in_place, params=params)
    assert_parity(got, want, f"relu {case}")


def test_every_kernel_file_has_its_own_guard_and_one_function():
    for name in KERNELS:
        text = (RUNTIME_C / f"{name}.h").read_text()
        guard = f"KERASLESS_KERNEL_{name.upper()}"
        assert f"#ifndef {guard}\n#define {guard}\n" in text and text.rstrip().endswith(f"#endif /* {guard} */")
        assert text.count(f"static inline void kl_{name}_forward(") == 1
        assert text.startswith(f"/* {name}.h: ")
