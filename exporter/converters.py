"""Converter registry: Keras layer class name -> function returning IR ops.

A converter receives plain data only (a LayerCall: class name, config, weights,
input shapes) and reads every value it needs from the config explicitly.
It returns a list of Ops applied in sequence to the layer's inputs; an empty list
means the layer is the identity at inference time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporter.activations import convert_activation
from exporter.errors import ExportError
from exporter.ir import Op, size_of

# IR op -> what it computes (docs/format.md spells out attrs and weights).
OPS = {
    "dense": "y = activation(x @ kernel + bias) over the last axis",
    "activation": "y = activation(x)",
    "reshape": "y = x with another shape (row-major data unchanged)",
}


@dataclass
class LayerCall:
    """One call of a Keras layer, as plain data."""

    name: str
    class_name: str
    config: dict
    weights: list  # numpy arrays, in get_weights() order
    input_shapes: list  # per-sample shapes (no batch dimension)

    def error(self, message: str) -> ExportError:
        return ExportError(f"layer {self.name!r} ({self.class_name}): {message}")

    def single_input(self) -> tuple:
        if len(self.input_shapes) != 1:
            raise self.error(f"expected one input, got {len(self.input_shapes)}")
        return self.input_shapes[0]

    def expect_weights(self, shapes: list) -> list:
        """Check the weight count and shapes, return them as float32 arrays."""
        if len(self.weights) != len(shapes):
            raise self.error(f"expected {len(shapes)} weight arrays, the file has {len(self.weights)}")
        arrays = []
        for index, (array, shape) in enumerate(zip(self.weights, shapes)):
            array = np.asarray(array)
            if tuple(array.shape) != tuple(shape):
                raise self.error(f"weight {index} has shape {tuple(array.shape)}, expected {tuple(shape)}")
            if array.dtype != np.float32:
                raise self.error(f"weight {index} has dtype {array.dtype}; only float32 weights are supported")
            arrays.append(np.ascontiguousarray(array))
        return arrays


def identity(call: LayerCall) -> list:
    """Layers that do nothing at inference time (Dropout and friends)."""
    call.single_input()
    return []


def input_layer(call: LayerCall) -> list:
    raise call.error("an InputLayer is only valid as a model input")


def dense(call: LayerCall) -> list:
    shape = call.single_input()
    if not shape:
        raise call.error("needs an input with at least one axis")
    units = call.config.get("units")
    if not isinstance(units, int) or units <= 0:
        raise call.error(f"invalid units {units!r}")
    use_bias = call.config.get("use_bias", True)
    n_in = shape[-1]
    expected = [(n_in, units), (units,)] if use_bias else [(n_in, units)]
    arrays = call.expect_weights(expected)
    weights = {"kernel": arrays[0]}
    if use_bias:
        weights["bias"] = arrays[1]
    activation = convert_activation(call.config.get("activation"), f"layer {call.name!r} ({call.class_name})")
    return [Op("dense", tuple(shape[:-1]) + (units,), {"activation": activation}, weights)]


def activation(call: LayerCall) -> list:
    shape = call.single_input()
    act = convert_activation(call.config.get("activation"), f"layer {call.name!r} ({call.class_name})")
    if act["name"] == "linear":
        return []
    return [Op("activation", tuple(shape), {"activation": act})]


def flatten(call: LayerCall) -> list:
    shape = call.single_input()
    if call.config.get("data_format", "channels_last") == "channels_first" and len(shape) > 1:
        raise call.error("data_format='channels_first' reorders the data; only channels_last is supported")
    return [Op("reshape", (size_of(shape),))]


# Keras class name -> converter. docs/layers.md is generated from this table.
LAYERS = {
    "Activation": activation,
    "Dense": dense,
    "Dropout": identity,
    "Flatten": flatten,
    "InputLayer": input_layer,
}


def supported_layers() -> str:
    return ", ".join(sorted(LAYERS))
