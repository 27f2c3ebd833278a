"""Pure-Python activation kernels: one per IR activation, standard library only.

Every kernel is `<name>_forward(x, rows, n, *params)`: x is a flat list of rows*n
values (n = the last axis; for glu, the input's), params are the activation
record's parameters in the order runtime_py/activations.py lists them. Kernels
return the output list. Mirrors activations_numpy.py and runtime_c/<name>.h
(kl_<name>_forward(out, inp, rows, n, params...)).

Arithmetic is in double precision and the engine rounds each node's output to
float32. Where Keras's float32 arithmetic would overflow, underflow or round a
comparison differently, the value is rounded to float32 on the spot (_f32), so
inf, 0 and NaN land where Keras puts them. math.exp and math.expm1 raise instead
of overflowing, so their arguments are clamped where float32 would give inf anyway.
"""

from __future__ import annotations

import math
from array import array

INF = math.inf
_ROUND = array("f", [0.0])


def _f32(v: float) -> float:
    """Round to the nearest float32 (overflow gives inf, as in float32 arithmetic)."""
    _ROUND[0] = v
    return _ROUND[0]


# TF's softplus switches formula at log(float32 epsilon) + 2 (tensorflow/core/kernels/softplus_op.h).
SOFTPLUS_THRESHOLD = _f32(_f32(math.log(_f32(2.0 ** -23))) + 2.0)
SELU_SCALE = _f32(1.0507009873554804934193349852946)  # tensorflow/core/kernels/relu_op_functor.h
SELU_SCALE_ALPHA = _f32(1.7580993408473768599402175208123)
FLT_MIN = 2.0 ** -126  # the smallest normal float32
EXP_LIMIT = 100.0  # exp(100) is far above the float32 range: clamping there changes nothing


def _exp(v: float) -> float:
    return math.exp(min(v, EXP_LIMIT))  # min(NaN, 100.0) is NaN


def _relu(v: float) -> float:
    """max(v, 0) with NaN kept, as tf.nn.relu."""
    return v if v > 0.0 or v != v else 0.0


def _clip(v: float, low: float, high: float) -> float:
    """tf.clip_by_value: minimum(v, high) then maximum(., low); NaN stays NaN."""
    if v != v:
        return v
    v = high if v > high else v
    return low if v < low else v


def _sigmoid(v: float) -> float:
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)  # v < 0 or NaN: exp cannot overflow
    return e / (1.0 + e)


def _softplus(v: float) -> float:
    """tf.math.softplus: v above -threshold, exp(v) below threshold, log1p(exp(v)) between."""
    if v > -SOFTPLUS_THRESHOLD:
        return v
    if v < SOFTPLUS_THRESHOLD:
        return math.exp(v)
    return math.log1p(math.exp(v))  # also NaN


def _div(a: float, b: float) -> float:
    """IEEE division: Python raises on b == 0, float32 arithmetic gives inf or NaN."""
    if b == 0.0:
        return math.nan if a == 0.0 or a != a else math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def _rows(x, n):
    return [x[start:start + n] for start in range(0, len(x), n)]


# ---- kernels -----------------------------------------------------------------------------


def celu_forward(x, rows, n, alpha):
    a = _f32(alpha)
    out = []
    for v in x:
        negative = _f32(_div(min(v, 0.0), a)) if v == v else v
        positive = v if v > 0.0 or v != v else 0.0  # tf.maximum(-0.0, 0.0) is 0.0
        out.append(positive + _f32(a * _f32(math.expm1(min(negative, EXP_LIMIT)))))
    return out


def elu_forward(x, rows, n, alpha):
    # tf.nn.elu is exp(x) - 1 (not expm1) below 0; Keras scales by alpha only where x <= 0.
    out = [_f32(math.exp(v)) - 1.0 if v < 0.0 else v for v in x]
    if alpha != 1:
        a = _f32(alpha)
        out = [r if v > 0.0 else a * r for v, r in zip(x, out)]
    return out


def exponential_forward(x, rows, n):
    return [_exp(v) for v in x]


def gelu_forward(x, rows, n, approximate):
    out = []
    if approximate:
        coeff, scale = _f32(0.044715), _f32(0.7978845608028654)
        for v in x:
            cube = _f32(_f32(v * v) * v)  # float32 overflow, as tf.pow(x, 3)
            inner = _f32(scale * _f32(v + _f32(coeff * cube)))
            out.append(_f32(0.5 * v) * _f32(1.0 + math.tanh(inner)))
        return out
    # tf.nn.gelu(approximate=False) = 0.5 * x * erfc(-x * 0.70710677), accurate in the far tail
    root_half = _f32(0.7071067811865476)
    return [_f32(0.5 * v) * _f32(math.erfc(_f32(-v * root_half))) for v in x]


def glu_forward(x, rows, n):
    """Split each row of n values in halves a, b; return a * sigmoid(b): rows*n/2 values."""
    half = n // 2
    out = []
    for row in _rows(x, n):
        gates = [_f32(_sigmoid(b)) for b in row[half:]]
        # TF flushes subnormal results to 0, so -inf * sigmoid(-100) is NaN there, not -inf.
        gates = [g if g >= FLT_MIN or g != g else 0.0 for g in gates]
        out.extend([a * g for a, g in zip(row[:half], gates)])
    return out


def hard_shrink_forward(x, rows, n, threshold):
    t = _f32(threshold)
    return [v if abs(v) > t else 0.0 for v in x]


def _hard_sigmoid(v: float) -> float:
    return _clip(_f32(v + 3.0), 0.0, 6.0) / 6.0  # relu6(x + 3) / 6


def hard_sigmoid_forward(x, rows, n):
    return [_hard_sigmoid(v) for v in x]


def hard_silu_forward(x, rows, n):
    return [v * _f32(_hard_sigmoid(v)) for v in x]


def hard_tanh_forward(x, rows, n):
    return [_clip(v, -1.0, 1.0) for v in x]


def leaky_relu_forward(x, rows, n, negative_slope):
    s = _f32(negative_slope)
    return [v if v > 0.0 else v * s for v in x]


def linear_forward(x, rows, n):
    return x


def log_sigmoid_forward(x, rows, n):
    return [-_softplus(-v) for v in x]


def log_softmax_forward(x, rows, n):
    """x - max - log(sum(exp(x - max))) over each row of n values (the last axis)."""
    out = []
    for group in _rows(x, n):
        top = max(group) if all(v == v for v in group) else math.nan
        shifted = [_f32(v - top) for v in group]  # <= 0: no overflow
        log_total = _f32(math.log(math.fsum(math.exp(s) for s in shifted)))
        out.extend([s - log_total for s in shifted])
    return out


def mish_forward(x, rows, n):
    return [v * _f32(math.tanh(_f32(_softplus(v)))) for v in x]


def relu_forward(x, rows, n, negative_slope, has_max_value, max_value, threshold):
    """Keras's ReLU.static_call, branch for branch (keras/src/activations/activations.py)."""
    if negative_slope != 0 and not has_max_value and threshold == 0:
        return leaky_relu_forward(x, rows, n, negative_slope)
    if negative_slope == 0 and not has_max_value and threshold == 0:  # plain relu, the common case
        return [v if v > 0.0 or v != v else 0.0 for v in x]
    slope, top, t = _f32(negative_slope), _f32(max_value), _f32(threshold)
    out = []
    for v in x:
        if threshold != 0:
            y = v if v > t else 0.0
        elif has_max_value and max_value == 6:
            y = _clip(v, 0.0, 6.0)  # tf.nn.relu6, and no further clip
        else:
            y = _relu(v)
        if has_max_value and not (threshold == 0 and max_value == 6):
            y = _clip(y, 0.0, top)
        if negative_slope != 0:
            y = y - _f32(slope * _relu(_f32(-v + t)))
        out.append(y)
    return out


def relu6_forward(x, rows, n):
    return [_clip(v, 0.0, 6.0) for v in x]


def selu_forward(x, rows, n):
    return [SELU_SCALE_ALPHA * (_f32(math.exp(v)) - 1.0) if v < 0.0 else SELU_SCALE * v for v in x]


def sigmoid_forward(x, rows, n):
    return [_sigmoid(v) for v in x]


def silu_forward(x, rows, n):
    return [v * _f32(_sigmoid(v)) for v in x]


def soft_shrink_forward(x, rows, n, threshold):
    t = _f32(threshold)
    return [v - t if v > t else (v + t if v < -t else 0.0) for v in x]


def softmax_forward(x, rows, n):
    """exp(x - max) / sum(exp(x - max)) over each row of n values (the last axis)."""
    out = []
    for group in _rows(x, n):
        top = max(group) if all(v == v for v in group) else math.nan
        exps = [math.exp(_f32(v - top)) for v in group]  # v - top <= 0: no overflow
        total = math.fsum(exps)
        out.extend([e / total for e in exps])
    return out


def softplus_forward(x, rows, n):
    return [_softplus(v) for v in x]


def softsign_forward(x, rows, n):
    return [v / (1.0 + abs(v)) for v in x]  # inf / inf is NaN, as in Keras


def sparse_plus_forward(x, rows, n):
    return [0.0 if v <= -1.0 else (0.25 * _f32(v + 1.0) ** 2 if v < 1.0 else v) for v in x]


def sparse_sigmoid_forward(x, rows, n):
    return [0.0 if v <= -1.0 else (1.0 if v >= 1.0 else 0.5 * _f32(v + 1.0)) for v in x]


def _sorted_descending(group):
    """NaN first, then the rest from largest to smallest (tf.sort of a row with NaN)."""
    nans = [v for v in group if v != v]
    return nans + sorted((v for v in group if v == v), reverse=True)


def sparsemax_forward(x, rows, n):
    """Keras 3.15's sparsemax over each row of n values, including its bug.

    Keras 3.15 (keras/src/backend/tensorflow/nn.py) computes
    tau = (sum over the support of cumsum(sorted) - 1) / k instead of
    (cumsum at k - 1) / k, so rows do not sum to 1 (keras-team/keras#23425).
    Matching model.predict means matching that: this is version-dependent.
    """
    out = []
    for group in _rows(x, n):
        cumsum, running = [], 0.0
        for v in _sorted_descending(group):
            running = _f32(running + v)  # tf.cumsum in float32
            cumsum.append((v, running))
        support = [c for r, (v, c) in enumerate(cumsum, 1) if _f32(v - _f32(_f32(c - 1.0) / r)) > 0.0]
        k = len(support)
        total = 0.0
        for c in support:
            total = _f32(total + c)
        tau = _f32(_f32(total - 1.0) / k) if k else _f32(total - 1.0) * INF  # x/0: -inf, or NaN for NaN
        out.extend([_clip(_f32(v - tau), 0.0, INF) for v in group])
    return out


def squareplus_forward(x, rows, n, b):
    bb = _f32(b)
    out = []
    for v in x:
        u = _f32(_f32(v * v) + bb)
        out.append(_f32(v + _f32(math.sqrt(u) if u >= 0.0 else math.nan)) / 2.0)  # b < 0 can make u < 0
    return out


def tanh_forward(x, rows, n):
    return [math.tanh(v) for v in x]


def tanh_shrink_forward(x, rows, n):
    return [v - _f32(math.tanh(v)) for v in x]


def threshold_forward(x, rows, n, threshold, default_value):
    # TF compares with subnormals read as 0 (denormals-are-zero): 1e-40 > 0 is false there
    t, d = _f32(threshold), _f32(default_value)
    t = 0.0 if abs(t) < FLT_MIN else t
    return [v if (v if abs(v) >= FLT_MIN or v != v else 0.0) > t else d for v in x]


def thresholded_relu_steps(x, theta):
    """1.0 where x > theta, else 0.0, comparing as threshold_forward does (subnormals as 0, NaN never above)."""
    t = _f32(theta)
    t = 0.0 if abs(t) < FLT_MIN else t
    return [1.0 if (v if abs(v) >= FLT_MIN or v != v else 0.0) > t else 0.0 for v in x]


def thresholded_relu_forward(x, rows, n, theta):
    # Keras 2: x * cast(x > theta), a multiplication, so NaN and -inf give NaN and x <= theta gives x * 0
    # (-0.0 below 0)
    return [v * s for v, s in zip(x, thresholded_relu_steps(x, theta))]


# ---- elementwise math of keras.ops (functional models calling them on tensors) ----------------


def abs_forward(x, rows, n):
    return [abs(v) for v in x]  # abs(NaN) is NaN


def square_forward(x, rows, n):
    return [v * v for v in x]  # exact in double; the engine's rounding is float32's


def _flush(v: float) -> float:
    """A subnormal input read as a zero of its sign, as TensorFlow's denormals-are-zero reads it."""
    return v * 0.0 if -FLT_MIN < v < FLT_MIN else v


def sqrt_forward(x, rows, n):
    # math.sqrt raises below 0; sqrt is correctly rounded, and so is its rounding from double to float32
    out = []
    for v in x:
        v = _flush(v)
        out.append(math.sqrt(v) if v >= 0.0 else (v if v != v else math.nan))
    return out


def log_forward(x, rows, n):
    out = []
    for v in x:
        v = _flush(v)
        if v > 0.0:
            out.append(math.log(v))  # also inf
        else:
            out.append(-INF if v == 0.0 else math.nan)  # log(+-0) = -inf; below 0 and NaN: NaN
    return out


def clip_forward(x, rows, n, low, high):
    lo, hi = _f32(low), _f32(high)
    return [_clip(v, lo, hi) for v in x]


def maximum_constant_forward(x, rows, n, value):
    c = _f32(value)
    return [c if v < c else v for v in x]  # tf.maximum: NaN (v < c false) and ties keep x


def minimum_constant_forward(x, rows, n, value):
    c = _f32(value)
    return [c if v > c else v for v in x]


def divide_by_forward(x, rows, n, divisor):
    d = _f32(divisor)
    return [_div(_flush(v), d) for v in x]  # double division rounded to float32: the float32 quotient


def divide_into_forward(x, rows, n, dividend):
    c = _f32(dividend)
    return [_div(c, _flush(v)) for v in x]
