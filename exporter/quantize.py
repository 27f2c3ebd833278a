"""Smaller weights (export-model --weights): dense kernels stored as float16 or int8, computed in float32.

Only dense kernels change; biases and every other array stay float32. A stored kernel is decoded
to float32 exactly as every runtime decodes it (docs/format.md, "Stored kernels"):

* float16: IEEE binary16 bits; each one is exactly a float32.
* int8: q (n_in, n_out) in [-127, 127] and one float32 scale per output unit,
  scale[j] = max_i |kernel[i][j]| / 127 rounded to float32; the weight is the float32 product
  (float)q[i][j] * scale[j] (one rounding, the same on every target).

The graph keeps the decoded float32 kernel in node.weights (what every kernel computes with) and
the stored form in node.storage, which the writers put in the files.
"""

from __future__ import annotations

import numpy as np

from exporter.errors import ExportError
from exporter.ir import Graph, Stored

STORAGES = ("float32", "float16", "int8")
INT8_LEVELS = 127  # symmetric: -127 .. 127, so the scale maps max |w| exactly onto a level


def int8_kernel(kernel: np.ndarray) -> Stored:
    """Per-output-channel symmetric int8: q = round(w / scale), scale = max |w| / 127 per column."""
    kernel = np.asarray(kernel, dtype=np.float32)
    largest = np.max(np.abs(kernel), axis=0) if kernel.shape[0] else np.zeros(kernel.shape[1], np.float32)
    scale = (largest / np.float32(INT8_LEVELS)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))  # an all-zero column stores zeros with scale 0
    with np.errstate(under="ignore"):  # a tiny weight rounds to level 0, whatever the caller's np.seterr
        q = np.clip(np.rint(kernel / safe), -INT8_LEVELS, INT8_LEVELS).astype(np.int8)
    return Stored("int8", q, scale)


def float16_kernel(kernel: np.ndarray, where: str) -> Stored:
    """IEEE binary16, rounded to nearest even; refuses weights beyond float16's range."""
    kernel = np.asarray(kernel, dtype=np.float32)
    largest = float(np.max(np.abs(kernel))) if kernel.size else 0.0
    if largest > float(np.finfo(np.float16).max):
        raise ExportError(f"{where}: a weight of magnitude {largest:.6g} does not fit float16 "
                          f"(max {float(np.finfo(np.float16).max):g}); use --weights int8 or float32")
    with np.errstate(under="ignore"):  # below float16's range a weight rounds to a subnormal or 0, as IEEE says
        return Stored("float16", kernel.astype(np.float16), None)


def decoded(stored: Stored) -> np.ndarray:
    """The float32 kernel a stored kernel stands for (what runtime_py and the header compute with)."""
    if stored.dtype == "int8":
        with np.errstate(under="ignore"):  # q * a subnormal scale: the float32 product, whatever np.seterr says
            return stored.values.astype(np.float32) * stored.scale[np.newaxis, :]
    return stored.values.astype(np.float32)


def apply_weight_storage(graph: Graph, storage: str) -> None:
    """Store every dense kernel of the graph as `storage`; node.weights['kernel'] becomes its decoded value."""
    if storage not in STORAGES:
        raise ExportError(f"unknown weight storage {storage!r}; choose one of {', '.join(STORAGES)}")
    if storage == "float32":
        return
    for node in graph.nodes:
        if node.op != "dense":
            continue
        kernel = np.asarray(node.weights["kernel"], dtype=np.float32)
        where = f"layer {node.layer!r} ({node.layer_class})"
        if not np.all(np.isfinite(kernel)):
            raise ExportError(f"{where}: the kernel holds a NaN or an infinity, which {storage} cannot store")
        stored = int8_kernel(kernel) if storage == "int8" else float16_kernel(kernel, where)
        node.storage["kernel"] = stored
        node.weights["kernel"] = decoded(stored)


def float_copy(graph: Graph) -> Graph:
    """The same graph with plain float32 weights (the decoded kernels): the float reference of a quantized export."""
    from dataclasses import replace

    return replace(graph, nodes=[replace(node, storage={}, weights=dict(node.weights)) for node in graph.nodes])
