"""IR activations this runtime knows, with their parameters: the runtime's half of docs/format.md.

An activation record is {"name": ..., <param>: <number>, ...}. Kernels receive the
parameters positionally, in the order listed here.
"""

from __future__ import annotations

from runtime_py.errors import ModelFormatError

# Activation name -> its parameters, in kernel argument order.
ACTIVATIONS = {
    "linear": (),
    "relu": (),
    "sigmoid": (),
    "tanh": (),
    "softmax": (),
}


def _fail(node, message: str):
    raise ModelFormatError(f"node {node['name']!r} ({node['op']}): {message}")


def check_activation_record(node, record) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("name"), str):
        _fail(node, f"malformed activation {record!r}")
    name = record["name"]
    if name not in ACTIVATIONS:
        _fail(node, f"unknown activation {name!r}; this runtime knows {', '.join(sorted(ACTIVATIONS))}")
    for param in ACTIVATIONS[name]:
        value = record.get(param)
        if type(value) not in (int, float):
            _fail(node, f"activation {name!r} needs a number {param!r}, got {value!r}")
