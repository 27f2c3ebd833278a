"""Parity for gradients: TensorFlow's float32 tf.GradientTape as the reference, its float64 run as the exact one.

A value passes when |ours - tf| <= 1e-6 + 1e-5 * |tf| (the plain tolerance), or, where the float64
run gave a finite value, when |ours - tf64| <= 2 * |tf - tf64| + 1e-6 + 1e-5 * |tf|: at least as
close to the exact gradient as TensorFlow's own float32 one (DESIGN.md, Parity). NaN must meet NaN
and an infinity the same infinity.
"""

from __future__ import annotations

import numpy as np

RTOL, ATOL = 1e-5, 1e-6


def gradient_failures(ours, tf32, tf64=None) -> np.ndarray:
    """Boolean mask of the values that fail the judge."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(tf32, dtype=np.float32).astype(np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference {ref.shape}"
    with np.errstate(all="ignore"):
        tolerance = ATOL + RTOL * np.abs(ref)
        ok = np.abs(ours - ref) <= tolerance
        if tf64 is not None:
            exact = np.asarray(tf64, dtype=np.float64)
            ok |= np.isfinite(exact) & (np.abs(ours - exact) <= 2 * np.abs(ref - exact) + tolerance)
    nan = np.isnan(ref)
    inf = np.isinf(ref)
    ok = np.where(nan, np.isnan(ours), np.where(inf, ours == ref, ok & np.isfinite(ours)))
    return ~ok


def assert_gradient_parity(ours, tf32, tf64=None, what=""):
    bad = gradient_failures(ours, tf32, tf64)
    if bad.any():
        ours = np.asarray(ours, dtype=np.float64)
        where = np.argwhere(bad)[:6]
        detail = ", ".join(f"{tuple(int(i) for i in w)}: ours {ours[tuple(w)]!r} tf {np.asarray(tf32)[tuple(w)]!r}"
                           + (f" tf64 {np.asarray(tf64)[tuple(w)]!r}" if tf64 is not None else "") for w in where)
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} gradient values off: {detail}")
