"""Write an integer-only model (format version 2, docs/format.md "Integer models") as JSON or NPZ.

The manifest has the shape of version 1's; readers of version 1 alone refuse it by its version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np

from exporter import __version__
from exporter.integer import IntegerGraph
from exporter.model_file import FORMAT_NAME, MANIFEST_MEMBER

INTEGER_FORMAT_VERSION = 2
DTYPES = {"|i1": "int8", "<i4": "int32"}  # numpy's descr -> the format's dtype


def _little_endian(array) -> np.ndarray:
    array = np.asarray(array)
    return np.ascontiguousarray(array, dtype="i1" if array.dtype == np.int8 else "<i4")


def weights_sha256(graph: IntegerGraph) -> str:
    """sha256 of every weight's little-endian bytes: nodes in order, weight names sorted (as version 1)."""
    digest = hashlib.sha256()
    for node in graph.nodes:
        for key in sorted(node.weights):
            digest.update(_little_endian(node.weights[key]).tobytes())
    return digest.hexdigest()


def _manifest(graph: IntegerGraph, vectors: list, producer: dict, encode) -> dict:
    previous = graph.input.name
    nodes = []
    for node in graph.nodes:
        nodes.append({"name": node.name, "op": node.op, "inputs": [previous], "shape": list(node.shape),
                      "attrs": node.attrs, "weights": {k: encode(v) for k, v in node.weights.items()},
                      "layer": node.layer, "layer_class": node.layer_class})
        previous = node.name
    quant = lambda q: {"scale": float(np.float32(q.scale)), "zero_point": int(q.zero_point)}  # noqa: E731
    return {
        "format": FORMAT_NAME,
        "format_version": INTEGER_FORMAT_VERSION,
        "producer": {"name": "kerasless", "version": __version__, **producer},
        "name": graph.name,
        "inputs": [{"name": graph.input.name, "shape": list(graph.input.shape), **quant(graph.input_quant)}],
        "outputs": [{"name": previous, "shape": list(graph.output.shape), **quant(graph.output_quant)}],
        "nodes": nodes,
        "weights_sha256": weights_sha256(graph),
        "test_vectors": [{"inputs": [encode(v["inputs"])], "outputs": [encode(v["outputs"])]} for v in vectors],
    }


def to_integer_json(graph: IntegerGraph, vectors: list, producer: dict) -> bytes:
    """Render the integer model file as JSON bytes; vectors: [{"inputs": int8 rows, "outputs": int8 rows}]."""

    def encode(array):
        array = _little_endian(array)
        return {"dtype": DTYPES[array.dtype.str], "shape": list(array.shape),
                "data": base64.b64encode(array.tobytes()).decode("ascii")}

    return (json.dumps(_manifest(graph, vectors, producer, encode), indent=1, allow_nan=False) + "\n").encode("utf-8")


def to_integer_npz(graph: IntegerGraph, vectors: list, producer: dict) -> bytes:
    """Render the integer model file as NPZ bytes (loadable with numpy's allow_pickle=False)."""
    members = {}

    def encode(array):
        key = f"a{len(members)}"
        members[key] = _little_endian(array)
        return {"dtype": DTYPES[members[key].dtype.str], "shape": list(members[key].shape), "member": key}

    text = json.dumps(_manifest(graph, vectors, producer, encode), indent=1, allow_nan=False).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, **{MANIFEST_MEMBER: np.frombuffer(text, dtype=np.uint8)}, **members)
    return buffer.getvalue()
