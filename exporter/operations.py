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

Arithmetic operations (keras.src.ops.numpy: Add, Subtract, Multiply, Divide/TrueDivide, Maximum,
Minimum) take their operands as call arguments: two tensors (lowered as the merge layers are,
broadcast included), or a tensor and a constant, a number or {"class_name": "__numpy__", "config":
{"value": [...], "dtype": "float32"}}. A constant becomes a scale_shift only where that is bit-exact
(x * c + -0.0, x * 1 + c, x * -1 + c); a division by or of a number stays one division (the records
divide_by and divide_into), never a multiplication by 1 / c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exporter.activations import make_record, output_shape
from exporter.converters import (LayerCall, _sample_axis, broadcast_shape, concatenate, elementwise_ops,
                                 relu_layer, resolved_shape, softmax_layer)
from exporter.errors import ExportError
from exporter.ir import LayerInput, Op, size_of

OPERATION_MODULES = ("keras.src.ops.", "keras.src.activations.", "keras.ops.", "keras.activations.")


@dataclass
class OperationCall(LayerCall):
    """One call of a Keras operation: its config, tensor inputs and the other arguments it was given."""

    arguments: list = field(default_factory=list)  # call args; tensors replaced by {"tensor": k}

    def error(self, message: str) -> ExportError:
        return ExportError(f"operation {self.name!r} ({self.class_name}): {message}")

    def where(self) -> str:
        return f"operation {self.name!r} ({self.class_name})"

    def tensor_only_shape(self) -> tuple:
        """The shape of the operation's one tensor operand (the others are constants)."""
        if len(self.input_shapes) != 1:
            raise self.error(f"is called with {len(self.input_shapes)} tensors; one is supported here")
        return tuple(self.input_shapes[0])

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


# ---- arithmetic and elementwise math of keras.ops (keras.src.ops.numpy) ------------------------


# numpy constant dtypes Keras casts to a float32 tensor's dtype (keras.src.backend.common.dtypes.result_type)
FLOAT32_CONSTANT_DTYPES = ("float32", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _is_tensor(argument) -> bool:
    return isinstance(argument, dict) and set(argument) == {"tensor"}


def _constant(call: OperationCall, argument) -> np.ndarray:
    """A constant operand as float32: a number, or a float32 or integer numpy array (Keras casts either to
    the tensor's float32: measured, x + np.arange(4) is float32; a float64 array would make the result float64).

    Keras writes a numpy array as {"class_name": "__numpy__", "config": {"value": [...], "dtype": ...}}.
    """
    if isinstance(argument, bool):
        raise call.error(f"has the boolean operand {argument!r}; only numbers and float32 arrays are supported")
    if isinstance(argument, (int, float)):
        value = np.asarray(argument, dtype=np.float32)
    elif isinstance(argument, dict) and argument.get("class_name") == "__numpy__":
        config = argument.get("config")
        if not isinstance(config, dict) or config.get("dtype") not in FLOAT32_CONSTANT_DTYPES:
            dtype = config.get("dtype") if isinstance(config, dict) else None
            raise call.error(f"has a numpy constant of dtype {dtype!r}; only float32 and integer constants keep the "
                             "result float32")
        try:
            value = np.asarray(config.get("value"), dtype=np.float32)
        except (TypeError, ValueError):
            raise call.error("has a malformed numpy constant") from None
    else:
        raise call.error(f"has the operand {str(argument)[:80]}; supported are tensors, numbers and float32 arrays")
    if not np.isfinite(value).all():
        raise call.error("has a constant operand that is not finite (inf or NaN); only finite constants are supported")
    return value


def _channels(call: OperationCall, value: np.ndarray, shape: tuple) -> np.ndarray:
    """A constant broadcast over the tensor's last-axis channels: (n,) float32, or an error for other shapes."""
    shape = tuple(shape)
    if not shape:
        raise call.error("needs an input with at least one axis besides the batch")
    n = shape[-1]
    dims = value.shape
    if len(dims) > len(shape) + 1 or any(d != 1 for d in dims[:-1]) or (dims and dims[-1] not in (1, n)):
        raise call.error(f"has a constant of shape {dims} for a tensor of shape (None, {', '.join(map(str, shape))}); "
                         f"only a number or one value per last-axis channel (shape ({n},)) is supported")
    return np.ascontiguousarray(np.broadcast_to(value.reshape(-1) if dims else value, (n,)), dtype=np.float32)


def _scale_shift(shape: tuple, scale: np.ndarray, shift: np.ndarray) -> list:
    n = shape[-1]
    weights = {"scale": np.ascontiguousarray(np.broadcast_to(np.float32(scale), (n,)), dtype=np.float32),
               "shift": np.ascontiguousarray(np.broadcast_to(np.float32(shift), (n,)), dtype=np.float32)}
    return [Op("scale_shift", tuple(shape), {}, weights)]


def _scalar(call: OperationCall, value: np.ndarray, what: str) -> float:
    """One number for an elementwise record: a scalar, or an array holding one value throughout."""
    flat = value.reshape(-1)
    if flat.size == 0 or (flat != flat[0]).any() or (np.signbit(flat) != np.signbit(flat[0])).any():
        raise call.error(f"{what} a constant of shape {value.shape} with several values; only one number is supported")
    return float(flat[0])


def _two_operands(call: OperationCall) -> tuple:
    """(a, b) of a binary operation: {"tensor": k} or a constant's raw argument."""
    if len(call.arguments) != 2:
        raise call.error(f"is called with {len(call.arguments)} arguments; it takes two operands")
    a, b = call.arguments
    if not (_is_tensor(a) or _is_tensor(b)):
        raise call.error("has no tensor operand")
    return a, b


def _tensor_pair(call: OperationCall, op: str) -> list:
    """Two tensors of one rank whose shapes broadcast: the IR elementwise op, broadcasting as the merges do."""
    shapes = [tuple(s) for s in call.input_shapes]
    if len(shapes) == 2 and len(shapes[0]) != len(shapes[1]):
        raise call.error(f"has operands of ranks {len(shapes[0]) + 1} and {len(shapes[1]) + 1}; operands of one rank "
                         "are supported (the batch axis would broadcast against another axis)")
    return elementwise_ops(op, shapes, call.error)


def _add(call: OperationCall) -> list:
    """x + y of two tensors (broadcasting); x + c or c + x with a number or per-channel constant c: scale_shift(1, c), exact. Keras 3 on TensorFlow adds a (None, 1) y as tf.nn.bias_add when the batch size equals x's axis 1 or last axis (row j's y lands on column j, measured with Keras 3.15): kerasless adds y[i] to row i at every batch size."""
    a, b = _two_operands(call)
    if _is_tensor(a) and _is_tensor(b):
        return _tensor_pair(call, "add")
    constant = _constant(call, b if _is_tensor(a) else a)
    shape = tuple(call.input_shapes[0])
    return _scale_shift(shape, np.float32(1), _channels(call, constant, shape))


def _subtract(call: OperationCall) -> list:
    """x - y of two tensors (broadcasting); x - c as scale_shift(1, -c), c - x as scale_shift(-1, c), both exact."""
    a, b = _two_operands(call)
    if _is_tensor(a) and _is_tensor(b):
        return _tensor_pair(call, "subtract")
    shape = tuple(call.input_shapes[0])
    if _is_tensor(a):
        return _scale_shift(shape, np.float32(1), -_channels(call, _constant(call, b), shape))
    return _scale_shift(shape, np.float32(-1), _channels(call, _constant(call, a), shape))


def _multiply(call: OperationCall) -> list:
    """x * y of two tensors (broadcasting); x * c with a number or per-channel c: scale_shift(c, -0.0), exact (x * c + -0 is x * c, signed zeros included)."""
    a, b = _two_operands(call)
    if _is_tensor(a) and _is_tensor(b):
        return _tensor_pair(call, "multiply")
    shape = tuple(call.input_shapes[0])
    return _scale_shift(shape, _channels(call, _constant(call, b if _is_tensor(a) else a), shape), np.float32(-0.0))


def _divide(call: OperationCall) -> list:
    """x / y of two tensors (broadcasting, the IR op `divide`); x / c and c / x with one number c: the records divide_by and divide_into, one IEEE division each (never x * (1 / c))."""
    a, b = _two_operands(call)
    if _is_tensor(a) and _is_tensor(b):
        return _tensor_pair(call, "divide")
    shape = call.tensor_only_shape()
    if _is_tensor(a):
        record = make_record("divide_by", call.where(), divisor=_scalar(call, _constant(call, b), "divides by"))
    else:
        record = make_record("divide_into", call.where(), dividend=_scalar(call, _constant(call, a), "divides"))
    return [Op("activation", shape, {"activation": record})]


def _extremum(op: str):
    record_name = f"{op}_constant"

    def convert(call: OperationCall) -> list:
        a, b = _two_operands(call)
        if _is_tensor(a) and _is_tensor(b):
            return _tensor_pair(call, op)
        value = _scalar(call, _constant(call, b if _is_tensor(a) else a), "compares with")
        record = make_record(record_name, call.where(), value=value)
        return [Op("activation", call.tensor_only_shape(), {"activation": record})]

    convert.__doc__ = (f"{op}(x, y) of two tensors (broadcasting, the IR op `{op}`); with one number: the record "
                       f"`{record_name}` (a tie of +0 and -0 keeps the tensor's value)")
    return convert


def _negative(call: OperationCall) -> list:
    """-x: scale_shift(-1, -0.0), exact for every value (signed zeros and NaN included)."""
    shape = call.tensor_only()
    if not shape:
        raise call.error("needs an input with at least one axis besides the batch")
    return _scale_shift(shape, np.float32(-1), np.float32(-0.0))


def _clip(call: OperationCall) -> list:
    """`clip` with x_min and x_max numbers from the config (tf.clip_by_value); tensor-valued bounds are refused."""
    shape = call.tensor_only()
    bounds = {}
    for key in ("x_min", "x_max"):
        if key not in call.config:
            raise call.error(f"has no {key!r} in its config")
        value = call.config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise call.error(f"has {key}={str(value)[:80]}; only number bounds are supported (not tensors or None)")
        bounds[key] = value
    record = make_record("clip", call.where(), low=bounds["x_min"], high=bounds["x_max"])
    return [Op("activation", shape, {"activation": record})]


# ---- reductions ---------------------------------------------------------------------------------


def _reduced_axes(call: OperationCall, shape: tuple) -> list:
    """The config's `axis` (an int or a list, Keras counting the batch axis as 0) as sorted sample axes (None refused)."""
    axis = call.config.get("axis", "missing")
    if axis == "missing":
        raise call.error("has no 'axis' in its config")
    if axis is None:
        raise call.error("reduces over every axis, the batch axis included (axis=None); "
                         "give the sample axes, e.g. axis=-1")
    axes = axis if isinstance(axis, list) else [axis]
    rank = len(shape) + 1
    sample = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int) or not -rank <= a < rank:
            raise call.error(f"axis {axis!r} is not an axis of an input of rank {rank}")
        a = a % rank
        if a == 0:
            raise call.error(f"axis {axis!r} names the batch axis (axis 0), which is not supported")
        sample.append(a - 1)
    if len(set(sample)) != len(sample):
        raise call.error(f"axis {axis!r} names an axis twice")
    return sorted(sample)


def _reduction(function: str):
    def convert(call: OperationCall) -> list:
        shape = call.tensor_only()
        keepdims = call.config.get("keepdims")
        if not isinstance(keepdims, bool):
            raise call.error(f"needs true or false for 'keepdims', got {keepdims!r}")
        if call.config.get("initial") is not None:
            raise call.error(f"has initial={call.config['initial']!r}; only initial=None is supported")
        axes = _reduced_axes(call, shape)
        kept = [a for a in range(len(shape)) if a not in axes]
        width = size_of([shape[a] for a in axes])
        kept_shape = tuple(shape[a] for a in kept)
        if not kept and not keepdims:
            raise call.error(f"reduces every sample axis with keepdims=False (output shape (None,)); kerasless "
                             f"tensors keep at least one axis besides the batch: call it with keepdims=True "
                             f"(output shape (None, {', '.join(['1'] * len(shape))}))")
        ops = []
        if kept + axes != list(range(len(shape))):  # the reduced axes last, in their order
            ops.append(Op("transpose", tuple(shape[a] for a in kept + axes), {"perm": kept + axes}))
        lead = kept_shape or (1,)  # every sample axis reduced (keepdims): one row of one
        if len(axes) != 1 or not kept:
            ops.append(Op("reshape", lead + (width,)))
        ops.append(Op("reduce", lead, {"function": function}))
        out = tuple(1 if a in axes else shape[a] for a in range(len(shape))) if keepdims else kept_shape
        if out != lead:
            ops.append(Op("reshape", out))
        return ops

    convert.__doc__ = (f"`{function}` over any sample axes (`axis` an int or a list, never the batch axis), keepdims "
                       f"true or false: the axes moved last (transpose) and reduced as one row of the IR op `reduce`"
                       + ("; float32 adds in increasing index" if function in ("sum", "mean") else
                          "; NaN propagates"))
    return convert


# ---- shape operations: existing IR ops, no data computed -------------------------------------------


def _batch_first(call: OperationCall, key: str, values, what: str) -> list:
    """A config list that includes the batch axis (Keras's ops take the whole tensor's shape): its sample part."""
    if not isinstance(values, list) or not values or any(isinstance(v, bool) for v in values):
        raise call.error(f"has {key}={values!r}; a list starting with the batch axis is supported")
    return values


def _reshape_op(call: OperationCall) -> list:
    """`newshape` with the batch axis first as -1 (ops.reshape(x, (-1, 4, 3))) and one more -1 at most: the IR op `reshape`."""
    shape = call.tensor_only()
    target = _batch_first(call, "newshape", call.config.get("newshape"), "shape")
    if target[0] not in (-1, None) or not all(isinstance(d, int) for d in target[1:]):
        raise call.error(f"has newshape={target!r}; the first entry must be -1 (the batch axis is kept), "
                         "e.g. keras.ops.reshape(x, (-1, 4, 3))")
    return [Op("reshape", resolved_shape(call, shape, target[1:]))]


def _transpose_op(call: OperationCall) -> list:
    """`axes` with the batch axis kept first ([0, 2, 1]): the IR op `transpose` of the sample axes."""
    shape = call.tensor_only()
    axes = call.config.get("axes")
    if axes is None:
        raise call.error("reverses every axis, the batch axis included (axes=None); give axes with 0 first, "
                         "e.g. keras.ops.transpose(x, (0, 2, 1))")
    axes = _batch_first(call, "axes", axes, "axes")
    rank = len(shape) + 1
    normalized = [a % rank if isinstance(a, int) and -rank <= a < rank else None for a in axes]
    if None in normalized or sorted(normalized) != list(range(rank)) or normalized[0] != 0:
        raise call.error(f"has axes={axes!r}; a permutation of the {rank} axes keeping the batch axis 0 first "
                         "is supported")
    perm = [a - 1 for a in normalized[1:]]
    if perm == list(range(len(shape))):
        return []
    return [Op("transpose", tuple(shape[p] for p in perm), {"perm": perm})]


def _expand_dims(call: OperationCall) -> list:
    """New axes of size 1 at `axis` (an int or a list, counted in the result, never the batch axis): a `reshape`."""
    shape = call.tensor_only()
    axis = call.config.get("axis")
    axes = axis if isinstance(axis, list) else [axis]
    rank = len(shape) + 1 + len(axes)
    picked = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int) or not -rank <= a < rank:
            raise call.error(f"axis {axis!r} is not an axis of the result of rank {rank}")
        picked.append(a % rank)
    if 0 in picked or len(set(picked)) != len(picked):
        raise call.error(f"axis {axis!r} is the batch axis or names an axis twice")
    rest = iter(shape)
    out = tuple(1 if a in picked else next(rest) for a in range(1, rank))
    return [Op("reshape", out)]


def _squeeze(call: OperationCall) -> list:
    """Axes of size 1 named by `axis` (an int or a list; never the batch axis, never None) dropped: a `reshape`."""
    shape = call.tensor_only()
    axis = call.config.get("axis")
    if axis is None:
        raise call.error("has axis=None, which would drop the batch axis of a batch of one; name the axes, "
                         "e.g. keras.ops.squeeze(x, axis=1)")
    axes = _reduced_axes(call, shape)
    if any(shape[a] != 1 for a in axes):
        raise call.error(f"squeezes axis {axis!r} of (None, {', '.join(map(str, shape))}), whose size is not 1")
    out = tuple(d for a, d in enumerate(shape) if a not in axes)
    if not out:
        raise call.error("would leave no axis besides the batch; kerasless tensors keep at least one")
    return [Op("reshape", out)]


def _tensor_list(call: OperationCall) -> list:
    """The shapes of a call whose one argument is a list of tensors (concatenate, stack), in order."""
    expected = [[{"tensor": k} for k in range(len(call.input_shapes))]]
    if call.arguments != expected or len(call.input_shapes) < 2:
        raise call.error(f"is called with {str(call.arguments)[:80]}; a list of two or more tensors is supported")
    return [tuple(s) for s in call.input_shapes]


def _concatenate_op(call: OperationCall) -> list:
    """A list of tensors joined on `axis` (never the batch axis): the IR op `concatenate`."""
    _tensor_list(call)
    return concatenate(call)


def _stack(call: OperationCall) -> list:
    """A list of tensors of one shape stacked on a new `axis` (never the batch axis): a `reshape` of each, then `concatenate`."""
    shapes = _tensor_list(call)
    if len(set(shapes)) != 1:
        raise call.error(f"stacks tensors of different shapes {shapes}")
    axis = call.config.get("axis")
    rank = len(shapes[0]) + 2
    if isinstance(axis, bool) or not isinstance(axis, int) or not -rank <= axis < rank or axis % rank == 0:
        raise call.error(f"axis {axis!r} is not a sample axis of the result of rank {rank}")
    at = axis % rank - 1
    one = shapes[0][:at] + (1,) + shapes[0][at:]
    ops = [Op("reshape", one, inputs=[LayerInput(k)]) for k in range(len(shapes))]
    out = shapes[0][:at] + (len(shapes),) + shapes[0][at:]
    return ops + [Op("concatenate", out, {"axis": at}, inputs=list(range(len(shapes))))]


def _matmul(call: OperationCall) -> list:
    """Two tensors of one rank (3 or more with the batch; leading sample axes broadcast): the IR op `matmul`; a tensor times a float32 matrix constant (x @ W): a `dense` node without bias."""
    a, b = _two_operands(call)
    if _is_tensor(a) and _is_tensor(b):
        x, y = (tuple(s) for s in call.input_shapes)
        if len(x) != len(y) or len(x) < 2:
            raise call.error(f"multiplies (None, {', '.join(map(str, x))}) by (None, {', '.join(map(str, y))}); "
                             "tensors of one rank with at least two sample axes are supported")
        if x[-1] != y[-2]:
            raise call.error(f"cannot multiply (None, {', '.join(map(str, x))}) by (None, {', '.join(map(str, y))})")
        lead = broadcast_shape([x[:-2], y[:-2]], call.error)
        return [Op("matmul", lead + (x[-2], y[-1]))]
    if not _is_tensor(a):
        raise call.error("multiplies a constant by a tensor; a tensor times a constant matrix (x @ W) is supported")
    shape = tuple(call.input_shapes[0])
    kernel = _constant(call, b)
    if kernel.ndim != 2 or not shape or kernel.shape[0] != shape[-1]:
        raise call.error(f"multiplies (None, {', '.join(map(str, shape))}) by a constant of shape {kernel.shape}; "
                         f"a ({shape[-1] if shape else 'n'}, units) matrix is supported")
    linear = make_record("linear", call.where())
    return [Op("dense", shape[:-1] + (kernel.shape[1],), {"activation": linear},
               {"kernel": np.ascontiguousarray(kernel, dtype=np.float32)})]


# ---- slicing ---------------------------------------------------------------------------------------


def _slice_items(call: OperationCall, key, rank: int) -> list:
    """A GetItem key (Keras's __slice__, __ellipsis__ records and integers) as one item per axis, batch first."""
    items = key if isinstance(key, list) else [key]
    ellipses = [k for k, item in enumerate(items)
                if isinstance(item, dict) and item.get("class_name") == "__ellipsis__"]
    if len(ellipses) > 1:
        raise call.error("has more than one ellipsis (...) in its index")
    full = {"class_name": "__slice__", "config": {"start": None, "stop": None, "step": None}}
    if ellipses:
        k = ellipses[0]
        items = items[:k] + [full] * (rank - len(items) + 1) + items[k + 1:]
    if len(items) > rank:
        raise call.error(f"indexes {len(items)} axes of a tensor of rank {rank}")
    return items + [full] * (rank - len(items))


def _get_item(call: OperationCall) -> list:
    """`x[...]` with slices (any start, stop and step, negative ones too), integers and an ellipsis on the sample axes, the batch axis taken whole: a `slice` node, then a `reshape` dropping the axes integers remove; None (new axes) and tensor indices are refused."""
    if len(call.arguments) != 2 or call.arguments[0] != {"tensor": 0} or len(call.input_shapes) != 1:
        raise call.error("is called with a tensor index or several tensors; slices and integers are supported")
    shape = tuple(call.input_shapes[0])
    items = _slice_items(call, call.arguments[1], len(shape) + 1)
    first = items[0]
    if not (isinstance(first, dict) and first.get("class_name") == "__slice__"
            and first.get("config") == {"start": None, "stop": None, "step": None}):
        raise call.error("indexes the batch axis; take it whole (x[:, ...])")
    begin, step, sizes, kept = [], [], [], []
    for size, item in zip(shape, items[1:]):
        if isinstance(item, int) and not isinstance(item, bool):
            if not -size <= item < size:
                raise call.error(f"index {item} is out of range for an axis of size {size}")
            begin.append(item % size), step.append(1), sizes.append(1)
            continue
        if not (isinstance(item, dict) and item.get("class_name") == "__slice__"
                and isinstance(item.get("config"), dict)):
            raise call.error(f"has the index {str(item)[:80]}; slices, integers and one ellipsis are supported")
        bounds = [item["config"].get(k) for k in ("start", "stop", "step")]
        if any(b is not None and (isinstance(b, bool) or not isinstance(b, int)) for b in bounds):
            raise call.error(f"has the slice {bounds}; its start, stop and step must be integers or None")
        if bounds[2] == 0:
            raise call.error("has a slice step of 0")
        start, stop, stride = slice(*bounds).indices(size)
        count = len(range(start, stop, stride))
        if count == 0:
            raise call.error(f"slice {bounds} of an axis of size {size} is empty")
        begin.append(start), step.append(stride), sizes.append(count)
        kept.append(len(sizes) - 1)
    out = tuple(sizes[a] for a in kept)
    if not out:
        raise call.error("leaves no axis besides the batch (every sample axis indexed by an integer); "
                         "keep one with a slice, e.g. x[:, 2:3] instead of x[:, 2]")
    ops = []
    if tuple(sizes) != shape or step != [1] * len(shape):
        ops.append(Op("slice", tuple(sizes), {"begin": begin, "step": step}))
    if out != tuple(sizes):
        ops.append(Op("reshape", out))
    return ops


def _split(call: OperationCall) -> list:
    """`indices_or_sections` (a number of equal parts, or the indices to cut at) along `axis` (never the batch axis): one `slice` node per output."""
    shape = call.tensor_only()
    axis = _sample_axis(call, call.config.get("axis"), len(shape))
    size = shape[axis]
    cuts = call.config.get("indices_or_sections")
    if isinstance(cuts, int) and not isinstance(cuts, bool):
        if cuts <= 0 or size % cuts:
            raise call.error(f"splits an axis of size {size} into {cuts} equal parts, which it cannot be")
        bounds = [size // cuts * k for k in range(cuts + 1)]
    elif isinstance(cuts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in cuts):
        bounds = [0] + [min(max(c % size if c < 0 else c, 0), size) for c in cuts] + [size]
        if any(b > e for b, e in zip(bounds, bounds[1:])):
            raise call.error(f"has indices {cuts} that do not increase")
    else:
        raise call.error(f"has indices_or_sections={cuts!r}; a number of parts or a list of indices is supported")
    ops = []
    for k, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        if stop == start:
            raise call.error(f"part {k} ({start}:{stop}) is empty; kerasless tensors have no empty axes")
        out = shape[:axis] + (stop - start,) + shape[axis + 1:]
        begin = [start if a == axis else 0 for a in range(len(shape))]
        ops.append(Op("slice", out, {"begin": begin, "step": [1] * len(shape)}, inputs=[LayerInput(0)], output=k))
    return ops


# Keras operation class name -> converter. docs/layers.md is generated from this table.
OPERATIONS = {
    "Absolute": _activation("abs"),
    "Add": _add,
    "Celu": _activation("celu", ("alpha",)),
    "Clip": _clip,
    "Concatenate": _concatenate_op,
    "Divide": _divide,
    "Elu": _activation("elu", ("alpha",)),
    "Exp": _activation("exponential"),
    "ExpandDims": _expand_dims,
    "Gelu": _activation("gelu", flags=("approximate",)),
    "GetItem": _get_item,
    "Glu": _activation("glu", axis_wise=True),
    "HardShrink": _activation("hard_shrink", ("threshold",)),
    "HardSigmoid": _activation("hard_sigmoid"),
    "HardSilu": _activation("hard_silu"),
    "HardTanh": _activation("hard_tanh"),
    "LeakyRelu": _activation("leaky_relu", ("negative_slope",)),
    "Log": _activation("log"),
    "LogSigmoid": _activation("log_sigmoid"),
    "LogSoftmax": _activation("log_softmax", axis_wise=True),
    "Matmul": _matmul,
    "Max": _reduction("max"),
    "Maximum": _extremum("maximum"),
    "Mean": _reduction("mean"),
    "Min": _reduction("min"),
    "Minimum": _extremum("minimum"),
    "Multiply": _multiply,
    "Negative": _negative,
    "ReLU": _relu,
    "Relu": _plain_relu,
    "Relu6": _activation("relu6"),
    "Reshape": _reshape_op,
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
    "Split": _split,
    "Sqrt": _activation("sqrt"),
    "Square": _activation("square"),
    "Squareplus": _activation("squareplus", ("b",)),
    "Squeeze": _squeeze,
    "Stack": _stack,
    "Subtract": _subtract,
    "Sum": _reduction("sum"),
    "Tanh": _activation("tanh"),
    "TanhShrink": _activation("tanh_shrink"),
    "Threshold": _activation("threshold", ("threshold", "default_value")),
    "Transpose": _transpose_op,
    "TrueDivide": _divide,
}
