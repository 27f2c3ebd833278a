"""Model: load a model file, run it with the pure-Python or the numpy backend."""

from __future__ import annotations

import os
from array import array
from collections import namedtuple
from functools import partial

from runtime_py.errors import ModelFormatError, VerificationError
from runtime_py.judge import ATOL, RTOL, Judgement, judge
from runtime_py.model_file import read_model_bytes, read_model_file
from runtime_py.activations import ACTIVATIONS, activation_input_shape
from runtime_py.ops import size_of
from runtime_py.storage import decode_stored_kernels

try:
    import numpy as _np
except ImportError:  # the runtime works with the standard library alone
    _np = None


def _quiet_numpy():
    """Return (enter, leave) that silence numpy's float warnings, as np.errstate(all="ignore") does.

    np.errstate builds its settings object on every entry (about a microsecond, a tenth of a
    small model's whole predict); numpy 2 keeps the settings in a context variable, so the
    object can be built once and set directly. Older numpy: np.errstate.
    """
    try:
        from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

        ignore = _make_extobj(all="ignore")
        return (lambda: _extobj_contextvar.set(ignore)), _extobj_contextvar.reset
    except Exception:  # numpy 1.x, or the private names moved
        def enter():
            state = _np.errstate(all="ignore")
            state.__enter__()
            return state

        return enter, (lambda state: state.__exit__(None, None, None))


_QUIET_ENTER, _QUIET_LEAVE = _quiet_numpy() if _np is not None else (None, None)

_ndarray = _np.ndarray if _np is not None else None
_F32_DTYPE = _np.dtype(_np.float32) if _np is not None else None  # native float32: other dtypes take the general path
TensorInfo = namedtuple("TensorInfo", "name shape")
BACKENDS = ("python", "numpy")


# Automatic backend: below this many multiply-adds per call (batch rows x weights) the pure-Python
# path is faster than numpy, whose every array operation costs about a microsecond whatever its
# size. Measured on the benchmark machine (docs/benchmarks.md): a 2-1-1 network runs in pure
# Python in a few microseconds, numpy needs ten array operations; at about 300 weights a row the
# two cross over.
AUTO_PYTHON_MAX_WORK = 300
# Pure-Python backend: a model with more weights than this keeps its dense kernels as array("d")
# columns (8 bytes a weight) instead of tuples of float objects (32 bytes, but dot products about
# 1.8 times faster), so loading a large model costs a small multiple of its weight bytes.
PYTHON_FLOAT_OBJECTS_MAX = 2 ** 21
# numpy chains keep the intermediate buffers of this many batch sizes between calls (_run_chain_numpy).
MAX_WORKSPACES = 4


def load(path, backend=None, sha256=None, max_bytes=None) -> "Model":
    """Load a .json or .npz model file; backend is "python", "numpy" or None (automatic).

    A path ending in .so loads a library written by export-model -o NAME.so instead (runtime_py.native:
    it runs compiled code; load only libraries you built), with the same predict and verify.

    None uses numpy when it is importable, and the pure-Python path for calls too small for numpy
    to pay off (AUTO_PYTHON_MAX_WORK); without numpy everything runs in pure Python.
    sha256: the hex digest the file must have (export-model --print-sha256), pinning the exact file.
    max_bytes: the largest file read (default runtime_py.limits.MAX_FILE_BYTES); only regular files are read.
    """
    if _is_library_path(path):  # only an explicit .so path loads compiled code (runtime_py/native.py)
        from runtime_py import native

        return native.load(path, backend=backend, sha256=sha256, max_bytes=max_bytes)
    backend_name = _choose_backend(backend)
    spec = read_model_file(path, max_bytes=max_bytes, sha256=sha256)
    if spec.get("integer"):  # format version 2 (runtime_py/integer_model.py)
        from runtime_py.integer_model import IntegerModel

        return IntegerModel(spec, backend_name, os.fspath(path))
    return Model(spec, backend_name, os.fspath(path), auto=backend is None)


def _is_library_path(path) -> bool:
    text = os.fspath(path)
    return text.lower().endswith(b".so" if isinstance(text, bytes) else ".so")


def _choose_backend(backend) -> str:
    """Validate a backend name; None means numpy when it imports, else pure Python."""
    if backend is None:
        return "numpy" if _np is not None else "python"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "numpy" and _np is None:
        raise ImportError("backend='numpy' needs numpy, which is not importable here")
    return backend


def _weight_count(spec) -> int:
    return sum(size_of(raw.shape) for node in spec["nodes"] for raw in node["weights"].values())


def loads(data: bytes, backend=None, name: str = "<bytes>", sha256=None) -> "Model":
    """Load a model file's content (the bytes of a .json or .npz file); name labels the errors."""
    backend_name = _choose_backend(backend)
    spec = read_model_bytes(data, name, sha256)
    if spec.get("integer"):  # format version 2 (runtime_py/integer_model.py)
        from runtime_py.integer_model import IntegerModel

        return IntegerModel(spec, backend_name, name)
    return Model(spec, backend_name, name)


def _stored_array(raw) -> array:
    """A stored array's values in native byte order (float32, or float64 for outputs64)."""
    values = array("d" if raw.dtype == "float64" else "f")
    values.frombytes(raw.data)
    if array("H", [1]).tobytes() != b"\x01\x00":  # big-endian host: the file is little-endian
        values.byteswap()
    return values


def _values(raw) -> list:
    return _stored_array(raw).tolist()


def _numpy_array(raw):
    return _np.frombuffer(raw.data, dtype="<f4").astype(_np.float32).reshape(raw.shape)


class _Backend:
    """Turns validated nodes into a list of steps of one kernel module."""

    def __init__(self, name: str, compact: bool = False):
        self.name = name
        self.compact = compact
        if name == "numpy":
            from runtime_py import activations_numpy as activations
            from runtime_py import kernels_numpy as kernels

            self.to_array = _numpy_array
        else:
            from runtime_py import activations_python as activations
            from runtime_py import kernels_python as kernels

            self.to_array = _values
        self.kernels = kernels
        self.activations = activations

    def dense_args(self, node):
        kernel = node["weights"]["kernel"]
        n_in, n_out = kernel.shape
        bias = node["weights"].get("bias")
        if self.name == "numpy":
            return self.to_array(kernel), (self.to_array(bias) if bias else None), n_in, n_out
        values = _stored_array(kernel)
        # Fresh float objects column by column: a column's values then sit together in memory
        # (slicing the row-major list would leave each a row apart: twice the time per dot product).
        if self.compact:  # 8 bytes a weight instead of a float object's 32: memory stays a small multiple
            columns = [array("d", values[j::n_out]) for j in range(n_out)]
        else:
            columns = [tuple(values[j::n_out].tolist()) for j in range(n_out)]
        return columns, (self.to_array(bias) if bias else [0.0] * n_out), n_in, n_out

    def fused_dense(self, node):
        """numpy, a dense node on one row per sample: f(x, workspace) = activation(x @ kernel + bias), or None.

        workspace is None (every array allocated) or (out, scratch, sign): out receives the sums (None:
        a fresh array, for a result that leaves the model), scratch and sign are the sigmoid's
        temporaries (activations_numpy.sigmoid_into). One function call per layer, the activation bound to its parameters here.
        """
        if self.name != "numpy" or node["op"] != "dense" or node.get("stored") or len(node["shape"]) != 1:
            return None
        kernel, bias, _, _ = self.dense_args(node)
        matmul, add = _np.matmul, _np.add
        record = node["attrs"]["activation"]
        name = record["name"]
        if name == "sigmoid":
            sigmoid = self.activations.sigmoid_into

            def finish(y, workspace):
                return sigmoid(y, workspace[1], workspace[2]) if workspace is not None else sigmoid(y)
        elif _plain_relu(record):
            maximum, zero = _np.maximum, self.activations.ZERO

            def finish(y, workspace):
                return maximum(y, zero, out=y)  # np.maximum keeps NaN
        elif name == "linear":
            def finish(y, workspace):
                return y
        else:
            act = self.activation(node)

            def finish(y, workspace):
                return act(y)

        def step(x, workspace=None):
            y = matmul(x, kernel, out=workspace[0] if workspace is not None else None)
            if bias is not None:
                add(y, bias, out=y)
            return finish(y, workspace)

        step.width = node["shape"][0]
        step.scratch = name == "sigmoid"
        return step

    def in_order_args(self, node):
        """dense_in_order's arguments: the kernel (numpy array, or pure Python rows) and the bias or None."""
        kernel = node["weights"]["kernel"]
        n_in, n_out = kernel.shape
        bias = node["weights"].get("bias")
        values = self.to_array(kernel)
        if self.name != "numpy":
            values = [values[i * n_out:(i + 1) * n_out] for i in range(n_in)]
        return values, (self.to_array(bias) if bias else None), n_in, n_out

    def compile(self, node, input_shapes):
        """Return f(*inputs) -> output for one node."""
        op, attrs, shape = node["op"], node["attrs"], node["shape"]
        kernel = getattr(self.kernels, op + "_forward", None)
        if kernel is None and op != "activation":
            raise ModelFormatError(f"node {node['name']!r}: no kernel for op {op!r}")
        n = shape[-1]
        rows = size_of(shape) // n

        def weight(key):
            raw = node["weights"].get(key)
            if raw is None:
                return None
            values = self.to_array(raw)
            return values.reshape(-1) if self.name == "numpy" else values

        if op == "dense" and node.get("stored"):  # a smaller-weights kernel: the header's order, bit for bit
            args = self.in_order_args(node)
            kernel = self.kernels.dense_in_order
        elif op == "dense":
            args = self.dense_args(node)
        if op == "dense":
            if node["attrs"]["activation"]["name"] == "linear":
                return lambda x: kernel(x, *args)
            act = self.activation(node)
            step = lambda x: act(kernel(x, *args))  # noqa: E731
            # pure Python, plain relu: the sums are rounded to float32 before the relu, and a relu of float32
            # values (each value or 0.0) is float32 already, so the chain skips rounding it again
            step.float32_out = self.name == "python" and _plain_relu(node["attrs"]["activation"])
            return step
        if op == "activation":
            act = self.activation(node)
            if self.name == "numpy":  # numpy activations work in place: keep the input intact
                return lambda x: act(x.copy())
            return act
        if op == "scale_shift":
            scale, shift = weight("scale"), weight("shift")
            return lambda x: kernel(x, scale, shift, rows, n)
        if op == "prelu":
            alpha = weight("alpha")
            return lambda x: kernel(x, alpha)
        if op == "layer_norm":
            gamma, beta, epsilon, rms = weight("gamma"), weight("beta"), attrs["epsilon"], attrs["rms_scaling"]
            return lambda x: kernel(x, gamma, beta, rows, n, epsilon, rms)
        if op == "rms_norm":
            scale, epsilon = weight("scale"), attrs["epsilon"]
            return lambda x: kernel(x, scale, rows, n, epsilon)
        if op == "unit_norm":
            epsilon, clamp = attrs["epsilon"], attrs["clamp"]
            return lambda x: kernel(x, rows, n, epsilon, clamp)
        if op == "standardize":
            mean, std, invert = weight("mean"), weight("std"), attrs["invert"]
            return lambda x: kernel(x, mean, std, invert)
        if op == "transpose":
            index = transpose_index(input_shapes[0], attrs["perm"])
            if self.name == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda x: kernel(x, index)
        if op == "broadcast":
            index = broadcast_index(input_shapes[0], shape)
            if self.name == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda x: kernel(x, index)
        if op == "slice":
            index = slice_index(input_shapes[0], attrs["begin"], attrs["step"], shape)
            if self.name == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda x: kernel(x, index)
        if op == "repeat":
            times = attrs["n"]
            return lambda x: kernel(x, times)
        if op == "concatenate":
            chunks = [size_of(s[attrs["axis"]:]) for s in input_shapes]
            return lambda *xs: kernel(*xs, *chunks)
        if op == "dot":
            normalize = attrs["normalize"]
            return lambda a, b: kernel(a, b, normalize)
        if op == "matmul":
            args = matmul_args(input_shapes, shape, self.name == "numpy")
            return lambda a, b: kernel(a, b, *args)
        if op == "reduce":  # rows and n of the input: its last axis is reduced
            width, function = input_shapes[0][-1], attrs["function"]
            count = size_of(input_shapes[0]) // width
            return lambda x: kernel(x, count, width, function)
        return kernel  # reshape and the elementwise merges take their inputs only

    def activation(self, node):
        record = node["attrs"]["activation"]
        kernel = getattr(self.activations, record["name"] + "_forward")
        shape = activation_input_shape(record, node["shape"])  # glu reads twice its output's last axis
        n = shape[-1] if shape else 1
        rows = size_of(shape) // n
        params = [record[p] for p in ACTIVATIONS[record["name"]]]
        if self.name == "python" and record["name"] != "linear":
            # a dense node hands over its sums in double: round them to float32 first, as Keras stores them
            return lambda x: kernel(array("f", x).tolist(), rows, n, *params)
        return lambda x: kernel(x, rows, n, *params)


def _plain_relu(record) -> bool:
    """True for an activation record that is max(x, 0) and nothing else (no slope, cap or threshold)."""
    return record["name"] == "relu" and all(record[p] == v for p, v in
                                            (("negative_slope", 0), ("has_max_value", False), ("threshold", 0)))


def transpose_index(shape, perm) -> list:
    """Flat source index of every output value of transposing `shape` by `perm` (row-major)."""
    strides = [size_of(shape[d + 1:]) for d in range(len(shape))]
    index = [0]
    for axis in perm:
        index = [base + k * strides[axis] for base in index for k in range(shape[axis])]
    return index


def broadcast_index(shape, target) -> list:
    """Flat source index of every output value of broadcasting `shape` to `target` (numpy's rule, row-major)."""
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    strides = [size_of(shape[d + 1:]) if shape[d] != 1 else 0 for d in range(len(shape))]
    index = [0]
    for axis, size in enumerate(target):
        index = [base + k * strides[axis] for base in index for k in range(size)]
    return index


def slice_index(shape, begin, step, target) -> list:
    """Flat source index of every output value of a slice node (row-major): begin + i * step on each axis."""
    strides = [size_of(shape[d + 1:]) for d in range(len(shape))]
    index = [0]
    for axis, size in enumerate(target):
        index = [base + (begin[axis] + k * step[axis]) * strides[axis] for base in index for k in range(size)]
    return index


def matmul_args(input_shapes, shape, numpy: bool) -> tuple:
    """matmul's arguments after its inputs: the matrix of each input every output matrix reads, m, k, n."""
    (a, b), lead = input_shapes, tuple(shape[:-2])
    a_index, b_index = broadcast_index(a[:-2], lead), broadcast_index(b[:-2], lead)
    if numpy:
        a_index, b_index = _np.asarray(a_index, dtype=_np.intp), _np.asarray(b_index, dtype=_np.intp)
    return a_index, b_index, a[-2], a[-1], b[-1]


def _depth(value) -> int:
    depth = 0
    while isinstance(value, (list, tuple)):
        depth += 1
        if not value:
            break
        value = value[0]
    return depth


_PLAIN_NUMBERS = frozenset({float, int})  # what array("f") takes as it is (bool, a subclass of int, is not in it)


def _flatten_sample(sample, shape, what, position=()):
    """Check a nested-list sample against shape; return its values row-major as floats.

    None, strings, bytes and anything else float() refuses raise TypeError naming the position
    (float() would read '1.5' or ' 2 ' as numbers; Keras refuses them).
    """
    if not isinstance(sample, (list, tuple)) or len(sample) != shape[0]:
        got = len(sample) if isinstance(sample, (list, tuple)) else type(sample).__name__
        where = f"{what}, position {list(position)}" if position else what
        raise ValueError(f"{where}: expected an axis of length {shape[0]} (shape {shape}), got {got}")
    if len(shape) == 1:
        if _PLAIN_NUMBERS.issuperset(map(type, sample)):  # the common case, checked in C
            return [float(v) for v in sample]
        return [_number(v, what, position + (j,)) for j, v in enumerate(sample)]
    values = []
    for i, item in enumerate(sample):
        values.extend(_flatten_sample(item, shape[1:], what, position + (i,)))
    return values


def _number(value, what, position) -> float:
    """A value of an input sample as a float; TypeError naming where it sits if it is not a number."""
    if value is None or isinstance(value, (str, bytes, bytearray, list, tuple, dict)):
        raise TypeError(f"{what}, position {list(position)}: {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}, position {list(position)}: {value!r} is not a number") from None


NUMERIC_KINDS = "biuf"  # numpy dtype kinds accepted as input: bool, signed, unsigned, float


def _nest(flat, shape):
    if len(shape) <= 1:
        return list(flat)
    step = size_of(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class Model:
    """A loaded model: predict(x) reproduces Keras's model.predict."""

    def __init__(self, spec: dict, backend: str, path: str = "", auto: bool = False):
        self.path = path
        self.name = spec["name"]
        spec = {**spec, "nodes": decode_stored_kernels(spec["nodes"])}  # float16/int8 kernels as float32
        self.spec = spec
        self.backend = backend
        self.inputs = [TensorInfo(n, s) for n, s in spec["inputs"]]
        self.outputs = [TensorInfo(n, s) for n, s in spec["outputs"]]
        self._steps = self._compile(backend)
        slots = {name: i for i, (name, _) in enumerate(spec["inputs"])}
        for node in spec["nodes"]:
            slots[node["name"]] = len(slots)
        self._output_slots = [slots[name] for name, _ in spec["outputs"]]
        self._slot_count = len(slots)
        # Fast paths for the common call: one input, one output, a float32 numpy batch of the right shape
        # (or, pure Python, a list of rows); everything they need is prepared here, once.
        self._in_shape = tuple(self.inputs[0].shape) if len(self.inputs) == 1 else None
        self._out_shape = tuple(self.outputs[0].shape) if len(self.outputs) == 1 else None
        self._in_size = size_of(self._in_shape) if self._in_shape is not None else 0
        self._chain = self._as_chain(spec)
        self._chain_steps = self._fused_chain(spec) if self._chain is not None and backend == "numpy" else None
        self._workspaces = {}  # batch size -> the chain's steps bound to buffers of that size (_run_chain_numpy)
        self._python_steps = None  # automatic choice: the pure-Python path for small calls
        self._small_rows = 0
        if auto and backend == "numpy" and self._in_shape is not None and self._out_shape is not None:
            weights = max(_weight_count(spec), 1)
            if weights <= AUTO_PYTHON_MAX_WORK:
                self._python_steps = self._compile("python")
                self._small_rows = AUTO_PYTHON_MAX_WORK // weights
        self._F32 = _np.float32 if _np is not None else None
        # one float32 numpy batch through a numpy chain with flat input and output: straight to the fused steps
        self._fast_chain = (self._chain_steps is not None and not self._small_rows
                            and len(self._in_shape) == 1 and len(self._out_shape) == 1)

    def _compile(self, backend: str) -> list:
        engine = _Backend(backend, compact=_weight_count(self.spec) > PYTHON_FLOAT_OBJECTS_MAX)
        spec = self.spec
        slots = {name: i for i, (name, _) in enumerate(spec["inputs"])}
        shapes = dict(spec["inputs"])
        steps = []
        for node in spec["nodes"]:
            step = engine.compile(node, [shapes[t] for t in node["inputs"]])
            steps.append((step, [slots[t] for t in node["inputs"]]))
            slots[node["name"]] = len(slots)
            shapes[node["name"]] = node["shape"]
        return steps

    def _fused_chain(self, spec) -> list:
        """The numpy chain's steps, dense nodes fused with their activation: [(f, fused?)].

        A fused dense before the chain's last fused dense writes its sums into a buffer of the
        calling thread's workspace, reused by the next call of the same batch size; the last one
        (and everything after it, computed from its fresh output) allocates, so no array a caller
        receives is ever a buffer a later call overwrites.
        """
        engine = _Backend("numpy")
        steps = []
        for node, (plain, _) in zip(spec["nodes"], self._steps):
            fused = engine.fused_dense(node)
            steps.append((fused or plain, fused is not None))
        return steps

    def _new_workspace(self, rows):
        """The chain's steps for a call of `rows` rows, fused steps bound to their buffers (out, scratch, sign)."""
        np_, last = _np, max((k for k, (_, fused) in enumerate(self._chain_steps) if fused), default=-1)
        runners = []
        for k, (fn, fused) in enumerate(self._chain_steps):
            if not fused:
                runners.append(fn)
                continue
            shape = (rows, fn.width)
            out = np_.empty(shape, np_.float32) if k < last else None
            scratch = (np_.empty(shape, np_.float32), np_.empty(shape, np_.float32)) if fn.scratch else (None, None)
            runners.append(partial(fn, workspace=(out, *scratch)))
        return runners

    def _run_chain_numpy(self, value, rows):
        # A call takes the workspace for its batch size out of the dict (dict.pop is atomic): another thread,
        # or a reentrant call, finds none and makes its own; putting it back afterwards keeps one per size.
        spare = self._workspaces
        runners = spare.pop(rows, None)
        if runners is None:
            runners = self._new_workspace(rows)
        token = _QUIET_ENTER()
        try:
            for fn in runners:
                value = fn(value)
        finally:
            _QUIET_LEAVE(token)
        if len(spare) >= MAX_WORKSPACES:
            spare.clear()
        spare[rows] = runners
        return value

    def _as_chain(self, spec):
        """True when every node reads only the tensor just before it (a Sequential-like model) with one output."""
        if len(spec["inputs"]) != 1 or len(spec["outputs"]) != 1 or not spec["nodes"]:
            return None
        previous = spec["inputs"][0][0]
        for node in spec["nodes"]:
            if list(node["inputs"]) != [previous]:
                return None
            previous = node["name"]
        return previous == spec["outputs"][0][0] or None

    def __repr__(self):
        return f"<runtime_py.Model {self.name!r} inputs={self.inputs} outputs={self.outputs} backend={self.backend!r}>"

    # ---- input and output conversion ------------------------------------------------

    def _split_inputs(self, x) -> list:
        count = len(self.inputs)
        if isinstance(x, dict):
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing:
                raise ValueError(f"missing input(s) {', '.join(map(repr, missing))}; the model's inputs are "
                                 f"{', '.join(t.name for t in self.inputs)}")
            return [x[t.name] for t in self.inputs]
        if count == 1:
            shape = self.inputs[0].shape
            if isinstance(x, (list, tuple)) and len(x) == 1 and self._rank(x[0]) == len(shape) + 1:
                return [x[0]]
            return [x]
        if not isinstance(x, (list, tuple)) or len(x) != count:
            got = f"{len(x)} items" if isinstance(x, (list, tuple)) else type(x).__name__
            raise ValueError(f"the model has {count} inputs ({', '.join(t.name for t in self.inputs)}); "
                             f"pass a list of {count} batches, got {got}")
        return list(x)

    @staticmethod
    def _rank(value) -> int:
        shape = getattr(value, "shape", None)
        if shape is not None and not isinstance(value, (list, tuple)):
            return len(shape)
        return _depth(value)

    def _batch_numpy(self, value, info):
        try:
            batch = _np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged nesting
            raise ValueError(f"input {info.name!r}: {exc}") from None
        if batch.dtype.kind not in NUMERIC_KINDS:
            if isinstance(value, _np.ndarray):
                raise TypeError(f"input {info.name!r}: an array of dtype {batch.dtype} is not numeric")
            # None became NaN or an object, '1.5' a string: find and name the value (lists only)
            batch = _np.asarray(self._batch_python(value, info), dtype=_np.float32).reshape((-1, *info.shape))
        batch = batch.astype(_np.float32, copy=False)
        if batch.ndim != len(info.shape) + 1 or batch.shape[1:] != tuple(info.shape):
            raise ValueError(f"input {info.name!r}: expected shape (batch, {', '.join(map(str, info.shape))}), "
                             f"got {batch.shape}")
        return batch.reshape(batch.shape[0], -1)

    def _batch_python(self, value, info):
        if _np is not None and isinstance(value, _np.ndarray):
            if value.dtype.kind not in NUMERIC_KINDS:
                raise TypeError(f"input {info.name!r}: an array of dtype {value.dtype} is not numeric")
            if value.ndim != len(info.shape) + 1 or value.shape[1:] != tuple(info.shape):
                raise ValueError(f"input {info.name!r}: expected shape (batch, {', '.join(map(str, info.shape))}), "
                                 f"got {value.shape}")
            value = value.astype(_np.float32).reshape(value.shape[0], -1).tolist()
            return value
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"input {info.name!r}: expected a batch (list of samples), got {type(value).__name__}")
        rows = []
        shape = tuple(info.shape)
        flat_length = shape[0] if len(shape) == 1 else None
        for k, sample in enumerate(value):
            if type(sample) is list and len(sample) == flat_length and _PLAIN_NUMBERS.issuperset(map(type, sample)):
                rows.append(array("f", sample).tolist())  # the common case: a flat list of floats and ints
                continue
            flat = _flatten_sample(sample, shape, f"input {info.name!r}, sample {k}")
            rows.append(array("f", flat).tolist())  # Keras casts inputs to float32
        return rows

    def predict(self, x):
        """Run a batch (or a list of batches, one per input); return one batch per output."""
        if type(x) is _ndarray and x.dtype is _F32_DTYPE and self._fast_chain and x.shape[1:] == self._in_shape:
            return self._run_chain_numpy(x, x.shape[0])  # the commonest call, in the fewest steps
        if (self._in_shape is not None and self._out_shape is not None and _np is not None
                and type(x) is _np.ndarray and x.dtype == self._F32 and x.shape[1:] == self._in_shape):
            return self._predict_array(x)
        values = self._split_inputs(x)
        as_numpy = _np is not None and any(isinstance(v, _np.ndarray) for v in values)
        backend = self.backend
        if backend == "numpy" and self._python_steps is not None and not as_numpy and isinstance(values[0], list) \
                and len(values[0]) <= self._small_rows:
            backend = "python"  # automatic choice: a small list batch runs faster without numpy
        if backend == "numpy":
            batches = [self._batch_numpy(v, info) for v, info in zip(values, self.inputs)]
        else:
            batches = [self._batch_python(v, info) for v, info in zip(values, self.inputs)]
        if len({len(b) for b in batches}) > 1:
            raise ValueError(f"inputs have different batch sizes: {[len(b) for b in batches]}")
        if backend == "numpy":
            results = self._run_numpy(batches)
        elif backend != self.backend:
            results = self._run_python(batches, self._python_steps)
        else:
            results = self._run_python(batches)
        shaped = []
        for result, info in zip(results, self.outputs):
            if backend == "numpy":
                result = result.reshape((result.shape[0],) + tuple(info.shape))
                shaped.append(result if as_numpy else result.tolist())
            else:
                nested = [_nest(row, info.shape) for row in result]
                if as_numpy:
                    shaped.append(_np.array(nested, dtype=_np.float32).reshape((len(result),) + tuple(info.shape)))
                else:
                    shaped.append(nested)
        return shaped[0] if len(shaped) == 1 else shaped

    def _predict_array(self, x):
        """The common call, without the general conversions: one float32 array in, one array out."""
        rows = x.shape[0]
        if rows <= self._small_rows:  # automatic choice: too small for numpy to pay off
            result = self._run_python([(x if x.ndim == 2 else x.reshape(rows, self._in_size)).tolist()],
                                      self._python_steps)[0]
            out = _np.array(result, dtype=self._F32)
            return out if len(self._out_shape) == 1 else out.reshape((rows,) + self._out_shape)
        if self.backend == "python":
            result = self._run_python([x.reshape(rows, self._in_size).tolist()])[0]
            return _np.array(result, dtype=self._F32).reshape((rows,) + self._out_shape)
        value = x if x.ndim == 2 else x.reshape(rows, self._in_size)
        if self._chain is None:
            return self._run_numpy([value])[0].reshape((rows,) + self._out_shape)
        value = self._run_chain_numpy(value, rows)
        return value if len(self._out_shape) == 1 else value.reshape((rows,) + self._out_shape)

    @staticmethod
    def _run_chain_python(row, steps) -> list:
        for fn, _ in steps:  # every node's output is float32, as Keras stores it
            row = fn(row) if getattr(fn, "float32_out", False) else array("f", fn(row)).tolist()
        return row

    def _run_python(self, batches, steps=None) -> list:
        steps = self._steps if steps is None else steps
        if self._chain is not None:
            return [[self._run_chain_python(sample, steps) for sample in batches[0]]]
        outputs = [[] for _ in self._output_slots]
        first = len(self.inputs)
        free = [None] * (self._slot_count - first)
        one_input = [(fn, inputs[0] if len(inputs) == 1 else None, inputs) for fn, inputs in steps]
        for sample in zip(*batches):
            slots = [*sample, *free]
            position = first
            for fn, only, inputs in one_input:
                value = fn(slots[only]) if only is not None else fn(*[slots[i] for i in inputs])
                slots[position] = array("f", value).tolist()  # every node's output is float32, as Keras stores it
                position += 1
            for out, slot in zip(outputs, self._output_slots):
                out.append(slots[slot])
        return outputs

    def _run_numpy(self, batches) -> list:
        slots = list(batches) + [None] * (self._slot_count - len(batches))
        position = len(batches)
        with _np.errstate(all="ignore"):
            for fn, inputs in self._steps:
                slots[position] = fn(*[slots[i] for i in inputs])
                position += 1
        return [slots[s] for s in self._output_slots]

    # ---- gradients and inversion (runtime_py/gradient.py, runtime_py/invert.py) -------------

    def gradient(self, x, output=None):
        """Return d y[output] / d x for every row of x: one batch per model input, in Keras's input shapes.

        output: a flat index over every output value (the outputs flattened row-major and
        concatenated in the model's order), a pair (output position or name, flat index), or a list
        of those, one per row; it may be left out when the model has a single output value.
        """
        from runtime_py.gradient import input_gradient

        return input_gradient(self, x, output)

    def jacobian(self, x):
        """Return every output value's gradient: per input, (rows, all output values, *input shape)."""
        from runtime_py.gradient import jacobian

        return jacobian(self, x)

    def invert(self, y, max_condition=None):
        """Return the inputs that give outputs y, for a chain of invertible nodes; raise NotInvertibleError otherwise."""
        from runtime_py.invert import invert

        return invert(self, y, max_condition)

    # ---- self-check -------------------------------------------------------------------

    def verify(self) -> float:
        """Re-run the embedded test vectors; raise VerificationError if the parity judge refuses a value.

        Returns the largest |ours - keras| over finite values (NaN and inf must match exactly).
        The judge (runtime_py/judge.py, docs/format.md) uses the float64 outputs where the file has them.
        A file without test vectors has nothing to verify: that raises VerificationError too.
        """
        if not self.spec["test_vectors"]:
            raise VerificationError(f"{self.path or self.name}: the file holds no test vectors, so nothing can be "
                                    "verified; re-export it, or pin the file with load(path, sha256=...)")
        reports = self.verify_report()
        for k, report in enumerate(reports):
            if not report.ok:
                vector, index, a, b, c = report.extra["where"]
                also = f", float64 Keras {c!r}" if c is not None else ""
                raise VerificationError(
                    f"{self.path or self.name}: test vector {vector}, output {k}, value {index}: got {a!r}, "
                    f"Keras gave {b!r}{also}; {report.failures} of {report.values} values fail the parity judge "
                    f"(max abs error {report.max_abs_error:.3g}; tolerance {ATOL:g} + {RTOL:g}*|keras|"
                    + (", or as close to float64 Keras as Keras itself)" if report.float64 else ")"))
        return max((r.max_abs_error for r in reports), default=0.0)

    def verify_report(self) -> list:
        """Run the embedded test vectors; return one judge.Judgement per model output."""
        reports = [Judgement() for _ in self.outputs]
        for k, vector in enumerate(self.spec["test_vectors"]):
            inputs = [self._vector_batch(raw) for raw in vector["inputs"]]
            got = self._predict_rows(inputs)
            exact = vector.get("outputs64")
            for out_index, (mine, raw) in enumerate(zip(got, vector["outputs"])):
                report = reports[out_index]
                failures = report.failures
                keras64 = _values(exact[out_index]) if exact is not None else None
                judge(_flatten_any(mine), _values(raw), keras64, into=report)
                if report.failures and not failures:
                    index, a, b, c = report.first_failure
                    report.extra["where"] = (k, index - (report.values - raw.size), a, b, c)
        return reports

    def _predict_rows(self, inputs) -> list:
        """Predict a batch one row at a time, as the test vectors were predicted by Keras (docs/format.md).

        BLAS picks its kernels by batch size too: row by row, nothing depends on the rows beside it.
        """
        outputs = [[] for _ in self.outputs]
        for row in range(len(inputs[0])):
            got = self.predict([x[row:row + 1] for x in inputs])
            for out, value in zip(outputs, [got] if len(self.outputs) == 1 else got):
                out.append(value)
        return [_np.concatenate(out) if self.backend == "numpy" else [r for part in out for r in part]
                for out in outputs]

    def _vector_batch(self, raw):
        if self.backend == "numpy":
            return _numpy_array(raw)
        return _nest_batch(_values(raw), raw.shape)


def _nest_batch(flat, shape):
    step = size_of(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten_any(value) -> list:
    if hasattr(value, "ravel"):
        return value.ravel().tolist()
    flat = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    return flat
