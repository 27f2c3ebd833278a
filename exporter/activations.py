"""Keras activation (name or serialized config) -> IR activation record.

An IR activation is a dict {"name": ..., plus every parameter spelled out}, so the
runtimes never depend on a Keras default. Elementwise activations apply to every
value; softmax normalises over the last axis of the tensor.
"""

from __future__ import annotations

from exporter.errors import ExportError

# IR activation name -> one-line description (the runtimes have one kernel per entry).
ACTIVATIONS = {
    "linear": "x",
    "relu": "max(x, 0)",
    "sigmoid": "1 / (1 + exp(-x)), evaluated without overflow",
    "tanh": "tanh(x)",
    "softmax": "exp(x - max) / sum(exp(x - max)) over the last axis",
}

# Names Keras writes for the same function (older files and aliases).
ALIASES = {
    "softmax_v2": "softmax",
}


def activation_name(spec) -> str:
    """Return the Keras activation's function name from a config value (string or dict)."""
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        # Keras 3 serializes a built-in activation function as {"module": "keras.activations", ...}.
        if spec.get("module") not in (None, "keras.activations") or spec.get("registered_name") not in (
            None,
            spec.get("class_name"),
        ):
            raise ExportError(f"custom activation {spec.get('registered_name') or spec.get('class_name')!r}")
        name = spec.get("config") if isinstance(spec.get("config"), str) else spec.get("class_name")
        if isinstance(name, str):
            return name
    raise ExportError(f"unreadable activation {spec!r}")


def convert_activation(spec, where: str) -> dict:
    """Return the IR record for a Keras activation; `where` names the layer for errors."""
    try:
        name = activation_name(spec)
    except ExportError as exc:
        raise ExportError(f"{where}: {exc}; supported activations: {', '.join(sorted(ACTIVATIONS))}") from None
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise ExportError(
            f"{where}: activation {name!r} is not supported; supported activations: {', '.join(sorted(ACTIVATIONS))}"
        )
    return {"name": name}
