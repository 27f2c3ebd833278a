"""runtime_c kernels of the layer and graph ops on their own, against numpy.

Expected values are computed here with numpy in float32, operation for operation in the
order each kernel documents (sequential sums via np.cumsum, which never reorders), or in
float64 for layer_norm; never with runtime_py. One driver program holds every kernel; a
case passes the kernel's name, sizes and parameters on the command line and the float32
data on stdin. In-place calls (out == one of the inputs) are tested for every kernel that
the generated header may call in place.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest

from cbuild import READ_FLOATS_C, RUNTIME_C, SANITIZE, build, float32_bytes, read_float32, run

KERNELS = ("scale_shift", "prelu", "layer_norm", "rms_norm", "unit_norm", "standardize", "transpose", "broadcast",
           "repeat", "concatenate", "add", "subtract", "divide", "multiply", "average", "maximum", "minimum", "dot", "reduce", "slice")
FOLDS = ("add", "multiply", "average", "maximum", "minimum")

DRIVER = r"""
/* Layer kernel test driver: argv = kernel in_place numbers...; float32 data on stdin, output on stdout.
 * in_place 0: a separate output buffer; k > 0: the output is written over input k-1 (the first
 * input for one-input kernels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
%(includes)s

%(read_floats)s
static float *output(int in_place, float *const inputs[], size_t count)
{
    return in_place ? inputs[in_place - 1] : (float *)calloc(count ? count : 1, sizeof(float));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kernel in_place numbers...\n");
        return 2;
    }
    const char *kernel = argv[1];
    const int in_place = atoi(argv[2]);
    int a[16] = {0};   /* the numbers as ints */
    float f[16] = {0}; /* the numbers as floats */
    for (int k = 3; k < argc && k < 19; k++) {
        a[k - 3] = atoi(argv[k]);
        f[k - 3] = (float)atof(argv[k]);
    }
    float *in[8] = {NULL};   /* inputs, freed at the end */
    float *w[4] = {NULL};    /* weights */
    float *out = NULL;
    size_t size = 0;         /* floats written */
    int count = 1;           /* inputs read */
    if (strcmp(kernel, "scale_shift") == 0) { /* rows n */
        size = (size_t)a[0] * (size_t)a[1];
        in[0] = read_floats(size), w[0] = read_floats((size_t)a[1]), w[1] = read_floats((size_t)a[1]);
        out = output(in_place, in, size);
        kl_scale_shift_forward(out, in[0], w[0], w[1], a[0], a[1]);
    } else if (strcmp(kernel, "prelu") == 0) { /* size */
        size = (size_t)a[0];
        in[0] = read_floats(size), w[0] = read_floats(size);
        out = output(in_place, in, size);
        kl_prelu_forward(out, in[0], w[0], a[0]);
    } else if (strcmp(kernel, "layer_norm") == 0) { /* rows n epsilon rms_scaling has_gamma has_beta */
        size = (size_t)a[0] * (size_t)a[1];
        in[0] = read_floats(size);
        w[0] = a[4] ? read_floats((size_t)a[1]) : NULL;
        w[1] = a[5] ? read_floats((size_t)a[1]) : NULL;
        out = output(in_place, in, size);
        kl_layer_norm_forward(out, in[0], w[0], w[1], a[0], a[1], f[2], a[3]);
    } else if (strcmp(kernel, "rms_norm") == 0) { /* rows n epsilon */
        size = (size_t)a[0] * (size_t)a[1];
        in[0] = read_floats(size), w[0] = read_floats((size_t)a[1]);
        out = output(in_place, in, size);
        kl_rms_norm_forward(out, in[0], w[0], a[0], a[1], f[2]);
    } else if (strcmp(kernel, "unit_norm") == 0) { /* rows n epsilon clamp_inverse */
        size = (size_t)a[0] * (size_t)a[1];
        in[0] = read_floats(size);
        out = output(in_place, in, size);
        kl_unit_norm_forward(out, in[0], a[0], a[1], f[2], a[3]);
    } else if (strcmp(kernel, "standardize") == 0) { /* size invert */
        size = (size_t)a[0];
        in[0] = read_floats(size), w[0] = read_floats(size), w[1] = read_floats(size);
        out = output(in_place, in, size);
        kl_standardize_forward(out, in[0], w[0], w[1], a[0], a[1]);
    } else if (strcmp(kernel, "transpose") == 0) { /* size; the source index follows the data, as floats */
        size = (size_t)a[0];
        in[0] = read_floats(size), w[0] = read_floats(size);
        int *index = (int *)malloc(size * sizeof(int) + 1);
        for (size_t k = 0; k < size; k++) {
            index[k] = (int)w[0][k];
        }
        out = output(0, in, size);
        kl_transpose_forward(out, in[0], index, a[0]);
        free(index);
    } else if (strcmp(kernel, "broadcast") == 0 || strcmp(kernel, "slice") == 0) {
        /* in_size size; the source index follows the data, as floats (both kernels are gathers) */
        size = (size_t)a[1];
        in[0] = read_floats((size_t)a[0]), w[0] = read_floats(size);
        int *index = (int *)malloc(size * sizeof(int) + 1);
        for (size_t k = 0; k < size; k++) {
            index[k] = (int)w[0][k];
        }
        out = output(0, in, size);
        if (strcmp(kernel, "broadcast") == 0) {
            kl_broadcast_forward(out, in[0], index, a[1]);
        } else {
            kl_slice_forward(out, in[0], index, a[1]);
        }
        free(index);
    } else if (strcmp(kernel, "reduce") == 0) { /* rows n function */
        size = (size_t)a[0];
        in[0] = read_floats((size_t)a[0] * (size_t)a[1]);
        out = output(0, in, size);
        kl_reduce_forward(out, in[0], a[0], a[1], a[2]);
    } else if (strcmp(kernel, "repeat") == 0) { /* size n */
        size = (size_t)a[0] * (size_t)a[1];
        in[0] = read_floats((size_t)a[0]);
        out = output(0, in, size);
        kl_repeat_forward(out, in[0], a[0], a[1]);
    } else if (strcmp(kernel, "concatenate") == 0) { /* count outer chunks... */
        count = a[0];
        for (int i = 0; i < count; i++) {
            in[i] = read_floats((size_t)a[1] * (size_t)a[2 + i]);
            size += (size_t)a[1] * (size_t)a[2 + i];
        }
        out = output(0, in, size);
        kl_concatenate_forward(out, (const float *const *)in, a + 2, count, a[1]);
    } else if (strcmp(kernel, "subtract") == 0 || strcmp(kernel, "divide") == 0) { /* size */
        count = 2, size = (size_t)a[0];
        in[0] = read_floats(size), in[1] = read_floats(size);
        out = output(in_place, in, size);
        if (kernel[0] == 's') {
            kl_subtract_forward(out, in[0], in[1], a[0]);
        } else {
            kl_divide_forward(out, in[0], in[1], a[0]);
        }
    } else if (strcmp(kernel, "dot") == 0) { /* n normalize */
        count = 2, size = 1;
        in[0] = read_floats((size_t)a[0]), in[1] = read_floats((size_t)a[0]);
        out = output(in_place, in, size);
        kl_dot_forward(out, in[0], in[1], a[0], a[1]);
    }
%(fold_branches)s
    else {
        fprintf(stderr, "unknown kernel %%s\n", kernel);
        return 2;
    }
    fwrite(out, sizeof(float), size, stdout);
    if (!in_place) {
        free(out);
    }
    for (int i = 0; i < count; i++) {
        free(in[i]);
    }
    for (int i = 0; i < 4; i++) {
        free(w[i]);
    }
    return 0;
}
"""

FOLD_BRANCH = """\
    else if (strcmp(kernel, "{name}") == 0) {{ /* count size */
        count = a[0], size = (size_t)a[1];
        for (int i = 0; i < count; i++) {{
            in[i] = read_floats(size);
        }}
        out = output(in_place, in, size);
        kl_{name}_forward(out, (const float *const *)in, count, a[1]);
    }}"""


@pytest.fixture(scope="module", params=["strict", "sanitize"])
def driver(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"layer-kernels-{request.param}")
    source = directory / "driver.c"
    source.write_text(DRIVER % {"read_floats": READ_FLOATS_C, "includes": "\n".join(f'#include "{k}.h"' for k in KERNELS),
                                "fold_branches": "\n".join(FOLD_BRANCH.format(name=n) for n in FOLDS)})
    flags = SANITIZE if request.param == "sanitize" else []
    return build([source], directory / "driver", flags=flags, include=[RUNTIME_C], opt="-O1" if flags else "-O2")


@pytest.fixture(scope="module")
def strict_driver(tmp_path_factory):
    directory = tmp_path_factory.mktemp("layer-kernels-cxx")
    source = directory / "driver.cpp"
    source.write_text(DRIVER % {"read_floats": READ_FLOATS_C, "includes": "\n".join(f'#include "{k}.h"' for k in KERNELS),
                                "fold_branches": "\n".join(FOLD_BRANCH.format(name=n) for n in FOLDS)})
    return source


def call(driver, kernel, numbers, arrays, shape, in_place=0):
    """Run one kernel; numbers go on the command line, arrays (float32) on stdin; return the output."""
    done = run(driver, kernel, in_place, *(repr(float(v)) if isinstance(v, float) else str(int(v)) for v in numbers),
               stdin=float32_bytes(*arrays))
    return read_float32(done.stdout, shape)


def f32(values):
    return np.asarray(values, dtype=np.float32)


def same(got, want):
    """Equal as float32 values: NaN meets NaN, 0 meets -0."""
    np.testing.assert_array_equal(f32(got), f32(want))


def within_ulps(got, want, ulps=1):
    """got and want (float32) at most `ulps` representable values apart; NaN meets NaN."""
    got, want = f32(got), f32(want)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    spacing = np.spacing(np.abs(want[~np.isnan(want)]))
    assert np.all(np.abs(got[~np.isnan(got)] - want[~np.isnan(want)]) <= ulps * spacing), (got, want)


def data(rng, shape, scale=1.0):
    return f32(scale * rng.standard_normal(shape))


# ---- numpy references, in each kernel's documented order --------------------------------------------


def sequential_sum(values):
    """Sum the last axis left to right in float32 (np.cumsum adds in order; np.sum would pair)."""
    values = f32(values)
    return np.cumsum(values, axis=-1, dtype=np.float32)[..., -1]


def unit_norm_reference(x, epsilon, clamp_inverse):
    square_sum = sequential_sum(x * x)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        if clamp_inverse:
            inverse = np.minimum(np.float32(1) / np.sqrt(square_sum), np.float32(1) / np.float32(epsilon))
        else:
            inverse = np.float32(1) / np.sqrt(np.maximum(square_sum, np.float32(epsilon)))
        return x * inverse


def layer_norm_reference(x, gamma, beta, epsilon, rms_scaling):
    """float64 throughout, rounded once (the kernel's documented contract)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    inv = 1.0 / np.sqrt(np.square(x - mean).mean(axis=-1, keepdims=True) + float(np.float32(epsilon)))
    if rms_scaling:
        out = x * inv
        return f32(out if gamma is None else out * gamma)
    scale = inv if gamma is None else inv * np.asarray(gamma, dtype=np.float64)
    shift = -mean * scale
    if beta is not None:
        shift = shift + np.asarray(beta, dtype=np.float64)
    return f32(x * scale + shift)


EXTREMES = f32([0.0, -0.0, 1e-45, -3e38, 3e38, np.inf, -np.inf, np.nan, 1e4, -1e4, 1.0, -2.5])


# ---- one-input kernels --------------------------------------------------------------------------------


@pytest.mark.parametrize("in_place", [0, 1])
def test_scale_shift_rounds_twice(driver, in_place):
    rng = np.random.default_rng(0)
    x, scale, shift = data(rng, (5, 7), 10.0), data(rng, 7), data(rng, 7)
    got = call(driver, "scale_shift", [5, 7], [x, scale, shift], (5, 7), in_place)
    same(got, (x * scale) + shift)  # float32 numpy: one rounding per operation
    fused = f32(x.astype(np.float64) * scale + shift)  # what an fmaf would give (exact product, one rounding)
    assert not np.array_equal(got, fused), "the data should tell one rounding from two"


def test_scale_shift_extremes(driver):
    x = EXTREMES.reshape(2, 6)
    scale, shift = f32([2.0, -1.0, 0.0, 0.5, 1e-3, 3.0]), f32([1.0, 0.0, -1.0, 0.25, 0.0, np.inf])
    same(call(driver, "scale_shift", [2, 6], [x, scale, shift], (2, 6)), x * scale + shift)


@pytest.mark.parametrize("in_place", [0, 1])
def test_prelu(driver, in_place):
    rng = np.random.default_rng(1)
    x = np.concatenate([data(rng, 40, 3.0), EXTREMES])
    alpha = data(rng, x.size)
    want = np.maximum(x, 0) + (-alpha) * np.maximum(-x, 0)  # np.maximum keeps NaN, as Keras's relu
    same(call(driver, "prelu", [x.size], [x, alpha], (x.size,), in_place), want)


@pytest.mark.parametrize("in_place", [0, 1])
@pytest.mark.parametrize("rms_scaling, has_gamma, has_beta", [(0, 1, 1), (0, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0),
                                                              (1, 0, 0)])
def test_layer_norm(driver, rms_scaling, has_gamma, has_beta, in_place):
    rng = np.random.default_rng(2)
    x = data(rng, (6, 9), 3.0)
    x[1] += np.float32(1e4)  # a large offset: float32 would cancel, the kernel works in double
    x[2] = np.float32(5.0)  # zero variance: x * rsqrt(eps) + ...
    gamma = data(rng, 9) if has_gamma else None
    beta = data(rng, 9) if has_beta else None
    arrays = [x] + [a for a in (gamma, beta) if a is not None]
    got = call(driver, "layer_norm", [6, 9, 1e-3, rms_scaling, has_gamma, has_beta], arrays, (6, 9), in_place)
    within_ulps(got, layer_norm_reference(x, gamma, beta, 1e-3, rms_scaling), ulps=1)


def test_layer_norm_one_wide_axis_at_large_offset(driver):
    """The case that forced double precision: n = 1 at 1e4, where float32 gives a far-off result."""
    x = f32([[1e4], [-3e4], [0.5]])
    gamma, beta = f32([1.5]), f32([0.25])
    got = call(driver, "layer_norm", [3, 1, 1e-3, 0, 1, 1], [x, gamma, beta], (3, 1))
    same(got, layer_norm_reference(x, gamma, beta, 1e-3, 0))
    same(got, [[0.25], [0.25], [0.25]])  # x - mean is exactly 0


def test_layer_norm_nan_and_inf(driver):
    x = f32([[1.0, np.nan, 2.0], [1.0, np.inf, 2.0], [0.0, 0.0, 0.0]])
    got = call(driver, "layer_norm", [3, 3, 1e-3, 0, 0, 0], [x], (3, 3))
    assert np.isnan(got[:2]).all()
    same(got[2], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("in_place", [0, 1])
def test_rms_norm(driver, in_place):
    rng = np.random.default_rng(3)
    x, scale = data(rng, (5, 8), 4.0), data(rng, 8)
    x[4] = 0.0
    inv = np.float32(1) / np.sqrt(sequential_sum(x * x)[:, None] / np.float32(8) + np.float32(1e-6))
    same(call(driver, "rms_norm", [5, 8, 1e-6], [x, scale], (5, 8), in_place), (x * inv) * scale)


@pytest.mark.parametrize("in_place", [0, 1])
@pytest.mark.parametrize("clamp_inverse, epsilon", [(1, 1e-12), (0, 1e-12), (1, 1e-7)])
def test_unit_norm(driver, clamp_inverse, epsilon, in_place):
    rng = np.random.default_rng(4)
    x = data(rng, (7, 6), 2.0)
    x[1] = 0.0  # a zero row stays zero
    x[2] *= np.float32(1e-8)  # a norm below sqrt(epsilon): the two clamps differ here
    x[3, 2] = np.nan
    x[4, 0] = np.inf
    x[5] *= np.float32(1e19)  # the squares overflow: x * 0
    got = call(driver, "unit_norm", [7, 6, epsilon, clamp_inverse], [x], (7, 6), in_place)
    same(got, unit_norm_reference(x, epsilon, clamp_inverse))
    same(got[1], np.zeros(6))
    assert np.isnan(got[3]).all()


def test_unit_norm_limit_is_keras_float32_constant(driver):
    """min(rsqrt(s), 1 / 1e-12): the limit the kernel computes in float32 equals float32(1e12)."""
    x = f32([[1e-20, 0.0]])
    got = call(driver, "unit_norm", [1, 2, 1e-12, 1], [x], (1, 2))
    same(got, [[np.float32(1e-20) * np.float32(1e12), 0.0]])


@pytest.mark.parametrize("in_place", [0, 1])
@pytest.mark.parametrize("invert", [0, 1])
def test_standardize(driver, invert, in_place):
    rng = np.random.default_rng(5)
    x = np.concatenate([data(rng, 30, 5.0), EXTREMES])
    mean, std = data(rng, x.size), np.abs(data(rng, x.size)) + np.float32(1e-7)
    want = mean + x * std if invert else (x - mean) / std
    same(call(driver, "standardize", [x.size, invert], [x, mean, std], (x.size,), in_place), want)


@pytest.mark.parametrize("shape, perm", [((2, 3, 4), (2, 0, 1)), ((3, 4), (1, 0)), ((2, 3, 4, 5), (3, 1, 0, 2)),
                                         ((5,), (0,))])
def test_transpose(driver, shape, perm):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * np.float32(0.5) - np.float32(3)
    want = np.transpose(x, perm)
    index = np.transpose(np.arange(x.size).reshape(shape), perm).ravel()  # numpy's own answer to "which value"
    same(call(driver, "transpose", [x.size], [x.ravel(), f32(index)], (x.size,)), want.ravel())


@pytest.mark.parametrize("shape, target", [((1, 3), (4, 3)), ((4, 1), (4, 3)), ((3,), (2, 4, 3)), ((4, 1), (2, 4, 3)),
                                           ((1,), (5,)), ((2, 1, 3), (2, 4, 3))])
def test_broadcast(driver, shape, target):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * np.float32(0.5) - np.float32(3)
    want = np.broadcast_to(x, target)
    index = np.broadcast_to(np.arange(x.size).reshape(shape), target).ravel()  # numpy's own answer
    same(call(driver, "broadcast", [x.size, want.size], [x.ravel(), f32(index)], (want.size,)), want.ravel())


def test_slice(driver):
    """A gather by the runtime's own index table, checked against numpy's basic slicing."""
    from runtime_py.model import slice_index

    x = np.arange(24, dtype=np.float32).reshape(4, 6) - np.float32(5.5)
    want = x[3::-2, 1:6:2]
    index = slice_index((4, 6), [3, 1], [-2, 2], want.shape)
    same(call(driver, "slice", [x.size, want.size], [x.ravel(), f32(index)], (want.size,)), want.ravel())


@pytest.mark.parametrize("function", ["sum", "mean", "max", "min"])
def test_reduce(driver, function):
    """Sums in increasing index from +0, each add rounded (numpy's cumulative sum in float32 adds the same way)."""
    rng = np.random.default_rng(12)
    x = np.concatenate([data(rng, (3, 7), 50.0), f32([[1e8, 1.0, -1e8, 1.0, 0.5, -0.0, 3.0]]),
                        f32([[-0.0] * 7]), f32([[1.0, np.nan, 2.0, 3.0, -np.inf, 0.0, 1.0]])])
    got = call(driver, "reduce", [x.shape[0], x.shape[1], ["sum", "mean", "max", "min"].index(function)], [x],
               (x.shape[0],))
    with np.errstate(invalid="ignore"):
        if function in ("sum", "mean"):
            total = np.cumsum(np.concatenate([np.zeros((x.shape[0], 1), np.float32), x], axis=1), axis=1,
                              dtype=np.float32)[:, -1]
            want = total / np.float32(x.shape[1]) if function == "mean" else total
        else:
            want = (np.max if function == "max" else np.min)(x, axis=1)  # numpy propagates NaN too
    same(got, want)
    if function == "sum":
        assert got[3] == 4.5 and not np.signbit(got[4])  # (1e8 + 1) - 1e8 rounds the 1 away; +0 + -0 is +0


def test_repeat(driver):
    x = np.concatenate([f32([1.5, -2.0]), EXTREMES])
    same(call(driver, "repeat", [x.size, 3], [x], (3, x.size)), np.tile(x, (3, 1)))


# ---- several inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes, axis", [([(6,), (3,), (1,)], 0), ([(3, 4), (2, 4)], 0), ([(3, 4), (3, 1), (3, 2)], 1),
                                          ([(2, 3, 4), (2, 3, 1)], 2), ([(2, 1, 4), (2, 3, 4)], 1)])
def test_concatenate(driver, shapes, axis):
    rng = np.random.default_rng(6)
    parts = [data(rng, s) for s in shapes]
    outer = int(np.prod(shapes[0][:axis]))
    chunks = [int(np.prod(s[axis:])) for s in shapes]
    want = np.concatenate(parts, axis=axis).ravel()
    got = call(driver, "concatenate", [len(parts), outer, *chunks], [p.ravel() for p in parts], (want.size,))
    same(got, want)


def _fold_inputs(count, size=24, seed=7):
    rng = np.random.default_rng(seed)
    inputs = [data(rng, size, 3.0) for _ in range(count)]
    inputs[0][:EXTREMES.size] = EXTREMES
    inputs[-1][:EXTREMES.size] = EXTREMES[::-1]  # NaN and inf meet finite values on both sides
    inputs[1][5] = -0.0
    inputs[0][5] = 0.0
    return inputs


FOLD_REFERENCES = {  # numpy, folded left to right in float32; np.maximum/np.minimum keep NaN like TensorFlow
    "add": lambda xs: reduce(np.add, xs),
    "multiply": lambda xs: reduce(np.multiply, xs),
    "average": lambda xs: reduce(np.add, xs) / np.float32(len(xs)),
    "maximum": lambda xs: reduce(np.maximum, xs),
    "minimum": lambda xs: reduce(np.minimum, xs),
}


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("name", FOLDS)
def test_folds(driver, name, count):
    inputs = _fold_inputs(count)
    want = FOLD_REFERENCES[name](inputs)
    for in_place in range(count + 1):  # a separate output, then the output over each input in turn
        same(call(driver, name, [count, 24], inputs, (24,), in_place), want)


def test_fold_order_matters_and_is_left_to_right(driver):
    """(1e8 + -1e8) + 1 = 1, while 1e8 + (-1e8 + 1) = 0 in float32."""
    inputs = [f32([1e8]), f32([-1e8]), f32([1.0])]
    same(call(driver, "add", [3, 1], inputs, (1,)), [1.0])
    same(call(driver, "average", [3, 1], inputs, (1,)), [np.float32(1) / np.float32(3)])


def test_maximum_and_minimum_propagate_nan_both_ways(driver):
    a, b = f32([np.nan, 1.0, np.nan, 2.0]), f32([1.0, np.nan, np.nan, -np.inf])
    same(call(driver, "maximum", [2, 4], [a, b], (4,)), [np.nan, np.nan, np.nan, 2.0])
    same(call(driver, "minimum", [2, 4], [a, b], (4,)), [np.nan, np.nan, np.nan, -np.inf])


def test_maximum_keeps_the_left_zero_as_tensorflow_does(driver):
    """tf.maximum(-0., 0.) is -0. and tf.maximum(0., -0.) is 0. (measured with TensorFlow 2.21)."""
    a, b = f32([-0.0, 0.0]), f32([0.0, -0.0])
    for name in ("maximum", "minimum"):
        got = call(driver, name, [2, 2], [a, b], (2,))
        assert list(np.signbit(got)) == [True, False], name


@pytest.mark.parametrize("in_place", [0, 1, 2])
def test_subtract(driver, in_place):
    rng = np.random.default_rng(8)
    a, b = np.concatenate([data(rng, 10), EXTREMES]), np.concatenate([EXTREMES[::-1], data(rng, 10)])
    same(call(driver, "subtract", [a.size], [a, b], (a.size,), in_place), a - b)


@pytest.mark.parametrize("in_place", [0, 1, 2])
def test_divide(driver, in_place):
    """One IEEE division per value, subnormals read as zeros of their sign (TensorFlow's denormals-are-zero)."""
    rng = np.random.default_rng(8)
    a = np.concatenate([data(rng, 10), EXTREMES, f32([1e-40, -1e-40, 1.0, 1.0, 1e-40])])
    b = np.concatenate([EXTREMES[::-1], data(rng, 10), f32([0.0, 2.0, 1e-40, -1e-40, -1e-40])])
    flushed = [np.where(np.abs(v) < np.finfo(np.float32).tiny, v * np.float32(0), v) for v in (a, b)]
    with np.errstate(all="ignore"):
        want = flushed[0] / flushed[1]
    got = call(driver, "divide", [a.size], [a, b], (a.size,), in_place)
    same(got, want)
    assert np.isnan(got[-5]) and got[-4] == 0 and np.signbit(got[-4]) and np.isposinf(got[-3])
    assert np.isneginf(got[-2]) and np.isnan(got[-1])


@pytest.mark.parametrize("normalize", [0, 1])
def test_dot(driver, normalize):
    rng = np.random.default_rng(9)
    for a, b in [(data(rng, 9), data(rng, 9)), (data(rng, 4, 1e3), data(rng, 4, 1e-3)), (f32([0.0, 0.0]), f32([1, 2])),
                 (f32([1e-9, 0.0]), f32([3.0, 4.0])), (f32([np.nan, 1.0]), f32([1.0, 1.0]))]:
        if normalize:
            want = sequential_sum(unit_norm_reference(a, 1e-7, 1) * unit_norm_reference(b, 1e-7, 1))
        else:
            want = sequential_sum(a * b)
        for in_place in (0, 1, 2):
            same(call(driver, "dot", [a.size, normalize], [a, b], (1,), in_place), [want])


def test_dot_normalized_is_the_cosine(driver):
    a, b = f32([3.0, 4.0]), f32([4.0, 3.0])
    got = call(driver, "dot", [2, 1], [a, b], (1,))
    assert abs(float(got[0]) - 24.0 / 25.0) < 1e-6


# ---- builds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cc", ["clang", "g++", "clang++"])
def test_kernels_build_cleanly_with_other_compilers(strict_driver, tmp_path, cc):
    source = strict_driver
    if not cc.endswith("++"):
        source = tmp_path / "driver.c"
        source.write_text(strict_driver.read_text())
    exe = build([source], tmp_path / f"driver-{cc}", cc=cc, include=[RUNTIME_C])
    x = f32([[1.0, 2.0, 3.0]])
    same(call(exe, "unit_norm", [1, 3, 1e-12, 1], [x], (1, 3)), unit_norm_reference(x, 1e-12, 1))
