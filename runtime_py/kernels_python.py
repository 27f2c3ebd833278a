"""Pure-Python kernels: one per IR op (activations live in activations_python.py).

A sample is a flat row-major list of floats. Kernels take their inputs and sizes
(in the C kernels' argument order, outputs omitted) and return the output list;
activations may work in place. Arithmetic is in double precision; the engine
rounds every node's output to float32, as Keras stores its tensors.
"""

from __future__ import annotations

import math
from array import array
from operator import mul

from runtime_py.activations_python import _div, _f32, _flush

# ---- ops -------------------------------------------------------------------


def dense_forward(inp, kernel_columns, bias, n_in, n_out):
    """inp: (rows*n_in) -> out: (rows*n_out); kernel_columns[j] is column j of the (n_in, n_out) kernel."""
    if len(inp) == n_in:  # one row, the common case
        return [b + sum(map(mul, column, inp)) for column, b in zip(kernel_columns, bias)]
    out = []
    for start in range(0, len(inp), n_in):
        row = inp[start:start + n_in] if n_in != len(inp) else inp
        out.extend([b + sum(map(mul, column, row)) for column, b in zip(kernel_columns, bias)])
    return out


def _fmaf(x: float, w: float, s: float) -> float:
    """x * w + s for float32 values, rounded once (not yet to float32: the caller's array("f") does that).

    The product is exact in double; TwoSum gives the sum's rounding error, and a sum that was rounded
    is moved to its odd neighbour ("round to odd"), after which rounding to float32 is exactly that
    of fmaf: double's 53 bits are more than float32's 2 * 24 + 2.
    """
    p = x * w
    t = p + s
    back = t - s
    err = (s - (t - back)) + (p - back)
    if err and t - t == 0.0 and not int(math.frexp(t)[0] * 9007199254740992.0) & 1:
        t = math.nextafter(t, math.inf if err > 0 else -math.inf)
    return t


def dense_in_order(inp, kernel_rows, bias, n_in, n_out):
    """dense_forward in the header's order: each output adds fmaf(x[i], kernel[i][j], s) for i = 0, 1, ..., in
    float32, then the bias (None: no addition), exactly as runtime_c/dense.h with KERASLESS_DENSE_FMA=1."""
    out = []
    for start in range(0, len(inp), n_in):
        sums = [0.0] * n_out
        for x, row in zip(inp[start:start + n_in], kernel_rows):
            sums = array("f", [_fmaf(x, w, s) for w, s in zip(row, sums)]).tolist()
        if bias is not None:  # float32 + float32 through double rounds like float32's own addition
            sums = array("f", [s + b for s, b in zip(sums, bias)]).tolist()
        out.extend(sums)
    return out


def reshape_forward(inp):
    """Row-major data is unchanged by a reshape."""
    return inp


def _rows(values, n):
    return [values[start:start + n] for start in range(0, len(values), n)]


def scale_shift_forward(inp, scale, shift, rows, n):
    """y = x * scale + shift per last-axis channel; scale, shift: (n,)."""
    out = []
    for row in _rows(inp, n) if rows > 1 else [inp]:
        out.extend([v * s + b for v, s, b in zip(row, scale, shift)])
    return out


def _relu(v):
    return v if v > 0.0 else (0.0 if v == v else v)


def prelu_forward(inp, alpha):
    """y = relu(x) + (-alpha) * relu(-x), as Keras's PReLU computes it; alpha: one value per input value."""
    return [_relu(v) + (-a) * _relu(-v) for v, a in zip(inp, alpha)]


def _rsqrt(v: float) -> float:
    """1 / sqrt(v) as IEEE arithmetic gives it: inf at 0, NaN for NaN and below 0 (math.sqrt would raise)."""
    if v > 0.0:
        return 1.0 / math.sqrt(v)
    return math.inf if v == 0.0 else math.nan


def layer_norm_forward(inp, gamma, beta, rows, n, epsilon, rms_scaling):
    """Keras 3 LayerNormalization over the last axis (gamma, beta may be None)."""
    out = []
    for row in _rows(inp, n):
        mean = sum(row) / n
        variance = sum((v - mean) * (v - mean) for v in row) / n
        inv = _rsqrt(variance + epsilon)
        if rms_scaling:
            scaled = [v * inv for v in row]
            out.extend(scaled if gamma is None else [v * g for v, g in zip(scaled, gamma)])
            continue
        invs = [inv] * n if gamma is None else [inv * g for g in gamma]
        shifts = [-mean * i for i in invs] if beta is None else [-mean * i + b for i, b in zip(invs, beta)]
        out.extend([v * i + s for v, i, s in zip(row, invs, shifts)])
    return out


def rms_norm_forward(inp, scale, rows, n, epsilon):
    """y = x * rsqrt(mean(x^2) + eps) * scale over the last axis."""
    out = []
    for row in _rows(inp, n):
        inv = _rsqrt(sum(v * v for v in row) / n + epsilon)
        out.extend([v * inv * s for v, s in zip(row, scale)])
    return out


def unit_norm_forward(inp, rows, n, epsilon, clamp):
    """L2-normalize the last axis: clamp "inverse" is Keras 3 (min(rsqrt(s), 1/eps)), "square_sum" Keras 2."""
    out = []
    for row in _rows(inp, n):
        square_sum = sum(v * v for v in row)
        if clamp == "inverse":
            inv = min(_rsqrt(square_sum), 1.0 / epsilon)  # min keeps a NaN first argument
        else:
            inv = 1.0 / math.sqrt(max(square_sum, epsilon))
        out.extend([v * inv for v in row])
    return out


def standardize_forward(inp, mean, std, invert):
    """y = (x - mean) / std, or mean + x * std when invert; mean, std: one value per input value."""
    if invert:
        return [m + v * s for v, m, s in zip(inp, mean, std)]
    return [(v - m) / s for v, m, s in zip(inp, mean, std)]


def transpose_forward(inp, source_index):
    """y[k] = x[source_index[k]]: the permutation is resolved to flat indices at load time."""
    return [inp[i] for i in source_index]


def broadcast_forward(inp, source_index):
    """y[k] = x[source_index[k]]: the broadcast is resolved to flat indices at load time."""
    return [inp[i] for i in source_index]


def repeat_forward(inp, n):
    return inp * n


def concatenate_forward(*inputs_and_chunks):
    """inputs..., then per-input chunk sizes (values of the axis and below, per outer index)."""
    count = len(inputs_and_chunks) // 2
    inputs, chunks = inputs_and_chunks[:count], inputs_and_chunks[count:]
    outer = len(inputs[0]) // chunks[0]
    if outer == 1:  # joining whole tensors (the last axis of vectors)
        out = []
        for values in inputs:
            out += values
        return out
    out = []
    for o in range(outer):
        for values, chunk in zip(inputs, chunks):
            out.extend(values[o * chunk:(o + 1) * chunk])
    return out


def add_forward(*inputs):
    out = list(inputs[0])
    for values in inputs[1:]:
        out = [a + b for a, b in zip(out, values)]
    return out


def subtract_forward(a, b):
    return [x - y for x, y in zip(a, b)]


def divide_forward(a, b):
    """a / b, subnormals read as zeros (TensorFlow's denormals-are-zero): one IEEE division per value."""
    return [_div(_flush(x), _flush(y)) for x, y in zip(a, b)]


def multiply_forward(*inputs):
    out = list(inputs[0])
    for values in inputs[1:]:
        out = [a * b for a, b in zip(out, values)]
    return out


def average_forward(*inputs):
    total = add_forward(*inputs)
    return [v / len(inputs) for v in total]


def _max(a, b):
    return a if a > b or a != a else b  # NaN propagates, as in TensorFlow


def _min(a, b):
    return a if a < b or a != a else b


def maximum_forward(*inputs):
    out = list(inputs[0])
    for values in inputs[1:]:
        out = [_max(a, b) for a, b in zip(out, values)]
    return out


def minimum_forward(*inputs):
    out = list(inputs[0])
    for values in inputs[1:]:
        out = [_min(a, b) for a, b in zip(out, values)]
    return out


def dot_forward(a, b, normalize):
    """[sum(a * b)], each input first scaled by min(rsqrt(sum x^2), 1e7) when normalize (Keras's l2 normalize)."""
    if normalize:
        a = unit_norm_forward(a, 1, len(a), 1e-7, "inverse")
        b = unit_norm_forward(b, 1, len(b), 1e-7, "inverse")
    return [sum(x * y for x, y in zip(a, b))]


def matmul_forward(a, b, a_index, b_index, m, k, n):
    """out[t] = a[a_index[t]] @ b[b_index[t]] for (m, k) and (k, n) matrices, each value an exactly
    rounded fmaf per step from +0 in the order of k, as runtime_c/matmul.h (docs/format.md, matmul)."""
    out = []
    for at, bt in zip(a_index, b_index):
        x = a[at * m * k:(at + 1) * m * k]
        y = b[bt * k * n:(bt + 1) * k * n]
        rows = [y[p * n:(p + 1) * n] for p in range(k)]
        for i in range(m):
            sums = [0.0] * n
            for value, row in zip(x[i * k:(i + 1) * k], rows):
                sums = array("f", [_fmaf(value, w, s) for w, s in zip(row, sums)]).tolist()
            out.extend(sums)
    return out


def reduce_forward(inp, rows, n, function):
    """Each row of n values -> one: sum or mean (float32 adds in increasing index from +0; mean divides
    by n), max or min (NaN propagates, as TensorFlow's reduce_max/reduce_min)."""
    out = []
    for row in _rows(inp, n):
        if function in ("sum", "mean"):
            acc = 0.0
            for v in row:
                acc = _f32(acc + v)
            out.append(_div(acc, float(n)) if function == "mean" else acc)
        else:
            pick = _max if function == "max" else _min
            acc = row[0]
            for v in row[1:]:
                acc = pick(acc, v)
            out.append(acc)
    return out


# A slice is resolved to flat source indices at load time, as a broadcast is: the same gather.
slice_forward = broadcast_forward
