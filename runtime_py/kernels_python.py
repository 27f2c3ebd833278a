"""Pure-Python kernels: one per IR op (activations live in activations_python.py).

A sample is a flat row-major list of floats. Kernels take their inputs and sizes
(in the C kernels' argument order, outputs omitted) and return the output list;
activations may work in place. Arithmetic is in double precision; the engine
rounds every node's output to float32, as Keras stores its tensors.
"""

from __future__ import annotations

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
