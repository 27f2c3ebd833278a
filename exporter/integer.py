"""Integer-only int8 models (export-model --integer --calibrate X.npy): TensorFlow Lite's int8 scheme.

From a float graph that is a chain of Dense layers (and Flatten/Reshape, Activation layers) and
representative input rows, build the integer graph of docs/format.md "Integer models":

* weights: per output channel symmetric int8, s_w[j] = max_i |w[i][j]| / 127 (float32; 1.0 for an
  all-zero column), q = round(w / s_w) clamped to [-127, 127];
* activations: int8 asymmetric per tensor, scale and zero point from the calibration min/max with
  the range nudged to include 0 (TensorFlow Lite's ChooseQuantizationParams);
* bias: int32 round(b / (s_in * s_w[j])), with the input zero point folded in:
  bias'[j] = bias[j] - zp_in * sum_i q[i][j];
* requantization: s_in * s_w[j] / s_out as a Q31 multiplier and a shift (TensorFlow Lite's
  QuantizeMultiplier), fused relu/relu6 as a tighter clamp;
* sigmoid and tanh as 256-entry tables (output scale 1/256 zero point -128, 1/128 and 0, as
  TensorFlow Lite fixes them), every other elementwise activation as a table whose output range
  comes from the calibration, softmax with a Q15 exp table and an integer normalization.

round() is round half away from zero throughout (TensorFlow Lite's TfLiteRound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter.errors import ExportError
from exporter.ir import Graph, TensorSpec, size_of

QMIN, QMAX = -128, 127
WEIGHT_LEVELS = 127
MIN_CALIBRATION_ROWS = 16  # fewer rows than this cannot give representative ranges
SOFTMAX_ONE = 1 << 15  # the exp table's 1.0 (Q15)
SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1.0 / 256, -128
# smooth activation -> (exact float function, output scale, output zero point), fixed as TensorFlow Lite does
TABLES = {
    "sigmoid": (lambda x: 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x)),
                1.0 / 256, -128),
    "tanh": (math.tanh, 1.0 / 128, 0),
}
CLAMPS = ("linear", "relu", "relu6")
SUPPORTED = ("Dense (activation linear, relu, relu6, sigmoid, tanh, softmax or another elementwise activation), "
             "Activation layers of those, "
             "Flatten and Reshape, in one chain from one input to one output")


def round_half_away(value: float) -> int:
    """TensorFlow Lite's TfLiteRound (std::round): halves go away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass
class Quant:
    """A tensor's int8 quantization: real = scale * (q - zero_point); scale is a float32 value."""

    scale: float
    zero_point: int


@dataclass
class IntegerNode:
    name: str
    op: str  # "dense_int8", "lut_int8" or "softmax_int8"
    shape: tuple
    attrs: dict  # dense_int8: output_zero_point, low, high
    weights: dict  # name -> int8 or int32 ndarray
    layer: str
    layer_class: str
    output: Quant


@dataclass
class IntegerGraph:
    name: str
    input: TensorSpec
    output: TensorSpec
    input_quant: Quant
    nodes: list = field(default_factory=list)

    @property
    def output_quant(self) -> Quant:
        return self.nodes[-1].output

    def weight_bytes(self) -> int:
        return sum(int(w.nbytes) for node in self.nodes for w in node.weights.values())


# ---- the plan: which float steps become which integer nodes -------------------------------------

@dataclass
class _Step:
    kind: str  # "dense", "table", "softmax"
    node: object  # the IR node it comes from
    clamp: str = "linear"  # dense: the fused clamp
    function: str = ""  # table: sigmoid or tanh (fixed output parameters), or "" (calibrated)
    record: dict | None = None  # table: the activation record


def _activation_name(record: dict, where: str) -> str:
    """The integer kernel for an activation record: a clamp, a fixed table, softmax, or "table" (calibrated)."""
    from exporter.activations import AXIS_WISE

    name = record.get("name")
    if name == "relu" and record.get("negative_slope") == 0.0 and record.get("threshold") == 0.0:
        if not record.get("has_max_value"):
            return "relu"
        if record.get("max_value") == 6.0:
            return "relu6"
    if name in CLAMPS or name in TABLES or name == "softmax":
        return name
    if name in AXIS_WISE:
        raise ExportError(f"{where} prevents --integer: activation {name!r} has no integer kernel yet; "
                          f"supported: {', '.join(CLAMPS + tuple(TABLES))}, softmax, and elementwise activations")
    return "table"  # any other elementwise function: a table whose output range comes from the calibration


def _tighter(a: str, b: str) -> str:
    """The clamp of b applied after a (both among linear, relu, relu6)."""
    order = {"linear": 0, "relu": 1, "relu6": 2}
    return a if order[a] >= order[b] else b


def plan_steps(graph: Graph) -> list:
    """Map the float graph onto integer steps; refuse, naming the layer, anything without an integer kernel."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ExportError("--integer supports models with one input and one output; this one has "
                          f"{len(graph.inputs)} and {len(graph.outputs)}")
    current = graph.inputs[0].name
    steps = []
    for node in graph.nodes:
        where = f"layer {node.layer!r} ({node.layer_class})"
        if list(node.inputs) != [current]:
            raise ExportError(f"{where} prevents --integer: it does not read the previous layer's output alone "
                              f"(--integer supports {SUPPORTED})")
        current = node.name
        if node.op == "reshape":  # row-major data unchanged
            continue
        if node.op not in ("dense", "activation"):
            raise ExportError(f"{where} prevents --integer: op {node.op!r} has no integer kernel yet "
                              f"(--integer supports {SUPPORTED})")
        if len(node.shape) != 1:
            raise ExportError(f"{where} prevents --integer: its output has shape {tuple(node.shape)}; "
                              "integer kernels take flat vectors (add a Flatten before it)")
        name = _activation_name(node.attrs["activation"], where)
        if node.op == "dense":
            steps.append(_Step("dense", node))
        elif not steps or (name in CLAMPS and steps[-1].kind != "dense"):
            if name == "linear":
                continue
            raise ExportError(f"{where} prevents --integer: a {node.attrs['activation']['name']} that does not follow "
                              "a Dense layer has no integer kernel yet")
        if name in CLAMPS:
            steps[-1].clamp = _tighter(steps[-1].clamp, name)
        elif name in TABLES or name == "table":
            steps.append(_Step("table", node, function=name if name in TABLES else "",
                               record=node.attrs["activation"]))
        else:
            steps.append(_Step("softmax", node))
    if not steps:
        raise ExportError("--integer needs at least one Dense layer")
    return steps


# ---- calibration ---------------------------------------------------------------------------------

def load_calibration(path, graph: Graph) -> np.ndarray:
    """Read --calibrate X.npy: at least MIN_CALIBRATION_ROWS finite rows of the model's input shape."""
    if path is None:
        raise ExportError("--integer needs --calibrate X.npy: a few hundred representative input rows "
                          "(the activation ranges come from them)")
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ExportError(f"--calibrate {path}: cannot read it as a .npy array ({exc})") from None
    shape = tuple(graph.inputs[0].shape)
    if not isinstance(x, np.ndarray) or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) \
            or tuple(x.shape[1:]) != shape:
        raise ExportError(f"--calibrate {path}: expected numbers shaped (rows, {', '.join(map(str, shape))}), "
                          f"got {x.dtype} {x.shape}")
    if len(x) < MIN_CALIBRATION_ROWS:
        raise ExportError(f"--calibrate {path}: {len(x)} rows; give at least {MIN_CALIBRATION_ROWS} representative "
                          "rows (a few hundred is better)")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ExportError(f"--calibrate {path}: holds a NaN or an infinity; calibration rows must be finite")
    return x.reshape(len(x), -1)


def choose_quant(low: float, high: float) -> Quant:
    """TensorFlow Lite's ChooseQuantizationParams for int8 over [low, high] nudged to include 0."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high == low:  # a tensor that is always 0
        return Quant(1.0, 0)
    scale = float(np.float32((high - low) / (QMAX - QMIN)))
    from_min, from_max = QMIN - low / scale, QMAX - high / scale
    error_min, error_max = abs(QMIN) + abs(low / scale), abs(QMAX) + abs(high / scale)
    zero = from_min if error_min < error_max else from_max
    return Quant(scale, QMIN if zero < QMIN else QMAX if zero > QMAX else round_half_away(zero))


def quantize_multiplier(real: float) -> tuple:
    """TensorFlow Lite's QuantizeMultiplier: real = multiplier * 2**(shift - 31), multiplier in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    multiplier = round_half_away(fraction * (1 << 31))
    if multiplier == 1 << 31:
        multiplier //= 2
        shift += 1
    if shift < -31:  # too small to matter: the product rounds to 0
        return 0, 0
    return multiplier, shift


def _dense_float(x: np.ndarray, node) -> np.ndarray:
    kernel = np.asarray(node.weights["kernel"], dtype=np.float64)
    bias = np.asarray(node.weights.get("bias", np.zeros(kernel.shape[1])), dtype=np.float64)
    return x @ kernel + bias


def _clamp_float(x: np.ndarray, clamp: str) -> np.ndarray:
    if clamp == "relu":
        return np.maximum(x, 0.0)
    if clamp == "relu6":
        return np.clip(x, 0.0, 6.0)
    return x


def _softmax_float(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---- building the integer nodes ------------------------------------------------------------------

def _dense_node(step: _Step, index: int, quant_in: Quant, quant_out: Quant) -> IntegerNode:
    node = step.node
    where = f"layer {node.layer!r} ({node.layer_class})"
    kernel = np.asarray(node.weights["kernel"], dtype=np.float32)
    if not np.all(np.isfinite(kernel)) or not np.all(np.isfinite(node.weights.get("bias", 0.0))):
        raise ExportError(f"{where} prevents --integer: its weights hold a NaN or an infinity")
    n, units = kernel.shape
    largest = np.max(np.abs(kernel), axis=0) if n else np.zeros(units, np.float32)
    scale = np.where(largest > 0, largest / np.float32(WEIGHT_LEVELS), np.float32(1)).astype(np.float32)
    ratio = kernel.astype(np.float64) / scale.astype(np.float64)
    q = np.clip(np.sign(ratio) * np.floor(np.abs(ratio) + 0.5), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int64)
    bias = np.asarray(node.weights.get("bias", np.zeros(units, np.float32)), dtype=np.float64)
    bias_scale = float(quant_in.scale) * scale.astype(np.float64)
    q_bias = [round_half_away(b / s) for b, s in zip(bias.tolist(), bias_scale.tolist())]
    folded = np.array(q_bias, dtype=object) - quant_in.zero_point * q.sum(axis=0).astype(object)
    reach = 128 * np.abs(q).sum(axis=0)  # the largest |sum_i q_in * q_w| can be
    multipliers, shifts = [], []
    for j in range(units):
        multiplier, shift = quantize_multiplier(float(quant_in.scale) * float(scale[j]) / float(quant_out.scale))
        bound = (int(reach[j]) + abs(int(folded[j]))) << max(shift, 0)
        if bound > 2 ** 31 - 1:
            raise ExportError(f"{where} prevents --integer: output {j}'s int32 accumulator could overflow "
                              f"(bias {bias[j]:.6g} is too large for the scales s_in*s_w = {bias_scale[j]:.3g}); "
                              "calibrate with rows covering the real input range")
        multipliers.append(multiplier)
        shifts.append(shift)
    low, high = QMIN, QMAX
    if step.clamp in ("relu", "relu6"):
        low = max(QMIN, quant_out.zero_point)
    if step.clamp == "relu6":
        high = min(QMAX, quant_out.zero_point + round_half_away(6.0 / quant_out.scale))
    return IntegerNode(f"n{index}", "dense_int8", (units,),
                       {"output_zero_point": quant_out.zero_point, "low": low, "high": high},
                       {"kernel": q.astype(np.int8), "bias": np.array(folded.tolist(), dtype=np.int32),
                        "multiplier": np.array(multipliers, dtype=np.int32), "shift": np.array(shifts, dtype=np.int8)},
                       node.layer, node.layer_class, quant_out)


def elementwise_function(record: dict):
    """The float function of an elementwise activation record: runtime_py's numpy kernel (Keras's float32 formula)."""
    from runtime_py import activations_numpy
    from runtime_py.activations import ACTIVATIONS

    kernel = getattr(activations_numpy, record["name"] + "_forward")
    params = [record[p] for p in ACTIVATIONS[record["name"]]]

    def function(x):
        flat = np.array(x, dtype=np.float32).reshape(1, -1)
        with np.errstate(all="ignore"):
            return np.asarray(kernel(flat, 1, flat.shape[1], *params), dtype=np.float64).reshape(np.shape(x))

    return function


def _table_node(step: _Step, index: int, quant_in: Quant, units: int, quant_out: Quant | None = None) -> IntegerNode:
    """sigmoid/tanh with TensorFlow Lite's fixed output parameters, or another function with quant_out."""
    real = [float(quant_in.scale) * (q - quant_in.zero_point) for q in range(QMIN, QMAX + 1)]
    if step.function:
        function, out_scale, out_zero = TABLES[step.function]
        values = [function(v) for v in real]
        quant_out = Quant(out_scale, out_zero)
    else:
        values = elementwise_function(step.record)(np.array(real)).tolist()
    if not all(math.isfinite(v) or math.isinf(v) for v in values):
        raise ExportError(f"layer {step.node.layer!r} ({step.node.layer_class}) prevents --integer: its activation "
                          "is NaN for some input in the calibrated range")
    table = [QMIN if v == -math.inf else QMAX if v == math.inf else
             min(QMAX, max(QMIN, round_half_away(min(max(v / quant_out.scale, -512.0), 512.0)) + quant_out.zero_point))
             for v in values]
    return IntegerNode(f"n{index}", "lut_int8", (units,), {},
                       {"table": np.array(table, dtype=np.int8)}, step.node.layer, step.node.layer_class, quant_out)


def _softmax_node(step: _Step, index: int, quant_in: Quant, units: int) -> IntegerNode:
    if units > 65535:
        raise ExportError(f"layer {step.node.layer!r} ({step.node.layer_class}) prevents --integer: a softmax over "
                          f"{units} values would overflow the int32 sum")
    table = [round_half_away(math.exp(-float(quant_in.scale) * d) * SOFTMAX_ONE) for d in range(256)]
    return IntegerNode(f"n{index}", "softmax_int8", (units,), {},
                       {"exp_table": np.array(table, dtype=np.int32)}, step.node.layer, step.node.layer_class,
                       Quant(SOFTMAX_SCALE, SOFTMAX_ZERO_POINT))


def build_integer(graph: Graph, calibration: np.ndarray) -> IntegerGraph:
    """Quantize the float graph's chain with the calibration rows (flat, float32) into an IntegerGraph."""
    steps = plan_steps(graph)
    x = calibration.astype(np.float64)
    quant_in = choose_quant(x.min(), x.max())
    result = IntegerGraph(graph.name, graph.inputs[0], graph.outputs[0], quant_in)
    current = quant_in
    for index, step in enumerate(steps):
        if step.kind == "dense":
            x = _clamp_float(_dense_float(x, step.node), step.clamp)
            node = _dense_node(step, index, current, choose_quant(x.min(), x.max()))
        elif step.kind == "table" and step.function:
            x = np.vectorize(TABLES[step.function][0])(x) if x.size else x
            node = _table_node(step, index, current, x.shape[1])
        elif step.kind == "table":
            x = elementwise_function(step.record)(x)
            if not np.all(np.isfinite(x)):
                raise ExportError(f"layer {step.node.layer!r} ({step.node.layer_class}) prevents --integer: its "
                                  "activation overflows on the calibration rows")
            node = _table_node(step, index, current, x.shape[1], choose_quant(x.min(), x.max()))
        else:
            x = _softmax_float(x)
            node = _softmax_node(step, index, current, x.shape[1])
        result.nodes.append(node)
        current = node.output
    return result


# ---- running it (the exporter's reference: runtime_py's integer kernels) -------------------------

def quantize_input(x: np.ndarray, quant: Quant) -> np.ndarray:
    """float32 rows -> int8: round(x / scale) + zero point, clamped (the header's NAME_predict does the same)."""
    v = (np.asarray(x, dtype=np.float32) / np.float32(quant.scale)).astype(np.float64)
    rounded = np.sign(v) * np.floor(np.abs(v) + 0.5)
    rounded = np.where(np.isnan(v), 0, np.clip(rounded, -256, 256))
    return np.clip(rounded + quant.zero_point, QMIN, QMAX).astype(np.int8)


def dequantize_output(q: np.ndarray, quant: Quant) -> np.ndarray:
    """int8 -> float32: (q - zero point) * scale, one float32 rounding."""
    return ((np.asarray(q, dtype=np.int64) - quant.zero_point).astype(np.float32) * np.float32(quant.scale))
