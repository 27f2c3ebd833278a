"""The parity judge (runtime_py/judge.py, docs/format.md): its clauses, NaN and inf, and its interval form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime_py import judge

ULP_AT_1 = 2.0 ** -23  # float32 spacing in [1, 2)
NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("ours, keras, keras64, expected", [
    (NAN, NAN, None, True),
    (1.0, NAN, None, False),
    (NAN, 1.0, None, False),
    (INF, INF, None, True),
    (-INF, INF, None, False),
    (3.4028234663852886e38, INF, None, False),
    (INF, 3.4028234663852886e38, 3.5e38, False),  # a finite Keras value is never matched by inf
    (NAN, 1.0, 1.0, False),
    (1.0, INF, 1.0, False),  # Keras's inf must be met, whatever float64 says
])
def test_nan_and_inf_match_exactly(ours, keras, keras64, expected):
    assert judge.passes(ours, keras, keras64) is expected


def test_plain_clause_boundary_at_one():
    # The tolerance at 1.0 is 1e-6 + 1e-5 = 1.1e-5; 92 ulps are 1.0967e-5, 93 ulps 1.1086e-5.
    assert judge.passes(1.0 + 92 * ULP_AT_1, 1.0)
    assert not judge.passes(1.0 + 93 * ULP_AT_1, 1.0)
    assert judge.passes(-(1.0 + 92 * ULP_AT_1), -1.0)
    assert judge.passes(1e-6, 0.0) and not judge.passes(1.0000001e-6, 0.0)


def test_float64_clause_accepts_what_is_as_close_to_exact_as_keras():
    # Keras's float32 Add of 2^24, 1 and -2^24 is 0; the exact sum (float64 Keras) is 1.
    assert not judge.passes(1.0, 0.0)
    assert judge.verdict(1.0, 0.0, 1.0) == "float64"
    assert judge.passes(0.0, 0.0, 1.0)
    # Ours twice as far from the exact value as Keras, plus the plain tolerance: still in; beyond: out.
    assert judge.passes(3.0, 0.0, 1.0) and not judge.passes(3.00001, 0.0, 1.0)
    assert not judge.passes(1.0, 0.0, NAN) and not judge.passes(1.0, 0.0, INF)


def test_interval_form_is_the_same_judge():
    """NAME_selftest's lo <= ours <= hi decides every float32 exactly as passes() does."""
    rng = np.random.default_rng(20261201)
    for _ in range(3000):
        keras = float(np.float32(rng.choice([-1, 1]) * 10.0 ** rng.uniform(-9, 38)))
        keras64 = keras * (1 + rng.uniform(-3e-4, 3e-4)) if rng.random() < 0.7 else None
        lo, hi = judge.bounds(keras, keras64)
        assert np.float32(lo) == lo and np.float32(hi) == hi and lo <= keras <= hi
        for edge in (lo, hi):
            for step in range(-2, 3):
                ours = float(np.nextafter(np.float32(edge), np.float32(np.inf if step > 0 else -np.inf))) \
                    if step else edge
                for _ in range(abs(step) - 1):
                    ours = float(np.nextafter(np.float32(ours), np.float32(np.inf if step > 0 else -np.inf)))
                if math.isfinite(ours):
                    assert judge.passes(ours, keras, keras64) == (lo <= ours <= hi), (ours, keras, keras64)
    assert all(math.isnan(v) for v in judge.bounds(NAN))
    assert judge.bounds(-INF, 5.0) == (-INF, -INF)
    assert judge.bounds(3.4e38, 3.9e38)[1] == float(np.finfo(np.float32).max)


def test_report_counts_float64_clause_and_ulps():
    found = judge.judge([1.0, 2.0 + 2 * 2 * ULP_AT_1, NAN], [0.0, 2.0, NAN], [1.0, 2.0, NAN])
    assert found.ok and found.values == 3 and found.float64_needed == 1
    assert found.max_ulps == 0x3F800000 and found.max_abs_error == 1.0  # 0 to 1: the bit pattern of 1.0f
    assert judge.ulps(2.0, 2.0 + 2 * ULP_AT_1) == 1 and judge.ulps(-0.0, 0.0) == 0
    assert judge.ulps(-1e-45, 1e-45) == 2
    failed = judge.judge([1.0, 5.0], [1.0, 4.0])
    assert not failed.ok and failed.failures == 1 and failed.first_failure == (1, 5.0, 4.0, None)
