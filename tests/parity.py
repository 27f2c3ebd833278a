"""The parity check every test uses: runtime_py/judge.py, the one judge the runtimes and the exporter use."""

from __future__ import annotations

import numpy as np

from runtime_py.judge import Judgement, judge


def assert_parity(ours, keras, what="", keras64=None) -> Judgement:
    """Assert the parity judge accepts every value of ours against Keras's (and the float64 run's, if given)."""
    ours = np.asarray(ours, dtype=np.float32)
    keras = np.asarray(keras, dtype=np.float32)
    assert ours.shape == keras.shape, f"{what}: shape {ours.shape} != Keras {keras.shape}"
    exact = None
    if keras64 is not None:
        keras64 = np.asarray(keras64, dtype=np.float64)
        assert keras64.shape == keras.shape, f"{what}: float64 shape {keras64.shape} != Keras {keras.shape}"
        exact = keras64.ravel().tolist()
    found = judge(ours.ravel().tolist(), keras.ravel().tolist(), exact)
    if not found.ok:
        index, a, b, c = found.first_failure
        position = np.unravel_index(index, keras.shape) if keras.shape else ()
        raise AssertionError(
            f"{what}: {found.failures} of {found.values} values fail the parity judge; first at "
            f"{tuple(int(p) for p in position)}: ours {a!r}, Keras {b!r}"
            + (f", float64 Keras {c!r}" if c is not None else "") + f"; {found.describe()}")
    return found
