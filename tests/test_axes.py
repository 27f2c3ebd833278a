"""Normalizations and Softmax over any axis or axes: how the converters lower them, and what they refuse.

Parity against Keras for every axis form is in the layer table (tests/layer_cases.py: the *_axis*
and *_axes* rows, run by test_layers.py, test_c_layers.py and test_gradients.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from exporter.converters import LAYERS, LayerCall
from exporter.errors import ExportError


def _ops(class_name, config, shape, weights=()):
    return LAYERS[class_name](LayerCall("n", class_name, config, list(weights), [shape]))


def _plan(ops):
    return [(op.op, op.shape, op.attrs.get("perm")) for op in ops]


def test_the_last_axis_needs_no_data_movement():
    assert _plan(_ops("UnitNormalization", {"axis": -1}, (3, 4))) == [("unit_norm", (3, 4), None)]


def test_trailing_axes_are_merged_by_reshapes_only():
    assert _plan(_ops("UnitNormalization", {"axis": [1, 2]}, (3, 4))) == [
        ("reshape", (12,), None), ("unit_norm", (12,), None), ("reshape", (3, 4), None)]


def test_other_axes_are_moved_last_and_back():
    assert _plan(_ops("Softmax", {"axis": [1, 3]}, (2, 3, 4))) == [
        ("transpose", (3, 2, 4), [1, 0, 2]), ("reshape", (3, 8), None), ("activation", (3, 8), None),
        ("reshape", (3, 2, 4), None), ("transpose", (2, 3, 4), [1, 0, 2])]


def test_layer_norm_weights_are_taken_in_order_over_the_axes():
    gamma = np.arange(6, dtype=np.float32).reshape(2, 3)
    ops = _ops("LayerNormalization", {"axis": [1, 3], "center": False}, (2, 4, 3), [gamma])
    assert [op.op for op in ops] == ["transpose", "reshape", "layer_norm", "reshape", "transpose"]
    np.testing.assert_array_equal(ops[2].weights["gamma"], np.arange(6, dtype=np.float32))


def test_batch_norm_on_another_axis_is_one_affine_over_every_value():
    n = 3
    weights = [np.full(n, 2.0, np.float32), np.arange(n, dtype=np.float32), np.zeros(n, np.float32),
               np.full(n, 1.0 - 1e-3, np.float32)]
    ops = _ops("BatchNormalization", {"axis": 1, "epsilon": 1e-3}, (n, 4), weights)
    assert [op.op for op in ops] == ["reshape", "scale_shift", "reshape"]
    shift = ops[1].weights["shift"].reshape(n, 4)
    np.testing.assert_array_equal(shift, np.broadcast_to(np.arange(n, dtype=np.float32)[:, None], (n, 4)))


def test_rms_scale_that_broadcasts_on_other_axes_than_the_normalized_ones():
    """Keras multiplies RMSNormalization's scale without a reshape: axis=1 of a (4, 4) input scales axis 2."""
    scale = np.arange(4, dtype=np.float32)
    ops = _ops("RMSNormalization", {"axis": 1, "epsilon": 1e-6}, (4, 4), [scale])
    assert [op.op for op in ops] == ["transpose", "rms_norm", "transpose", "scale_shift"]
    np.testing.assert_array_equal(ops[1].weights["scale"], np.ones(4, np.float32))
    np.testing.assert_array_equal(ops[3].weights["scale"], scale)


@pytest.mark.parametrize("class_name, axis, message", [
    ("LayerNormalization", 0, "axis 0 is the batch axis"),
    ("UnitNormalization", [1, -2], r"names an axis twice"),
    ("Softmax", [], "names no axis"),
    ("UnitNormalization", [1, 3], "invalid axis 3"),
    ("BatchNormalization", True, "invalid axis True"),
])
def test_bad_axes_are_refused(class_name, axis, message):
    with pytest.raises(ExportError, match=message):
        _ops(class_name, {"axis": axis, "scale": False, "center": False}, (3, 4), [])


def test_rms_scale_that_does_not_broadcast_is_refused():
    with pytest.raises(ExportError, match=r"does not broadcast to the input \(3, 4\)"):
        _ops("RMSNormalization", {"axis": 1}, (3, 4), [np.ones(3, np.float32)])
