"""numpy activation kernels, in place on float32 arrays; mirrors activations_python.py name for name.

Every kernel is `<name>_forward(x, rows, n, *params)`: x is a float32 (batch, rows*n)
array the kernel owns, n the last axis (for glu, the input's), params the record's
parameters in the order runtime_py/activations.py lists them. Kernels return x, or
a new array when the shape changes (glu). Each follows what Keras 3 computes on
TensorFlow (keras/src/backend/tensorflow/nn.py) operation for operation, in float32,
so infinities, zeros and NaN land where Keras puts them. The engine runs kernels
under np.errstate(all="ignore"): overflow to inf and inf - inf = NaN are intended.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
# TF's softplus switches formula at log(float32 epsilon) + 2 (tensorflow/core/kernels/softplus_op.h).
SOFTPLUS_THRESHOLD = F32(np.log(np.finfo(np.float32).eps)) + F32(2)
ONE = np.ones((), dtype=F32)  # a 0-d array: ufuncs take it faster than the scalar F32(1)
ZERO = np.zeros((), dtype=F32)
SELU_SCALE = F32(1.0507009873554804934193349852946)  # tensorflow/core/kernels/relu_op_functor.h
SELU_SCALE_ALPHA = F32(1.7580993408473768599402175208123)


# ---- helpers (not kernels) -----------------------------------------------------------


def _relu(x):
    """max(x, 0) with NaN kept, as tf.nn.relu."""
    return np.where(x > 0, x, np.where(np.isnan(x), x, F32(0)))


def _clip(x, low, high):
    """tf.clip_by_value: minimum(x, high) then maximum(., low); NaN stays NaN."""
    return np.maximum(np.minimum(x, F32(high)), F32(low))  # np.minimum/maximum propagate NaN


def _sigmoid(x):
    return sigmoid_into(np.array(x, dtype=F32))  # a float32 copy: x stays intact


def sigmoid_into(x, scratch=None, sign=None):
    """TF's overflow-free sigmoid, written over x: 1 / (1 + e) where x >= 0, e / (1 + e) elsewhere, e = exp(-|x|).

    The same float32 operations as np.where(x >= 0, 1 / (1 + e), e / (1 + e)), value for value,
    in seven cheap array passes and no temporaries: e (<= 1, never overflows) goes into scratch,
    sign(x) into sign and 1 + e into x; the numerator max(e, sign(x)) is 1 where x > 0, e where
    x < 0, and 1 = e at x = +-0 (NaN stays NaN); it is divided by 1 + e in place. scratch and sign
    are float32 arrays of x's shape, which a caller may keep to reuse across calls.
    """
    if scratch is None:
        scratch = np.empty_like(x)
    if sign is None:
        sign = np.empty_like(x)
    np.abs(x, out=scratch)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    np.sign(x, out=sign)
    np.add(scratch, ONE, out=x)
    np.maximum(scratch, sign, out=scratch)
    return np.divide(scratch, x, out=x)


def _softplus(x):
    """tf.math.softplus: x above -threshold, exp(x) below threshold, log1p(exp(x)) between."""
    e = np.exp(np.minimum(x, -SOFTPLUS_THRESHOLD))  # the clamp only avoids a useless overflow
    return np.where(x > -SOFTPLUS_THRESHOLD, x, np.where(x < SOFTPLUS_THRESHOLD, e, np.log1p(e))).astype(F32)


def _erfc(z):
    """erfc in float64 with relative error < 1.2e-7 (Numerical Recipes' erfcc); numpy has no erfc."""
    z = z.astype(np.float64)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    tail = t * np.exp(-a * a + poly)
    return np.where(z >= 0, tail, 2.0 - tail)


def _write(x, values):
    x[...] = values
    return x


# ---- kernels -----------------------------------------------------------------------------


def celu_forward(x, rows, n, alpha):
    a = F32(alpha)
    return _write(x, np.maximum(x, F32(0)) + a * np.expm1(np.minimum(x, F32(0)) / a))


def elu_forward(x, rows, n, alpha):
    # tf.nn.elu is exp(x) - 1 (not expm1) below 0; Keras scales by alpha only where x <= 0.
    res = np.where(x < 0, np.exp(x) - F32(1), x)
    if alpha != 1:
        res = np.where(x > 0, res, F32(alpha) * res)
    return _write(x, res)


def exponential_forward(x, rows, n):
    return np.exp(x, out=x)


def gelu_forward(x, rows, n, approximate):
    half_x = F32(0.5) * x
    if approximate:
        inner = F32(0.7978845608028654) * (x + F32(0.044715) * (x * x * x))
        return _write(x, half_x * (F32(1) + np.tanh(inner)))
    # tf.nn.gelu(approximate=False) = 0.5 * x * erfc(-x * 0.70710677), accurate in the far tail
    return _write(x, half_x * _erfc(-x * F32(0.7071067811865476)).astype(F32))


def glu_forward(x, rows, n):
    """Split each row of n values in halves a, b; return a * sigmoid(b): (batch, rows*n/2)."""
    groups = x.reshape(x.shape[0], rows, n)
    half = n // 2
    a, b = groups[:, :, :half], groups[:, :, half:]
    gate = _sigmoid(b)
    gate[gate < np.finfo(F32).tiny] = 0  # TF flushes subnormals to 0: -inf * sigmoid(-100) is NaN there
    return (a * gate).reshape(x.shape[0], -1)


def hard_shrink_forward(x, rows, n, threshold):
    return _write(x, np.where(np.abs(x) > F32(threshold), x, F32(0)))


def _hard_sigmoid(x):
    return _clip(x + F32(3), 0, 6) / F32(6)  # relu6(x + 3) / 6


def hard_sigmoid_forward(x, rows, n):
    return _write(x, _hard_sigmoid(x))


def hard_silu_forward(x, rows, n):
    return _write(x, x * _hard_sigmoid(x))


def hard_tanh_forward(x, rows, n):
    return _write(x, _clip(x, -1, 1))


def leaky_relu_forward(x, rows, n, negative_slope):
    return _write(x, np.where(x > 0, x, x * F32(negative_slope)))


def linear_forward(x, rows, n):
    return x


def log_sigmoid_forward(x, rows, n):
    return _write(x, -_softplus(-x))


def log_softmax_forward(x, rows, n):
    """x - max - log(sum(exp(x - max))) over each row of n values (the last axis)."""
    groups = x.reshape(-1, n)
    groups -= groups.max(axis=1, keepdims=True)
    groups -= np.log(np.exp(groups).sum(axis=1, keepdims=True))
    return x


def mish_forward(x, rows, n):
    return _write(x, x * np.tanh(_softplus(x)))


def relu_forward(x, rows, n, negative_slope, has_max_value, max_value, threshold):
    """Keras's ReLU.static_call, branch for branch (keras/src/activations/activations.py)."""
    if negative_slope != 0 and not has_max_value and threshold == 0:
        return leaky_relu_forward(x, rows, n, negative_slope)
    if negative_slope == 0 and not has_max_value and threshold == 0:  # plain relu, the common case
        return np.maximum(x, F32(0), out=x)  # np.maximum keeps NaN
    if negative_slope != 0:
        negative_part = _relu(-x + F32(threshold))
    clip_max = has_max_value
    if threshold != 0:
        y = np.where(x > F32(threshold), x, F32(0))
    elif has_max_value and max_value == 6:
        y = _clip(x, 0, 6)  # tf.nn.relu6
        clip_max = False
    else:
        y = _relu(x)
    if clip_max:
        y = _clip(y, 0, max_value)
    if negative_slope != 0:
        y = y - F32(negative_slope) * negative_part
    return _write(x, y)


def relu6_forward(x, rows, n):
    return _write(x, _clip(x, 0, 6))


def selu_forward(x, rows, n):
    return _write(x, np.where(x < 0, SELU_SCALE_ALPHA * (np.exp(x) - F32(1)), SELU_SCALE * x))


def sigmoid_forward(x, rows, n):
    return sigmoid_into(x)


def silu_forward(x, rows, n):
    return _write(x, x * _sigmoid(x))


def soft_shrink_forward(x, rows, n, threshold):
    t = F32(threshold)
    return _write(x, np.where(x > t, x - t, np.where(x < -t, x + t, F32(0))))


def softmax_forward(x, rows, n):
    """exp(x - max) / sum(exp(x - max)) over each row of n values (the last axis)."""
    groups = x.reshape(-1, n)
    # np.maximum.reduce and np.add.reduce are what .max() and .sum() run, without their Python wrappers
    np.subtract(groups, np.maximum.reduce(groups, axis=1, keepdims=True), out=groups)
    np.exp(groups, out=groups)
    np.divide(groups, np.add.reduce(groups, axis=1, keepdims=True), out=groups)
    return x


def softplus_forward(x, rows, n):
    return _write(x, _softplus(x))


def softsign_forward(x, rows, n):
    return _write(x, x / (F32(1) + np.abs(x)))


def sparse_plus_forward(x, rows, n):
    return _write(x, np.where(x <= -1, F32(0), np.where(x < 1, F32(0.25) * np.square(x + F32(1)), x)))


def sparse_sigmoid_forward(x, rows, n):
    return _write(x, np.where(x <= -1, F32(0), np.where(x >= 1, F32(1), F32(0.5) * (x + F32(1)))))


def sparsemax_forward(x, rows, n):
    """Keras 3.15's sparsemax over each row of n values, including its bug.

    Keras 3.15 (keras/src/backend/tensorflow/nn.py) computes
    tau = (sum over the support of cumsum(sorted) - 1) / k instead of
    (cumsum at k - 1) / k, so rows do not sum to 1 (keras-team/keras#23425).
    Matching model.predict means matching that: this is version-dependent.
    """
    groups = x.reshape(-1, n)
    ordered = np.sort(groups, axis=1)[:, ::-1]  # descending, NaN first (as tf.sort)
    cumsum = np.cumsum(ordered, axis=1, dtype=F32)
    r = np.arange(1, n + 1, dtype=F32)
    support = ordered - (cumsum - F32(1)) / r > 0
    k = support.sum(axis=1, keepdims=True, dtype=F32)
    tau = (np.where(support, cumsum, F32(0)).sum(axis=1, keepdims=True, dtype=F32) - F32(1)) / k
    groups[...] = np.maximum(groups - tau, F32(0))
    return x


def squareplus_forward(x, rows, n, b):
    return _write(x, (x + np.sqrt(np.square(x) + F32(b))) / F32(2))


def tanh_forward(x, rows, n):
    return np.tanh(x, out=x)


def tanh_shrink_forward(x, rows, n):
    return _write(x, x - np.tanh(x))


def threshold_forward(x, rows, n, threshold, default_value):
    # TF compares with subnormals read as 0 (denormals-are-zero): 1e-40 > 0 is false there
    tiny = np.finfo(F32).tiny
    t = F32(threshold) if abs(F32(threshold)) >= tiny else F32(0)
    return _write(x, np.where(np.where(np.abs(x) < tiny, F32(0), x) > t, x, F32(default_value)))


def thresholded_relu_steps(x, theta):
    """1 where x > theta, else 0 (float32), comparing as threshold_forward does."""
    tiny = np.finfo(F32).tiny
    t = F32(theta) if abs(F32(theta)) >= tiny else F32(0)
    return (np.where(np.abs(x) < tiny, F32(0), x) > t).astype(F32)


def thresholded_relu_forward(x, rows, n, theta):
    # Keras 2: x * cast(x > theta), a multiplication (NaN and -inf give NaN)
    return _write(x, x * thresholded_relu_steps(x, theta))


# ---- elementwise math of keras.ops (functional models calling them on tensors) ----------------


def abs_forward(x, rows, n):
    return np.abs(x, out=x)


def square_forward(x, rows, n):
    return np.multiply(x, x, out=x)


def flush_subnormals(x):
    """Subnormal inputs read as zeros of their sign, as TensorFlow's denormals-are-zero reads them."""
    return np.where(np.abs(x) < np.finfo(F32).tiny, x * ZERO, x)


def sqrt_forward(x, rows, n):
    return np.sqrt(flush_subnormals(x), out=x)


def log_forward(x, rows, n):
    return np.log(flush_subnormals(x), out=x)


def clip_forward(x, rows, n, low, high):
    return _write(x, _clip(x, low, high))


def maximum_constant_forward(x, rows, n, value):
    c = F32(value)
    return _write(x, np.where(x < c, c, x))  # tf.maximum: NaN and ties keep x


def minimum_constant_forward(x, rows, n, value):
    c = F32(value)
    return _write(x, np.where(x > c, c, x))


def divide_by_forward(x, rows, n, divisor):
    return np.divide(flush_subnormals(x), F32(divisor), out=x)


def divide_into_forward(x, rows, n, dividend):
    return np.divide(F32(dividend), flush_subnormals(x), out=x)
