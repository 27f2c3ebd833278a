"""Model.invert: run a chain of invertible nodes backwards, from outputs to the inputs that give them.

Every node of the chain must be invertible: a square dense layer whose kernel's 1-norm
condition number is at most the limit (MAX_CONDITION unless the caller gives another) with an
invertible activation, an invertible activation node, a scale_shift or standardize with no zero
scale, a PReLU with positive slopes, a reshape or a transpose. Anything else raises
NotInvertibleError naming the first such node and why, before any value is computed; a value
outside an activation's range (a saturated tanh, say) raises it naming the node, row and index.

Everything is computed in double precision and rounded to float32 at the end: the pure-Python
backend solves with runtime_py/linalg.py's LU, the numpy backend with numpy.linalg.
"""

from __future__ import annotations

import math

from runtime_py.activations import ACTIVATIONS
from runtime_py.activations_python import SELU_SCALE, SELU_SCALE_ALPHA, _f32
from runtime_py.errors import NotInvertibleError
from runtime_py.linalg import LU, SingularMatrixError

try:
    import numpy as _np
except ImportError:  # the runtime works with the standard library alone
    _np = None

# Largest 1-norm condition number of a dense kernel invert accepts. Each layer's float32 outputs
# carry a relative rounding error of about 2^-24 = 6e-8, and solving can multiply it by the
# condition number: at 1e6 the recovered inputs still have about one correct digit.
MAX_CONDITION = 1e6
INF = math.inf

# Why an activation has no inverse (the error's reason); parameter-dependent cases are in _activation_inverse.
NOT_INVERTIBLE = {
    "relu6": "clips to [0, 6]: every input at or below 0 (or at or above 6) gives the same output",
    "hard_sigmoid": "is flat below -3 and above 3: those inputs all give 0 or 1",
    "hard_silu": "is flat below -3 and not monotonic: several inputs give the same output",
    "hard_tanh": "clips to [-1, 1]: every input beyond gives -1 or 1",
    "hard_shrink": "maps the whole interval [-threshold, threshold] to 0",
    "soft_shrink": "maps the whole interval [-threshold, threshold] to 0",
    "sparse_plus": "is flat below -1: all those inputs give 0",
    "sparse_sigmoid": "is flat below -1 and above 1: those inputs all give 0 or 1",
    "threshold": "maps every input at or below the threshold to one default value",
    "thresholded_relu": "maps every input at or below theta to 0",
    "softmax": "forgets what a row's values have in common: softmax(x + c) = softmax(x)",
    "log_softmax": "forgets what a row's values have in common: log_softmax(x + c) = log_softmax(x)",
    "sparsemax": "maps whole regions of inputs to the same output (zeros)",
    "glu": "halves the last axis: half of the input cannot be recovered",
    "gelu": "is not monotonic (it has a minimum near -0.75): two inputs give the same output",
    "silu": "is not monotonic (it has a minimum near -1.28): two inputs give the same output",
    "mish": "is not monotonic (it has a minimum near -1.19): two inputs give the same output",
    "tanh_shrink": "has no closed-form inverse in kerasless",
    "abs": "gives the same output for x and -x",
    "square": "gives the same output for x and -x",
    "clip": "clips to [low, high]: every input beyond gives low or high",
    "maximum_constant": "is flat below its value: those inputs all give the value",
    "minimum_constant": "is flat above its value: those inputs all give the value",
}


def _softplus_inverse(v):
    return v + math.log(-math.expm1(-v))  # log(expm1(v)) without overflow for large v


def _activation_inverse(node) -> tuple:
    """(low, high, f, F) for the node's activation: the open range of outputs, f(v) per value, F(array)."""
    record = node["attrs"]["activation"]
    name = record["name"]
    params = dict(zip(ACTIVATIONS[name], [record[p] for p in ACTIVATIONS[name]]))
    np = _np

    def refuse(reason):
        raise NotInvertibleError(node["name"], f"activation {name!r} {reason}, so its input cannot be recovered")

    if name == "relu":
        if params["has_max_value"] or params["threshold"] != 0 or params["negative_slope"] == 0:
            refuse("(relu with threshold, max_value or no negative_slope) has a flat region: "
                   "many inputs give the same output")
        name, params = "leaky_relu", {"negative_slope": params["negative_slope"]}
    if name in NOT_INVERTIBLE:
        refuse(NOT_INVERTIBLE[name])
    if name == "linear":
        return -INF, INF, lambda v: v, lambda a: a
    if name == "tanh":
        return -1.0, 1.0, math.atanh, lambda a: np.arctanh(a)
    if name == "sigmoid":
        return 0.0, 1.0, lambda v: math.log(v / (1.0 - v)), lambda a: np.log(a / (1.0 - a))
    if name == "softsign":
        return -1.0, 1.0, lambda v: v / (1.0 - abs(v)), lambda a: a / (1.0 - np.abs(a))
    if name == "exponential":
        return 0.0, INF, math.log, lambda a: np.log(a)
    if name == "softplus":
        return 0.0, INF, _softplus_inverse, lambda a: a + np.log(-np.expm1(-a))
    if name == "log_sigmoid":
        return -INF, 0.0, lambda v: -_softplus_inverse(-v), lambda a: a - np.log(-np.expm1(a))
    if name == "leaky_relu":
        slope = _f32(params["negative_slope"])
        if not slope > 0:
            refuse(f"has negative_slope {slope:g}: with a slope <= 0 several inputs give the same output")
        return -INF, INF, lambda v: v if v > 0.0 else v / slope, lambda a: np.where(a > 0, a, a / slope)
    if name in ("elu", "celu"):
        alpha = _f32(params["alpha"])
        if not alpha > 0:
            refuse(f"has alpha {alpha:g}: with alpha <= 0 several inputs give the same output")
        if name == "elu":
            return (-alpha, INF, lambda v: v if v > 0.0 else math.log1p(v / alpha),
                    lambda a: np.where(a > 0, a, np.log1p(np.minimum(a, 0) / alpha)))
        return (-alpha, INF, lambda v: v if v > 0.0 else alpha * math.log1p(v / alpha),
                lambda a: np.where(a > 0, a, alpha * np.log1p(np.minimum(a, 0) / alpha)))
    if name == "selu":
        return (-SELU_SCALE_ALPHA, INF, lambda v: v / SELU_SCALE if v >= 0.0 else math.log1p(v / SELU_SCALE_ALPHA),
                lambda a: np.where(a >= 0, a / SELU_SCALE, np.log1p(np.minimum(a, 0) / SELU_SCALE_ALPHA)))
    if name == "squareplus":
        b = _f32(params["b"])
        if not b > 0:
            refuse(f"has b {b:g}: with b <= 0 it is flat (0) for inputs below 0")
        return 0.0, INF, lambda v: v - b / (4.0 * v), lambda a: a - b / (4.0 * a)
    refuse("has no inverse in kerasless")  # every activation is named above; a new one must be too


class _Step:
    """One node run backwards: check its output values, then compute its input."""

    def __init__(self, node, backend: str, limit: float):
        self.name = node["name"]
        self.numpy = backend == "numpy"
        self.range = None  # (low, high, f, F): an activation to undo first
        self.solve = None  # row-wise inverse of the node's affine or permutation part
        op = node["op"]
        weights = {key: _double(raw) for key, raw in node["weights"].items()}
        if op in ("dense", "activation"):
            self.range = _activation_inverse(node)
        if op == "dense":
            self._dense(node, weights, limit)
        elif op == "scale_shift":
            self._scale_shift(node, weights)
        elif op == "standardize":
            self._standardize(node, weights)
        elif op == "prelu":
            self._prelu(node, weights)
        elif op == "transpose":
            self._transpose(node)
        elif op not in ("activation", "reshape"):
            raise NotInvertibleError(self.name, _why_op(node))

    # ---- building ----------------------------------------------------------------------------

    def _dense(self, node, weights, limit):
        kernel = weights["kernel"]  # (n_in, n_out) row-major
        n_in, n_out = node["weights"]["kernel"].shape
        if n_in != n_out:
            raise NotInvertibleError(self.name, f"dense kernel is {n_in} x {n_out}, not square: "
                                     f"{'several inputs give one output' if n_in > n_out else 'no input gives most outputs'}")
        n = n_in
        bias = weights.get("bias") or [0.0] * n
        transposed = [[kernel[i * n + j] for i in range(n)] for j in range(n)]  # z = x @ W + b  <=>  W^T x = z - b
        singular = "dense kernel is singular: several inputs give one output"
        if self.numpy:
            matrix = _np.array(transposed, dtype=_np.float64)
            try:
                inverse = _np.linalg.inv(matrix)
            except _np.linalg.LinAlgError:
                raise NotInvertibleError(self.name, singular) from None
            condition = float(_np.linalg.norm(matrix, 1) * _np.linalg.norm(inverse, 1))
            shift = _np.array(bias, dtype=_np.float64)
            self.solve = lambda z: _np.linalg.solve(matrix, (z.reshape(-1, n) - shift).T).T.reshape(z.shape[0], -1)
        else:
            try:
                lu = LU(transposed)
            except SingularMatrixError as exc:
                raise NotInvertibleError(self.name, f"{singular} ({exc})") from None
            condition = lu.condition_number()

            def solve(z):
                out = []
                for start in range(0, len(z), n):
                    out.extend(lu.solve([v - b for v, b in zip(z[start:start + n], bias)]))
                return out
            self.solve = solve
        self.condition = condition
        if not condition <= limit:
            raise NotInvertibleError(self.name, f"dense kernel is ill-conditioned: its condition number {condition:.3g} "
                                     f"exceeds the limit {limit:g} (invert(..., max_condition=...)), so float32 "
                                     f"rounding in its outputs could swamp the recovered inputs")

    def _scale_shift(self, node, weights):
        scale, shift = weights["scale"], weights["shift"]
        self._no_zero(scale, "scale")
        n = len(scale)
        if self.numpy:
            s, b = _np.array(scale), _np.array(shift)
            self.solve = lambda y: ((y.reshape(y.shape[0], -1, n) - b) / s).reshape(y.shape[0], -1)
        else:
            self.solve = lambda y: [(v - b) / s for v, b, s in zip(y, shift * (len(y) // n), scale * (len(y) // n))]

    def _standardize(self, node, weights):
        mean, std = weights["mean"], weights["std"]
        self._no_zero(std, "std")
        if node["attrs"]["invert"]:  # y = mean + x * std
            if self.numpy:
                m, s = _np.array(mean), _np.array(std)
                self.solve = lambda y: (y - m) / s
            else:
                self.solve = lambda y: [(v - m) / s for v, m, s in zip(y, mean, std)]
        elif self.numpy:  # y = (x - mean) / std
            m, s = _np.array(mean), _np.array(std)
            self.solve = lambda y: y * s + m
        else:
            self.solve = lambda y: [v * s + m for v, m, s in zip(y, mean, std)]

    def _prelu(self, node, weights):
        alpha = weights["alpha"]
        bad = next((k for k, a in enumerate(alpha) if not a > 0), None)
        if bad is not None:
            raise NotInvertibleError(self.name, f"PReLU alpha[{bad}] is {alpha[bad]:g}: with a slope <= 0 "
                                     "several inputs give the same output", index=bad)
        if self.numpy:
            a = _np.array(alpha)
            self.solve = lambda y: _np.where(y > 0, y, y / a)
        else:
            self.solve = lambda y: [v if v > 0.0 else v / a for v, a in zip(y, alpha)]

    def _transpose(self, node):
        from runtime_py.model import transpose_index

        source = transpose_index(node["_input_shape"], node["attrs"]["perm"])
        if self.numpy:
            index = _np.asarray(source, dtype=_np.intp)

            def solve(y):
                out = _np.empty_like(y)
                out[:, index] = y
                return out
            self.solve = solve
        else:
            def solve_python(y):
                out = [0.0] * len(y)
                for v, i in zip(y, source):
                    out[i] = v
                return out
            self.solve = solve_python

    def _no_zero(self, values, what):
        bad = next((k for k, v in enumerate(values) if v == 0.0 or not math.isfinite(v)), None)
        if bad is not None:
            raise NotInvertibleError(self.name, f"{what}[{bad}] is {values[bad]:g}: that channel's input cannot be "
                                     "recovered", index=bad)

    # ---- running -----------------------------------------------------------------------------

    def run(self, values, row=None):
        """Undo the node on one row (pure Python; row: its position, for errors) or a whole batch (numpy)."""
        if self.range is not None:
            low, high, f, array_f = self.range
            if self.numpy:
                outside = ~((values > low) & (values < high))
                if outside.any():
                    r, k = (int(i) for i in _np.argwhere(outside)[0])
                    self._outside(values[r, k], r, k)
                values = array_f(values)
            else:
                for k, v in enumerate(values):
                    if not low < v < high:
                        self._outside(v, row, k)
                values = [f(v) for v in values]
        return self.solve(values) if self.solve is not None else values

    def _outside(self, value, row, index):
        low, high = self.range[:2]
        raise NotInvertibleError(self.name, f"output value {float(value)!r} (row {row}, index {index}) is outside the "
                                 f"activation's range ({low:g}, {high:g}): no input gives it (a saturated or "
                                 "non-finite output cannot be inverted)", row=row, index=index)


def _why_op(node) -> str:
    reasons = {
        "layer_norm": "LayerNormalization forgets each row's mean and spread",
        "rms_norm": "RMSNormalization forgets each row's scale",
        "unit_norm": "UnitNormalization forgets each row's length",
        "repeat": "RepeatVector's copies cannot be told apart from other inputs",
        "dot": "a dot product turns two vectors into one number",
        "matmul": "a product of two tensors (Dot of matrices) has no unique factors",
        "reduce": "a sum, mean, max or min turns a row of values into one number",
    }
    reason = reasons.get(node["op"], f"op {node['op']!r} is not invertible")
    return f"{reason}; invert handles chains of square dense layers, invertible activations, scale_shift, " \
           "standardize, PReLU, reshape and transpose"


def _double(raw) -> list:
    """A weight's float32 values as a flat list of Python floats (doubles)."""
    from runtime_py.model import _values

    return _values(raw)


def _chain(model) -> list:
    """The nodes from the input to the output, or NotInvertibleError saying where the graph is not a chain."""
    spec = model.spec
    if len(spec["inputs"]) != 1 or len(spec["outputs"]) != 1:
        raise NotInvertibleError(None, f"the model has {len(spec['inputs'])} input(s) and {len(spec['outputs'])} "
                                 "output(s); invert handles one-input, one-output chains")
    previous, shapes, chain = spec["inputs"][0][0], dict(spec["inputs"]), []
    for node in spec["nodes"]:
        if list(node["inputs"]) != [previous]:
            raise NotInvertibleError(node["name"], f"reads {', '.join(map(repr, node['inputs']))} rather than only "
                                     f"{previous!r}: invert handles chains, each node reading the one before")
        chain.append(dict(node, _input_shape=shapes[previous]))
        shapes[node["name"]] = node["shape"]
        previous = node["name"]
    if previous != spec["outputs"][0][0]:
        raise NotInvertibleError(None, f"the output {spec['outputs'][0][0]!r} is not the last node of the chain")
    return chain


def _steps(model, limit: float) -> list:
    cache = model.__dict__.setdefault("_inverse_steps", {})
    if limit not in cache:
        cache[limit] = [_Step(node, model.backend, limit) for node in _chain(model)][::-1]
    return cache[limit]


def invert(model, y, max_condition=None):
    """Model.invert: inputs (float32, Keras input shape) whose outputs are y, row by row."""
    from runtime_py.model import _flatten_sample, _nest

    limit = MAX_CONDITION if max_condition is None else float(max_condition)
    steps = _steps(model, limit)
    out_info, in_info = model.outputs[0], model.inputs[0]
    as_numpy = _np is not None and isinstance(y, _np.ndarray)
    if model.backend == "numpy":
        batch = _np.asarray(y, dtype=_np.float64)
        if batch.ndim != len(out_info.shape) + 1 or batch.shape[1:] != tuple(out_info.shape):
            raise ValueError(f"output {out_info.name!r}: expected shape (batch, {', '.join(map(str, out_info.shape))}), "
                             f"got {batch.shape}")
        values = batch.reshape(batch.shape[0], -1)
        for step in steps:
            values = step.run(values)
        result = values.astype(_np.float32).reshape((-1,) + tuple(in_info.shape))
        return result if as_numpy else result.tolist()
    if as_numpy:
        y = y.tolist()
    if not isinstance(y, (list, tuple)):
        raise TypeError(f"output {out_info.name!r}: expected a batch (list of samples), got {type(y).__name__}")
    rows = []
    for r, sample in enumerate(y):
        values = _flatten_sample(sample, tuple(out_info.shape), f"output {out_info.name!r}, sample {r}")
        for step in steps:
            values = step.run(values, r)
        rows.append([_f32(v) for v in values])
    if as_numpy:
        return _np.array(rows, dtype=_np.float32).reshape((-1,) + tuple(in_info.shape))
    return [_nest(row, in_info.shape) for row in rows]
