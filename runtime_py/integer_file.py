"""Validate an integer-only model file (format version 2, docs/format.md "Integer models").

Called by runtime_py.model_file for format_version 2 with the same array decoder as version 1.
Everything the kernels rely on is checked here: a chain of nodes, int8/int32 weights of the
exact shapes, requantization parameters in range, and accumulators that cannot overflow int32.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from runtime_py.errors import ModelFormatError
from runtime_py.limits import MAX_NODES, Budget, short_shape, size_of

QMIN, QMAX = -128, 127
INT32_MAX = 2 ** 31 - 1
SOFTMAX_ONE = 1 << 15


@dataclass(frozen=True)
class IntegerSignature:
    """An integer op: its integer attributes with their ranges and its weights (dtype, shape in 'n'/'units')."""

    meaning: str
    attrs: dict = field(default_factory=dict)  # name -> (low, high, meaning)
    weights: dict = field(default_factory=dict)  # name -> (dtype, shape, meaning)


INTEGER_SIGNATURES = {
    "dense_int8": IntegerSignature(
        "`acc[j] = bias[j] + sum_i q_in[i] * kernel[i][j]`; "
        "`q_out[j] = clamp(requantize(acc[j], multiplier[j], shift[j]) + output_zero_point, low, high)`",
        {"output_zero_point": (QMIN, QMAX, "the output tensor's zero point"),
         "low": (QMIN, QMAX, "the clamp's lower end (the zero point for a fused relu)"),
         "high": (QMIN, QMAX, "the clamp's upper end, at least `low`")},
        {"kernel": ("int8", ("n", "units"), "symmetric per output channel, values in [-127, 127]"),
         "bias": ("int32", ("units",), "`round(b / (s_in * s_w[j])) - zp_in * sum_i kernel[i][j]`"),
         "multiplier": ("int32", ("units",), "Q31: 0, or in [2**30, 2**31 - 1]"),
         "shift": ("int8", ("units",), "in [-31, 30]; `s_in * s_w[j] / s_out = multiplier * 2**(shift - 31)`")}),
    "lut_int8": IntegerSignature(
        "`q_out[k] = table[q_in[k] + 128]`",
        {},
        {"table": ("int8", (256,), "the output for each input value -128 .. 127")}),
    "softmax_int8": IntegerSignature(
        "`e[i] = exp_table[max_k q_in[k] - q_in[i]]`; `q_out[i] = min(127, floor((256 * e[i] + floor(S / 2)) / S) - 128)`"
        " with `S = sum_i e[i]`",
        {},
        {"exp_table": ("int32", (256,), "`round(2**15 * exp(-s_in * d))` for d = 0 .. 255; `exp_table[0]` is 2**15")}),
}


def _expect_int(value, low, high, what: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ModelFormatError(f"{what}: expected an integer in [{low}, {high}], got {repr(value)[:40]}")
    return value


def _quant(item: dict, what: str) -> tuple:
    scale = item.get("scale")
    if type(scale) not in (int, float) or not math.isfinite(scale) or not 0 < scale < 1e30:
        raise ModelFormatError(f"{what}.scale: expected a positive finite number, got {repr(scale)[:40]}")
    return float(scale), _expect_int(item.get("zero_point"), QMIN, QMAX, f"{what}.zero_point")


def _ints(raw, signed_bytes: int) -> list:
    """A RawArray's little-endian int8/int32 values as Python ints."""
    return [int.from_bytes(raw.data[k:k + signed_bytes], "little", signed=True)
            for k in range(0, len(raw.data), signed_bytes)]


def validate_integer(manifest: dict, decode, path: str, helpers) -> dict:
    """Check a version 2 manifest; return the spec runtime_py.integer_model.IntegerModel runs.

    helpers: runtime_py.model_file's (_expect, _tensor_list, _array), shared with version 1.
    """
    _expect, _tensor_list, _array = helpers
    name = _expect(manifest.get("name"), str, f"{path}: name")
    specs = {}
    for side in ("inputs", "outputs"):
        tensors = _tensor_list(manifest.get(side), f"{path}: {side}")
        if len(tensors) != 1:
            raise ModelFormatError(f"{path}: {side}: an integer model has exactly one, got {len(tensors)}")
        specs[side] = (*tensors[0], *_quant(manifest[side][0], f"{path}: {side}[0]"))
    in_name, in_shape = specs["inputs"][:2]
    out_name, out_shape = specs["outputs"][:2]
    budget = Budget()
    problem = budget.add_tensor(in_shape, f"{path}: inputs[0].shape")
    if problem:
        raise ModelFormatError(problem)
    raw_nodes = _expect(manifest.get("nodes"), list, f"{path}: nodes")
    if not raw_nodes or len(raw_nodes) > MAX_NODES:
        raise ModelFormatError(f"{path}: nodes: an integer model has 1 to {MAX_NODES:,} nodes, got {len(raw_nodes):,}")
    previous, width = in_name, size_of(in_shape)
    nodes, digest, names = [], hashlib.sha256(), {in_name}
    for k, raw in enumerate(raw_nodes):
        where = f"{path}: nodes[{k}]"
        _expect(raw, dict, where)
        node_name = _expect(raw.get("name"), str, where + ".name")
        op = _expect(raw.get("op"), str, where + ".op")
        where = f"{where} ({node_name!r})"
        if op not in INTEGER_SIGNATURES:
            raise ModelFormatError(f"{where}: unknown op {op[:40]!r} in an integer model; this runtime knows "
                                   f"{', '.join(sorted(INTEGER_SIGNATURES))}")
        if node_name in names:
            raise ModelFormatError(f"{where}: tensor name {node_name[:80]!r} is defined twice")
        if raw.get("inputs") != [previous]:
            raise ModelFormatError(f"{where}: inputs must be [{previous!r}]: an integer model is a chain")
        shape = raw.get("shape")
        if not isinstance(shape, list) or len(shape) != 1 or type(shape[0]) is not int or shape[0] < 1:
            raise ModelFormatError(f"{where}.shape: expected [units] with units >= 1, got {repr(shape)[:60]}")
        units = shape[0]
        problem = budget.add_tensor((units,), where + ".shape")
        if problem:
            raise ModelFormatError(problem)
        signature = INTEGER_SIGNATURES[op]
        attrs = _expect(raw.get("attrs", {}), dict, where + ".attrs")
        unknown = sorted(set(attrs) - set(signature.attrs))
        if unknown:
            raise ModelFormatError(f"{where}.attrs: unknown attribute(s) {', '.join(map(repr, unknown))[:120]}")
        values = {a: _expect_int(attrs.get(a), low, high, f"{where}.attrs.{a}")
                  for a, (low, high, _) in signature.attrs.items()}
        weights = _expect(raw.get("weights", {}), dict, where + ".weights")
        if set(weights) != set(signature.weights):
            raise ModelFormatError(f"{where}.weights: expected {', '.join(sorted(signature.weights))}, "
                                   f"got {', '.join(sorted(map(str, weights)))[:120]}")
        arrays = {}
        for key, (dtype, dims, _) in signature.weights.items():
            expected = tuple({"n": width, "units": units}.get(d, d) for d in dims)
            what = f"{where}.weights.{key}"

            def check(got, expected=expected, what=what):
                if tuple(got) != expected:
                    return f"{what}: shape {short_shape(got)}, expected {short_shape(list(expected))}"
                return budget.add_weight(got, what)

            arrays[key] = _array(weights[key], decode, what, check, dtype)
        for key in sorted(arrays):
            digest.update(arrays[key].data)
        ints = {key: _ints(raw_array, 1 if raw_array.dtype == "int8" else 4) for key, raw_array in arrays.items()}
        if op == "dense_int8":
            _check_dense(ints, values, width, units, where)
        elif op == "softmax_int8":
            table = ints["exp_table"]
            if table[0] != SOFTMAX_ONE or any(not 0 <= v <= SOFTMAX_ONE for v in table) or units > 65535:
                raise ModelFormatError(f"{where}: exp_table must start at 2**15 and hold values in [0, 2**15], "
                                       "over at most 65535 values")
        elif units != width:
            raise ModelFormatError(f"{where}: a {op} keeps its input's {width} values, shape says {units}")
        if op == "softmax_int8" and units != width:
            raise ModelFormatError(f"{where}: a softmax keeps its input's {width} values, shape says {units}")
        nodes.append({"name": node_name, "op": op, "attrs": values, "weights": ints, "n": width, "units": units,
                      "layer": raw.get("layer") if isinstance(raw.get("layer"), str) else node_name})
        names.add(node_name)
        previous, width = node_name, units
    if out_name != previous or size_of(out_shape) != width:
        raise ModelFormatError(f"{path}: output {out_name[:80]!r} must be the last node's {width} values")
    expected_hash = manifest.get("weights_sha256")
    if expected_hash is not None and expected_hash != digest.hexdigest():
        raise ModelFormatError(f"{path}: weights do not match weights_sha256: the file is corrupted or was edited")
    vectors = []
    for k, raw in enumerate(_expect(manifest.get("test_vectors", []), list, f"{path}: test_vectors")):
        where = f"{path}: test_vectors[{k}]"
        _expect(raw, dict, where)
        vector = {}
        for side, spec in (("inputs", in_shape), ("outputs", out_shape)):
            descs = _expect(raw.get(side), list, f"{where}.{side}")
            if len(descs) != 1:
                raise ModelFormatError(f"{where}.{side}: expected one array, got {len(descs)}")

            def fits(got, spec=spec, what=f"{where}.{side}[0]"):
                if len(got) < 2 or tuple(got[1:]) != spec or got[0] < 1:
                    return f"{what}: shape {short_shape(got)} is not (rows >= 1, *{spec})"
                return budget.add_test_array(got, what)

            array = _array(descs[0], decode, f"{where}.{side}[0]", fits, "int8")
            vector[side] = (array.shape[0], _ints(array, 1))
        if vector["inputs"][0] != vector["outputs"][0]:
            raise ModelFormatError(f"{where}: batches of different sizes")
        vectors.append(vector)
    producer = manifest.get("producer") if isinstance(manifest.get("producer"), dict) else {}
    return {"integer": True, "name": name, "format_version": 2, "producer": producer,
            "input": specs["inputs"], "output": specs["outputs"], "nodes": nodes,
            "weights_sha256": digest.hexdigest(), "test_vectors": vectors}


def _check_dense(ints: dict, attrs: dict, n: int, units: int, where: str) -> None:
    """Parameters in range, and no int32 overflow for any int8 input (the C kernel relies on it)."""
    if attrs["low"] > attrs["high"]:
        raise ModelFormatError(f"{where}.attrs: low {attrs['low']} is above high {attrs['high']}")
    kernel = ints["kernel"]
    if any(v < -127 for v in kernel):
        raise ModelFormatError(f"{where}.weights.kernel: -128 is not a symmetric int8 weight (range [-127, 127])")
    reach = [0] * units
    for i in range(n):
        row = kernel[i * units:(i + 1) * units]
        for j in range(units):
            reach[j] += abs(row[j])
    for j in range(units):
        multiplier, shift = ints["multiplier"][j], ints["shift"][j]
        if multiplier != 0 and not 2 ** 30 <= multiplier <= INT32_MAX:
            raise ModelFormatError(f"{where}.weights.multiplier[{j}]: {multiplier} is not 0 or in [2**30, 2**31 - 1]")
        if not -31 <= shift <= 30:
            raise ModelFormatError(f"{where}.weights.shift[{j}]: {shift} is not in [-31, 30]")
        if (128 * reach[j] + abs(ints["bias"][j])) << max(shift, 0) > INT32_MAX:
            raise ModelFormatError(f"{where}: output {j}'s accumulator can overflow int32 (bias, kernel and shift "
                                   "are too large together)")
