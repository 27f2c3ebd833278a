"""What each IR op accepts: the runtime's half of docs/format.md.

SIGNATURES declares, once, each op's inputs, attributes (type and range) and weights
(names and exact shapes); check_node applies it to every node, then the op's own
validator checks what relates its shapes to each other. docs/format.md's op tables are
generated from SIGNATURES (exporter/format_docs.py), and the exporter's self-check loads
every file it writes through check_node. Both backends run a model only after every node
has passed, so a kernel never sees a weight of the wrong shape or an unknown activation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime_py.activations import activation_input_shape, check_activation_record
from runtime_py.errors import ModelFormatError
from runtime_py.limits import MAX_REPEAT


def size_of(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


# ---- the declaration ----------------------------------------------------------------------------

# Attribute kinds: what the JSON value must be.
ATTR_KINDS = {
    "number": "a finite JSON number",
    "integer": "a JSON integer (no fraction, no exponent)",
    "bool": "`true` or `false`",
    "string": "a JSON string",
    "activation": "an activation object ([Activations](#activations))",
    "integer list": "a JSON list of integers",
}


@dataclass(frozen=True)
class Attr:
    """One attribute: its kind (ATTR_KINDS), what it means, and its range.

    low/high bound a number or an integer (inclusive; low_open makes low exclusive);
    choices lists a string's allowed values; rule states, in words, a range that depends
    on the node's shapes (checked by the op's validator).
    """

    kind: str
    meaning: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    rule: str = ""


@dataclass(frozen=True)
class Weight:
    """One weight: its shape in DIMENSIONS names, what it means, whether it may be absent, its dtypes."""

    shape: tuple
    meaning: str
    optional: bool = False
    dtypes: tuple = ("float32",)


@dataclass(frozen=True)
class Signature:
    """An op: how many inputs it reads (max None: any number), its attributes and its weights."""

    inputs: tuple
    attrs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)


# Dimension names a weight's shape is written in -> (meaning, its sizes from (input shapes, output shape)).
DIMENSIONS = {
    "n": ("the size of the input's last axis", lambda inputs, output: (inputs[0][-1],)),
    "units": ("the size of the output's last axis", lambda inputs, output: (output[-1],)),
    "input": ("every axis of the input's shape, in order", lambda inputs, output: tuple(inputs[0])),
}

ONE = (1, 1)
REDUCE_FUNCTIONS = ("sum", "mean", "max", "min")  # reduce's `function`; the C kernel takes the index
TWO_OR_MORE = (2, None)

SIGNATURES = {
    "dense": Signature(ONE, {
        "activation": Attr("activation", "applied to each sum; never `glu`"),
    }, {
        "kernel": Weight(("n", "units"), "`kernel[i][j]` multiplies input `i` into output `j`",
                         dtypes=("float32", "float16", "int8")),
        "bias": Weight(("units",), "added to each sum; absent: nothing is added", optional=True),
        "kernel_scale": Weight(("units",), "present exactly when `kernel` is int8: the weight is "
                               "`q[i][j] * kernel_scale[j]`", optional=True),
    }),
    "activation": Signature(ONE, {"activation": Attr("activation", "the function applied")}),
    "reshape": Signature(ONE),
    "scale_shift": Signature(ONE, weights={
        "scale": Weight(("n",), "multiplies each value of last-axis channel `c`"),
        "shift": Weight(("n",), "then added to it"),
    }),
    "prelu": Signature(ONE, weights={
        "alpha": Weight(("input",), "the slope for each value (shared axes already broadcast)"),
    }),
    "layer_norm": Signature(ONE, {
        "epsilon": Attr("number", "added to the variance"),
        "rms_scaling": Attr("bool", "Keras's `rms_scaling`: no mean is added back, no `beta`"),
    }, {
        "gamma": Weight(("n",), "scale per last-axis channel; absent: no scaling", optional=True),
        "beta": Weight(("n",), "offset per last-axis channel; absent: no offset", optional=True),
    }),
    "rms_norm": Signature(ONE, {"epsilon": Attr("number", "added to the mean of squares")}, {
        "scale": Weight(("n",), "scale per last-axis channel"),
    }),
    "unit_norm": Signature(ONE, {
        "epsilon": Attr("number", "the clamp", low=0, low_open=True),
        "clamp": Attr("string", "where the clamp applies: Keras 3 or Keras 2's formula",
                      choices=("inverse", "square_sum")),
    }),
    "standardize": Signature(ONE, {"invert": Attr("bool", "Keras's `invert`: undo the standardization")}, {
        "mean": Weight(("input",), "the mean for each value"),
        "std": Weight(("input",), "the standard deviation for each value (already clamped)"),
    }),
    "transpose": Signature(ONE, {
        "perm": Attr("integer list", "output axis `k` is input axis `perm[k]`",
                     rule="a permutation of 0 .. rank-1"),
    }),
    "broadcast": Signature(ONE),
    "repeat": Signature(ONE, {"n": Attr("integer", "how many copies", low=1, high=MAX_REPEAT)}),
    "concatenate": Signature(TWO_OR_MORE, {
        "axis": Attr("integer", "the axis joined, counted in the per-sample shape (no batch axis)",
                     low=0, rule="below the inputs' rank; never negative"),
    }),
    "add": Signature(TWO_OR_MORE),
    "subtract": Signature((2, 2)),
    "divide": Signature((2, 2)),
    "multiply": Signature(TWO_OR_MORE),
    "average": Signature(TWO_OR_MORE),
    "maximum": Signature(TWO_OR_MORE),
    "minimum": Signature(TWO_OR_MORE),
    "dot": Signature((2, 2), {"normalize": Attr("bool", "L2-normalize both inputs first")}),
    "matmul": Signature((2, 2)),
    "reduce": Signature(ONE, {
        "function": Attr("string", "what each row of the last axis gives", choices=REDUCE_FUNCTIONS),
    }),
    "slice": Signature(ONE, {
        "begin": Attr("integer list", "the first index read on each axis", rule="within each axis"),
        "step": Attr("integer list", "the stride on each axis (negative: backwards)",
                     rule="never 0; every index read lies within its axis"),
    }),
}


# ---- applying it --------------------------------------------------------------------------------


def _fail(node, message: str):
    raise ModelFormatError(f"node {node['name']!r} ({node['op']}): {message}")


def weight_shape(weight: Weight, input_shapes, output_shape) -> tuple:
    """Return a declared weight's exact shape for a node's input and output shapes."""
    shape = ()
    for dim in weight.shape:
        shape += DIMENSIONS[dim][1](input_shapes, output_shape)
    return shape


def _check_attr(node, key: str, attr: Attr, value) -> None:
    if attr.kind == "activation":
        check_activation_record(node, value)
        return
    kinds = {"number": (int, float), "integer": (int,), "bool": (bool,), "string": (str,),
             "integer list": (list,)}[attr.kind]
    if type(value) not in kinds or (attr.kind == "integer list" and any(type(v) is not int for v in value)):
        _fail(node, f"attribute {key!r} must be {ATTR_KINDS[attr.kind]}, got {repr(value)[:80]}")
    if attr.choices and value not in attr.choices:
        _fail(node, f"attribute {key!r} is {value!r}; it must be one of {', '.join(map(repr, attr.choices))}")
    if attr.low is not None and (value <= attr.low if attr.low_open else value < attr.low):
        _fail(node, f"attribute {key!r} is {value!r}; it must be {'above' if attr.low_open else 'at least'} {attr.low}")
    if attr.high is not None and value > attr.high:
        _fail(node, f"attribute {key!r} is {value!r}; it must be at most {attr.high:,}")


def check_signature(node, input_shapes) -> None:
    """Check a node's input count, attributes and weights against its op's declaration."""
    signature = SIGNATURES[node["op"]]
    low, high = signature.inputs
    if len(input_shapes) < low or (high is not None and len(input_shapes) > high):
        wanted = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        _fail(node, f"takes {wanted} input(s), has {len(input_shapes)}")
    attrs = node["attrs"]
    unknown = sorted(set(attrs) - set(signature.attrs))
    if unknown:
        _fail(node, f"unknown attribute(s) {', '.join(map(repr, unknown))}; {node['op']} takes "
                    f"{', '.join(map(repr, signature.attrs)) or 'none'}")
    for key, attr in signature.attrs.items():
        if key not in attrs:
            _fail(node, f"missing attribute {key!r}")
        _check_attr(node, key, attr, attrs[key])
    weights = node["weights"]
    for key, array in weights.items():
        weight = signature.weights.get(key)
        if weight is None:
            _fail(node, f"unexpected weight {key!r}")
        if array.dtype not in weight.dtypes:
            _fail(node, f"weight {key!r} is {array.dtype}; only a dense kernel may be stored in fewer bits")
        expected = weight_shape(weight, input_shapes, node["shape"])
        if tuple(array.shape) != expected:
            _fail(node, f"weight {key!r} has shape {tuple(array.shape)}, expected {expected}")
    for key, weight in signature.weights.items():
        if key not in weights and not weight.optional:
            _fail(node, f"missing weight {key!r}")


def check_node(node, input_shapes) -> None:
    """Check a node against its op's declaration, then the relations its op's validator knows."""
    check_signature(node, input_shapes)
    OPS[node["op"]](node, input_shapes)


# ---- the relations between shapes, per op -------------------------------------------------------


def _same_shape(node, shape) -> None:
    if tuple(node["shape"]) != tuple(shape):
        _fail(node, f"output shape {tuple(node['shape'])} differs from input shape {tuple(shape)}")


def check_dense(node, input_shapes) -> None:
    weights = node["weights"]
    if (weights["kernel"].dtype == "int8") != ("kernel_scale" in weights):
        _fail(node, "an int8 kernel needs the weight 'kernel_scale', and only an int8 kernel has one")
    if tuple(node["shape"][:-1]) != tuple(input_shapes[0][:-1]):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from input {tuple(input_shapes[0])} "
                    "and kernel")


def check_activation(node, input_shapes) -> None:
    if activation_input_shape(node["attrs"]["activation"], node["shape"]) != tuple(input_shapes[0]):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from input shape {tuple(input_shapes[0])}")


def check_reshape(node, input_shapes) -> None:
    if size_of(node["shape"]) != size_of(input_shapes[0]):
        _fail(node, f"cannot reshape {tuple(input_shapes[0])} to {tuple(node['shape'])}")


def check_same_shape(node, input_shapes) -> None:
    for shape in input_shapes:
        _same_shape(node, shape)


def check_transpose(node, input_shapes) -> None:
    shape = input_shapes[0]
    perm = node["attrs"]["perm"]
    if sorted(perm) != list(range(len(shape))):
        _fail(node, f"perm {perm!r} is not a permutation of the input's {len(shape)} axes")
    if tuple(node["shape"]) != tuple(shape[p] for p in perm):
        _fail(node, f"output shape {tuple(node['shape'])} does not follow from perm {perm}")


def broadcasts_to(shape, target) -> bool:
    """Whether numpy broadcasting takes `shape` to `target`: aligned on the last axis, each size equal or 1."""
    shape, target = tuple(shape), tuple(target)
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape, target[len(target) - len(shape):]))


def check_broadcast(node, input_shapes) -> None:
    shape = input_shapes[0]
    if not broadcasts_to(shape, node["shape"]):
        _fail(node, f"input shape {tuple(shape)} does not broadcast to {tuple(node['shape'])}")


def check_repeat(node, input_shapes) -> None:
    shape, n = input_shapes[0], node["attrs"]["n"]
    if len(shape) != 1 or tuple(node["shape"]) != (n, shape[0]):
        _fail(node, f"cannot repeat an input of shape {tuple(shape)} {n} times into {tuple(node['shape'])}")


def check_concatenate(node, input_shapes) -> None:
    axis = node["attrs"]["axis"]
    if not axis < len(input_shapes[0]):
        _fail(node, f"axis {axis} is not within the inputs' rank {len(input_shapes[0])}")
    first = tuple(input_shapes[0])
    for shape in input_shapes:
        shape = tuple(shape)
        if len(shape) != len(first) or shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            _fail(node, f"input shapes {[tuple(s) for s in input_shapes]} do not match outside axis {axis}")
    expected = first[:axis] + (sum(s[axis] for s in input_shapes),) + first[axis + 1:]
    if tuple(node["shape"]) != expected:
        _fail(node, f"output shape {tuple(node['shape'])} should be {expected}")


def check_dot(node, input_shapes) -> None:
    if len(input_shapes[0]) != 1 or tuple(input_shapes[0]) != tuple(input_shapes[1]):
        _fail(node, f"needs two vectors of equal length, got {[tuple(s) for s in input_shapes]}")
    if tuple(node["shape"]) != (1,):
        _fail(node, "output shape must be (1,)")


def check_matmul(node, input_shapes) -> None:
    a, b = (tuple(s) for s in input_shapes)
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        _fail(node, f"needs inputs of shapes (..., m, k) and (..., k, n), got {a} and {b}")
    lead_a, lead_b = a[:-2], b[:-2]
    rank = max(len(lead_a), len(lead_b))
    lead = tuple(max(s[d - rank + len(s)] if d - rank + len(s) >= 0 else 1 for s in (lead_a, lead_b))
                 for d in range(rank))
    if not (broadcasts_to(lead_a, lead) and broadcasts_to(lead_b, lead)):
        _fail(node, f"the leading axes of {a} and {b} do not broadcast")
    if tuple(node["shape"]) != lead + (a[-2], b[-1]):
        _fail(node, f"output shape {tuple(node['shape'])} should be {lead + (a[-2], b[-1])}")


def check_reduce(node, input_shapes) -> None:
    shape = tuple(input_shapes[0])
    if len(shape) < 2 or tuple(node["shape"]) != shape[:-1]:
        _fail(node, f"output shape {tuple(node['shape'])} should be the input shape {shape} without its last axis "
                    "(and keep at least one)")


def check_slice(node, input_shapes) -> None:
    shape, out = tuple(input_shapes[0]), tuple(node["shape"])
    begin, step = node["attrs"]["begin"], node["attrs"]["step"]
    if not (len(begin) == len(step) == len(shape) == len(out)):
        _fail(node, f"begin {begin} and step {step} need one entry per axis of the input {shape} and the output {out}")
    for axis, (size, b, s, n) in enumerate(zip(shape, begin, step, out)):
        if s == 0 or not (0 <= b < size and 0 <= b + (n - 1) * s < size):
            _fail(node, f"axis {axis}: {n} values from {b} in steps of {s} do not lie within size {size}")


# IR op -> validator(node, input_shapes) of what SIGNATURES cannot say; each op has one kernel per backend.
OPS = {
    "dense": check_dense,
    "activation": check_activation,
    "reshape": check_reshape,
    "scale_shift": check_same_shape,
    "prelu": check_same_shape,
    "layer_norm": check_same_shape,
    "rms_norm": check_same_shape,
    "unit_norm": check_same_shape,
    "standardize": check_same_shape,
    "transpose": check_transpose,
    "broadcast": check_broadcast,
    "repeat": check_repeat,
    "concatenate": check_concatenate,
    "add": check_same_shape,
    "subtract": check_same_shape,
    "divide": check_same_shape,
    "multiply": check_same_shape,
    "average": check_same_shape,
    "maximum": check_same_shape,
    "minimum": check_same_shape,
    "dot": check_dot,
    "matmul": check_matmul,
    "reduce": check_reduce,
    "slice": check_slice,
}
