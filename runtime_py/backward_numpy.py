"""numpy backward rules: one per IR op (activations: activations_backward_numpy.py), on float32 (batch, size) arrays.

Mirrors backward_python.py name for name. Each rule is TensorFlow's gradient of what Keras 3
computes for the layer: MatMul's for dense (grad @ kernel^T), Mul's for scale_shift and the
products, ReluGrad for PReLU's two relus (so PReLU'(0) = 0), the mean and variance of
LayerNormalization and RMSNormalization, Rsqrt's for UnitNormalization where its clamp does not
hold, and Maximum's and Minimum's routing (x >= y, x <= y: a tie goes to the earlier input).
The normalizations are differentiated in float64 and rounded once, as their forward kernels.
"""

from __future__ import annotations

import numpy as np

from runtime_py.activations_numpy import flush_subnormals
from runtime_py.kernels_numpy import unit_norm_forward

F32 = np.float32


def dense_backward(grad, kernel, n_in, n_out):
    """grad: (batch, rows*n_out) -> (batch, rows*n_in); kernel: (n_in, n_out) float32."""
    batch = grad.shape[0]
    return (grad.reshape(-1, n_out) @ kernel.T).reshape(batch, -1)


def reshape_backward(grad):
    return grad


def scale_shift_backward(grad, scale, rows, n):
    return (grad.reshape(grad.shape[0], rows, n) * scale).reshape(grad.shape[0], -1)


def prelu_backward(grad, x, alpha):
    return grad * (x > 0).astype(F32) + (alpha * grad) * (-x > 0).astype(F32)


def _groups(values, rows, n):
    return values.reshape(values.shape[0], rows, n).astype(np.float64)


def layer_norm_backward(grad, x, gamma, rows, n, epsilon, rms_scaling):
    g, v = _groups(grad, rows, n), _groups(x, rows, n)
    if gamma is not None:
        g = g * gamma
    centered = v - v.mean(axis=2, keepdims=True)
    inv = 1.0 / np.sqrt(np.square(centered).mean(axis=2, keepdims=True) + epsilon)
    if rms_scaling:
        spread = (g * v).sum(axis=2, keepdims=True) * inv ** 3 / n
        out = g * inv - centered * spread
    else:
        normalized = centered * inv
        out = inv * (g - g.mean(axis=2, keepdims=True) - normalized * (g * normalized).mean(axis=2, keepdims=True))
    return out.astype(F32).reshape(grad.shape[0], -1)


def rms_norm_backward(grad, x, scale, rows, n, epsilon):
    g, v = _groups(grad, rows, n) * scale, _groups(x, rows, n)
    inv = 1.0 / np.sqrt(np.square(v).mean(axis=2, keepdims=True) + epsilon)
    out = g * inv - v * ((g * v).sum(axis=2, keepdims=True) * inv ** 3 / n)
    return out.astype(F32).reshape(grad.shape[0], -1)


def unit_norm_backward(grad, x, rows, n, epsilon, clamp):
    g, v = _groups(grad, rows, n), _groups(x, rows, n)
    square_sum = np.square(v).sum(axis=2, keepdims=True).astype(F32).astype(np.float64)
    with np.errstate(divide="ignore"):
        if clamp == "inverse":  # min(rsqrt(s), 1/eps): a tie goes to rsqrt(s)
            raw = 1.0 / np.sqrt(square_sum)
            inv, through = np.minimum(raw, 1.0 / epsilon), raw <= 1.0 / epsilon
        else:  # rsqrt(max(s, eps)): a tie goes to s
            inv = raw = 1.0 / np.sqrt(np.maximum(square_sum, epsilon))
            through = square_sum >= epsilon
    spread = np.where(through, (g * v).sum(axis=2, keepdims=True) * raw ** 3, 0.0)
    return (g * inv - v * spread).astype(F32).reshape(grad.shape[0], -1)


def standardize_backward(grad, std, invert):
    return grad * std if invert else grad / std


def transpose_backward(grad, source_index):
    out = np.empty_like(grad)
    out[:, source_index] = grad
    return out


def broadcast_backward(grad, source_index, size):
    out = np.zeros((grad.shape[0], size), dtype=F32)
    np.add.at(out, (slice(None), source_index), grad)
    return out


def repeat_backward(grad, n):
    return grad.reshape(grad.shape[0], n, -1).sum(axis=1, dtype=F32)


def concatenate_backward(grad, *chunks):
    batch = grad.shape[0]
    outer = grad.shape[1] // sum(chunks)
    parts = np.split(grad.reshape(batch, outer, -1), np.cumsum(chunks)[:-1], axis=2)
    return [part.reshape(batch, -1) for part in parts]


def add_backward(grad, count):
    return [grad.copy() for _ in range(count)]


def subtract_backward(grad):
    return [grad.copy(), -grad]


def divide_backward(grad, a, b):
    """TensorFlow's RealDiv gradient: a gets g / b, b gets g * ((-a / b) / b), a and b read as the forward did."""
    a, b = flush_subnormals(a), flush_subnormals(b)
    return [grad / b, grad * ((-a / b) / b)]


def multiply_backward(grad, *inputs):
    """((x0 * x1) * x2) * ...: each input gets the gradient times the other factors, in the fold's order."""
    prefix = [inputs[0]]
    for values in inputs[1:-1]:
        prefix.append(prefix[-1] * values)
    grads = [None] * len(inputs)
    running = grad
    for k in range(len(inputs) - 1, 0, -1):
        grads[k] = running * prefix[k - 1]
        running = running * inputs[k]
    grads[0] = running
    return grads


def average_backward(grad, count):
    return [grad / F32(count) for _ in range(count)]


def _route_fold(grad, inputs, first_wins, fold):
    best = [inputs[0]]
    for values in inputs[1:-1]:
        best.append(fold(best[-1], values))
    zero = F32(0)
    grads = [None] * len(inputs)
    running = grad
    for k in range(len(inputs) - 1, 0, -1):
        kept = first_wins(best[k - 1], inputs[k])
        grads[k] = np.where(kept, zero, running)
        running = np.where(kept, running, zero)
    grads[0] = running
    return grads


def maximum_backward(grad, *inputs):
    return _route_fold(grad, inputs, np.greater_equal, np.maximum)  # TensorFlow: x >= y gets it


def minimum_backward(grad, *inputs):
    return _route_fold(grad, inputs, np.less_equal, np.minimum)


def dot_backward(grad, a, b, normalize):
    if not normalize:
        return [grad * b, grad * a]
    n = a.shape[1]
    a_unit, b_unit = unit_norm_forward(a, 1, n, 1e-7, "inverse"), unit_norm_forward(b, 1, n, 1e-7, "inverse")
    return [unit_norm_backward(grad * b_unit, a, 1, n, 1e-7, "inverse"),
            unit_norm_backward(grad * a_unit, b, 1, n, 1e-7, "inverse")]


def matmul_backward(grad, a, b, a_index, b_index, m, k, n):
    """MatMul's gradient per output matrix (grad @ b^T, a^T @ grad), added into the matrices it read (broadcast)."""
    batch = grad.shape[0]
    x = a.reshape(batch, -1, m, k)
    y = b.reshape(batch, -1, k, n)
    g = grad.reshape(batch, -1, m, n)
    grad_a, grad_b = np.zeros_like(x), np.zeros_like(y)
    np.add.at(grad_a, (slice(None), a_index), g @ np.swapaxes(y[:, b_index], -1, -2))
    np.add.at(grad_b, (slice(None), b_index), np.swapaxes(x[:, a_index], -1, -2) @ g)
    return [grad_a.reshape(batch, -1), grad_b.reshape(batch, -1)]


def reduce_backward(grad, x, y, rows, n, function):
    """As backward_python.reduce_backward: sum g, mean g / n, max/min (x == y) / count * g."""
    batch = grad.shape[0]
    g = grad.reshape(batch, rows, 1)
    if function == "sum":
        out = np.broadcast_to(g, (batch, rows, n))
    elif function == "mean":
        out = np.broadcast_to(g / np.float32(n), (batch, rows, n))
    else:
        hits = (x.reshape(batch, rows, n) == y.reshape(batch, rows, 1)).astype(np.float32)
        out = hits / hits.sum(axis=2, keepdims=True, dtype=np.float32) * g
    return np.ascontiguousarray(out, dtype=np.float32).reshape(batch, -1)


def slice_backward(grad, source_index, size):
    """Each output value's gradient into the input position it was read from; the rest of the input gets 0."""
    return broadcast_backward(grad, source_index, size)
