"""keras.ops operation nodes (exporter/operations.py): how constants are lowered, and the argument forms refused.

The parity rows (tests/layer_cases.py, Op<class>) check the numbers against Keras; this file checks the
lowering itself on plain config data, as both front-ends hand it over, and that every argument form the
converters do not support is refused with a message naming the operation and what is supported.
"""

from __future__ import annotations

import numpy as np
import pytest

from exporter.errors import ExportError
from exporter.operations import OPERATIONS, OperationCall

T0, T1 = {"tensor": 0}, {"tensor": 1}


def sliced(start=None, stop=None, step=None):
    """Keras's serialized slice: {"class_name": "__slice__", "config": {start, stop, step}}."""
    return {"class_name": "__slice__", "config": {"start": start, "stop": stop, "step": step}}


FULL = sliced()


def convert(class_name, arguments, shapes, config=None):
    call = OperationCall("op", class_name, {"name": "op", **(config or {})}, [], [tuple(s) for s in shapes], arguments)
    return OPERATIONS[class_name](call)


def numpy_constant(values, dtype="float32"):
    return {"class_name": "__numpy__", "config": {"value": values, "dtype": dtype}}


def only(ops):
    assert len(ops) == 1, ops
    return ops[0]


def test_constants_become_exact_scale_shift_nodes():
    """x + c is x * 1 + c; c - x is x * -1 + c; x * c adds -0.0, which leaves every product (and its zero's sign) as it is."""
    cases = [("Add", [T0, 0.1], 1.0, 0.1), ("Add", [-2.5, T0], 1.0, -2.5), ("Subtract", [T0, 0.3], 1.0, -0.3),
             ("Subtract", [0.7, T0], -1.0, 0.7), ("Multiply", [T0, 0.1], 0.1, -0.0), ("Multiply", [3, T0], 3.0, -0.0)]
    for class_name, arguments, scale, shift in cases:
        op = only(convert(class_name, arguments, [(2, 3)]))
        assert op.op == "scale_shift" and op.shape == (2, 3)
        np.testing.assert_array_equal(op.weights["scale"], np.full(3, scale, np.float32))
        np.testing.assert_array_equal(op.weights["shift"], np.full(3, shift, np.float32))
        assert np.signbit(op.weights["shift"]).all() == np.signbit(np.float32(shift))
    negative = only(convert("Negative", [T0], [(4,)]))
    assert list(negative.weights["scale"]) == [-1.0] * 4 and np.signbit(negative.weights["shift"]).all()


def test_per_channel_constants():
    op = only(convert("Add", [T0, numpy_constant([[0.5, -1.0, 2.0]])], [(4, 3)]))
    assert list(op.weights["shift"]) == [0.5, -1.0, 2.0]
    op = only(convert("Multiply", [numpy_constant([2.0]), T0], [(3,)]))
    assert list(op.weights["scale"]) == [2.0, 2.0, 2.0]


def test_division_by_a_number_stays_a_division():
    op = only(convert("TrueDivide", [T0, 0.7], [(5,)]))
    assert op.op == "activation" and op.attrs["activation"] == {"name": "divide_by", "divisor": float(np.float32(0.7))}
    op = only(convert("Divide", [3, T0], [(5,)]))
    assert op.attrs["activation"] == {"name": "divide_into", "dividend": 3.0}
    op = only(convert("TrueDivide", [T0, numpy_constant([2.0, 2.0])], [(2,)]))  # one value throughout
    assert op.attrs["activation"] == {"name": "divide_by", "divisor": 2.0}


def test_reductions_move_the_reduced_axes_last():
    ops = convert("Sum", [T0], [(2, 3, 4)], {"axis": [1, 3], "keepdims": True})
    assert [(op.op, op.shape) for op in ops] == [("transpose", (3, 2, 4)), ("reshape", (3, 8)), ("reduce", (3,)),
                                                 ("reshape", (1, 3, 1))]
    assert ops[0].attrs == {"perm": [1, 0, 2]} and ops[2].attrs == {"function": "sum"}
    assert [op.op for op in convert("Mean", [T0], [(3, 4)], {"axis": -1, "keepdims": False})] == ["reduce"]
    ops = convert("Min", [T0], [(6,)], {"axis": 1, "keepdims": True, "initial": None})
    assert [(op.op, op.shape) for op in ops] == [("reshape", (1, 6)), ("reduce", (1,))]


def test_reduce_backward_shares_ties_as_tensorflow_does(keras):
    """max/min send g to the values equal to the result, split evenly; a NaN result gives NaN throughout."""
    import tensorflow as tf

    from runtime_py import backward_numpy, backward_python, kernels_numpy

    x = np.array([[1.0, 3.0, 3.0, -2.0], [np.nan, 1.0, 2.0, 0.0], [-1.0, -1.0, -1.0, 5.0]], np.float32)
    g = np.array([[0.5, -2.0, 3.0]], np.float32)
    for function, reduce in (("max", tf.reduce_max), ("min", tf.reduce_min), ("sum", tf.reduce_sum),
                             ("mean", tf.reduce_mean)):
        t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = reduce(t, axis=1)
        want = tape.gradient(y, t, output_gradients=tf.constant(g[0])).numpy()
        flat = x.reshape(1, -1)
        out = kernels_numpy.reduce_forward(flat, 3, 4, function)
        np.testing.assert_array_equal(out[0], y.numpy())
        got_numpy = backward_numpy.reduce_backward(g, flat, out, 3, 4, function).reshape(3, 4)
        got_python = np.array(backward_python.reduce_backward(g[0].tolist(), flat[0].tolist(), out[0].tolist(),
                                                              3, 4, function), np.float32).reshape(3, 4)
        np.testing.assert_array_equal(got_numpy, want, err_msg=function)
        np.testing.assert_array_equal(got_python, want, err_msg=function)


def test_shape_operations_use_existing_ops():
    assert [(op.op, op.shape) for op in convert("Reshape", [T0], [(3, 4)], {"newshape": [-1, 2, -1]})] == \
        [("reshape", (2, 6))]
    op = only(convert("Transpose", [T0], [(2, 3, 4)], {"axes": [0, 3, 1, 2]}))
    assert op.op == "transpose" and op.attrs == {"perm": [2, 0, 1]} and op.shape == (4, 2, 3)
    assert convert("Transpose", [T0], [(2, 3)], {"axes": [0, 1, 2]}) == []
    assert only(convert("ExpandDims", [T0], [(3, 4)], {"axis": -1})).shape == (3, 4, 1)
    assert only(convert("ExpandDims", [T0], [(3, 4)], {"axis": [1, 3]})).shape == (1, 3, 1, 4)
    assert only(convert("Squeeze", [T0], [(3, 1, 4, 1)], {"axis": [2, -1]})).shape == (3, 4)
    ops = convert("Stack", [[T0, T1]], [(3, 4), (3, 4)], {"axis": -1})
    assert [(op.op, op.shape) for op in ops] == [("reshape", (3, 4, 1)), ("reshape", (3, 4, 1)),
                                                 ("concatenate", (3, 4, 2))]
    assert ops[-1].attrs == {"axis": 2} and ops[-1].inputs == [0, 1]
    dense = only(convert("Matmul", [T0, numpy_constant([[1.0, 2.0], [3.0, 4.0]])], [(5, 2)]))
    assert dense.op == "dense" and dense.shape == (5, 2) and "bias" not in dense.weights


def test_slicing_resolves_every_index():
    ops = convert("GetItem", [T0, [FULL, sliced(None, None, -1), 1]], [(4, 6)])
    assert [(op.op, op.shape) for op in ops] == [("slice", (4, 1)), ("reshape", (4,))]
    assert ops[0].attrs == {"begin": [3, 1], "step": [-1, 1]}
    ops = convert("GetItem", [T0, [{"class_name": "__ellipsis__", "config": {}}, sliced(-2)]], [(3, 4)])
    assert [(op.op, op.shape, op.attrs) for op in ops] == [("slice", (3, 2), {"begin": [0, 2], "step": [1, 1]})]
    assert convert("GetItem", [T0, [FULL, FULL]], [(3, 4)]) == []
    parts = convert("Split", [T0], [(2, 6)], {"indices_or_sections": [1, -2], "axis": -1})
    assert [(op.shape, op.attrs["begin"], op.output) for op in parts] == [((2, 1), [0, 0], 0), ((2, 3), [0, 1], 1),
                                                                          ((2, 2), [0, 4], 2)]


def test_two_tensors_broadcast_as_the_merges_do():
    ops = convert("Divide", [T0, T1], [(1, 5), (3, 1)])
    assert [op.op for op in ops] == ["broadcast", "broadcast", "divide"] and ops[-1].shape == (3, 5)
    assert [op.op for op in convert("Maximum", [T0, T1], [(6,), (6,)])] == ["maximum"]


@pytest.mark.parametrize("class_name, arguments, shapes, config, message", [
    ("Add", [T0, T1], [(4,), (1, 4)], {}, "ranks 2 and 3"),
    ("Add", [T0, numpy_constant([0.0, 1.0, 2.0, 3.0], "float64")], [(4,)], {}, "dtype 'float64'"),
    ("Add", [T0, numpy_constant([True, False], "bool")], [(2,)], {}, "dtype 'bool'"),
    ("Add", [T0, numpy_constant([[1.0], [2.0]])], [(2, 3)], {}, r"constant of shape \(2, 1\)"),
    ("Multiply", [T0, numpy_constant([1.0, 2.0, 3.0, 4.0])], [(3, 1)], {}, "one value per last-axis channel"),
    ("Add", [T0, float("inf")], [(3,)], {}, "not finite"),
    ("Add", [T0, True], [(3,)], {}, "boolean operand"),
    ("Subtract", [T0, "text"], [(3,)], {}, "supported are tensors, numbers and float32 arrays"),
    ("TrueDivide", [T0, numpy_constant([1.0, 2.0])], [(2,)], {}, "several values; only one number"),
    ("Maximum", [T0, numpy_constant([0.0, -0.0])], [(2,)], {}, "several values"),
    ("Minimum", [T0, 0.5, 1.0], [(2,)], {}, "3 arguments"),
    ("Clip", [T0], [(3,)], {"x_min": None, "x_max": 1.0}, "only number bounds"),
    ("Clip", [T0], [(3,)], {"x_min": {"class_name": "__keras_tensor__"}, "x_max": 1.0}, "only number bounds"),
    ("Clip", [T0], [(3,)], {"x_max": 1.0}, "no 'x_min'"),
    ("Sqrt", [T0, 2.0], [(3,)], {}, "supported on one tensor only"),
    ("Sum", [T0], [(3, 4)], {"axis": None, "keepdims": False}, "the batch axis included"),
    ("Mean", [T0], [(3, 4)], {"axis": [0, 1], "keepdims": False}, "names the batch axis"),
    ("Max", [T0], [(3, 4)], {"axis": 3, "keepdims": False, "initial": None}, "not an axis of an input of rank 3"),
    ("Max", [T0], [(3, 4)], {"axis": 1, "keepdims": False, "initial": 0.0}, "only initial=None"),
    ("Min", [T0], [(3, 4)], {"axis": [1, -2], "keepdims": False}, "names an axis twice"),
    ("Sum", [T0], [(3, 4)], {"axis": [1, 2], "keepdims": False}, r"keepdims=True \(output shape \(None, 1, 1\)\)"),
    ("Sum", [T0], [(3, 4)], {"axis": 1}, "'keepdims'"),
    ("Reshape", [T0], [(3, 4)], {"newshape": [4, 3]}, "the first entry must be -1"),
    ("Reshape", [T0], [(3, 4)], {"newshape": [-1, 5, -1]}, "cannot reshape"),
    ("Reshape", [T0], [(3, 4)], {"newshape": [-1, 5]}, "cannot reshape"),
    ("Transpose", [T0], [(3, 4)], {"axes": None}, "axes=None"),
    ("Transpose", [T0], [(3, 4)], {"axes": [1, 0, 2]}, "keeping the batch axis 0 first"),
    ("ExpandDims", [T0], [(3,)], {"axis": 0}, "batch axis"),
    ("Squeeze", [T0], [(3, 1)], {"axis": None}, "axis=None"),
    ("Squeeze", [T0], [(3, 1)], {"axis": 1}, "whose size is not 1"),
    ("Squeeze", [T0], [(1,)], {"axis": 1}, "no axis besides the batch"),
    ("Concatenate", [T0, T1], [(3,), (3,)], {"axis": 1}, "a list of two or more tensors"),
    ("Stack", [[T0, T1]], [(3,), (4,)], {"axis": 1}, "different shapes"),
    ("Stack", [[T0, T1]], [(3,), (3,)], {"axis": 0}, "not a sample axis"),
    ("Matmul", [T0, T1], [(3, 4), (4,)], {}, "tensors of one rank"),
    ("Matmul", [T0, T1], [(3, 4), (5, 2)], {}, "cannot multiply"),
    ("Matmul", [numpy_constant([[1.0]]), T0], [(1, 1)], {}, "multiplies a constant by a tensor"),
    ("Matmul", [T0, numpy_constant([1.0, 2.0])], [(3, 2)], {}, r"a \(2, units\) matrix"),
    ("GetItem", [T0, [FULL, 1]], [(3,)], {}, "leaves no axis besides the batch"),
    ("GetItem", [T0, [sliced(0, 2), FULL]], [(3,)], {}, "indexes the batch axis"),
    ("GetItem", [T0, 1], [(3,)], {}, "indexes the batch axis"),
    ("GetItem", [T0, [FULL, sliced(2, 2)]], [(3,)], {}, "is empty"),
    ("GetItem", [T0, [FULL, None]], [(3,)], {}, "slices, integers and one ellipsis"),
    ("GetItem", [T0, [FULL, 5]], [(3,)], {}, "out of range"),
    ("GetItem", [T0, [FULL, FULL, FULL]], [(3,)], {}, "indexes 3 axes of a tensor of rank 2"),
    ("GetItem", [T0, [FULL, sliced(None, None, 0)]], [(3,)], {}, "step of 0"),
    ("GetItem", [T0, T1], [(3,), (1,)], {}, "tensor index"),
    ("Split", [T0], [(6,)], {"indices_or_sections": 4, "axis": 1}, "4 equal parts"),
    ("Split", [T0], [(6,)], {"indices_or_sections": [4, 2], "axis": 1}, "do not increase"),
    ("Split", [T0], [(6,)], {"indices_or_sections": [0, 2], "axis": 1}, "is empty"),
    ("Split", [T0], [(6,)], {"indices_or_sections": 2, "axis": 0}, "batch axis"),
])
def test_unsupported_argument_forms_are_refused(class_name, arguments, shapes, config, message):
    with pytest.raises(ExportError, match=message) as caught:
        convert(class_name, arguments, shapes, config)
    assert str(caught.value).startswith(f"operation 'op' ({class_name}): ")
