"""Write the model file, format v1, as JSON or NPZ (docs/format.md is the spec).

Both forms carry the same manifest; only arrays differ: JSON embeds each as
base64 of its little-endian bytes (float32; a stored dense kernel float16 or int8),
NPZ stores each as a .npy member and the manifest itself as the uint8 member
`manifest.npy`.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np

from exporter import __version__
from exporter.ir import Graph

FORMAT_NAME = "kerasless"
FORMAT_VERSION = 1
MANIFEST_MEMBER = "manifest"
DTYPE_NAMES = {"<f4": "float32", "<f8": "float64", "<f2": "float16", "|i1": "int8"}  # numpy's descr -> the format's dtype


def _manifest(graph: Graph, vectors: list, producer: dict, encode) -> dict:
    """Build the manifest; encode(array, dtype="float32") returns the array's JSON description."""
    storage = {"weight_storage": graph.weight_storage()} if graph.weight_storage() != "float32" else {}
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": {"name": "kerasless", "version": __version__, **producer},
        "name": graph.name,
        "inputs": [{"name": t.name, "shape": list(t.shape)} for t in graph.inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape)} for t in graph.outputs],
        **storage,
        "nodes": [
            {
                "name": node.name,
                "op": node.op,
                "inputs": list(node.inputs),
                "shape": list(node.shape),
                "attrs": node.attrs,
                "weights": {key: encode(array) for key, array in node.stored_weights().items()},
                "layer": node.layer,
                "layer_class": node.layer_class,
            }
            for node in graph.nodes
        ],
        "weights_sha256": graph.weights_sha256(),
        "test_vectors": [_vector(vector, encode) for vector in vectors],
    }


def _vector(vector: dict, encode) -> dict:
    """One test vector; outputs64 (the float64 run's outputs) where the exporter has them."""
    entry = {"inputs": [encode(a) for a in vector["inputs"]], "outputs": [encode(a) for a in vector["outputs"]]}
    if vector.get("outputs64") is not None:
        entry["outputs64"] = [encode(a, "float64") for a in vector["outputs64"]]
    return entry


LITTLE_ENDIAN = {"float32": "<f4", "float64": "<f8"}


def _little_endian(array, dtype: str) -> np.ndarray:
    """The array as stored: as dtype, unless it is a stored kernel's float16 or int8 values (kept as they are)."""
    array = np.asarray(array)
    if dtype == "float32" and array.dtype.str in ("<f2", "|i1"):
        return np.ascontiguousarray(array)
    return np.ascontiguousarray(array, dtype=LITTLE_ENDIAN[dtype])


def to_json(graph: Graph, vectors: list, producer: dict) -> bytes:
    """Render the model file as JSON bytes."""

    def encode(array, dtype="float32"):
        array = _little_endian(array, dtype)
        return {
            "dtype": DTYPE_NAMES[array.dtype.str],
            "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
        }

    manifest = _manifest(graph, vectors, producer, encode)
    return (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode("utf-8")


def to_npz(graph: Graph, vectors: list, producer: dict) -> bytes:
    """Render the model file as NPZ bytes (loadable with numpy's allow_pickle=False)."""
    members = {}

    def encode(array, dtype="float32"):
        key = f"a{len(members)}"
        members[key] = _little_endian(array, dtype)
        return {"dtype": DTYPE_NAMES[members[key].dtype.str], "shape": list(members[key].shape), "member": key}

    manifest = _manifest(graph, vectors, producer, encode)
    text = json.dumps(manifest, indent=1, allow_nan=False).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, **{MANIFEST_MEMBER: np.frombuffer(text, dtype=np.uint8)}, **members)
    return buffer.getvalue()
