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


def test_two_tensors_broadcast_as_the_merges_do():
    ops = convert("Divide", [T0, T1], [(1, 5), (3, 1)])
    assert [op.op for op in ops] == ["broadcast", "broadcast", "divide"] and ops[-1].shape == (3, 5)
    assert [op.op for op in convert("Maximum", [T0, T1], [(6,), (6,)])] == ["maximum"]


@pytest.mark.parametrize("class_name, arguments, shapes, config, message", [
    ("Add", [T0, T1], [(4,), (1, 4)], {}, "ranks 2 and 3"),
    ("Add", [T0, numpy_constant([0.0, 1.0, 2.0, 3.0], "float64")], [(4,)], {}, "dtype 'float64'"),
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
])
def test_unsupported_argument_forms_are_refused(class_name, arguments, shapes, config, message):
    with pytest.raises(ExportError, match=message) as caught:
        convert(class_name, arguments, shapes, config)
    assert str(caught.value).startswith(f"operation 'op' ({class_name}): ")
