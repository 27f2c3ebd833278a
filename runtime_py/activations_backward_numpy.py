"""numpy backward rules: one per IR activation, on float32 arrays; mirrors activations_backward_python.py.

Every rule is `<name>_backward(grad, x, y, rows, n, *params)`: grad is d(output)/d(something)
for the activation's output, x its input and y its output (float32 (batch, values) arrays, never
written), n the last axis (for glu, the input's) and params the record's parameters in the order
runtime_py/activations.py lists them. A rule returns the gradient for x as a new float32 array.

Each rule is TensorFlow's gradient of the ops Keras 3 runs for the activation
(keras/src/backend/tensorflow/nn.py), op for op in float32: ReluGrad and Relu6Grad multiply by
the mask (so an inf gradient meets 0 as NaN), LeakyReluGrad, EluGrad and SeluGrad select
(tensorflow/core/kernels/relu_op_functor.h), tf.where sends the gradient to the branch taken and
0 to the other, maximum/minimum send a tie to their first argument (x >= y, x <= y). The
conventions at the kinks this gives are tabulated in docs/format.md (Backward rules).
"""

from __future__ import annotations

import numpy as np

from runtime_py.activations_numpy import (SELU_SCALE, SELU_SCALE_ALPHA, F32, _erfc, _hard_sigmoid, _sigmoid,
                                          _softplus, flush_subnormals, thresholded_relu_steps)

ONE, HALF, ZERO = F32(1), F32(0.5), F32(0)
TINY = np.finfo(F32).tiny
TWO_OVER_ROOT_PI = F32(2.0 / np.sqrt(np.pi))  # tf.math.erfc's gradient: -2/sqrt(pi) * exp(-x^2)


def _mask(condition):
    return condition.astype(F32)


def _where(condition, grad):
    """tf.where's gradient for the branch taken where condition holds: grad there, 0 elsewhere."""
    return np.where(condition, grad, ZERO)


def _relu_grad(grad, features):
    """TensorFlow's ReluGrad: grad * (features > 0), a multiplication (inf * 0 is NaN)."""
    return grad * _mask(features > 0)


def _relu6_grad(grad, features):
    return grad * _mask((features > 0) & (features < F32(6)))


def _softplus_grad(grad, features):
    """TensorFlow's SoftplusGrad: grad / (exp(-features) + 1)."""
    return grad / (np.exp(-features) + ONE)


def _tanh_grad(grad, output):
    return grad * (ONE - output * output)


def _sigmoid_grad(grad, output):
    return grad * output * (ONE - output)


def _clip_grad(grad, x, low, high):
    """tf.clip_by_value(x, low, high) = maximum(minimum(x, high), low): a tie passes the gradient."""
    inner = np.minimum(x, F32(high))
    return np.where((x <= F32(high)) & (inner >= F32(low)), grad, ZERO)


def _rows(values, n):
    return values.reshape(-1, n)


# ---- rules -------------------------------------------------------------------------------


def celu_backward(grad, x, y, rows, n, alpha):
    # maximum(x, 0) + alpha * expm1(minimum(x, 0) / alpha)
    a = F32(alpha)
    u = np.minimum(x, ZERO) / a
    through_exp = (grad * a) * np.exp(u) / a
    return _where(x >= 0, grad) + _where(x <= 0, through_exp)


def elu_backward(grad, x, y, rows, n, alpha):
    # res = tf.nn.elu(x); alpha != 1: where(x > 0, res, alpha * res); EluGrad selects on res < 0
    if alpha != 1:
        res = np.where(x < 0, np.exp(x) - ONE, x)
        grad = _where(x > 0, grad) + F32(alpha) * _where(~(x > 0), grad)
    else:
        res = y
    return np.where(res < 0, (res + ONE) * grad, grad)


def exponential_backward(grad, x, y, rows, n):
    return grad * y


def gelu_backward(grad, x, y, rows, n, approximate):
    half_x = HALF * x
    if approximate:
        # 0.5x * (1 + tanh(s * (x + c * pow(x, 3))))
        s, c = F32(0.7978845608028654), F32(0.044715)
        t = np.tanh(s * (x + c * (x * x * x)))
        through_inner = _tanh_grad(grad * half_x, t) * s
        return (grad * (ONE + t)) * HALF + (through_inner + (through_inner * c) * (F32(3) * (x * x)))
    # 0.5x * erfc(-x * c): erfc'(u) = -2/sqrt(pi) exp(-u^2)
    c = F32(0.7071067811865476)
    u = -x * c
    erfc = _erfc(u).astype(F32)
    through_erfc = (grad * half_x) * -TWO_OVER_ROOT_PI * np.exp(-(u * u))
    return (grad * erfc) * HALF - through_erfc * c


def glu_backward(grad, x, y, rows, n):
    """x: (batch, rows*n), grad: (batch, rows*n/2): [grad * sigmoid(b), sigmoid'(b) * grad * a]."""
    half = n // 2
    groups = x.reshape(x.shape[0], rows, n)
    a, b = groups[:, :, :half], groups[:, :, half:]
    g = grad.reshape(grad.shape[0], rows, half)
    gate = _sigmoid(b)
    gate[gate < TINY] = 0
    out = np.concatenate([g * gate, _sigmoid_grad(g * a, gate)], axis=2)
    return out.reshape(x.shape[0], -1)


def hard_shrink_backward(grad, x, y, rows, n, threshold):
    return _where(np.abs(x) > F32(threshold), grad)


def _hard_sigmoid_grad(grad, x):
    """relu6(x + 3) / 6."""
    return _relu6_grad(grad / F32(6), x + F32(3))


def hard_sigmoid_backward(grad, x, y, rows, n):
    return _hard_sigmoid_grad(grad, x)


def hard_silu_backward(grad, x, y, rows, n):
    return grad * _hard_sigmoid(x) + _hard_sigmoid_grad(grad * x, x)


def hard_tanh_backward(grad, x, y, rows, n):
    return _clip_grad(grad, x, -1, 1)


def leaky_relu_backward(grad, x, y, rows, n, negative_slope):
    return np.where(x > 0, grad, grad * F32(negative_slope))


def linear_backward(grad, x, y, rows, n):
    return grad.copy()


def log_sigmoid_backward(grad, x, y, rows, n):
    # -softplus(-x): SoftplusGrad at -x, negated twice
    return _softplus_grad(grad, -x)


def log_softmax_backward(grad, x, y, rows, n):
    g = _rows(grad, n)
    return (g - g.sum(axis=1, keepdims=True) * np.exp(_rows(y, n))).reshape(grad.shape)


def mish_backward(grad, x, y, rows, n):
    # x * tanh(softplus(x))
    t = np.tanh(_softplus(x))
    return grad * t + _softplus_grad(_tanh_grad(grad * x, t), x)


def relu_backward(grad, x, y, rows, n, negative_slope, has_max_value, max_value, threshold):
    """Keras's ReLU.static_call, branch for branch (see relu_forward)."""
    if negative_slope != 0 and not has_max_value and threshold == 0:
        return leaky_relu_backward(grad, x, y, rows, n, negative_slope)
    t = F32(threshold)
    clip_max = has_max_value
    if threshold != 0:
        kept = np.where(x > t, x, ZERO)
    elif has_max_value and max_value == 6:
        kept = np.minimum(np.maximum(x, ZERO), F32(6))
        clip_max = False
    else:
        kept = np.maximum(x, ZERO)
    g = _clip_grad(grad, kept, 0, max_value) if clip_max else grad
    if threshold != 0:
        out = _where(x > t, g)
    elif has_max_value and max_value == 6:
        out = _relu6_grad(g, x)
    else:
        out = _relu_grad(g, x)
    if negative_slope != 0:  # y - slope * relu(-x + threshold)
        out = out - _relu_grad(-(grad * F32(negative_slope)), -x + t)
    return out


def relu6_backward(grad, x, y, rows, n):
    return _relu6_grad(grad, x)


def selu_backward(grad, x, y, rows, n):
    return np.where(y < 0, grad * (y + SELU_SCALE_ALPHA), grad * SELU_SCALE)


def sigmoid_backward(grad, x, y, rows, n):
    return _sigmoid_grad(grad, y)


def silu_backward(grad, x, y, rows, n):
    # tf.nn.silu's own gradient: s * (1 + x * (1 - s))
    s = _sigmoid(x)
    return grad * (s * (ONE + x * (ONE - s)))


def soft_shrink_backward(grad, x, y, rows, n, threshold):
    t = F32(threshold)
    return _where((x > t) | (x < -t), grad)


def softmax_backward(grad, x, y, rows, n):
    g, s = _rows(grad, n), _rows(y, n)
    return ((g - (g * s).sum(axis=1, keepdims=True)) * s).reshape(grad.shape)


def softplus_backward(grad, x, y, rows, n):
    return _softplus_grad(grad, x)


def softsign_backward(grad, x, y, rows, n):
    d = ONE + np.abs(x)
    return grad / (d * d)


def sparse_plus_backward(grad, x, y, rows, n):
    # where(x <= -1, 0, where(x < 1, 0.25 * pow(x + 1, 2), x)): the unselected pow branch still
    # multiplies its zero gradient by 2 * (x + 1), which is NaN at x = +-inf
    inner = _where(~(x <= -1), grad)
    through_pow = (_where(x < 1, inner) * F32(0.25)) * F32(2) * (x + ONE)
    return through_pow + _where(~(x < 1), inner)


def sparse_sigmoid_backward(grad, x, y, rows, n):
    inner = _where(~(x <= -1), grad)
    return _where(~(x >= 1), inner) * HALF


def sparsemax_backward(grad, x, y, rows, n):
    """Keras 3.15's sparsemax (with its tau, see sparsemax_forward), differentiated as TensorFlow does.

    y = maximum(x - tau, 0) and tau = (sum over the support of cumsum(sorted x) - 1) / k, so the
    sorted value at position j enters tau once for every support position >= j, divided by k; the
    sort (tf.sort, descending; equal values in index order) routes that back to the inputs.
    """
    groups = _rows(x, n)
    g = _rows(grad, n)
    order = np.argsort(-groups, axis=1, kind="stable")  # descending, ties in index order
    ordered = np.take_along_axis(groups, order, axis=1)
    cumsum = np.cumsum(ordered, axis=1, dtype=F32)
    r = np.arange(1, n + 1, dtype=F32)
    support = ordered - (cumsum - ONE) / r > 0
    k = support.sum(axis=1, keepdims=True, dtype=F32)
    tau = (np.where(support, cumsum, ZERO).sum(axis=1, keepdims=True, dtype=F32) - ONE) / k
    passed = _where(groups - tau >= 0, g)
    share = -passed.sum(axis=1, keepdims=True) / k  # the gradient of tau's sum (rows without support: 0)
    through_tau = np.cumsum(_where(support, share)[:, ::-1], axis=1)[:, ::-1]  # by sorted position
    out = passed.copy()
    np.put_along_axis(out, order, np.take_along_axis(out, order, axis=1) + through_tau, axis=1)
    return out.reshape(grad.shape)


def squareplus_backward(grad, x, y, rows, n, b):
    # (x + sqrt(square(x) + b)) / 2; SqrtGrad is 0.5 * g / sqrt
    half = grad / F32(2)
    root = np.sqrt(x * x + F32(b))
    return half + (HALF * half / root) * (F32(2) * x)


def tanh_backward(grad, x, y, rows, n):
    return _tanh_grad(grad, y)


def tanh_shrink_backward(grad, x, y, rows, n):
    return grad - _tanh_grad(grad, np.tanh(x))


def threshold_backward(grad, x, y, rows, n, threshold, default_value):
    t = F32(threshold) if abs(F32(threshold)) >= TINY else ZERO
    return _where(np.where(np.abs(x) < TINY, ZERO, x) > t, grad)


def thresholded_relu_backward(grad, x, y, rows, n, theta):
    return grad * thresholded_relu_steps(x, theta)


# ---- elementwise math of keras.ops -----------------------------------------------------------


def abs_backward(grad, x, y, rows, n):
    return grad * np.sign(x)  # TensorFlow's AbsGrad: g * sign(x); np.sign(NaN) is NaN


def square_backward(grad, x, y, rows, n):
    return grad * (F32(2) * x)


def sqrt_backward(grad, x, y, rows, n):
    return np.where(grad == ZERO, ZERO, (HALF * grad) / y)  # SqrtGrad: 0 where g is 0 (cwise_ops_gradients.h)


def log_backward(grad, x, y, rows, n):
    return grad * (ONE / flush_subnormals(x))  # g * reciprocal(x), x read as the forward did


def clip_backward(grad, x, y, rows, n, low, high):
    return _clip_grad(grad, x, low, high)


def maximum_constant_backward(grad, x, y, rows, n, value):
    return _where(x >= F32(value), grad)  # tf.maximum's gradient: x >= c takes it


def minimum_constant_backward(grad, x, y, rows, n, value):
    return _where(x <= F32(value), grad)


def divide_by_backward(grad, x, y, rows, n, divisor):
    return grad / F32(divisor)


def divide_into_backward(grad, x, y, rows, n, dividend):
    x = flush_subnormals(x)
    return grad * ((-F32(dividend) / x) / x)
