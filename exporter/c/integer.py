"""Render the C header of an integer-only model (export-model --integer; docs/c-api.md "Integer models").

templates/integer.h.j2 holds the layout; runtime_c/integer.h the kernels.
"""

from __future__ import annotations

import numpy as np

from exporter import __version__
from exporter.c.literals import c_comment, float_literal, int_rows, shape_text
from exporter.c.render import MAX_ALIGN
from exporter.c.resources import shared_kernel, template
from exporter.integer import IntegerGraph
from exporter.ir import size_of

CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t"}


def _calls(graph: IntegerGraph, prefix: str) -> list:
    """The kernel calls of NAME_predict_int8, ping-ponging between two stack buffers."""
    calls = []
    source = "input"
    for k, node in enumerate(graph.nodes):
        target = "output" if k == len(graph.nodes) - 1 else f"buffers[{k % 2}]"
        w = lambda key, node=node: f"{prefix}_{node.name}_{key}"  # noqa: E731
        if node.op == "dense_int8":
            n, units = node.weights["kernel"].shape
            a = node.attrs
            calls.append(f"kl_dense_int8_forward({target}, {source}, {w('kernel')}, {w('bias')}, {w('multiplier')}, "
                         f"{w('shift')}, {a['output_zero_point']}, {a['low']}, {a['high']}, {n}, {units});")
        elif node.op == "lut_int8":
            calls.append(f"kl_lut_int8_forward({target}, {source}, {w('table')}, {node.shape[0]});")
        else:
            calls.append(f"kl_softmax_int8_forward({target}, {source}, {w('exp_table')}, {node.shape[0]});")
        source = target
    return calls


def to_integer_header(graph: IntegerGraph, vectors: list, producer: dict, prefix: str) -> bytes:
    """The header's bytes; vectors: [{"inputs": int8 rows, "outputs": int8 rows}]."""
    arrays = []
    for node in graph.nodes:
        for key, values in node.weights.items():
            values = np.asarray(values)
            what = f"{key} {shape_text(values.shape)}"
            if key == "kernel":  # stored transposed: each output's sum walks one row (runtime_c/integer.h)
                values, what = values.T, f"kernel transposed {shape_text(values.T.shape)}"
            arrays.append({"ctype": CTYPES[values.dtype], "name": f"{prefix}_{node.name}_{key}",
                           "size": " * ".join(str(d) for d in values.shape),
                           "comment": f"{c_comment(node.layer)}: {what}",
                           "lines": int_rows(values.ravel(), values.shape[-1])})
    inputs = np.concatenate([np.asarray(v["inputs"]).reshape(len(v["inputs"]), -1) for v in vectors]) if vectors \
        else np.zeros((0, 0), np.int8)
    outputs = np.concatenate([np.asarray(v["outputs"]).reshape(len(v["outputs"]), -1) for v in vectors]) if vectors \
        else np.zeros((0, 0), np.int8)
    in_size, out_size = size_of(graph.input.shape), size_of(graph.output.shape)
    layers = [{"name": c_comment(n.layer), "class_name": c_comment(n.layer_class), "op": n.op, "units": n.shape[0],
               "scale": float_literal(n.output.scale), "zero_point": n.output.zero_point} for n in graph.nodes]
    context = {
        "P": prefix,
        "version": __version__,
        "source": c_comment(producer.get("source", "a Keras model")),
        "keras_version": c_comment(producer.get("keras_version", "unknown")),
        "guard": f"KERASLESS_INTEGER_MODEL_{prefix}_H",
        "layers": layers,
        "layer_width": min(max((len(x["name"]) for x in layers), default=0), MAX_ALIGN),
        "class_width": min(max((len(x["class_name"]) for x in layers), default=0), MAX_ALIGN),
        "input_size": in_size, "output_size": out_size,
        "input_name": c_comment(graph.input.name), "output_name": c_comment(graph.output.name),
        "input_shape": shape_text(graph.input.shape), "output_shape": shape_text(graph.output.shape),
        "input_scale": float_literal(graph.input_quant.scale), "input_zero_point": graph.input_quant.zero_point,
        "output_scale": float_literal(graph.output_quant.scale), "output_zero_point": graph.output_quant.zero_point,
        "weight_bytes": graph.weight_bytes(),
        "macs": sum(int(n.weights["kernel"].size) for n in graph.nodes if n.op == "dense_int8"),
        "width": max([in_size] + [n.shape[0] for n in graph.nodes]),
        "storage": shared_kernel("storage"),  # KERASLESS_WEIGHTS: the arrays in AVR program memory
        "kernel": shared_kernel("integer"),
        "arrays": arrays,
        "calls": _calls(graph, prefix),
        "test_rows": int(inputs.shape[0]),
        "test_inputs": int_rows(inputs.ravel(), in_size),
        "test_outputs": int_rows(outputs.ravel(), out_size),
    }
    return template("integer.h.j2").render(**context).encode("ascii")
