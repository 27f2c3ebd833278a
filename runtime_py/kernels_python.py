"""Pure-Python kernels: one per IR op and activation, standard library only.

A sample is a flat row-major list of floats. Kernels take their inputs and sizes
(in the C kernels' argument order, outputs omitted) and return the output list;
activations may work in place. Arithmetic is in double precision; the engine
rounds every node's output to float32, as Keras stores its tensors.
"""

from __future__ import annotations

import math
from operator import mul

# ---- ops -------------------------------------------------------------------


def dense_forward(inp, kernel_columns, bias, n_in, n_out):
    """inp: (rows*n_in) -> out: (rows*n_out); kernel_columns[j] is column j of the (n_in, n_out) kernel."""
    out = []
    for start in range(0, len(inp), n_in):
        row = inp[start:start + n_in] if n_in != len(inp) else inp
        out.extend([b + sum(map(mul, column, row)) for column, b in zip(kernel_columns, bias)])
    return out


def reshape_forward(inp):
    """Row-major data is unchanged by a reshape."""
    return inp


# ---- activations (elementwise unless noted) -------------------------------------


def linear_forward(x, n):
    return x


def relu_forward(x, n):
    return [v if v > 0.0 else (0.0 if v == v else v) for v in x]


def _sigmoid(v):
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)  # v < 0 or NaN: exp cannot overflow
    return e / (1.0 + e)


def sigmoid_forward(x, n):
    return [_sigmoid(v) for v in x]


def tanh_forward(x, n):
    return [math.tanh(v) for v in x]


def softmax_forward(x, n):
    """Softmax over each consecutive group of n values (the last axis)."""
    out = []
    for start in range(0, len(x), n):
        group = x[start:start + n]
        top = max(group)
        exps = [math.exp(v - top) for v in group]  # v - top <= 0: no overflow
        total = sum(exps)
        out.extend([e / total for e in exps])
    return out
