"""The matmul op on its own (broadcast leading axes, every runtime giving the same bits), the Dot and
EinsumDense plans the converters make of it, and their refusals.

Parity against Keras for every Dot and EinsumDense form is in the layer table (tests/layer_cases.py, the
Dot_* and EinsumDense_* rows, run by test_layers.py, test_c_layers.py and test_gradients.py) and in the
Keras 2 fixtures (dot_matrices, einsum_dense in tests/test_keras2.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import runtime_py
from cbuild import build, float32_bytes, read_float32, run
from exporter.converters import LayerCall, dot, einsum_dense
from exporter.errors import ExportError
from exporter.ir import Graph, LayerInput, Node, TensorSpec
from runtime_py.errors import ModelFormatError

# (a, b) per-sample shapes whose leading axes broadcast, as numpy's matmul broadcasts them
SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
          ((1, 3, 4), (2, 1, 4, 1)), ((1, 1), (1, 7))]


def _matmul_file(tmp_path, a_shape, b_shape):
    from exporter.model_file import to_json

    out = np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])
    nodes = [Node("y", "matmul", ["a", "b"], tuple(out), {}, {}, "m", "Dot")]
    graph = Graph("g", [TensorSpec("a", a_shape), TensorSpec("b", b_shape)], [TensorSpec("y", tuple(out))], nodes)
    path = tmp_path / "m.json"
    path.write_bytes(to_json(graph, [], {"source": "test"}))
    return graph, path, tuple(out)


def _inputs(a_shape, b_shape, rows=3):
    rng = np.random.default_rng(7)
    # wide magnitudes: float32 sums that round, so an order or a rounding other than fmaf's shows
    a = (rng.standard_normal((rows,) + a_shape) * 10.0 ** rng.integers(-3, 4, (rows,) + a_shape)).astype(np.float32)
    b = (rng.standard_normal((rows,) + b_shape) * 10.0 ** rng.integers(-3, 4, (rows,) + b_shape)).astype(np.float32)
    return a, b


@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_matmul_is_numpys_broadcast_product_within_fmafs_rounding(tmp_path, a_shape, b_shape):
    """Each value within k roundings of the exact sum (float64 products of float32 values are exact)."""
    _, path, out = _matmul_file(tmp_path, a_shape, b_shape)
    a, b = _inputs(a_shape, b_shape)
    rank = max(len(a_shape), len(b_shape))  # per sample: the batch axis stays first
    wide_a = a.reshape((len(a),) + (1,) * (rank - len(a_shape)) + a_shape).astype(np.float64)
    wide_b = b.reshape((len(b),) + (1,) * (rank - len(b_shape)) + b_shape).astype(np.float64)
    exact = np.matmul(wide_a, wide_b)
    bound = a_shape[-1] * 2.0 ** -24 * np.matmul(np.abs(wide_a), np.abs(wide_b))
    for backend in runtime_py.BACKENDS:
        got = np.asarray(runtime_py.load(path, backend=backend).predict([a, b]), dtype=np.float64)
        assert got.shape == exact.shape == (3,) + out
        assert (np.abs(got - exact) <= bound).all(), backend


@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_every_runtime_gives_the_same_bits(tmp_path, a_shape, b_shape):
    """runtime_py's two backends and the C header: one fmaf per step over k, from +0, in order."""
    from exporter.c.render import to_header

    graph, path, out = _matmul_file(tmp_path, a_shape, b_shape)
    a, b = _inputs(a_shape, b_shape)
    python, numpy_ = (np.asarray(runtime_py.load(path, backend=k).predict([a, b]), dtype=np.float32)
                      for k in ("python", "numpy"))
    np.testing.assert_array_equal(python.view(np.uint32), numpy_.view(np.uint32))
    (tmp_path / "g.h").write_bytes(to_header(graph, [], {"source": "test"}))
    na, nb, ny = (int(np.prod(s)) for s in (a_shape, b_shape, out))
    (tmp_path / "main.c").write_text(f"""#include <stdio.h>
#include "g.h"
int main(void) {{
    float a[{na}], b[{nb}], y[{ny}];
    while (fread(a, sizeof a, 1, stdin) == 1 && fread(b, sizeof b, 1, stdin) == 1) {{
        const float *in[2] = {{a, b}};
        float *outs[1] = {{y}};
        g_predict_multi(in, outs);
        fwrite(y, sizeof y, 1, stdout);
    }}
    return 0;
}}
""")
    exe = build([tmp_path / "main.c"], tmp_path / "main", include=[tmp_path])
    stdin = b"".join(float32_bytes(a[r], b[r]) for r in range(len(a)))
    c = read_float32(run(exe, stdin=stdin).stdout, python.shape)
    np.testing.assert_array_equal(c.view(np.uint32), python.view(np.uint32))
    # KERASLESS_DENSE_FMA=0 (cores without a fused multiply-add): x * y rounded, then + acc rounded, in order
    two = build([tmp_path / "main.c"], tmp_path / "main_mul_add", include=[tmp_path], flags=["-DKERASLESS_DENSE_FMA=0"])
    rank = max(len(a_shape), len(b_shape))
    wide_a = a.reshape((len(a),) + (1,) * (rank - len(a_shape)) + a_shape)
    wide_b = b.reshape((len(b),) + (1,) * (rank - len(b_shape)) + b_shape)
    want = np.zeros(python.shape, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for p in range(a_shape[-1]):
            want = (wide_a[..., :, p:p + 1] * wide_b[..., p:p + 1, :]).astype(np.float32) + want
    got = read_float32(run(two, stdin=stdin).stdout, python.shape)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (5, 5)), ((4,), (4, 5)), ((2, 3, 4), (3, 4, 5))])
def test_a_file_with_shapes_that_do_not_multiply_is_refused(tmp_path, a_shape, b_shape):
    _, path, _ = _matmul_file(tmp_path, (3, 4), (4, 5))
    manifest = json.loads(path.read_text())
    manifest["inputs"][0]["shape"], manifest["inputs"][1]["shape"] = list(a_shape), list(b_shape)
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="matmul"):
        runtime_py.load(path)


def test_a_file_with_a_wrong_output_shape_is_refused(tmp_path):
    _, path, _ = _matmul_file(tmp_path, (2, 3, 4), (4, 5))
    manifest = json.loads(path.read_text())
    manifest["nodes"][0]["shape"] = manifest["outputs"][0]["shape"] = [3, 5]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match=r"should be \(2, 3, 5\)"):
        runtime_py.load(path)


# ---- Dot: the plan --------------------------------------------------------------------------------


def _dot(shapes, axes, normalize=False):
    return dot(LayerCall("d", "Dot", {"axes": axes, "normalize": normalize}, [], shapes))


def test_dot_of_matrices_in_matmul_layout_is_one_matmul():
    ops = _dot([(3, 4), (4, 5)], [2, 1])
    assert [(op.op, op.shape, op.inputs) for op in ops] == [("matmul", (3, 5), [LayerInput(0), LayerInput(1)])]


def test_dot_moves_the_contracted_axes_and_restores_keras_layout():
    ops = _dot([(4, 2, 3), (4, 5)], 1)  # x's axis 0 (size 4) with y's axis 0: x needs moving, y does not
    assert [(op.op, op.shape) for op in ops] == [("transpose", (2, 3, 4)), ("reshape", (6, 4)),
                                                 ("matmul", (6, 5)), ("reshape", (2, 3, 5))]
    assert ops[0].attrs == {"perm": [1, 2, 0]} and ops[2].inputs == [1, LayerInput(1)]


def test_dot_normalize_normalizes_along_the_contracted_axes():
    ops = _dot([(3, 4), (4, 5)], [2, 1], normalize=True)
    # x's contracted axis is its last: normalized as it is; y's is its first: moved last, normalized, turned to (k, n)
    assert [(op.op, op.shape) for op in ops] == [("unit_norm", (3, 4)), ("transpose", (5, 4)), ("unit_norm", (5, 4)),
                                                 ("transpose", (4, 5)), ("matmul", (3, 5))]
    assert ops[0].inputs == [LayerInput(0)] and ops[1].inputs == [LayerInput(1)] and ops[2].inputs == [1]
    assert ops[4].inputs == [0, 3]
    assert all(op.attrs == {"epsilon": 1e-7, "clamp": "inverse"} for op in ops if op.op == "unit_norm")


def test_dot_of_vectors_keeps_the_dot_op():
    assert [op.op for op in _dot([(6,), (6,)], -1, True)] == ["dot"]


@pytest.mark.parametrize("shapes, axes, message", [
    ([(3, 4), (4, 5)], [1, 1], "axis sizes 3 and 4 differ"),
    ([(3, 4), (4, 5)], [0, 1], "names the batch axis"),
    ([(3, 4), (4, 5)], [3, 1], "invalid axis 3"),
    ([(3, 4), (4, 5)], [1, 1, 1], "must be an int or a list of two ints"),
    ([(3, 4), ()], 1, "rank 1 or more"),
])
def test_dot_refusals_name_the_problem(shapes, axes, message):
    with pytest.raises(ExportError, match=message):
        _dot(shapes, axes)


# ---- EinsumDense: the plan and its refusals -------------------------------------------------------


def _einsum(shape, equation, kernel_shape, bias_axes=None, bias_shape=None, output_shape=None):
    bias = np.arange(np.prod(bias_shape or 0), dtype=np.float32).reshape(bias_shape or 0)  # differs per position
    weights = [np.ones(kernel_shape, np.float32)] + ([bias] if bias_shape else [])
    config = {"equation": equation, "bias_axes": bias_axes, "activation": "linear", "output_shape": output_shape}
    return einsum_dense(LayerCall("e", "EinsumDense", config, weights, [shape]))


def test_a_dense_in_disguise_stays_one_dense():
    ops = _einsum((3, 4), "abc,cd->abd", (4, 5), "d", (5,))
    assert [(op.op, op.shape) for op in ops] == [("dense", (3, 5))] and set(ops[0].weights) == {"kernel", "bias"}


def test_a_kernel_of_rank_three_is_reshaped_around_a_dense():
    ops = _einsum((3, 4), "abc,cde->abde", (4, 2, 5), "de", (2, 5))
    assert [(op.op, op.shape) for op in ops] == [("dense", (3, 10)), ("reshape", (3, 2, 5))]
    assert ops[0].weights["kernel"].shape == (4, 10) and ops[0].weights["bias"].shape == (10,)


def test_a_bias_along_the_rows_is_added_after_the_dense():
    ops = _einsum((3, 4), "abc,cd->abd", (4, 5), "b", (3, 1))
    assert [op.op for op in ops] == ["dense", "reshape", "scale_shift", "reshape"]
    assert "bias" not in ops[0].weights


@pytest.mark.parametrize("equation, kernel_shape, message", [
    ("abc,bcd->abd", (3, 4, 5), "kernel per position"),
    ("abb,bd->abd", (4, 5), "repeated letter"),
    ("abc,cd->bad", (4, 5), "batch axis"),
    ("abc,acd->abd", (1, 4, 5), "batch axis"),
    ("abc,c...->ab...", (4,), "ellipsis"),
    ("ab,bc->ac", (4, 5), "names 2 input axes; the input has 3"),
    ("abc->ab", (4,), "unreadable equation"),
])
def test_einsum_refusals_name_the_equation_and_why(equation, kernel_shape, message):
    with pytest.raises(ExportError, match=message) as raised:
        _einsum((3, 4), equation, kernel_shape)
    assert "'e' (EinsumDense)" in str(raised.value)


def test_an_output_shape_the_equation_does_not_give_is_refused():
    with pytest.raises(ExportError, match=r"output_shape \[3, 6\] does not match the equation 'abc,cd->abd'"):
        _einsum((3, 4), "abc,cd->abd", (4, 5), output_shape=[3, 6])
    assert _einsum((3, 4), "abc,cd->abd", (4, 5), output_shape=[None, 5])[-1].shape == (3, 5)


def test_a_bias_keras_on_tensorflow_adds_along_another_axis_is_refused():
    """keras.ops.add on TensorFlow adds a (2, 1) bias over 'd' of a (2, 2) output along the last axis (measured:
    Keras 3.15's predict), where the equation broadcasts it along 'd': the export stops instead of guessing."""
    with pytest.raises(ExportError, match=r"bias_axes='d': the bias of shape \(2, 1\) is added by Keras 3 on "
                                          r"TensorFlow along output axis 3"):
        _einsum((1, 5), "abc,cde->abde", (5, 2, 2), "d", (2, 1))
    assert [op.op for op in _einsum((1, 5), "abc,cde->abde", (5, 2, 3), "d", (2, 1))] == ["dense", "reshape"]


def test_keras_adds_such_a_bias_along_the_last_axis(keras):
    """The measurement behind the refusal above: if Keras ever broadcasts this bias, the refusal can go."""
    x = keras.Input((1, 5))
    layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(1, 2, 2), bias_axes="d")
    model = keras.Model(x, layer(x))
    layer.set_weights([np.zeros((5, 2, 2), np.float32), np.array([[1.0], [100.0]], np.float32)])
    got = model.predict(np.ones((1, 1, 5), np.float32), verbose=0)
    assert got.tolist() == [[[[1.0, 100.0], [1.0, 100.0]]]]  # broadcasting would give [[1, 1], [100, 100]]
