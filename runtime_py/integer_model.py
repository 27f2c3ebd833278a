"""A loaded integer-only model (format version 2): predict_int8 on int8 rows, predict on float rows.

predict_int8 runs integers only (runtime_py/integer_kernels.py in pure Python, or
runtime_py/integer_kernels_numpy.py); predict quantizes the input and dequantizes the output as
the C header's NAME_predict does (docs/format.md "Integer models"), bit for bit.
"""

from __future__ import annotations

import math
import struct

from runtime_py import integer_kernels
from runtime_py.errors import VerificationError
from runtime_py.limits import size_of

try:
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by tests/test_stdlib_only.py
    _np = None

def _float32(value: float) -> float:
    """Round a double to the nearest float32 (overflow to an infinity, as C's conversion does)."""
    if value != value or math.isinf(value):
        return value
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # beyond float32's largest value by more than half a step
        return math.copysign(math.inf, value)


def quantize_value(x: float, scale: float, zero_point: int) -> int:
    """round(float32(x / scale)) + zero_point clamped to int8; NaN gives the zero point; ties away from 0."""
    v = _float32(_float32(x) / scale)  # the quotient of two float32s, rounded once to float32
    if v != v:
        return zero_point
    r = -256 if v < -256 else (256 if v > 256 else int(math.copysign(math.floor(abs(v) + 0.5), v)))
    q = r + zero_point
    return -128 if q < -128 else (127 if q > 127 else q)


class TensorInfo:
    def __init__(self, name, shape):
        self.name, self.shape = name, tuple(shape)

    def __repr__(self):
        return f"TensorInfo({self.name!r}, {self.shape})"


class IntegerModel:
    """predict_int8(q) -> int8 rows; predict(x) -> float rows through the int8 model; verify()."""

    integer = True

    def __init__(self, spec: dict, backend: str, path: str = ""):
        self.spec, self.backend, self.path, self.name = spec, backend, path, spec["name"]
        in_name, in_shape, self.input_scale, self.input_zero_point = spec["input"]
        out_name, out_shape, self.output_scale, self.output_zero_point = spec["output"]
        self.inputs, self.outputs = [TensorInfo(in_name, in_shape)], [TensorInfo(out_name, out_shape)]
        self._in_size = size_of(in_shape)
        self._out_size = size_of(out_shape)
        self._numpy_weights = None
        if backend == "numpy":
            self._numpy_weights = [{k: _np.array(v, dtype=_np.int64) for k, v in node["weights"].items()}
                                   for node in spec["nodes"]]
            for arrays, node in zip(self._numpy_weights, spec["nodes"]):
                if node["op"] == "dense_int8":
                    arrays["kernel"] = arrays["kernel"].reshape(node["n"], node["units"])

    # ---- int8 -------------------------------------------------------------------------------

    def predict_int8(self, q):
        """int8 rows (numpy int8 array or nested lists, shape (rows, *input shape)) -> int8 output rows."""
        if self.backend == "numpy" and _np is not None:
            array = _np.asarray(q)
            if array.dtype.kind not in "iu" or array.shape[1:] != self.inputs[0].shape:
                raise ValueError(f"expected integers shaped (rows, {self.inputs[0].shape}), got {array.dtype} "
                                 f"{array.shape}")
            if array.size and (array.min() < -128 or array.max() > 127):
                raise ValueError("int8 inputs must lie in [-128, 127]")
            result = self._run_numpy(array.reshape(len(array), -1).astype(_np.int64))
            result = result.reshape((len(array),) + self.outputs[0].shape).astype(_np.int8)
            return result if isinstance(q, _np.ndarray) else result.tolist()
        rows = self._rows(q, lambda v: type(v) is int and -128 <= v <= 127, "int8 integers in [-128, 127]")
        return self._nest([self._run_python(row) for row in rows])

    def _run_python(self, values: list) -> list:
        for node in self.spec["nodes"]:
            w, out = node["weights"], [0] * node["units"]
            if node["op"] == "dense_int8":
                a = node["attrs"]
                integer_kernels.dense_int8_forward(out, values, w["kernel"], w["bias"], w["multiplier"], w["shift"],
                                                   a["output_zero_point"], a["low"], a["high"], 1, node["n"],
                                                   node["units"])
            elif node["op"] == "lut_int8":
                integer_kernels.lut_int8_forward(out, values, w["table"], node["units"])
            else:
                integer_kernels.softmax_int8_forward(out, values, w["exp_table"], 1, node["units"])
            values = out
        return values

    def _run_numpy(self, x):
        from runtime_py import integer_kernels_numpy as kernels

        for node, w in zip(self.spec["nodes"], self._numpy_weights):
            if node["op"] == "dense_int8":
                a = node["attrs"]
                x = kernels.dense_int8_forward(x, w["kernel"], w["bias"], w["multiplier"], w["shift"],
                                               a["output_zero_point"], a["low"], a["high"])
            elif node["op"] == "lut_int8":
                x = kernels.lut_int8_forward(x, w["table"])
            else:
                x = kernels.softmax_int8_forward(x, w["exp_table"])
        return x

    # ---- float wrapper ----------------------------------------------------------------------

    def quantize(self, x):
        """float rows -> int8 rows as NAME_predict quantizes them."""
        if _np is not None and isinstance(x, _np.ndarray):
            with _np.errstate(over="ignore", invalid="ignore"):
                v = (x.astype(_np.float32) / _np.float32(self.input_scale)).astype(_np.float64)
            with _np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                r = _np.where(_np.isnan(v), 0, _np.clip(_np.sign(v) * _np.floor(_np.abs(v) + 0.5), -256, 256))
            return _np.clip(r + self.input_zero_point, -128, 127).astype(_np.int8)
        rows = self._rows(x, lambda v: type(v) in (int, float), "numbers")
        return self._nest([[quantize_value(v, self.input_scale, self.input_zero_point) for v in row] for row in rows])

    def dequantize(self, q):
        """int8 output rows -> float32 values: (q - zero point) * scale."""
        if _np is not None and isinstance(q, _np.ndarray):
            return (q.astype(_np.int64) - self.output_zero_point).astype(_np.float32) * _np.float32(self.output_scale)
        return _map_nested(q, lambda v: _float32((v - self.output_zero_point) * self.output_scale))

    def predict(self, x):
        """float rows -> float32 output rows: quantize, predict_int8, dequantize (NAME_predict's arithmetic)."""
        return self.dequantize(self.predict_int8(self.quantize(x)))

    # ---- self-check -------------------------------------------------------------------------

    def verify(self) -> float:
        """Re-run the embedded int8 test vectors; raise VerificationError unless every output is reproduced exactly."""
        if not self.spec["test_vectors"]:
            raise VerificationError(f"{self.path or self.name}: the file holds no test vectors, so nothing can be "
                                    "verified; re-export it, or pin the file with load(path, sha256=...)")
        for k, vector in enumerate(self.spec["test_vectors"]):
            rows, inputs = vector["inputs"]
            _, expected = vector["outputs"]
            flat = [inputs[r * self._in_size:(r + 1) * self._in_size] for r in range(rows)]
            if self.backend == "numpy":
                got = self._run_numpy(_np.array(flat, dtype=_np.int64)).ravel().tolist()
            else:
                got = [v for row in flat for v in self._run_python(row)]
            if got != expected:
                index = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
                raise VerificationError(f"{self.path or self.name}: test vector {k}, output value {index}: got "
                                        f"{got[index]}, the file expects {expected[index]} (int8 outputs must match "
                                        "exactly)")
        return 0.0

    # ---- shapes -----------------------------------------------------------------------------

    def _rows(self, batch, ok, what: str) -> list:
        """Flatten a nested-list batch into rows of the input's size, checking every value."""
        if not isinstance(batch, (list, tuple)):
            raise ValueError(f"expected a batch (a list of rows) of {what}, got {type(batch).__name__}")
        rows = []
        for row in batch:
            flat = _flatten(row)
            if len(flat) != self._in_size or not all(ok(v) for v in flat):
                raise ValueError(f"each row must hold {self._in_size} {what} shaped {self.inputs[0].shape}")
            rows.append(flat)
        return rows

    def _nest(self, rows: list) -> list:
        shape = self.outputs[0].shape
        return [_nest(row, shape) for row in rows]


def _flatten(value) -> list:
    if not isinstance(value, (list, tuple)):
        return [value]
    return [v for item in value for v in _flatten(item)]


def _nest(flat: list, shape: tuple):
    if len(shape) <= 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_nest(flat[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])]


def _map_nested(value, f):
    return [_map_nested(v, f) for v in value] if isinstance(value, list) else f(value)
