"""Merges of inputs whose shapes broadcast: the converter's plan, refusals, and the broadcast op on its own.

Parity against Keras for every merge with broadcasting is in the layer table (tests/layer_cases.py,
the *_broadcast rows, run by test_layers.py, test_c_layers.py and test_gradients.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import runtime_py
from exporter.converters import LayerCall, merge
from exporter.errors import ExportError
from exporter.ir import Graph, LayerInput, Node, TensorSpec
from runtime_py.errors import ModelFormatError
from runtime_py.model import broadcast_index


def _plan(class_name, shapes):
    return merge(LayerCall("m", class_name, {}, [], shapes))


def test_only_inputs_of_another_shape_are_broadcast():
    ops = _plan("Multiply", [(4, 3), (1, 3), (4, 3)])
    assert [(op.op, op.shape, op.inputs) for op in ops] == [
        ("broadcast", (4, 3), [LayerInput(1)]),
        ("multiply", (4, 3), [LayerInput(0), 0, LayerInput(2)]),
    ]


def test_equal_shapes_need_no_broadcast():
    assert [op.op for op in _plan("Add", [(6,), (6,)])] == ["add"]


@pytest.mark.parametrize("shapes, result", [([(4, 3), (3,)], (4, 3)), ([(4, 1), (1, 3)], (4, 3)),
                                            ([(2, 4, 3), (4, 1), (1,)], (2, 4, 3)), ([(1,), (5,)], (5,))])
def test_result_shape_is_numpys(shapes, result):
    ops = _plan("Maximum", shapes)
    assert ops[-1].shape == result == np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("class_name, shapes, message", [
    ("Add", [(4, 3), (2, 3)], r"do not broadcast \(axis 1 has sizes \[2, 4\]"),
    ("Multiply", [(4, 3), (4,)], r"axis 2 has sizes \[3, 4\]"),
    ("Subtract", [(3,), (3,), (3,)], "needs exactly 2 inputs, has 3"),
    ("Average", [(3,)], "needs at least 2 inputs, has 1"),
])
def test_shapes_that_do_not_broadcast_are_refused(class_name, shapes, message):
    with pytest.raises(ExportError, match=message):
        _plan(class_name, shapes)


@pytest.mark.parametrize("shape, target", [((1, 3), (4, 3)), ((4, 1), (4, 3)), ((3,), (2, 4, 3)),
                                           ((2, 1, 3), (2, 4, 3)), ((1,), (1,)), ((1, 1), (3, 2))])
def test_runtime_index_is_numpys(shape, target):
    expected = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), target).ravel().tolist()
    assert broadcast_index(shape, target) == expected


def _broadcast_file(tmp_path, in_shape, out_shape):
    from exporter.model_file import to_json

    nodes = [Node("b", "broadcast", ["x"], out_shape, {}, {}, "m", "Multiply")]
    graph = Graph("g", [TensorSpec("x", in_shape)], [TensorSpec("b", out_shape)], nodes)
    path = tmp_path / "b.json"
    path.write_bytes(to_json(graph, [], {"source": "test"}))
    return path


def test_broadcast_node_runs_in_both_backends(tmp_path):
    path = _broadcast_file(tmp_path, (4, 1), (2, 4, 3))
    x = np.arange(8, dtype=np.float32).reshape(2, 4, 1)
    for backend in runtime_py.BACKENDS:
        got = runtime_py.load(path, backend=backend).predict(x)
        np.testing.assert_array_equal(np.asarray(got), np.broadcast_to(x[:, None], (2, 2, 4, 3)))


@pytest.mark.parametrize("in_shape, out_shape", [((4, 2), (4, 3)), ((2, 4, 3), (4, 3))])
def test_a_file_broadcasting_to_an_impossible_shape_is_refused(tmp_path, in_shape, out_shape):
    path = _broadcast_file(tmp_path, (1,), (1,))
    manifest = json.loads(path.read_text())
    manifest["inputs"][0]["shape"] = list(in_shape)
    manifest["nodes"][0]["shape"] = list(out_shape)
    manifest["outputs"][0]["shape"] = list(out_shape)
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="does not broadcast to"):
        runtime_py.load(path)
