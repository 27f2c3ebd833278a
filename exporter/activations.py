"""Keras activation (name or serialized config) -> IR activation record.

An IR activation is a dict {"name": ..., plus every parameter spelled out}, so the
runtimes never depend on a Keras default. Parameters are JSON numbers, or booleans
where noted. Elementwise activations apply to every value; the axis-wise ones
(softmax, log_softmax, sparsemax, glu) work on the last axis only, and glu halves it.
docs/format.md states the exact formula of each; they mirror what Keras 3 computes
on TensorFlow (keras/src/backend/tensorflow/nn.py), operation for operation.
"""

from __future__ import annotations

from exporter.errors import ExportError

# IR activation name -> (parameters in kernel argument order, what it computes).
# runtime_py/activations.py lists the same names and parameters (a test checks).
_TABLE = {
    "abs": ((), "|x| (keras.ops.abs)"),
    "celu": (("alpha",), "max(x, 0) + alpha * expm1(min(x, 0) / alpha)"),
    "clip": (("low", "high"), "maximum(minimum(x, high), low), NaN kept (keras.ops.clip, tf.clip_by_value)"),
    "divide_by": (("divisor",), "x / divisor, one IEEE division (keras.ops.divide of a tensor by a number)"),
    "divide_into": (("dividend",), "dividend / x, one IEEE division (keras.ops.divide of a number by a tensor)"),
    "elu": (("alpha",), "x if x > 0 else alpha * (exp(x) - 1)"),
    "exponential": ((), "exp(x)"),
    "gelu": (("approximate",), "0.5x(1 + erf(x/sqrt 2)), or the tanh form when approximate"),
    "glu": ((), "a * sigmoid(b) where [a, b] are the halves of the last axis"),
    "hard_shrink": (("threshold",), "x if |x| > threshold else 0"),
    "hard_sigmoid": ((), "relu6(x + 3) / 6 (Keras 3's formula)"),
    "hard_silu": ((), "x * relu6(x + 3) / 6"),
    "hard_tanh": ((), "clip(x, -1, 1)"),
    "leaky_relu": (("negative_slope",), "x if x > 0 else negative_slope * x"),
    "linear": ((), "x"),
    "log_sigmoid": ((), "-softplus(-x)"),
    "log": ((), "log(x): -inf at 0, NaN below (keras.ops.log)"),
    "log_softmax": ((), "x - max - log(sum(exp(x - max))) over the last axis"),
    "maximum_constant": (("value",), "max(x, value), NaN kept (keras.ops.maximum with a number)"),
    "minimum_constant": (("value",), "min(x, value), NaN kept (keras.ops.minimum with a number)"),
    "mish": ((), "x * tanh(softplus(x))"),
    "relu": (("negative_slope", "has_max_value", "max_value", "threshold"),
             "Keras's relu(x, negative_slope, max_value, threshold), code path for code path"),
    "relu6": ((), "min(max(x, 0), 6)"),
    "selu": ((), "1.0507009873554805 * (x if x > 0 else 1.6732632423543772 * (exp(x) - 1))"),
    "sigmoid": ((), "1 / (1 + exp(-x)), evaluated without overflow"),
    "silu": ((), "x * sigmoid(x)"),
    "soft_shrink": (("threshold",), "x - threshold if x > threshold, x + threshold if x < -threshold, else 0"),
    "softmax": ((), "exp(x - max) / sum(exp(x - max)) over the last axis"),
    "softplus": ((), "log(1 + exp(x)), evaluated without overflow"),
    "softsign": ((), "x / (1 + |x|)"),
    "sparse_plus": ((), "0 if x <= -1, (x + 1)^2 / 4 if x < 1, else x"),
    "sparse_sigmoid": ((), "0 if x <= -1, 1 if x >= 1, else (x + 1) / 2"),
    "sparsemax": ((), "max(x - tau, 0) over the last axis, tau as Keras 3.15 computes it"),
    "sqrt": ((), "sqrt(x), correctly rounded: NaN below 0, -0 at -0 (keras.ops.sqrt)"),
    "square": ((), "x * x (keras.ops.square)"),
    "squareplus": (("b",), "(x + sqrt(x^2 + b)) / 2"),
    "tanh": ((), "tanh(x)"),
    "tanh_shrink": ((), "x - tanh(x)"),
    "threshold": (("threshold", "default_value"), "x if x > threshold else default_value"),
    "thresholded_relu": (("theta",), "x * (1 if x > theta else 0), a multiplication (Keras 2's ThresholdedReLU)"),
}

# IR activation name -> one-line description (the runtimes have one kernel per entry).
ACTIVATIONS = {name: formula for name, (_, formula) in _TABLE.items()}

# IR activation name -> its parameters, in kernel argument order.
PARAMETERS = {name: params for name, (params, _) in _TABLE.items()}

# Parameters that are booleans (every other parameter is a number).
FLAGS = frozenset({"approximate", "has_max_value"})

# Activations over the last axis (rows of n values) rather than value by value.
AXIS_WISE = frozenset({"softmax", "log_softmax", "sparsemax", "glu"})

# Activations whose output has another shape than their input: never fused into a dense node.
RESHAPING = frozenset({"glu"})

# Records only keras.ops calls on tensors produce (exporter/operations.py): Keras has no activation
# of these names, so a layer's `activation` naming one is refused like any unknown name.
OPERATION_ONLY = frozenset({"abs", "clip", "divide_by", "divide_into", "log", "maximum_constant", "minimum_constant",
                            "sqrt", "square"})

# Names Keras writes for the same function (older files, tf.nn functions, aliases).
ALIASES = {
    "swish": "silu",  # keras.activations.swish is silu; tf_keras wrote "swish"
    "hard_swish": "hard_silu",
    "softmax_v2": "softmax",  # tf.nn.softmax's __name__ in TF 2, written by older tf.keras
    "log_softmax_v2": "log_softmax",  # tf.nn.log_softmax's __name__ likewise
}

# The parameters Keras uses when an activation is given by name (a string in the config).
# Keras 3.15, keras/src/activations/activations.py; `threshold` has no defaults and
# cannot be a string activation (Keras fails when it calls it).
STRING_DEFAULTS = {
    "celu": {"alpha": 1.0},
    "elu": {"alpha": 1.0},
    "gelu": {"approximate": False},  # keras.activations.gelu; keras.ops.gelu defaults to True
    "hard_shrink": {"threshold": 0.5},
    "leaky_relu": {"negative_slope": 0.2},  # the LeakyReLU *layer* defaults to 0.3
    "relu": {"negative_slope": 0.0, "max_value": None, "threshold": 0.0},
    "soft_shrink": {"threshold": 0.5},
    "squareplus": {"b": 4.0},
}


def supported() -> str:
    """The activation names a layer's config may use (the keras.ops-only records are not among them)."""
    return ", ".join(sorted(set(ACTIVATIONS) - OPERATION_ONLY))


def activation_name(spec) -> str:
    """Return the Keras activation's function name from a config value (string or dict)."""
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        # Keras 3.15 serializes a function as {"module": "builtins", "class_name": "function",
        # "config": "relu", "registered_name": "function"} (keras.saving.serialize_keras_object);
        # older 3.x wrote module "keras.activations". A registered custom function has the same
        # form with config "package>name"; an unknown name is refused by convert_activation.
        name = spec.get("config")
        module = spec.get("module")
        if spec.get("class_name") != "function" or not isinstance(name, str):
            raise ExportError(f"unreadable activation {spec!r}")
        if ">" in name or module not in (None, "builtins", "keras.activations", "keras.src.activations",
                                         "keras.src.activations.activations"):
            raise ExportError(f"custom activation {name!r}")
        return name
    raise ExportError(f"unreadable activation {spec!r}")


def _number(value, name: str, param: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportError(f"{where}: activation {name!r} needs a number {param!r}, got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ExportError(f"{where}: activation {name!r} parameter {param!r} must be finite, got {value!r}")
    return value


def make_record(name: str, where: str, axis=-1, rank=None, **params) -> dict:
    """Return the IR record for activation `name` with Keras-style parameters (every one given).

    relu's max_value may be None (no upper clip): the record then says has_max_value false,
    max_value 0. `axis` is a Keras axis (0 is the batch) for the axis-wise activations: only
    the last one is supported, -1 or `rank` when the per-sample rank is given.
    `where` names the layer for errors.
    """
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise ExportError(f"{where}: activation {name!r} is not supported; supported activations: {supported()}")
    if name in AXIS_WISE:
        last = axis == -1 or (rank is not None and axis == rank)
        if isinstance(axis, bool) or not isinstance(axis, int) or not last:
            raise ExportError(f"{where}: activation {name!r} over axis {axis!r} is not supported; "
                              f"only the last axis (-1) is")
    elif axis != -1:
        raise ExportError(f"{where}: activation {name!r} takes no axis")
    if name == "relu":
        max_value = params.pop("max_value", "missing")
        params["has_max_value"] = max_value is not None
        params["max_value"] = 0.0 if max_value is None else max_value
    expected = PARAMETERS[name]
    unknown = sorted(set(params) - set(expected))
    missing = [p for p in expected if p not in params or params[p] == "missing"]
    if unknown or missing:
        raise ExportError(f"{where}: activation {name!r} takes parameters {', '.join(expected) or 'none'}"
                          + (f"; unknown {', '.join(unknown)}" if unknown else "")
                          + (f"; missing {', '.join(missing)}" if missing else ""))
    record = {"name": name}
    for param in expected:
        value = params[param]
        if param in FLAGS:
            if not isinstance(value, bool):
                raise ExportError(f"{where}: activation {name!r} needs true or false for {param!r}, got {value!r}")
            record[param] = value
        else:
            record[param] = _number(value, name, param, where)
    return record


def convert_activation(spec, where: str) -> dict:
    """Return the IR record for a Keras activation config value; `where` names the layer for errors."""
    try:
        name = activation_name(spec)
    except ExportError as exc:
        raise ExportError(f"{where}: {exc}; supported activations: {supported()}") from None
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS or name in OPERATION_ONLY:
        raise ExportError(f"{where}: activation {name!r} is not supported; supported activations: {supported()}")
    if PARAMETERS[name] and name not in STRING_DEFAULTS:
        raise ExportError(f"{where}: activation {name!r} needs arguments ({', '.join(PARAMETERS[name])}) "
                          f"and cannot be given by name")
    return make_record(name, where, **STRING_DEFAULTS.get(name, {}))


def output_shape(record: dict, shape: tuple, where: str) -> tuple:
    """Return the shape an activation node produces from an input of `shape` (glu halves the last axis)."""
    shape = tuple(shape)
    if record["name"] in AXIS_WISE and not shape:
        raise ExportError(f"{where}: activation {record['name']!r} needs an input with at least one axis")
    if record["name"] == "glu":
        if shape[-1] % 2:
            raise ExportError(f"{where}: glu splits the last axis in two halves; its size {shape[-1]} is odd")
        return shape[:-1] + (shape[-1] // 2,)
    return shape


def fusable(record: dict) -> bool:
    """Whether a dense node may carry this activation (false when it changes the shape: glu)."""
    return record["name"] not in RESHAPING
