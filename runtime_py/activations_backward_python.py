"""Pure-Python backward rules: one per IR activation, standard library only.

Every rule is `<name>_backward(grad, x, y, rows, n, *params)`: grad is the gradient arriving at
the activation's output, x its input and y its output (flat lists of float32 values, never
written), n the last axis (for glu, the input's), params the record's parameters in the order
runtime_py/activations.py lists them. A rule returns the gradient for x as a new list. Mirrors
activations_backward_numpy.py (which says whose gradient each rule is: TensorFlow's, op for op)
and runtime_c/backward/<name>.h.

Arithmetic is in double precision; the engine rounds each gradient to float32. Where float32
would overflow (exp, squares) the value is rounded to float32 on the spot (_f32), so inf, 0 and
NaN land where TensorFlow puts them.
"""

from __future__ import annotations

import math

from runtime_py.activations_python import (EXP_LIMIT, FLT_MIN, INF, SELU_SCALE, SELU_SCALE_ALPHA, _div, _f32,
                                           _flush, _hard_sigmoid, _rows, _sigmoid, _softplus, thresholded_relu_steps)

TWO_OVER_ROOT_PI = _f32(2.0 / math.sqrt(math.pi))


def _exp32(v: float) -> float:
    """exp in float32 range: inf above ~88.7 (math.exp raises instead)."""
    return _f32(math.exp(min(v, EXP_LIMIT)))


def _relu_grad(g: float, features: float) -> float:
    """TensorFlow's ReluGrad: g * (features > 0), a multiplication (inf * 0 is NaN)."""
    return g * (1.0 if features > 0.0 else 0.0)


def _relu6_grad(g: float, features: float) -> float:
    return g * (1.0 if 0.0 < features < 6.0 else 0.0)


def _softplus_grad(g: float, features: float) -> float:
    """TensorFlow's SoftplusGrad: g / (exp(-features) + 1)."""
    return _div(g, _exp32(-features) + 1.0)


def _tanh_grad(g: float, output: float) -> float:
    return g * (1.0 - output * output)


def _sigmoid_grad(g: float, output: float) -> float:
    return g * output * (1.0 - output)


def _clip_grad(g: float, v: float, low: float, high: float) -> float:
    """tf.clip_by_value = maximum(minimum(v, high), low): a tie passes the gradient, NaN does not."""
    return g if v <= high and min(v, high) >= low else 0.0


def _hard_sigmoid_grad(g: float, v: float) -> float:
    return _relu6_grad(g / 6.0, _f32(v + 3.0))


# ---- rules -------------------------------------------------------------------------------


def celu_backward(grad, x, y, rows, n, alpha):
    a = _f32(alpha)
    out = []
    for g, v in zip(grad, x):
        total = g if v >= 0.0 else 0.0
        if v <= 0.0:
            total += _div(g * a * _exp32(_f32(_div(v, a))), a)
        out.append(total)
    return out


def elu_backward(grad, x, y, rows, n, alpha):
    if alpha == 1:
        return [(r + 1.0) * g if r < 0.0 else g for g, r in zip(grad, y)]
    a = _f32(alpha)
    out = []
    for g, v in zip(grad, x):
        r = _exp32(v) - 1.0 if v < 0.0 else v
        g = g if v > 0.0 else a * g
        out.append((r + 1.0) * g if r < 0.0 else g)
    return out


def exponential_backward(grad, x, y, rows, n):
    return [g * e for g, e in zip(grad, y)]


def gelu_backward(grad, x, y, rows, n, approximate):
    out = []
    if approximate:
        s, c = _f32(0.7978845608028654), _f32(0.044715)
        for g, v in zip(grad, x):
            square = _f32(v * v)
            t = math.tanh(_f32(s * _f32(v + c * _f32(square * v))))
            inner = _tanh_grad(g * _f32(0.5 * v), t) * s
            out.append(g * (1.0 + t) * 0.5 + inner + inner * c * 3.0 * square)
        return out
    c = _f32(0.7071067811865476)
    for g, v in zip(grad, x):
        u = _f32(-v * c)
        through_erfc = g * _f32(0.5 * v) * -TWO_OVER_ROOT_PI * _exp32(-_f32(u * u))
        out.append(g * math.erfc(u) * 0.5 - through_erfc * c)
    return out


def glu_backward(grad, x, y, rows, n):
    """x: rows*n values, grad: rows*n/2: per row [grad * sigmoid(b), sigmoid'(b) * grad * a]."""
    half = n // 2
    out = []
    for row, g in zip(_rows(x, n), _rows(grad, half)):
        gates = [_f32(_sigmoid(b)) for b in row[half:]]
        gates = [s if s >= FLT_MIN or s != s else 0.0 for s in gates]
        out.extend([d * s for d, s in zip(g, gates)])
        out.extend([_sigmoid_grad(d * a, s) for d, a, s in zip(g, row[:half], gates)])
    return out


def hard_shrink_backward(grad, x, y, rows, n, threshold):
    t = _f32(threshold)
    return [g if abs(v) > t else 0.0 for g, v in zip(grad, x)]


def hard_sigmoid_backward(grad, x, y, rows, n):
    return [_hard_sigmoid_grad(g, v) for g, v in zip(grad, x)]


def hard_silu_backward(grad, x, y, rows, n):
    return [g * _f32(_hard_sigmoid(v)) + _hard_sigmoid_grad(g * v, v) for g, v in zip(grad, x)]


def hard_tanh_backward(grad, x, y, rows, n):
    return [_clip_grad(g, v, -1.0, 1.0) for g, v in zip(grad, x)]


def leaky_relu_backward(grad, x, y, rows, n, negative_slope):
    s = _f32(negative_slope)
    return [g if v > 0.0 else g * s for g, v in zip(grad, x)]


def linear_backward(grad, x, y, rows, n):
    return list(grad)


def log_sigmoid_backward(grad, x, y, rows, n):
    return [_softplus_grad(g, -v) for g, v in zip(grad, x)]


def log_softmax_backward(grad, x, y, rows, n):
    out = []
    for g, s in zip(_rows(grad, n), _rows(y, n)):
        total = math.fsum(g)
        out.extend([d - total * _exp32(v) for d, v in zip(g, s)])
    return out


def mish_backward(grad, x, y, rows, n):
    out = []
    for g, v in zip(grad, x):
        t = _f32(math.tanh(_f32(_softplus(v))))
        out.append(g * t + _softplus_grad(_tanh_grad(g * v, t), v))
    return out


def relu_backward(grad, x, y, rows, n, negative_slope, has_max_value, max_value, threshold):
    """Keras's ReLU.static_call, branch for branch (see relu_forward)."""
    if negative_slope != 0 and not has_max_value and threshold == 0:
        return leaky_relu_backward(grad, x, y, rows, n, negative_slope)
    slope, top, t = _f32(negative_slope), _f32(max_value), _f32(threshold)
    relu6 = threshold == 0 and has_max_value and max_value == 6
    out = []
    for g, v in zip(grad, x):
        if threshold != 0:
            kept = v if v > t else 0.0
        else:
            kept = v if v > 0.0 or v != v else 0.0
        d = _clip_grad(g, kept, 0.0, top) if has_max_value and not relu6 else g
        if threshold != 0:
            d = d if v > t else 0.0
        elif relu6:
            d = _relu6_grad(d, v)
        else:
            d = _relu_grad(d, v)
        if negative_slope != 0:
            d -= _relu_grad(-(g * slope), _f32(-v + t))
        out.append(d)
    return out


def relu6_backward(grad, x, y, rows, n):
    return [_relu6_grad(g, v) for g, v in zip(grad, x)]


def selu_backward(grad, x, y, rows, n):
    return [g * (r + SELU_SCALE_ALPHA) if r < 0.0 else g * SELU_SCALE for g, r in zip(grad, y)]


def sigmoid_backward(grad, x, y, rows, n):
    return [_sigmoid_grad(g, s) for g, s in zip(grad, y)]


def silu_backward(grad, x, y, rows, n):
    out = []
    for g, v in zip(grad, x):
        s = _f32(_sigmoid(v))
        out.append(g * (s * (1.0 + v * (1.0 - s))))
    return out


def soft_shrink_backward(grad, x, y, rows, n, threshold):
    t = _f32(threshold)
    return [g if v > t or v < -t else 0.0 for g, v in zip(grad, x)]


def softmax_backward(grad, x, y, rows, n):
    out = []
    for g, s in zip(_rows(grad, n), _rows(y, n)):
        total = math.fsum(d * p for d, p in zip(g, s))
        out.extend([(d - total) * p for d, p in zip(g, s)])
    return out


def softplus_backward(grad, x, y, rows, n):
    return [_softplus_grad(g, v) for g, v in zip(grad, x)]


def softsign_backward(grad, x, y, rows, n):
    return [_div(g, _f32((1.0 + abs(v)) ** 2)) for g, v in zip(grad, x)]


def sparse_plus_backward(grad, x, y, rows, n):
    out = []
    for g, v in zip(grad, x):
        inner = g if not v <= -1.0 else 0.0
        through_pow = (inner if v < 1.0 else 0.0) * 0.25 * 2.0 * _f32(v + 1.0)  # NaN at +-inf, as in TF
        out.append(through_pow + (inner if not v < 1.0 else 0.0))
    return out


def sparse_sigmoid_backward(grad, x, y, rows, n):
    return [0.5 * g if not v <= -1.0 and not v >= 1.0 else 0.0 for g, v in zip(grad, x)]


def sparsemax_backward(grad, x, y, rows, n):
    """Keras 3.15's sparsemax differentiated as TensorFlow does (see activations_backward_numpy)."""
    out = []
    for group, g in zip(_rows(x, n), _rows(grad, n)):
        order = sorted(range(n), key=lambda i: -group[i])  # descending; sorted() keeps ties in index order
        cumsum, running = [], 0.0
        for i in order:
            running = _f32(running + group[i])
            cumsum.append(running)
        support = [_f32(group[i] - _f32(_f32(c - 1.0) / r)) > 0.0 for r, (i, c) in enumerate(zip(order, cumsum), 1)]
        k = sum(support)
        total = 0.0
        for c, inside in zip(cumsum, support):
            if inside:
                total = _f32(total + c)
        tau = _f32(_f32(total - 1.0) / k) if k else _f32(total - 1.0) * INF
        passed = [d if _f32(v - tau) >= 0.0 else 0.0 for d, v in zip(g, group)]
        share = _div(-math.fsum(passed), float(k))  # the gradient of tau's sum (rows without support: 0)
        through_tau = 0.0
        result = list(passed)
        for position in range(n - 1, -1, -1):  # one share per support position at or after this one
            if support[position]:
                through_tau += share
            result[order[position]] += through_tau
        out.extend(result)
    return out


def squareplus_backward(grad, x, y, rows, n, b):
    bb = _f32(b)
    out = []
    for g, v in zip(grad, x):
        half = g / 2.0
        u = _f32(_f32(v * v) + bb)
        root = math.sqrt(u) if u >= 0.0 else math.nan
        out.append(half + _div(0.5 * half, root) * (2.0 * v))
    return out


def tanh_backward(grad, x, y, rows, n):
    return [_tanh_grad(g, t) for g, t in zip(grad, y)]


def tanh_shrink_backward(grad, x, y, rows, n):
    return [g - _tanh_grad(g, _f32(math.tanh(v))) for g, v in zip(grad, x)]


def threshold_backward(grad, x, y, rows, n, threshold, default_value):
    t = _f32(threshold)
    t = 0.0 if abs(t) < FLT_MIN else t
    return [g if (v if abs(v) >= FLT_MIN or v != v else 0.0) > t else 0.0 for g, v in zip(grad, x)]


def thresholded_relu_backward(grad, x, y, rows, n, theta):
    # through the multiplication x * step: g * step (an inf or NaN g gives NaN where the step is 0)
    return [g * s for g, s in zip(grad, thresholded_relu_steps(x, theta))]


# ---- elementwise math of keras.ops -----------------------------------------------------------


def _sign(v: float) -> float:
    """tf.sign: -1, 0 or 1; NaN for NaN."""
    return 1.0 if v > 0.0 else (-1.0 if v < 0.0 else (0.0 if v == 0.0 else math.nan))


def abs_backward(grad, x, y, rows, n):
    return [g * _sign(v) for g, v in zip(grad, x)]  # TensorFlow's AbsGrad: g * sign(x)


def square_backward(grad, x, y, rows, n):
    return [g * _f32(2.0 * v) for g, v in zip(grad, x)]  # g * (2 * x)


def sqrt_backward(grad, x, y, rows, n):
    # TensorFlow's SqrtGrad (cwise_ops_gradients.h): 0 where g is 0, else (0.5 * g) / y
    return [_div(_f32(0.5 * g), r) if g != 0.0 else 0.0 for g, r in zip(grad, y)]


def log_backward(grad, x, y, rows, n):
    return [g * _f32(_div(1.0, _flush(v))) for g, v in zip(grad, x)]  # g * reciprocal(x), x read as the forward did


def clip_backward(grad, x, y, rows, n, low, high):
    lo, hi = _f32(low), _f32(high)
    return [_clip_grad(g, v, lo, hi) for g, v in zip(grad, x)]


def maximum_constant_backward(grad, x, y, rows, n, value):
    c = _f32(value)
    return [g if v >= c else 0.0 for g, v in zip(grad, x)]  # tf.maximum's gradient: x >= c takes it


def minimum_constant_backward(grad, x, y, rows, n, value):
    c = _f32(value)
    return [g if v <= c else 0.0 for g, v in zip(grad, x)]


def divide_by_backward(grad, x, y, rows, n, divisor):
    d = _f32(divisor)
    return [_div(g, d) for g in grad]  # RealDiv's gradient: g / divisor


def divide_into_backward(grad, x, y, rows, n, dividend):
    c = _f32(dividend)
    return [g * _f32(_div(_f32(_div(-c, _flush(v))), _flush(v))) for g, v in zip(grad, x)]  # g * ((-c / x) / x)
