"""What each IR op and activation accepts: the runtime's half of docs/format.md.

Both backends run a model only after every node has passed these checks, so a
kernel never sees a weight of the wrong shape or an unknown activation.
"""

from __future__ import annotations

from runtime_py.activations import activation_input_shape, check_activation_record
from runtime_py.errors import ModelFormatError
from runtime_py.limits import MAX_REPEAT

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


def _check_weights(node, expected: dict, optional=(), smaller=()) -> None:
    """expected: name -> shape; names in `optional` may be absent; only those in `smaller` may be stored
    as float16 or int8 (every other weight is float32)."""
    weights = node["weights"]
    for name in weights:
        if name not in expected:
            _fail(node, f"unexpected weight {name!r}")
        if weights[name].dtype != "float32" and name not in smaller:
            _fail(node, f"weight {name!r} is {weights[name].dtype}; only a dense kernel may be stored in fewer bits")
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
    expected = {"kernel": (n_in, n_out), "bias": (n_out,)}
    if kernel.dtype == "int8":  # docs/format.md, "Stored kernels": one float32 scale per output unit
        expected["kernel_scale"] = (n_out,)
    _check_weights(node, expected, optional=("bias",), smaller=("kernel",))
    if tuple(node["shape"]) != tuple(shape[:-1]) + (n_out,):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from input {shape} and kernel")
    check_activation_record(node, node["attrs"].get("activation"))


def check_activation(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    record = node["attrs"].get("activation")
    check_activation_record(node, record)
    if activation_input_shape(record, node["shape"]) != tuple(shape):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from input shape {tuple(shape)}")


def check_reshape(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    if size_of(node["shape"]) != size_of(shape):
        _fail(node, f"cannot reshape {tuple(shape)} to {tuple(node['shape'])}")


def _attr(node, key, kinds):
    value = node["attrs"].get(key)
    if type(value) not in kinds:
        _fail(node, f"attribute {key!r} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def _same_shape(node, shape) -> None:
    if tuple(node["shape"]) != tuple(shape):
        _fail(node, f"output shape {tuple(node['shape'])} differs from input shape {tuple(shape)}")


def check_scale_shift(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {"scale": (shape[-1],), "shift": (shape[-1],)})
    _same_shape(node, shape)


def check_prelu(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {"alpha": shape})
    _same_shape(node, shape)


def check_layer_norm(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {"gamma": (shape[-1],), "beta": (shape[-1],)}, optional=("gamma", "beta"))
    _attr(node, "epsilon", (int, float))
    _attr(node, "rms_scaling", (bool,))
    _same_shape(node, shape)


def check_rms_norm(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {"scale": (shape[-1],)})
    _attr(node, "epsilon", (int, float))
    _same_shape(node, shape)


def check_unit_norm(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    if _attr(node, "epsilon", (int, float)) <= 0:
        _fail(node, "epsilon must be positive")
    if _attr(node, "clamp", (str,)) not in ("inverse", "square_sum"):
        _fail(node, f"unknown clamp {node['attrs']['clamp']!r}")
    _same_shape(node, shape)


def check_standardize(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {"mean": shape, "std": shape})
    _attr(node, "invert", (bool,))
    _same_shape(node, shape)


def check_transpose(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    perm = _attr(node, "perm", (list,))
    if sorted(perm) != list(range(len(shape))) or any(type(p) is not int for p in perm):
        _fail(node, f"perm {perm!r} is not a permutation of the input's {len(shape)} axes")
    if tuple(node["shape"]) != tuple(shape[p] for p in perm):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from perm {perm}")


def check_repeat(node, input_shapes) -> None:
    shape = _one_input(node, input_shapes)
    _check_weights(node, {})
    n = _attr(node, "n", (int,))
    if n > MAX_REPEAT:
        _fail(node, f"repeats {n:,} times; kerasless supports at most {MAX_REPEAT:,}")
    if len(shape) != 1 or n <= 0 or tuple(node["shape"]) != (n, shape[0]):
        _fail(node, f"cannot repeat an input of shape {tuple(shape)} {n} times into {tuple(node['shape'])}")


def check_concatenate(node, input_shapes) -> None:
    _check_weights(node, {})
    axis = _attr(node, "axis", (int,))
    if len(input_shapes) < 2 or not 0 <= axis < len(input_shapes[0]):
        _fail(node, f"needs two or more inputs and an axis within their rank (axis {axis})")
    first = tuple(input_shapes[0])
    for shape in input_shapes:
        shape = tuple(shape)
        if len(shape) != len(first) or shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            _fail(node, f"input shapes {[tuple(s) for s in input_shapes]} do not match outside axis {axis}")
    expected = first[:axis] + (sum(s[axis] for s in input_shapes),) + first[axis + 1:]
    if tuple(node["shape"]) != expected:
        _fail(node, f"output shape {tuple(node['shape'])} should be {expected}")


def check_elementwise(node, input_shapes) -> None:
    _check_weights(node, {})
    count = 2 if node["op"] == "subtract" else None
    if len(input_shapes) < 2 or (count and len(input_shapes) != count):
        _fail(node, f"has {len(input_shapes)} inputs")
    for shape in input_shapes:
        _same_shape(node, shape)


def check_dot(node, input_shapes) -> None:
    _check_weights(node, {})
    _attr(node, "normalize", (bool,))
    if len(input_shapes) != 2 or len(input_shapes[0]) != 1 or tuple(input_shapes[0]) != tuple(input_shapes[1]):
        _fail(node, f"needs two vectors of equal length, got {[tuple(s) for s in input_shapes]}")
    if tuple(node["shape"]) != (1,):
        _fail(node, "output shape must be (1,)")


# IR op -> validator(node, input_shapes); each op has one kernel per backend.
OPS = {
    "dense": check_dense,
    "activation": check_activation,
    "reshape": check_reshape,
    "scale_shift": check_scale_shift,
    "prelu": check_prelu,
    "layer_norm": check_layer_norm,
    "rms_norm": check_rms_norm,
    "unit_norm": check_unit_norm,
    "standardize": check_standardize,
    "transpose": check_transpose,
    "repeat": check_repeat,
    "concatenate": check_concatenate,
    "add": check_elementwise,
    "subtract": check_elementwise,
    "multiply": check_elementwise,
    "average": check_elementwise,
    "maximum": check_elementwise,
    "minimum": check_elementwise,
    "dot": check_dot,
}
