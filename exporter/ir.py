"""Graph IR: nodes in topological order over flat row-major float32 tensors.

Every tensor is named; a model input is named after its InputLayer and a node's
output tensor carries the node's name. Shapes exclude the batch dimension.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TensorSpec:
    name: str
    shape: tuple


@dataclass
class Op:
    """What a converter returns: one IR operation, not yet named or wired.

    inputs None reads the previous op's output (the first op: all the layer's inputs); otherwise it
    lists what the op reads, each a LayerInput(k) (the layer's input k) or an int k (the output of
    op k of the same list, an earlier one). The last op's output is the layer's output, unless some
    ops name the output they give (`output` k): then those are the layer's outputs, in order of k
    (keras.ops.split).
    """

    op: str
    shape: tuple
    attrs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    inputs: list | None = None
    output: int | None = None


@dataclass(frozen=True)
class LayerInput:
    """Op.inputs entry: the converted layer's input k."""

    index: int


@dataclass(frozen=True)
class Stored:
    """A dense kernel stored in fewer bits (export-model --weights; exporter/quantize.py)."""

    dtype: str  # "float16" or "int8"
    values: np.ndarray  # float16 or int8, the kernel's shape
    scale: np.ndarray | None  # int8: one float32 per output unit; float16: None


@dataclass
class Node:
    name: str
    op: str
    inputs: list
    shape: tuple
    attrs: dict
    weights: dict  # weight name -> float32 ndarray, in the documented order (a stored kernel: its decoded value)
    layer: str  # the Keras layer this node came from (for comments and errors)
    layer_class: str
    storage: dict = field(default_factory=dict)  # weight name -> Stored, for kernels kept in fewer bits

    def stored_weights(self) -> dict:
        """Weight name -> the little-endian array as the model file stores it (a stored kernel adds <name>_scale)."""
        arrays = {}
        for key, value in self.weights.items():
            stored = self.storage.get(key)
            if stored is None:
                arrays[key] = np.ascontiguousarray(value, dtype="<f4")
                continue
            arrays[key] = np.ascontiguousarray(stored.values, dtype="<f2" if stored.dtype == "float16" else "i1")
            if stored.scale is not None:
                arrays[f"{key}_scale"] = np.ascontiguousarray(stored.scale, dtype="<f4")
        return arrays


@dataclass
class LayerInfo:
    """One Keras layer call, for the exporter's summary and the header's comments."""

    name: str
    class_name: str
    input_shapes: list
    output_shape: tuple
    params: int


@dataclass
class Graph:
    name: str
    inputs: list  # TensorSpec
    outputs: list  # TensorSpec
    nodes: list  # Node, topological order
    layers: list = field(default_factory=list)  # LayerInfo, call order

    def tensor_shapes(self) -> dict:
        shapes = {t.name: t.shape for t in self.inputs}
        shapes.update((n.name, n.shape) for n in self.nodes)
        return shapes

    def parameter_count(self) -> int:
        return sum(int(w.size) for n in self.nodes for w in n.weights.values())

    def weight_bytes(self) -> int:
        """Bytes of the weights as stored (float32, or a stored kernel's int8/float16 values and scales)."""
        return sum(int(w.nbytes) for n in self.nodes for w in n.stored_weights().values())

    def weight_storage(self) -> str:
        """float32, or the storage of the dense kernels (export-model --weights)."""
        kinds = {stored.dtype for node in self.nodes for stored in node.storage.values()}
        return kinds.pop() if len(kinds) == 1 else "float32"

    def weights_sha256(self) -> str:
        """Hash the weights' little-endian bytes as stored: nodes in order, names sorted (docs/format.md)."""
        digest = hashlib.sha256()
        for node in self.nodes:
            arrays = node.stored_weights()
            for key in sorted(arrays):
                digest.update(arrays[key].tobytes())
        return digest.hexdigest()


def size_of(shape) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count
