"""The parity check every test uses: |ours - keras| <= 1e-6 + 1e-5*|keras| in float32."""

from __future__ import annotations

import numpy as np

RTOL, ATOL = 1e-5, 1e-6


def assert_parity(ours, keras, what=""):
    """NaN must meet NaN and inf the same inf; finite values must be within tolerance."""
    ours = np.asarray(ours, dtype=np.float32)
    keras = np.asarray(keras, dtype=np.float32)
    assert ours.shape == keras.shape, f"{what}: shape {ours.shape} != Keras {keras.shape}"
    np.testing.assert_allclose(ours, keras, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)
