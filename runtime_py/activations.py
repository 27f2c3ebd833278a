"""IR activations this runtime knows, with their parameters: the runtime's half of docs/format.md.

An activation record is {"name": ..., <param>: <value>, ...}. Parameters are numbers,
except those in FLAGS, which are booleans. Kernels receive the parameters
positionally, in the order listed here.
"""

from __future__ import annotations

from runtime_py.errors import ModelFormatError

# Activation name -> its parameters, in kernel argument order.
ACTIVATIONS = {
    "abs": (),
    "celu": ("alpha",),
    "clip": ("low", "high"),
    "divide_by": ("divisor",),
    "divide_into": ("dividend",),
    "elu": ("alpha",),
    "exponential": (),
    "gelu": ("approximate",),
    "glu": (),
    "hard_shrink": ("threshold",),
    "hard_sigmoid": (),
    "hard_silu": (),
    "hard_tanh": (),
    "leaky_relu": ("negative_slope",),
    "linear": (),
    "log_sigmoid": (),
    "log": (),
    "log_softmax": (),
    "maximum_constant": ("value",),
    "minimum_constant": ("value",),
    "mish": (),
    "relu": ("negative_slope", "has_max_value", "max_value", "threshold"),
    "relu6": (),
    "selu": (),
    "sigmoid": (),
    "silu": (),
    "soft_shrink": ("threshold",),
    "softmax": (),
    "softplus": (),
    "softsign": (),
    "sparse_plus": (),
    "sparse_sigmoid": (),
    "sparsemax": (),
    "sqrt": (),
    "square": (),
    "squareplus": ("b",),
    "tanh": (),
    "tanh_shrink": (),
    "threshold": ("threshold", "default_value"),
    "thresholded_relu": ("theta",),
}

# Parameters that are booleans (true/false in the file).
FLAGS = frozenset({"approximate", "has_max_value"})

# Activations that halve the last axis: only in an "activation" node, whose kernel gets
# the input's last axis as n.
HALVING = frozenset({"glu"})


def _fail(node, message: str):
    raise ModelFormatError(f"node {node['name']!r} ({node['op']}): {message}")


def activation_input_shape(record, shape) -> tuple:
    """Return the input shape an activation node of output `shape` reads (glu: last axis doubled)."""
    shape = tuple(shape)
    if isinstance(record, dict) and record.get("name") in HALVING and shape:
        return shape[:-1] + (2 * shape[-1],)
    return shape


def check_activation_record(node, record) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("name"), str):
        _fail(node, f"malformed activation {record!r}")
    name = record["name"]
    if name not in ACTIVATIONS:
        _fail(node, f"unknown activation {name!r}; this runtime knows {', '.join(sorted(ACTIVATIONS))}")
    if name in HALVING and node["op"] != "activation":
        _fail(node, f"activation {name!r} changes the shape and may only appear in an 'activation' node")
    unknown = sorted(set(record) - {"name"} - set(ACTIVATIONS[name]))
    if unknown:
        _fail(node, f"activation {name!r} has unknown parameter(s) {', '.join(map(repr, unknown))}; it takes "
                    f"{', '.join(map(repr, ACTIVATIONS[name])) or 'none'}")
    for param in ACTIVATIONS[name]:
        value = record.get(param)
        if param in FLAGS:
            if type(value) is not bool:
                _fail(node, f"activation {name!r} needs true or false for {param!r}, got {value!r}")
        elif type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
            _fail(node, f"activation {name!r} needs a finite number {param!r}, got {value!r}")
