"""Converter registry: Keras layer class name -> function returning IR ops.

A converter receives plain data only (a LayerCall: class name, config, weights,
input shapes) and reads every value it needs from the config explicitly.
It returns a list of Ops applied in sequence to the layer's inputs; an empty list
means the layer is the identity at inference time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporter.activations import convert_activation, fusable, make_record, output_shape
from exporter.errors import ExportError
from exporter.ir import LayerInput, Op, size_of

# IR op -> what it computes (docs/format.md spells out attrs and weights).
OPS = {
    "dense": "y = activation(x @ kernel + bias) over the last axis",
    "activation": "y = activation(x)",
    "reshape": "y = x with another shape (row-major data unchanged)",
    "scale_shift": "y = x * scale + shift, per last-axis channel",
    "prelu": "y = relu(x) + (-alpha) * relu(-x), alpha per value",
    "layer_norm": "normalize over the last axis: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) * gamma",
    "rms_norm": "y = x * rsqrt(mean(x^2) + eps) * scale over the last axis",
    "unit_norm": "y = x * min(rsqrt(sum x^2), 1/eps) over the last axis",
    "standardize": "y = (x - mean) / std, or mean + x * std when inverted",
    "transpose": "y = x with its axes permuted",
    "broadcast": "y = x repeated along new leading axes and its axes of size 1 (numpy broadcasting)",
    "repeat": "y = n copies of x stacked on a new first axis",
    "concatenate": "y = inputs joined along one axis",
    "add": "y = ((x0 + x1) + x2) + ...",
    "subtract": "y = x0 - x1",
    "divide": "y = x0 / x1",
    "multiply": "y = ((x0 * x1) * x2) * ...",
    "average": "y = (((x0 + x1) + x2) + ...) / count",
    "maximum": "y = max(max(x0, x1), x2) ...",
    "minimum": "y = min(min(x0, x1), x2) ...",
    "dot": "y = [sum(x0 * x1)], optionally of L2-normalized inputs",
    "reduce": "y = sum, mean, max or min over the last axis, which the output drops",
    "slice": "y = x[begin0::step0, begin1::step1, ...] with the node's shape (numpy basic slicing)",
    "matmul": "y = x0 @ x1 over the last two axes, the leading axes broadcast",
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


def _where(call: LayerCall) -> str:
    return f"layer {call.name!r} ({call.class_name})"


def identity(call: LayerCall) -> list:
    """Identity at inference time."""
    call.single_input()
    return []


def input_layer(call: LayerCall) -> list:
    """float32 inputs of fixed shape; sparse, ragged and integer inputs are refused."""
    raise call.error("an InputLayer is only valid as a model input")


def dense(call: LayerCall) -> list:
    """Kernel (in, out) and optional bias over the last axis (rank-3 inputs too), with any supported activation."""
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
    act = convert_activation(call.config.get("activation"), _where(call))
    return _dense_ops(call, tuple(shape[:-1]) + (units,), act, weights)


def _dense_ops(call: LayerCall, shape: tuple, act: dict, weights: dict) -> list:
    """A dense node with its activation fused, or followed by it when it changes the shape (glu)."""
    if fusable(act):
        return [Op("dense", shape, {"activation": act}, weights)]
    linear = convert_activation("linear", _where(call))
    return [Op("dense", shape, {"activation": linear}, weights),
            Op("activation", output_shape(act, shape, _where(call)), {"activation": act})]


def activation(call: LayerCall) -> list:
    """Any supported activation (see the table below) as its own node; linear is dropped."""
    shape = call.single_input()
    act = convert_activation(call.config.get("activation"), _where(call))
    if act["name"] == "linear":
        return []
    return [Op("activation", output_shape(act, tuple(shape), _where(call)), {"activation": act})]


def flatten(call: LayerCall) -> list:
    """channels_last; channels_first moves the channel axis last first, as Keras does."""
    shape = tuple(call.single_input())
    if call.config.get("data_format", "channels_last") == "channels_first" and len(shape) > 1:
        # Keras moves the channel axis last before flattening.
        perm = list(range(1, len(shape))) + [0]
        return [Op("transpose", tuple(shape[d] for d in perm), {"perm": perm}), Op("reshape", (size_of(shape),))]
    return [Op("reshape", (size_of(shape),))]


def _number(call: LayerCall, key: str, default=None) -> float:
    value = call.config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise call.error(f"{key}={value!r} is not a number")
    return float(value)


def _sample_axis(call: LayerCall, axis, rank: int, what="axis") -> int:
    """Keras axis (the batch is axis 0) -> axis of the per-sample shape."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -(rank + 1) <= axis <= rank:
        raise call.error(f"invalid {what} {axis!r}")
    axis = axis % (rank + 1)
    if axis == 0:
        raise call.error(f"{what} 0 is the batch axis, which is not supported")
    return axis - 1


def _normalized_axes(call: LayerCall, axis, shape, what="axis") -> list:
    """Keras axes (an int or a list; the batch is axis 0) -> the sorted, distinct axes of the per-sample shape."""
    raw = axis if isinstance(axis, list) else [axis]
    if not raw:
        raise call.error(f"{what}={axis!r} names no axis")
    axes = [_sample_axis(call, a, len(shape), what) for a in raw]
    if len(set(axes)) != len(axes):
        raise call.error(f"{what}={axis!r} names an axis twice")
    return sorted(axes)


def _keras_param_shape(axis, shape) -> tuple:
    """The shape Keras 3 gives a per-axes weight: the axes' sizes, the axes sorted as written (negatives first)."""
    raw = axis if isinstance(axis, list) else [axis]
    full = (None,) + tuple(shape)
    return tuple(full[a] for a in sorted(raw))


def _axes_weights(call: LayerCall, count: int, shapes: list) -> list:
    """count float32 weights, each of one of `shapes` (axes of size 1 aside), as flat arrays.

    Keras reshapes such a weight to the input's rank before broadcasting (keras/src/ops/nn.py,
    _layer_normalization's _broadcast; tf_keras does the same), so its values are taken in order
    over the normalized axes, whatever order its own shape lists them in.
    """
    if len(call.weights) != count:
        raise call.error(f"expected {count} weight arrays, the file has {len(call.weights)}")
    allowed = {tuple(d for d in s if d != 1) for s in shapes}
    arrays = []
    for index, array in enumerate(call.weights):
        array = np.asarray(array)
        if tuple(d for d in array.shape if d != 1) not in allowed:
            raise call.error(f"weight {index} has shape {tuple(array.shape)}, expected {tuple(shapes[0])}")
        if array.dtype != np.float32:
            raise call.error(f"weight {index} has dtype {array.dtype}; only float32 weights are supported")
        arrays.append(np.ascontiguousarray(array.reshape(-1)))
    return arrays


def over_axes(shape: tuple, axes: list, core) -> list:
    """Ops applying a last-axis op over the given axes (sorted) of shape: move them last in their order,
    merge them into one axis, apply core(merged shape) -> Op, then undo the merge and the move.

    Only the steps that change something are emitted: a last-axis op needs none, trailing axes
    only the reshapes. Transposes and reshapes move data without arithmetic, so the result is
    the last-axis op's, value for value.
    """
    rank = len(shape)
    rest = [d for d in range(rank) if d not in axes]
    perm = rest + list(axes)
    moved = tuple(shape[d] for d in perm)
    merged = tuple(shape[d] for d in rest) + (size_of([shape[d] for d in axes]),)
    ops = []
    if perm != list(range(rank)):
        ops.append(Op("transpose", moved, {"perm": perm}))
    if merged != moved:
        ops.append(Op("reshape", merged))
    ops.append(core(merged))
    if merged != moved:
        ops.append(Op("reshape", moved))
    if perm != list(range(rank)):
        ops.append(Op("transpose", tuple(shape), {"perm": [perm.index(d) for d in range(rank)]}))
    return ops


def _over_axes_full(values: np.ndarray, axes: list, shape: tuple) -> np.ndarray:
    """A flat weight over the axes (in order), broadcast to every value of shape."""
    return np.broadcast_to(values.reshape([shape[d] if d in axes else 1 for d in range(len(shape))]), shape)


def _affine(shape: tuple, scale: np.ndarray, shift: np.ndarray) -> list:
    """y = x * scale + shift with scale and shift of x's shape: one scale_shift per last-axis channel
    when they only vary along the last axis, otherwise over the flattened values."""
    n = shape[-1]
    scale = np.ascontiguousarray(scale, dtype=np.float32).reshape(-1, n)
    shift = np.ascontiguousarray(shift, dtype=np.float32).reshape(-1, n)
    if (scale == scale[:1]).all() and (shift == shift[:1]).all():
        return [Op("scale_shift", shape, {}, {"scale": scale[0].copy(), "shift": shift[0].copy()})]
    size = size_of(shape)
    return [Op("reshape", (size,)), Op("scale_shift", (size,), {}, {"scale": scale.reshape(-1), "shift": shift.reshape(-1)}),
            Op("reshape", tuple(shape))]


def relu_layer(call: LayerCall) -> list:
    """negative_slope, max_value and threshold, with Keras 3's exact formula."""
    shape = call.single_input()
    max_value = call.config.get("max_value")
    record = make_record("relu", _where(call), negative_slope=_number(call, "negative_slope", 0.0),
                         max_value=None if max_value is None else _number(call, "max_value"),
                         threshold=_number(call, "threshold", 0.0))
    return [Op("activation", tuple(shape), {"activation": record})]


def leaky_relu_layer(call: LayerCall) -> list:
    """negative_slope (Keras 2 files: alpha) read from the config, never defaulted."""
    shape = call.single_input()
    key = "negative_slope" if "negative_slope" in call.config else "alpha"  # Keras 2 wrote `alpha`
    if key not in call.config:
        raise call.error("has no negative_slope in its config")
    record = make_record("leaky_relu", _where(call), negative_slope=_number(call, key))
    return [Op("activation", tuple(shape), {"activation": record})]


def elu_layer(call: LayerCall) -> list:
    """alpha from the config."""
    shape = call.single_input()
    record = make_record("elu", _where(call), alpha=_number(call, "alpha", 1.0))
    return [Op("activation", tuple(shape), {"activation": record})]


def softmax_layer(call: LayerCall) -> list:
    """Any axis or axes (others than the last become transpose, softmax, transpose)."""
    shape = tuple(call.single_input())
    axes = _normalized_axes(call, call.config.get("axis", -1), shape)
    act = convert_activation("softmax", call.name)
    return over_axes(shape, axes, lambda merged: Op("activation", merged, {"activation": act}))


def prelu(call: LayerCall) -> list:
    """relu(x) + (-alpha) * relu(-x), alpha broadcast over shared_axes."""
    shape = tuple(call.single_input())
    if not call.weights:
        raise call.error("has no alpha weight")
    alpha = np.asarray(call.weights[0])
    if len(call.weights) != 1 or alpha.dtype != np.float32 or alpha.ndim != len(shape):
        raise call.error(f"unexpected weights {[np.shape(w) for w in call.weights]} for input {shape}")
    try:
        full = np.ascontiguousarray(np.broadcast_to(alpha, shape), dtype=np.float32)
    except ValueError:
        raise call.error(f"alpha of shape {alpha.shape} does not broadcast to input {shape}") from None
    return [Op("prelu", shape, {}, {"alpha": full})]


def batch_normalization(call: LayerCall) -> list:
    """Inference form folded at export: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) * gamma; any axis (Keras 2 files: axes); any center/scale."""
    shape = tuple(call.single_input())
    axis = call.config.get("axis", -1)
    axes = _normalized_axes(call, axis, shape)
    if call.config.get("renorm") or call.config.get("synchronized"):
        raise call.error("renorm/synchronized batch normalization is not supported")
    scale, center = call.config.get("scale", True), call.config.get("center", True)
    arrays = _axes_weights(call, int(bool(scale)) + int(bool(center)) + 2,
                           [[shape[a] for a in axes], _keras_param_shape(axis, shape)])
    gamma = arrays.pop(0) if scale else None
    beta = arrays.pop(0) if center else None
    mean, variance = arrays
    epsilon = np.float32(_number(call, "epsilon", 1e-3))
    # tf.nn.batch_normalization, in float32: inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv)
    inv = (np.float32(1.0) / np.sqrt(variance + epsilon)).astype(np.float32)
    if gamma is not None:
        inv = (inv * gamma).astype(np.float32)
    shift = (-(mean * inv)).astype(np.float32) if beta is None else (beta - mean * inv).astype(np.float32)
    if axes == [len(shape) - 1]:
        return [Op("scale_shift", shape, {}, {"scale": inv, "shift": shift})]
    return _affine(shape, _over_axes_full(inv, axes, shape), _over_axes_full(shift, axes, shape))


def rescaling(call: LayerCall) -> list:
    """x * scale + offset; scalar or per-channel values."""
    shape = tuple(call.single_input())
    n = shape[-1]
    weights = {}
    for key, name in (("scale", "scale"), ("offset", "shift")):
        value = call.config.get(key, 1.0 if key == "scale" else 0.0)
        if isinstance(value, dict):  # a serialized array
            value = value.get("config", {}).get("value")
        array = np.asarray(value, dtype=np.float32)
        if array.ndim > 1 or (array.ndim == 1 and array.shape[0] not in (1, n)):
            raise call.error(f"{key} of shape {array.shape} is not a scalar or one value per last-axis channel")
        weights[name] = np.ascontiguousarray(np.broadcast_to(array.reshape(-1) if array.ndim else array, (n,)),
                                             dtype=np.float32)
    return [Op("scale_shift", shape, {}, weights)]


def layer_normalization(call: LayerCall) -> list:
    """Any axis or axes; center, scale, epsilon; rms_scaling as Keras 3 computes it (x * rsqrt(var + eps) * gamma)."""
    shape = tuple(call.single_input())
    axis = call.config.get("axis", -1)
    axes = _normalized_axes(call, axis, shape)
    scale, center = call.config.get("scale", True), call.config.get("center", True)
    rms = bool(call.config.get("rms_scaling", False))
    center = center and not rms  # with rms_scaling Keras creates no beta
    arrays = _axes_weights(call, int(bool(scale)) + int(bool(center)),
                           [_keras_param_shape(axis, shape), [shape[a] for a in axes]])
    weights = {}
    if scale:
        weights["gamma"] = arrays.pop(0)
    if center:
        weights["beta"] = arrays.pop(0)
    attrs = {"epsilon": _number(call, "epsilon", 1e-3), "rms_scaling": rms}
    return over_axes(shape, axes, lambda merged: Op("layer_norm", merged, attrs, weights))


def rms_normalization(call: LayerCall) -> list:
    """x * rsqrt(mean(x^2) + eps) * scale over any axis or axes; scale broadcast as Keras does (aligned on the last axis)."""
    shape = tuple(call.single_input())
    axis = call.config.get("axis", -1)
    axes = _normalized_axes(call, axis, shape)
    epsilon = call.config.get("epsilon")
    attrs = {"epsilon": 1e-7 if epsilon is None else _number(call, "epsilon")}  # None: backend.epsilon()
    param_shape = _keras_param_shape(axis, shape)
    if len(call.weights) != 1:
        raise call.error(f"expected 1 weight array, the file has {len(call.weights)}")
    scale = np.asarray(call.weights[0])
    if tuple(scale.shape) != param_shape or scale.dtype != np.float32:
        raise call.error(f"weight 0 is {scale.dtype} {tuple(scale.shape)}, expected float32 {param_shape}")
    # keras/src/ops/nn.py, _rms_normalization: the scale multiplies without a reshape, so it broadcasts
    # on the input's last axes (numpy's rule), which are the normalized ones only when those trail.
    try:
        full = np.broadcast_to(scale, shape)
    except ValueError:
        raise call.error(f"scale of shape {param_shape} does not broadcast to the input {shape}") from None
    trailing = axes == list(range(len(shape) - len(axes), len(shape)))
    if trailing and list(param_shape) == [shape[a] for a in axes]:
        return over_axes(shape, axes, lambda merged: Op("rms_norm", merged, attrs, {"scale": scale.reshape(-1).copy()}))
    ones = np.ones(size_of([shape[a] for a in axes]), dtype=np.float32)
    normalized = over_axes(shape, axes, lambda merged: Op("rms_norm", merged, attrs, {"scale": ones}))
    return normalized + _affine(shape, full, np.zeros(shape, dtype=np.float32))


def unit_normalization(call: LayerCall) -> list:
    """Any axis or axes: x * min(rsqrt(sum x^2), 1e12) (Keras 3)."""
    shape = tuple(call.single_input())
    axes = _normalized_axes(call, call.config.get("axis", -1), shape)
    # Keras 3: x * min(rsqrt(sum x^2), 1 / 1e-12)
    return over_axes(shape, axes, lambda merged: Op("unit_norm", merged, {"epsilon": 1e-12, "clamp": "inverse"}))


def normalization(call: LayerCall) -> list:
    """Adapted or given mean/variance, any kept axes, invert; std = max(sqrt(var), 1e-7)."""
    shape = tuple(call.single_input())
    axis = call.config.get("axis", -1)
    axes = [] if axis is None else (list(axis) if isinstance(axis, (list, tuple)) else [axis])
    keep = sorted(_sample_axis(call, a, len(shape)) for a in axes)
    broadcast = [shape[d] if d in keep else 1 for d in range(len(shape))]
    if call.config.get("mean") is not None:
        mean = np.asarray(call.config["mean"], dtype=np.float32)
        variance = np.asarray(call.config.get("variance"), dtype=np.float32)
        if mean.ndim:
            expanded = [1] * len(shape)
            for i in range(1, mean.ndim + 1):
                expanded[keep[-i]] = mean.shape[-i]
            mean, variance = mean.reshape(expanded), variance.reshape(expanded)
    else:
        if len(call.weights) != 3:
            raise call.error(f"expected mean, variance and count weights, found {len(call.weights)}")
        mean, variance = (np.asarray(w, dtype=np.float32) for w in call.weights[:2])
        mean, variance = mean.reshape(broadcast), variance.reshape(broadcast)
    try:
        mean = np.broadcast_to(mean, shape).astype(np.float32)
        variance = np.broadcast_to(variance, shape).astype(np.float32)
    except ValueError:
        raise call.error(f"mean/variance of shape {mean.shape} do not broadcast to input {shape}") from None
    # std = max(sqrt(variance), backend.epsilon()) in float32, as Keras computes it on every call
    std = np.maximum(np.sqrt(variance), np.float32(1e-7)).astype(np.float32)
    return [Op("standardize", shape, {"invert": bool(call.config.get("invert", False))},
               {"mean": np.ascontiguousarray(mean), "std": np.ascontiguousarray(std)})]


def reshape(call: LayerCall) -> list:
    """Any target shape, one -1 allowed; data is not moved."""
    shape = tuple(call.single_input())
    target = call.config.get("target_shape")
    if not isinstance(target, list) or not all(isinstance(d, int) for d in target):
        raise call.error(f"invalid target_shape {target!r}")
    return [Op("reshape", resolved_shape(call, shape, target))]


def resolved_shape(call: LayerCall, shape: tuple, target: list) -> tuple:
    """A reshape's per-sample target with its one -1 (at most) resolved; an error if the sizes do not agree."""
    size = size_of(shape)
    if not target or target.count(-1) > 1 or any(isinstance(d, bool) or d == 0 or d < -1 for d in target):
        raise call.error(f"invalid target shape {target!r}")
    known = size_of([d for d in target if d != -1])
    if -1 in target:
        if known == 0 or size % known:
            raise call.error(f"cannot reshape {shape} to {tuple(target)}")
        target = [size // known if d == -1 else d for d in target]
    if size_of(target) != size:
        raise call.error(f"cannot reshape {shape} to {tuple(target)}")
    return tuple(target)


def permute(call: LayerCall) -> list:
    """Any permutation of the non-batch axes."""
    shape = tuple(call.single_input())
    dims = call.config.get("dims")
    if not isinstance(dims, list) or sorted(dims) != list(range(1, len(shape) + 1)):
        raise call.error(f"invalid dims {dims!r} for an input of shape {shape}")
    perm = [d - 1 for d in dims]
    return [Op("transpose", tuple(shape[d] for d in perm), {"perm": perm})]


def repeat_vector(call: LayerCall) -> list:
    """Rank-1 input repeated n times."""
    shape = tuple(call.single_input())
    n = call.config.get("n")
    if len(shape) != 1 or not isinstance(n, int) or n <= 0:
        raise call.error(f"needs a rank-1 input and a positive n (input {shape}, n={n!r})")
    return [Op("repeat", (n,) + shape, {"n": n})]


def broadcast_shape(shapes: list, fail) -> tuple:
    """numpy's broadcasting rule over per-sample shapes; fail(message) builds the error to raise.

    Keras's merges expand a lower-rank input right after the batch axis until the ranks agree
    (keras/src/layers/merging/base_merge.py, call), then broadcast: per sample that is numpy's
    rule, which aligns the shapes on their last axis.
    """
    rank = max(len(s) for s in shapes)
    out = []
    for d in range(rank):
        sizes = {s[d - rank + len(s)] for s in shapes if d - rank + len(s) >= 0} - {1}
        if len(sizes) > 1:
            raise fail(f"input shapes {[tuple(s) for s in shapes]} do not broadcast (axis {d + 1} has sizes "
                       f"{sorted(sizes)}; each axis must agree or be 1)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def elementwise_ops(op: str, shapes: list, fail) -> list:
    """Ops computing the elementwise `op` over inputs of any shapes that broadcast together.

    Every input whose shape differs from the result's is first broadcast to it (one broadcast op,
    reading that input alone); the elementwise op then reads equal shapes. fail as broadcast_shape's.
    """
    shapes = [tuple(s) for s in shapes]
    shape = broadcast_shape(shapes, fail)
    ops, refs = [], []
    for k, s in enumerate(shapes):
        if s == shape:
            refs.append(LayerInput(k))
        else:
            refs.append(len(ops))
            ops.append(Op("broadcast", shape, inputs=[LayerInput(k)]))
    return ops + [Op(op, shape, inputs=refs)]


def merge(call: LayerCall) -> list:
    """Elementwise over inputs whose shapes broadcast (numpy's rule, as Keras applies it), folded left to right as Keras does (Subtract: exactly two)."""
    op = MERGE_OPS[call.class_name]
    count = len(call.input_shapes)
    if count < 2 or (op == "subtract" and count != 2):
        raise call.error(f"needs {'exactly' if op == 'subtract' else 'at least'} 2 inputs, has {count}")
    return elementwise_ops(op, call.input_shapes, call.error)


MERGE_OPS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
             "Maximum": "maximum", "Minimum": "minimum"}


def concatenate(call: LayerCall) -> list:
    """Any axis except the batch axis."""
    shapes = [tuple(s) for s in call.input_shapes]
    if len(shapes) < 2:
        raise call.error(f"needs at least 2 inputs, has {len(shapes)}")
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise call.error(f"inputs of different ranks {shapes}")
    axis = _sample_axis(call, call.config.get("axis", -1), rank)
    for s in shapes:
        if s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise call.error(f"shapes {shapes} do not match outside axis {axis + 1}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [Op("concatenate", tuple(out), {"axis": axis})]


def _dot_axis(call: LayerCall, axis, rank: int) -> int:
    """One of Dot's axes (Keras counts the batch axis; a negative one counts from the end) -> per-sample axis."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -(rank + 1) <= axis <= rank:
        raise call.error(f"axes={call.config.get('axes')!r}: invalid axis {axis!r} for inputs of rank {rank + 1}")
    axis %= rank + 1
    if axis == 0:
        raise call.error(f"axes={call.config.get('axes')!r} names the batch axis, which Keras cannot contract either")
    return axis - 1


# keras/src/ops/nn.py, normalize (Dot's normalize=True): x * min(rsqrt(sum(x^2)), 1 / backend.epsilon())
L2_NORMALIZE = {"epsilon": 1e-7, "clamp": "inverse"}


def contraction_ops(x: LayerInput | int, x_shape: tuple, p: int, y: LayerInput | int, y_shape: tuple, q: int,
                    normalize: bool = False, start: int = 0) -> list:
    """Ops contracting axis p of x with axis q of y: out = x's other axes, then y's other axes (Keras's batch_dot).

    x moves p last and merges its other axes into m; y moves q first and merges its others into n;
    one matmul (m, k) x (k, n), then a reshape to the kept axes. normalize: each input L2-normalized
    along its contracted axis first, where that axis is the last (y as (n, k), then turned to (k, n)).
    start: the index of the first op returned within the layer's op list (an int input refers to an
    earlier op of that list).
    """
    ops = []

    def emit(op):
        ops.append(op)
        return start + len(ops) - 1

    def arrange(ref, shape, axis, last):
        rest = [d for d in range(len(shape)) if d != axis]
        perm = rest + [axis] if last else [axis] + rest
        if perm != list(range(len(shape))):
            ref = emit(Op("transpose", tuple(shape[d] for d in perm), {"perm": perm}, inputs=[ref]))
        kept = size_of([shape[d] for d in rest])
        matrix = (kept, shape[axis]) if last else (shape[axis], kept)
        if tuple(shape[d] for d in perm) != matrix:
            ref = emit(Op("reshape", matrix, inputs=[ref]))
        return ref, [shape[d] for d in rest]

    k = x_shape[p]
    a, x_rest = arrange(x, x_shape, p, True)
    m = size_of(x_rest)
    if normalize:
        a = emit(Op("unit_norm", (m, k), dict(L2_NORMALIZE), inputs=[a]))
        b, y_rest = arrange(y, y_shape, q, True)
        n = size_of(y_rest)
        b = emit(Op("unit_norm", (n, k), dict(L2_NORMALIZE), inputs=[b]))
        turn = Op("reshape", (k, n), inputs=[b]) if 1 in (n, k) else Op("transpose", (k, n), {"perm": [1, 0]}, inputs=[b])
        b = emit(turn)
    else:
        b, y_rest = arrange(y, y_shape, q, False)
        n = size_of(y_rest)
    emit(Op("matmul", (m, n), inputs=[a, b]))
    out = tuple(x_rest + y_rest) or (1,)
    if out != (m, n):
        emit(Op("reshape", out))
    return ops


def dot(call: LayerCall) -> list:
    """Any axes (an int or a pair, negative ones too) of inputs of any rank, normalize=True too: the first input's other axes, then the second's (Keras's batch_dot).

    normalize L2-normalizes each input along its contracted axis first, as Keras 3 does:
    x * min(rsqrt(sum x^2), 1e7) (Keras 2 files: rsqrt(max(sum x^2, 1e-12)), exporter/keras2.py).
    """
    shapes = [tuple(s) for s in call.input_shapes]
    if len(shapes) != 2 or not all(shapes):
        raise call.error(f"needs two inputs of rank 1 or more per sample, got {shapes}")
    axes = call.config.get("axes")
    pair = axes if isinstance(axes, list) else [axes, axes]
    if len(pair) != 2:
        raise call.error(f"axes={axes!r} must be an int or a list of two ints")
    p, q = (_dot_axis(call, a, len(s)) for a, s in zip(pair, shapes))
    if shapes[0][p] != shapes[1][q]:
        raise call.error(f"axes={axes!r}: axis sizes {shapes[0][p]} and {shapes[1][q]} differ (input shapes {shapes})")
    normalize = bool(call.config.get("normalize", False))
    if len(shapes[0]) == 1 and len(shapes[1]) == 1:
        return [Op("dot", (1,), {"normalize": normalize})]
    return contraction_ops(LayerInput(0), shapes[0], p, LayerInput(1), shapes[1], q, normalize)


def _einsum_subscripts(call: LayerCall, equation: str, rank: int) -> tuple:
    """EinsumDense's equation -> (input, kernel, output) subscripts, the input's and output's including the batch
    axis, an ellipsis spelled out as letters of its own (Keras's elided axes, the batch among them)."""
    try:
        operands, out = equation.split("->")
        lhs, kernel = operands.split(",")
    except ValueError:
        raise call.error(f"unreadable equation {equation!r}") from None
    if "..." in kernel or lhs.count("...") > 1 or lhs.count("...") != out.count("..."):
        raise call.error(f"equation {equation!r}: an ellipsis must appear once in the input and the output, "
                         "never in the kernel")
    for part in (lhs.replace("...", ""), kernel, out.replace("...", "")):
        if not part.isalpha() or not part.isascii() or len(set(part)) != len(part):
            raise call.error(f"equation {equation!r}: {part!r} is not distinct letters (a repeated letter "
                             "takes a diagonal, which is not supported)")
    if "..." in lhs:
        elided = rank + 1 - len(lhs.replace("...", ""))
        used = set(lhs + kernel + out)
        fresh = "".join([c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used][:max(elided, 0)])
        if elided < 1 or len(fresh) != elided:
            raise call.error(f"equation {equation!r} does not fit an input of rank {rank + 1}")
        lhs, out = lhs.replace("...", fresh), out.replace("...", fresh)
    if len(lhs) != rank + 1:
        raise call.error(f"equation {equation!r} names {len(lhs)} input axes; the input has {rank + 1} "
                         "(the batch included)")
    return lhs, kernel, out


def _check_keras_bias_add(call: LayerCall, bias_axes: str, bias_shape: tuple, out_shape: tuple) -> None:
    """Refuse a bias Keras 3 on TensorFlow adds along other axes than its bias_axes say.

    EinsumDense adds its bias with keras.ops.add, which on TensorFlow turns an x2 that squeezes to a
    vector of length L into tf.nn.bias_add when L is the size of x's last axis (added along it) or of
    its axis 1 (NCHW: along axis 1) (keras/src/backend/tensorflow/numpy.py, add; Keras 3.15). Where
    that differs from broadcasting (a bias over 'd' of shape (2, 1) on an output (2, 2): TensorFlow adds
    it along the last axis), model.predict and the file's equation disagree (Keras 2 and the other
    backends broadcast), so the export stops rather than pick one.
    """
    vector = [d for d in bias_shape if d > 1]
    if len(vector) != 1 or vector[0] not in (out_shape[0], out_shape[-1]):
        return
    distinct = np.arange(size_of(bias_shape)).reshape(bias_shape)
    broadcast = np.broadcast_to(distinct.reshape((1,) * (len(out_shape) - len(bias_shape)) + bias_shape), out_shape)
    axis = len(out_shape) - 1 if out_shape[-1] == vector[0] else 0
    along = np.broadcast_to(distinct.reshape([vector[0] if d == axis else 1 for d in range(len(out_shape))]),
                            out_shape)
    if not (broadcast == along).all():
        raise call.error(f"bias_axes={bias_axes!r}: the bias of shape {bias_shape} is added by Keras 3 on TensorFlow "
                         f"along output axis {axis + 1} of {out_shape} (keras.ops.add's bias_add shortcut), not along "
                         f"{bias_axes!r} as the equation says; the two disagree, so kerasless cannot reproduce "
                         "both: give the bias axes a size no other output axis has, or use the last axis")


def _einsum_output_letters(equation: str) -> str:
    """The output's letters as written (the ellipsis left out)."""
    return equation.split("->")[1].replace("...", "")


def einsum_dense(call: LayerCall) -> list:
    """Any equation whose kernel contracts input axes (abc,cde->abde; abcd,cde->abe; abc,cd->adb; ...b,bc->...c), bias_axes on any output axes; not: an axis in input, kernel and output (a kernel per position), a repeated letter, a moved batch axis, LoRA.

    Lowered to transpose and reshape around one dense (input axes the kernel lacks and the output drops are
    summed by a kernel constant along them); a bias that varies along the dense's rows is added after it.
    """
    shape = tuple(call.single_input())
    equation = str(call.config.get("equation", "")).replace(" ", "")
    if call.config.get("lora_rank"):
        raise call.error("LoRA weights are not supported")
    lhs, ker, out = _einsum_subscripts(call, equation, len(shape))
    batch, axes = lhs[0], lhs[1:]
    if not out or out[0] != batch or batch in ker:
        raise call.error(f"equation {equation!r} moves or contracts the batch axis {batch!r}; it must stay first")
    for letter in axes:
        if letter in ker and letter in out:
            raise call.error(f"equation {equation!r}: axis {letter!r} is in the input, the kernel and the output "
                             "(a different kernel per position), which a dense cannot express")
    summed = [c for c in axes if c not in ker and c not in out]  # einsum sums them: a kernel constant along them
    if sorted(out) != sorted((set(lhs) - set(ker) - set(summed)) | (set(ker) - set(lhs))):
        raise call.error(f"equation {equation!r}: the output axes do not follow from the input and kernel")
    free = [c for c in axes if c not in ker and c in out]
    contracted = summed + [c for c in ker if c in axes]
    made = [c for c in ker if c not in axes]
    size = {c: shape[k] for k, c in enumerate(axes)}
    kernel = np.asarray(call.weights[0]) if call.weights else None
    if kernel is None or kernel.ndim != len(ker):
        raise call.error(f"has no kernel of rank {len(ker)} for the equation {equation!r}")
    size.update({c: kernel.shape[k] for k, c in enumerate(ker) if c in made})
    out_shape = tuple(size[c] for c in out[1:])
    written = call.config.get("output_shape")
    written = [written] if isinstance(written, int) else list(written) if isinstance(written, tuple) else written
    named = [c for c in _einsum_output_letters(equation) if c != batch]  # the axes output_shape lists
    # (with an ellipsis Keras takes output_shape with or without the elided axes: only the plain form is checked)
    if written is not None and "..." not in equation and (not isinstance(written, list) or len(written) != len(named)
                                or any(w is not None and w != size[c] for w, c in zip(written, named))):
        raise call.error(f"output_shape {call.config.get('output_shape')!r} does not match the equation "
                         f"{equation!r}, the input {shape} and the kernel {kernel.shape}")
    bias_axes = call.config.get("bias_axes") or ""
    if not isinstance(bias_axes, str) or any(c not in out[1:] for c in bias_axes):
        raise call.error(f"bias_axes={bias_axes!r} names an axis that is not a non-batch output axis of {equation!r}")
    first = min((out.index(c) for c in bias_axes), default=len(out))
    bias_shape = tuple(size[c] if c in bias_axes else 1 for c in out[first:])  # Keras: from the first bias axis on
    arrays = call.expect_weights([tuple(size[c] for c in ker)] + ([bias_shape] if bias_axes else []))
    k_in, k_out = size_of([size[c] for c in contracted]), size_of([size[c] for c in made])
    ordered = np.transpose(arrays[0], [ker.index(c) for c in contracted[len(summed):] + made])
    ordered = np.broadcast_to(ordered, tuple(size[c] for c in summed) + ordered.shape)
    matrix = np.ascontiguousarray(ordered.reshape(k_in, k_out), dtype=np.float32)
    ops = []
    perm = [axes.index(c) for c in free + contracted]
    if perm != list(range(len(axes))):
        ops.append(Op("transpose", tuple(shape[d] for d in perm), {"perm": perm}))
    rows = tuple(size[c] for c in free)
    if tuple(shape[d] for d in perm) != rows + (k_in,):
        ops.append(Op("reshape", rows + (k_in,)))
    # the output's axes as the dense leaves them (free, then the kernel's), and the move to Keras's order
    order = free + made
    back = [order.index(c) for c in out[1:]]
    weights = {"kernel": matrix}
    add_bias = None
    if bias_axes:
        _check_keras_bias_add(call, bias_axes, bias_shape, out_shape)
        full = np.broadcast_to(arrays[1].reshape((1,) * (len(out_shape) - len(bias_shape)) + bias_shape), out_shape)
        laid = np.transpose(full, [out[1:].index(c) for c in order]).reshape(-1, k_out)
        if (laid == laid[:1]).all():
            weights["bias"] = np.ascontiguousarray(laid[0])
        else:
            add_bias = np.ascontiguousarray(full, dtype=np.float32)
    act = convert_activation(call.config.get("activation"), _where(call))
    dense_shape = rows + (k_out,)
    split = tuple(size[c] for c in order)
    tail_free = split == dense_shape and back == list(range(len(back))) and add_bias is None
    if tail_free:
        return ops + _dense_ops(call, dense_shape, act, weights)
    ops.append(Op("dense", dense_shape, {"activation": convert_activation("linear", _where(call))}, weights))
    if split != dense_shape:
        ops.append(Op("reshape", split))
    if back != list(range(len(back))):
        ops.append(Op("transpose", out_shape, {"perm": back}))
    if add_bias is not None:  # x * 1 + b: the float32 addition Keras makes (ops.add(x, bias))
        ops += _affine(out_shape, np.ones(out_shape, dtype=np.float32), add_bias)
    if act["name"] != "linear":
        ops.append(Op("activation", output_shape(act, out_shape, _where(call)), {"activation": act}))
    return ops


# Keras class name -> converter. docs/layers.md is generated from this table.
LAYERS = {
    "Activation": activation,
    "ActivityRegularization": identity,
    "Add": merge,
    "AlphaDropout": identity,
    "Average": merge,
    "BatchNormalization": batch_normalization,
    "Concatenate": concatenate,
    "Dense": dense,
    "Dot": dot,
    "Dropout": identity,
    "ELU": elu_layer,
    "EinsumDense": einsum_dense,
    "Flatten": flatten,
    "GaussianDropout": identity,
    "GaussianNoise": identity,
    "Identity": identity,
    "InputLayer": input_layer,
    "LayerNormalization": layer_normalization,
    "LeakyReLU": leaky_relu_layer,
    "Maximum": merge,
    "Minimum": merge,
    "Multiply": merge,
    "Normalization": normalization,
    "PReLU": prelu,
    "Permute": permute,
    "ReLU": relu_layer,
    "RMSNormalization": rms_normalization,
    "RepeatVector": repeat_vector,
    "Rescaling": rescaling,
    "Reshape": reshape,
    "Softmax": softmax_layer,
    "SpatialDropout1D": identity,
    "SpatialDropout2D": identity,
    "SpatialDropout3D": identity,
    "Subtract": merge,
    "UnitNormalization": unit_normalization,
}


def supported_layers() -> str:
    return ", ".join(sorted(LAYERS))
