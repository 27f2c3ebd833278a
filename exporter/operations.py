"""Keras operations called on tensors in a functional model (keras.activations.*, keras.ops.*) -> IR ops.

Keras 3 serializes `keras.activations.celu(x)` or `keras.ops.exp(x)` in a functional model as one
entry of the model's layer list, named after the operation's class (Keras 3.15):

    {"module": "keras.src.ops.nn", "class_name": "Celu", "config": {"name": "celu", "alpha": 1.0},
     "inbound_nodes": [{"args": [<__keras_tensor__>, ...], "kwargs": {}}]}

(`keras.activations.relu` is the class ReLU of module keras.src.activations.activations). Their
class names overlap the layers' (Add, Multiply, Reshape, Softmax, ReLU, ...) with other configs, so
operations have their own table, told apart by the module; a legacy .h5 file records no module,
and there an entry is an operation when its class is one and its config lacks the `trainable` and
`dtype` keys every Keras layer writes (Keras 3 itself cannot load such a .h5 file: "Unknown layer:
'Celu'", so the files front-end reads it). The entries are read as data: nothing they name is
imported. docs/layers.md lists this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.activations import make_record, output_shape
from exporter.converters import LayerCall, relu_layer, softmax_layer
from exporter.errors import ExportError
from exporter.ir import Op

OPERATION_MODULES = ("keras.src.ops.", "keras.src.activations.", "keras.ops.", "keras.activations.")


@dataclass
class OperationCall(LayerCall):
    """One call of a Keras operation: its config, tensor inputs and the other arguments it was given."""

    arguments: list = field(default_factory=list)  # call args; tensors replaced by {"tensor": k}

    def error(self, message: str) -> ExportError:
        return ExportError(f"operation {self.name!r} ({self.class_name}): {message}")

    def tensor_only(self) -> tuple:
        """The shape of the one tensor the operation is called with; other arguments are refused."""
        if self.arguments != [{"tensor": 0}] or len(self.input_shapes) != 1:
            raise self.error(f"is called with arguments {self.arguments!r}; it is supported on one tensor only")
        return tuple(self.input_shapes[0])


def is_operation(entry: dict) -> bool:
    """Whether a layer-list entry of a model config is a Keras operation's node rather than a layer's."""
    module = entry.get("module")
    if isinstance(module, str):
        return module.startswith(OPERATION_MODULES)
    config = entry.get("config")
    return (entry.get("class_name") in OPERATIONS and isinstance(config, dict)
            and "trainable" not in config and "dtype" not in config)


def supported_operations() -> str:
    return ", ".join(sorted(OPERATIONS))


def _config_number(call: OperationCall, key: str) -> float:
    if key not in call.config:  # never a Keras default: Keras writes every parameter of these operations
        raise call.error(f"has no {key!r} in its config")
    value = call.config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise call.error(f"{key}={value!r} is not a number")
    return float(value)


def _activation(name: str, numbers=(), flags=(), axis_wise=False):
    """A converter for the operation computing IR activation `name`, its parameters read from the config."""

    def convert(call: OperationCall) -> list:
        shape = call.tensor_only()
        params = {key: _config_number(call, key) for key in numbers}
        for key in flags:
            value = call.config.get(key)
            if not isinstance(value, bool):
                raise call.error(f"needs true or false for {key!r}, got {value!r}")
            params[key] = value
        where = f"operation {call.name!r} ({call.class_name})"
        axis = call.config.get("axis", -1) if axis_wise else -1
        record = make_record(name, where, axis=axis, rank=len(shape), **params)
        return [Op("activation", output_shape(record, shape, where), {"activation": record})]

    params = ", ".join(tuple(numbers) + tuple(flags))
    convert.__doc__ = (f"the activation `{name}`" + (f" ({params} from the config)" if params else "")
                       + (", over the last axis" if axis_wise else ""))
    return convert


def _relu(call: OperationCall) -> list:
    """`relu` with negative_slope, max_value and threshold from the config (keras.activations.relu)."""
    call.tensor_only()
    for key in ("negative_slope", "max_value", "threshold"):
        if key not in call.config:
            raise call.error(f"has no {key!r} in its config")
    return relu_layer(call)


def _plain_relu(call: OperationCall) -> list:
    """`relu`: max(x, 0) (keras.ops.relu has no parameters)."""
    shape = call.tensor_only()
    record = make_record("relu", f"operation {call.name!r} ({call.class_name})", negative_slope=0.0, max_value=None,
                         threshold=0.0)
    return [Op("activation", shape, {"activation": record})]


def _softmax(call: OperationCall) -> list:
    """`softmax` over the config's axis (any single one)."""
    call.tensor_only()
    if "axis" not in call.config:
        raise call.error("has no 'axis' in its config")
    return softmax_layer(call)


# Keras operation class name -> converter. docs/layers.md is generated from this table.
OPERATIONS = {
    "Celu": _activation("celu", ("alpha",)),
    "Elu": _activation("elu", ("alpha",)),
    "Exp": _activation("exponential"),
    "Gelu": _activation("gelu", flags=("approximate",)),
    "Glu": _activation("glu", axis_wise=True),
    "HardShrink": _activation("hard_shrink", ("threshold",)),
    "HardSigmoid": _activation("hard_sigmoid"),
    "HardSilu": _activation("hard_silu"),
    "HardTanh": _activation("hard_tanh"),
    "LeakyRelu": _activation("leaky_relu", ("negative_slope",)),
    "LogSigmoid": _activation("log_sigmoid"),
    "LogSoftmax": _activation("log_softmax", axis_wise=True),
    "ReLU": _relu,
    "Relu": _plain_relu,
    "Relu6": _activation("relu6"),
    "Selu": _activation("selu"),
    "Sigmoid": _activation("sigmoid"),
    "Silu": _activation("silu"),
    "SoftShrink": _activation("soft_shrink", ("threshold",)),
    "Softmax": _softmax,
    "Softplus": _activation("softplus"),
    "Softsign": _activation("softsign"),
    "SparsePlus": _activation("sparse_plus"),
    "SparseSigmoid": _activation("sparse_sigmoid"),
    "Sparsemax": _activation("sparsemax", axis_wise=True),
    "Squareplus": _activation("squareplus", ("b",)),
    "Tanh": _activation("tanh"),
    "TanhShrink": _activation("tanh_shrink"),
    "Threshold": _activation("threshold", ("threshold", "default_value")),
}
