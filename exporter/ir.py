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
    """What a converter returns: one IR operation, not yet named or wired."""

    op: str
    shape: tuple
    attrs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)


@dataclass
class Node:
    name: str
    op: str
    inputs: list
    shape: tuple
    attrs: dict
    weights: dict  # weight name -> float32 ndarray, in the documented order
    layer: str  # the Keras layer this node came from (for comments and errors)
    layer_class: str


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
        return sum(int(w.size) * 4 for n in self.nodes for w in n.weights.values())

    def weights_sha256(self) -> str:
        """Hash the weights' little-endian float32 bytes: nodes in order, names sorted (docs/format.md)."""
        digest = hashlib.sha256()
        for node in self.nodes:
            for key in sorted(node.weights):
                digest.update(np.ascontiguousarray(node.weights[key], dtype="<f4").tobytes())
        return digest.hexdigest()


def size_of(shape) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count
