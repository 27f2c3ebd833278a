"""numpy kernels: one per IR op (activations live in activations_numpy.py), on float32 (batch, size) arrays.

Mirrors kernels_python.py name for name.
"""

from __future__ import annotations

import numpy as np

from runtime_py.activations_numpy import flush_subnormals

# ---- ops -------------------------------------------------------------------


def dense_forward(inp, kernel, bias, n_in, n_out):
    """inp: (batch, rows*n_in) -> (batch, rows*n_out), kernel: (n_in, n_out) float32."""
    if inp.shape[1] == n_in:  # one row per sample, the common case: no reshapes
        out = inp @ kernel
        if bias is not None:
            out += bias
        return out
    batch = inp.shape[0]
    out = inp.reshape(-1, n_in) @ kernel
    if bias is not None:
        out += bias
    return out.reshape(batch, -1)


def _fmaf(x, w, s):
    """x * w + s on float32 arrays, rounded once, as C's fmaf (kernels_python._fmaf explains the method)."""
    p = x.astype(np.float64) * w.astype(np.float64)
    s = s.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        t = p + s
        back = t - s
        err = (s - (t - back)) + (p - back)
        even = (t.view(np.int64) & 1) == 0
        move = (err != 0) & even & np.isfinite(t)
        if move.any():
            t = np.where(move, np.nextafter(t, np.where(err > 0, np.inf, -np.inf)), t)
        return t.astype(np.float32)


def dense_in_order(inp, kernel, bias, n_in, n_out):
    """dense_forward in the header's order (kernels_python.dense_in_order): an exactly rounded fmaf per step."""
    batch = inp.shape[0]
    x = inp.reshape(-1, n_in)
    sums = np.zeros((x.shape[0], n_out), dtype=np.float32)
    for i in range(n_in):
        sums = _fmaf(x[:, i:i + 1], kernel[i], sums)
    if bias is not None:
        sums = sums + bias
    return sums.reshape(batch, -1)


def reshape_forward(inp):
    """Row-major data is unchanged by a reshape."""
    return inp


def scale_shift_forward(inp, scale, shift, rows, n):
    """y = x * scale + shift per last-axis channel; scale, shift: (n,) float32."""
    batch = inp.shape[0]
    out = inp.reshape(batch, rows, n) * scale
    out += shift
    return out.reshape(batch, -1)


def prelu_forward(inp, alpha):
    """y = relu(x) + (-alpha) * relu(-x); alpha: one float32 per input value."""
    positive = np.where(inp > 0, inp, np.where(np.isnan(inp), inp, np.float32(0)))
    negated = -inp
    negative = np.where(negated > 0, negated, np.where(np.isnan(negated), negated, np.float32(0)))
    return positive + (-alpha) * negative


def layer_norm_forward(inp, gamma, beta, rows, n, epsilon, rms_scaling):
    """Keras 3 LayerNormalization over the last axis (gamma, beta may be None).

    Computed in float64 and rounded once: x * inv + (beta - mean * inv) cancels
    badly in float32 when the variance is tiny next to the mean, while Keras's
    result stays close to the exact value (measured: a one-wide axis at 1e4).
    """
    batch = inp.shape[0]
    x = inp.reshape(batch, rows, n).astype(np.float64)
    mean = x.mean(axis=2, keepdims=True)
    variance = np.square(x - mean).mean(axis=2, keepdims=True)
    inv = 1.0 / np.sqrt(variance + epsilon)
    if rms_scaling:
        out = x * inv
        if gamma is not None:
            out = out * gamma
        return out.astype(np.float32).reshape(batch, -1)
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv
    if beta is not None:
        shift = shift + beta
    return (x * inv + shift).astype(np.float32).reshape(batch, -1)


def rms_norm_forward(inp, scale, rows, n, epsilon):
    batch = inp.shape[0]
    x = inp.reshape(batch, rows, n)
    inv = np.float32(1.0) / np.sqrt(np.square(x).mean(axis=2, keepdims=True, dtype=np.float32) + np.float32(epsilon))
    return (x * inv * scale).reshape(batch, -1)


def unit_norm_forward(inp, rows, n, epsilon, clamp):
    batch = inp.shape[0]
    x = inp.reshape(batch, rows, n)
    square_sum = np.square(x).sum(axis=2, keepdims=True, dtype=np.float32)
    if clamp == "inverse":
        inv = np.minimum(np.float32(1.0) / np.sqrt(square_sum), np.float32(1.0 / epsilon))
    else:
        inv = np.float32(1.0) / np.sqrt(np.maximum(square_sum, np.float32(epsilon)))
    return (x * inv).reshape(batch, -1)


def standardize_forward(inp, mean, std, invert):
    if invert:
        return mean + inp * std
    return (inp - mean) / std


def transpose_forward(inp, source_index):
    """y[:, k] = x[:, source_index[k]]."""
    return inp[:, source_index]


def broadcast_forward(inp, source_index):
    """y[:, k] = x[:, source_index[k]]."""
    return inp[:, source_index]


def repeat_forward(inp, n):
    return np.tile(inp, (1, n))


def concatenate_forward(*inputs_and_chunks):
    count = len(inputs_and_chunks) // 2
    inputs, chunks = inputs_and_chunks[:count], inputs_and_chunks[count:]
    batch = inputs[0].shape[0]
    outer = inputs[0].shape[1] // chunks[0]
    parts = [values.reshape(batch, outer, chunk) for values, chunk in zip(inputs, chunks)]
    return np.concatenate(parts, axis=2).reshape(batch, -1)


def add_forward(*inputs):
    out = inputs[0] + inputs[1]
    for values in inputs[2:]:
        out += values
    return out


def subtract_forward(a, b):
    return a - b


def divide_forward(a, b):
    """a / b, subnormals read as zeros (TensorFlow's denormals-are-zero)."""
    return flush_subnormals(a) / flush_subnormals(b)


def multiply_forward(*inputs):
    out = inputs[0] * inputs[1]
    for values in inputs[2:]:
        out *= values
    return out


def average_forward(*inputs):
    out = add_forward(*inputs)
    out /= np.float32(len(inputs))
    return out


def maximum_forward(*inputs):
    out = np.maximum(inputs[0], inputs[1])
    for values in inputs[2:]:
        np.maximum(out, values, out=out)
    return out


def minimum_forward(*inputs):
    out = np.minimum(inputs[0], inputs[1])
    for values in inputs[2:]:
        np.minimum(out, values, out=out)
    return out


def dot_forward(a, b, normalize):
    if normalize:
        a = unit_norm_forward(a, 1, a.shape[1], 1e-7, "inverse")
        b = unit_norm_forward(b, 1, b.shape[1], 1e-7, "inverse")
    return np.einsum("ij,ij->i", a, b).reshape(-1, 1).astype(np.float32)


def matmul_forward(a, b, a_index, b_index, m, k, n):
    """out[t] = a[a_index[t]] @ b[b_index[t]] per sample, an exactly rounded fmaf per step over k (kernels_python)."""
    batch = a.shape[0]
    x = a.reshape(batch, -1, m, k)[:, a_index]
    y = b.reshape(batch, -1, k, n)[:, b_index]
    sums = np.zeros((batch, len(a_index), m, n), dtype=np.float32)
    for p in range(k):
        sums = _fmaf(x[..., p:p + 1], y[..., p:p + 1, :], sums)
    return sums.reshape(batch, -1)


def reduce_forward(inp, rows, n, function):
    """Each row of n values -> one, as kernels_python.reduce_forward: the adds run column by column
    (increasing index, float32 each), never numpy's pairwise sum."""
    x = inp.reshape(inp.shape[0], rows, n)
    if function in ("sum", "mean"):
        acc = np.zeros(x.shape[:2], dtype=np.float32)
        for j in range(n):
            acc += x[:, :, j]
        if function == "mean":
            acc /= np.float32(n)
    else:
        acc = x[:, :, 0].copy()
        pick = np.maximum if function == "max" else np.minimum  # both propagate NaN
        for j in range(1, n):
            pick(acc, x[:, :, j], out=acc)
    return acc.reshape(inp.shape[0], -1)


# A slice is resolved to flat source indices at load time, as a broadcast is: the same gather.
slice_forward = broadcast_forward
