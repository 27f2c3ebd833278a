"""Render the single self-contained C header: weights, kernels, NAME_predict, NAME_selftest.

docs/c-api.md documents what the generated header offers.
"""

from __future__ import annotations

import re

import numpy as np

from exporter import __version__
from exporter.c.batch import plan_batch
from exporter.c.forward import plan_forward
from exporter.c.gradients import plan_gradient
from exporter.c.literals import c_comment, c_list, literal_rows, shape_text
from exporter.c.resources import shared_kernel, template
from exporter.errors import ExportError
from exporter.ir import Graph, size_of
from runtime_py.judge import bounds


def _vector_table(vectors: list, which: str, count: int, dtype=np.float32) -> np.ndarray:
    """Concatenate every batch row by row: (rows, total floats of all inputs or all outputs)."""
    if not vectors:
        return np.zeros((0, 0), dtype=dtype)
    batches = []
    for vector in vectors:
        arrays = [np.asarray(a, dtype=dtype) for a in vector[which]]
        if len(arrays) != count:
            raise ExportError(f"test vectors have {len(arrays)} {which}, the model has {count}")
        rows = arrays[0].shape[0]
        batches.append(np.concatenate([a.reshape(rows, -1) for a in arrays], axis=1))
    return np.concatenate(batches, axis=0)


# Columns padded to the longest name, up to this width: one very long name must not pad every line
# of the banner (a 1 MB name in a model of 20,000 layers would make a 20 GB header).
MAX_ALIGN = 40


def judge_bounds(vectors: list, outputs: np.ndarray, count: int) -> tuple:
    """(lo, hi) float32 tables: the parity judge as an interval per test value (runtime_py/judge.py).

    A float32 result passes exactly when lo <= result <= hi: both clauses' intervals contain
    Keras's value, so their union is one interval, computed exactly here and rounded inward, and
    NAME_selftest needs no double precision (AVR's double is 32 bits). NaN from Keras: lo = hi = NaN.
    """
    exact = (_vector_table(vectors, "outputs64", count, np.float64).ravel().tolist()
             if vectors and all(v.get("outputs64") is not None for v in vectors) else None)
    pairs = [bounds(k, None if exact is None else exact[i]) for i, k in enumerate(outputs.ravel().tolist())]
    shape = outputs.shape
    return (np.array([p[0] for p in pairs], dtype=np.float32).reshape(shape),
            np.array([p[1] for p in pairs], dtype=np.float32).reshape(shape))


# the bytes the header's arrays take (int: 2 on AVR, counted as 4)
C_TYPE_BYTES = {"float": 4, "int": 4, "signed char": 1, "unsigned short": 2}


def weight_bytes(plan) -> int:
    """Bytes of the header's constant arrays other than the test vectors (NAME_WEIGHT_BYTES)."""
    return sum(C_TYPE_BYTES[a.ctype] * size_of([int(d) for d in a.size_expr.split(" * ")]) for a in plan.arrays)


def dense_macs(graph: Graph) -> int:
    """Multiply-adds of the dense layers in one predict call (NAME_MACS)."""
    total = 0
    for node in graph.nodes:
        if node.op == "dense":
            n_in, n_out = node.weights["kernel"].shape
            total += size_of(node.shape) // n_out * n_in * n_out
    return total


def _gradient_context(graph: Graph, plan, gradients: dict, input_total: int) -> dict:
    """What the template needs for NAME_input_gradient and its self-check rows."""
    gradient = plan_gradient(graph, plan)
    text = "\n".join(call for step in gradient.forward for call in step["calls"])
    text += "\n".join(call for step in gradient.backward for call in step.calls)
    used = {k for k in range(len(graph.inputs)) if re.search(rf"\bin{k}\b", text)}
    declarations = [line for line in gradient.declarations
                    if not line.startswith("const float *const in") or int(line.split()[3][2:]) in used]
    values = np.asarray(gradients["values"], dtype=np.float32).reshape(len(gradients["index"]), -1)
    return {
        "plan": gradient,
        "declarations": declarations,
        "inputs_unused": not used,
        "total": sum(size_of(t.shape) for t in graph.outputs),
        "rows": len(gradients["index"]),
        "index": c_list(int(k) for k in gradients["index"]),
        "expected": literal_rows(values, input_total),
        "reference": c_comment(gradients.get("reference", "TensorFlow")),
    }


def to_header(graph: Graph, vectors: list, producer: dict, gradients: dict | None = None) -> bytes:
    """Render the C header for the graph (a WRITERS entry: graph, test vectors, producer -> bytes).

    gradients (export-model --gradients): {"index": output value per check row, "values": the
    reference input gradients of the first len(index) test rows, "reference": who computed them};
    the header then also gets NAME_input_gradient, checked by NAME_selftest.
    """
    plan = plan_forward(graph)
    shapes = graph.tensor_shapes()
    inputs = _vector_table(vectors, "inputs", len(graph.inputs))
    outputs = _vector_table(vectors, "outputs", len(graph.outputs))
    input_total = sum(t["size"] for t in plan.inputs)
    output_total = sum(t["size"] for t in plan.outputs)
    low, high = judge_bounds(vectors, outputs, len(graph.outputs))
    offsets = lambda tensors: [sum(t["size"] for t in tensors[:k]) for k in range(len(tensors))]  # noqa: E731
    context = {
        "version": __version__,
        "source": c_comment(producer.get("source", "a Keras model")),
        "keras_version": c_comment(producer.get("keras_version", "unknown")),
        "backend": c_comment(producer.get("backend", "unknown")),
        "sha256": graph.weights_sha256(),
        "prefix": plan.prefix,
        "guard": f"KERASLESS_MODEL_{plan.prefix}_H",
        "plan": plan,
        "layers": [
            {"name": c_comment(node.layer), "class_name": c_comment(node.layer_class), "op": node.op,
             "input": " + ".join(shape_text(shapes[t]) for t in node.inputs),
             "output": shape_text(node.shape)}
            for node in graph.nodes
        ],
        "layer_width": min(max((len(c_comment(n.layer)) for n in graph.nodes), default=0), MAX_ALIGN),
        "class_width": min(max((len(c_comment(n.layer_class)) for n in graph.nodes), default=0), MAX_ALIGN),
        "single": len(graph.inputs) == 1 and len(graph.outputs) == 1,
        "batch": plan_batch(graph, plan),
        "parameters": graph.parameter_count(),
        "weight_bytes": weight_bytes(plan),
        "macs": dense_macs(graph),
        # storage.h first: it defines how every later kernel reads the constant arrays
        "kernels": [{"name": k, "source": shared_kernel(k)} for k in ["storage", *plan.kernels]],
        "single_input": len(graph.inputs) == 1,
        "input_total": input_total,
        "output_total": output_total,
        "input_offsets": offsets(plan.inputs),
        "output_offsets": offsets(plan.outputs),
        "test_rows": int(inputs.shape[0]),
        "test_inputs": literal_rows(inputs, input_total) if inputs.size else [],
        "test_outputs": literal_rows(outputs, output_total) if outputs.size else [],
        "test_low": literal_rows(low, output_total) if outputs.size else [],
        "test_high": literal_rows(high, output_total) if outputs.size else [],
        "float64_judge": bool(vectors) and all(v.get("outputs64") is not None for v in vectors),
    }
    context["gradient"] = _gradient_context(graph, plan, gradients, input_total) if gradients else None
    if gradients:
        if int(inputs.shape[0]) < context["gradient"]["rows"]:
            raise ExportError("the gradient check needs as many test rows as it checks")
        context["kernels"] += [{"name": k, "source": shared_kernel(k)} for k in context["gradient"]["plan"].kernels]
    return template().render(**context).encode("ascii")
