"""What each IR op and activation accepts: the runtime's half of docs/format.md.

Both backends run a model only after every node has passed these checks, so a
kernel never sees a weight of the wrong shape or an unknown activation.
"""

from __future__ import annotations

from runtime_py.activations import check_activation_record
from runtime_py.errors import ModelFormatError

def size_of(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _fail(node, message: str):
    raise ModelFormatError(f"node {node['name']!r} ({node['op']}): {message}")


def _one_input(node, input_shapes) -> tuple:
    if len(input_shapes) != 1:
        _fail(node, f"takes one input, has {len(input_shapes)}")
    return input_shapes[0]


def _check_weights(node, expected: dict, optional=()) -> None:
    """expected: name -> shape; names in `optional` may be absent."""
    weights = node["weights"]
    for name in weights:
        if name not in expected:
            _fail(node, f"unexpected weight {name!r}")
    for name, shape in expected.items():
        if name not in weights:
            if name in optional:
                continue
            _fail(node, f"missing weight {name!r}")
        if tuple(weights[name].shape) != tuple(shape):
            _fail(node, f"weight {name!r} has shape {tuple(weights[name].shape)}, expected {tuple(shape)}")


def check_dense(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    kernel = node["weights"].get("kernel")
    if kernel is None or len(kernel.shape) != 2:
        _fail(node, "needs a 2-D weight 'kernel'")
    n_in, n_out = kernel.shape
    if not shape or shape[-1] != n_in:
        _fail(node, f"kernel has {n_in} rows but the input's last axis is {shape[-1] if shape else None}")
    _check_weights(node, {"kernel": (n_in, n_out), "bias": (n_out,)}, optional=("bias",))
    if tuple(node["shape"]) != tuple(shape[:-1]) + (n_out,):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from input {shape} and kernel")
    check_activation_record(node, node["attrs"].get("activation"))


def check_activation(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    if tuple(node["shape"]) != tuple(shape):
        _fail(node, "output shape differs from input shape")
    check_activation_record(node, node["attrs"].get("activation"))


def check_reshape(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    if size_of(node["shape"]) != size_of(shape):
        _fail(node, f"cannot reshape {tuple(shape)} to {tuple(node['shape'])}")


# IR op -> validator(node, input_shapes); each op has one kernel per backend.
OPS = {
    "dense": check_dense,
    "activation": check_activation,
    "reshape": check_reshape,
}
