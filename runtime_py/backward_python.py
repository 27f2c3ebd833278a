"""Pure-Python backward rules: one per IR op (activations: activations_backward_python.py).

A rule `<op>_backward(grad, ...)` takes the gradient arriving at the node's output (a flat
row-major list), then what it needs of the forward pass (inputs, weights, sizes, in the forward
kernel's order) and returns the gradient for its input, or a list of gradients, one per input,
for the ops with several inputs. A dense node's activation is differentiated first, by the
engine (runtime_py/gradient.py). Arithmetic is in double; the engine rounds every gradient to
float32. Mirrors backward_numpy.py, which says whose gradient each rule is, and
runtime_c/backward/<op>.h.
"""

from __future__ import annotations

import math
from operator import mul

from runtime_py.activations_python import _div, _f32, _flush
from runtime_py.kernels_python import _max, _min, _rows, unit_norm_forward


def dense_backward(grad, kernel_rows, n_in, n_out):
    """grad: (rows*n_out) -> (rows*n_in); kernel_rows[i] is row i of the (n_in, n_out) kernel."""
    out = []
    for start in range(0, len(grad), n_out):
        g = grad[start:start + n_out]
        out.extend([sum(map(mul, row, g)) for row in kernel_rows])
    return out


def reshape_backward(grad):
    return grad


def scale_shift_backward(grad, scale, rows, n):
    return [g * s for g, s in zip(grad, scale * rows)]


def prelu_backward(grad, x, alpha):
    """relu(x) + (-alpha) * relu(-x): ReluGrad at x, and at -x times alpha (0 at x == 0)."""
    return [(g if v > 0.0 else 0.0) + (a * g if -v > 0.0 else 0.0) for g, v, a in zip(grad, x, alpha)]


def layer_norm_backward(grad, x, gamma, rows, n, epsilon, rms_scaling):
    """Keras 3 LayerNormalization over the last axis, through its mean and variance."""
    out = []
    for g, row in zip(_rows(grad, n), _rows(x, n)):
        if gamma is not None:
            g = [d * c for d, c in zip(g, gamma)]
        mean = math.fsum(row) / n
        centered = [v - mean for v in row]
        variance = math.fsum(c * c for c in centered) / n
        inv = 1.0 / math.sqrt(variance + epsilon)
        if rms_scaling:  # x * inv * gamma, inv from the variance about the mean
            spread = math.fsum(d * v for d, v in zip(g, row)) * inv ** 3 / n
            out.extend([d * inv - c * spread for d, c in zip(g, centered)])
            continue
        mean_g = math.fsum(g) / n
        mean_gx = math.fsum(d * c for d, c in zip(g, centered)) * inv / n
        out.extend([inv * (d - mean_g - c * inv * mean_gx) for d, c in zip(g, centered)])
    return out


def rms_norm_backward(grad, x, scale, rows, n, epsilon):
    """y = x * rsqrt(mean(x^2) + eps) * scale."""
    out = []
    for g, row in zip(_rows(grad, n), _rows(x, n)):
        g = [d * s for d, s in zip(g, scale)]
        inv = 1.0 / math.sqrt(math.fsum(v * v for v in row) / n + epsilon)
        spread = math.fsum(d * v for d, v in zip(g, row)) * inv ** 3 / n
        out.extend([d * inv - v * spread for d, v in zip(g, row)])
    return out


def unit_norm_backward(grad, x, rows, n, epsilon, clamp):
    """x * inv: the gradient reaches the sum of squares only where the clamp does not hold inv."""
    out = []
    for g, row in zip(_rows(grad, n), _rows(x, n)):
        square_sum = _f32(math.fsum(v * v for v in row))
        if clamp == "inverse":  # min(rsqrt(s), 1/eps): a tie goes to rsqrt(s)
            raw = _div(1.0, math.sqrt(square_sum))
            inv, through = min(raw, 1.0 / epsilon), raw <= 1.0 / epsilon
        else:  # rsqrt(max(s, eps)): a tie goes to s
            inv = raw = 1.0 / math.sqrt(max(square_sum, epsilon))
            through = square_sum >= epsilon
        spread = math.fsum(d * v for d, v in zip(g, row)) * raw ** 3 if through else 0.0
        out.extend([d * inv - v * spread for d, v in zip(g, row)])
    return out


def standardize_backward(grad, std, invert):
    if invert:
        return [g * s for g, s in zip(grad, std)]
    return [_div(g, s) for g, s in zip(grad, std)]


def transpose_backward(grad, source_index):
    """Send each output value's gradient back to the input position it was read from."""
    out = [0.0] * len(grad)
    for g, i in zip(grad, source_index):
        out[i] = g
    return out


def broadcast_backward(grad, source_index, size):
    """Add each output value's gradient into the input position it was read from; size: the input's values."""
    out = [0.0] * size
    for g, i in zip(grad, source_index):
        out[i] += g
    return out


def repeat_backward(grad, n):
    size = len(grad) // n
    return [math.fsum(grad[k * size + i] for k in range(n)) for i in range(size)]


def concatenate_backward(grad, *chunks):
    """Split the gradient into the inputs' chunks (sizes as concatenate_forward takes them)."""
    outer = len(grad) // sum(chunks)
    parts = [[] for _ in chunks]
    position = 0
    for _ in range(outer):
        for part, chunk in zip(parts, chunks):
            part.extend(grad[position:position + chunk])
            position += chunk
    return parts


def add_backward(grad, count):
    return [list(grad) for _ in range(count)]


def subtract_backward(grad):
    return [list(grad), [-g for g in grad]]


def divide_backward(grad, a, b):
    """TensorFlow's RealDiv gradient: a gets g / b, b gets g * ((-a / b) / b), a and b read as the forward did."""
    a, b = [_flush(v) for v in a], [_flush(v) for v in b]
    return [[_div(g, y) for g, y in zip(grad, b)],
            [g * _f32(_div(_f32(_div(-x, y)), y)) for g, x, y in zip(grad, a, b)]]


def multiply_backward(grad, *inputs):
    """((x0 * x1) * x2) * ...: each input gets the gradient times the other factors, in the fold's order."""
    prefix = [list(inputs[0])]
    for values in inputs[1:-1]:
        prefix.append([_f32(p * v) for p, v in zip(prefix[-1], values)])
    grads = [None] * len(inputs)
    running = list(grad)
    for k in range(len(inputs) - 1, 0, -1):
        grads[k] = [g * p for g, p in zip(running, prefix[k - 1])]
        running = [g * v for g, v in zip(running, inputs[k])]
    grads[0] = running
    return grads


def average_backward(grad, count):
    return [[g / count for g in grad] for _ in range(count)]


def _route_fold(grad, inputs, first_wins, fold):
    """max or min folded left to right: each value's gradient goes to the input that won (ties: the fold so far)."""
    best = [list(inputs[0])]
    for values in inputs[1:-1]:
        best.append([fold(a, b) for a, b in zip(best[-1], values)])
    grads = [None] * len(inputs)
    running = list(grad)
    for k in range(len(inputs) - 1, 0, -1):
        kept = [first_wins(a, b) for a, b in zip(best[k - 1], inputs[k])]
        grads[k] = [0.0 if w else g for g, w in zip(running, kept)]
        running = [g if w else 0.0 for g, w in zip(running, kept)]
    grads[0] = running
    return grads


def maximum_backward(grad, *inputs):
    return _route_fold(grad, inputs, lambda a, b: a >= b, _max)  # TensorFlow: x >= y gets it


def minimum_backward(grad, *inputs):
    return _route_fold(grad, inputs, lambda a, b: a <= b, _min)


def dot_backward(grad, a, b, normalize):
    """out = [sum(a * b)]: d/da = grad * b, d/db = grad * a (of the normalized vectors when normalize)."""
    g = grad[0]
    if not normalize:
        return [[g * v for v in b], [g * v for v in a]]
    a_unit = [_f32(v) for v in unit_norm_forward(a, 1, len(a), 1e-7, "inverse")]
    b_unit = [_f32(v) for v in unit_norm_forward(b, 1, len(b), 1e-7, "inverse")]
    return [unit_norm_backward([_f32(g * v) for v in b_unit], a, 1, len(a), 1e-7, "inverse"),
            unit_norm_backward([_f32(g * v) for v in a_unit], b, 1, len(b), 1e-7, "inverse")]


def matmul_backward(grad, a, b, a_index, b_index, m, k, n):
    """out[t] = a[at] @ b[bt]: a[at] gets grad[t] @ b[bt]^T, b[bt] gets a[at]^T @ grad[t], summed over t."""
    grad_a, grad_b = [0.0] * len(a), [0.0] * len(b)
    for t, (at, bt) in enumerate(zip(a_index, b_index)):
        g = grad[t * m * n:(t + 1) * m * n]
        x, xa = a[at * m * k:(at + 1) * m * k], at * m * k
        y, yb = b[bt * k * n:(bt + 1) * k * n], bt * k * n
        for i in range(m):
            for p in range(k):
                grad_a[xa + i * k + p] += sum(g[i * n + j] * y[p * n + j] for j in range(n))
        for p in range(k):
            for j in range(n):
                grad_b[yb + p * n + j] += sum(x[i * k + p] * g[i * n + j] for i in range(m))
    return [grad_a, grad_b]


def reduce_backward(grad, x, y, rows, n, function):
    """TensorFlow's gradients: sum sends g to every value, mean g / n; max and min share g among the
    values equal to the result, (x == y) / count * g (a row whose result is NaN gets NaN throughout)."""
    out = []
    for r, row in enumerate(_rows(x, n)):
        g = grad[r]
        if function == "sum":
            out.extend([g] * n)
        elif function == "mean":
            out.extend([_div(g, float(n))] * n)
        else:
            hits = [1.0 if v == y[r] else 0.0 for v in row]
            count = sum(hits)
            out.extend([_f32(_div(h, count)) * g for h in hits])
    return out


def slice_backward(grad, source_index, size):
    """Each output value's gradient into the input position it was read from; the rest of the input gets 0."""
    return broadcast_backward(grad, source_index, size)
