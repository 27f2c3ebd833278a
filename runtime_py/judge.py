"""The parity judge: when a float32 value counts as reproducing Keras (docs/format.md, "Parity").

One definition for every runtime, the exporter's self-check, Model.verify(), NAME_selftest and the
tests. A value `ours` passes against Keras's float32 value `keras` when

    |ours - keras| <= ATOL + RTOL * |keras|                                   (the plain clause)

or, where a float64 run of the same Keras model gave `keras64` (finite),

    |ours - keras64| <= 2 * |keras - keras64| + ATOL + RTOL * |keras|        (the float64 clause)

in exact real arithmetic: at least as close to the exact result as Keras itself. A NaN from Keras
is matched by NaN only, an infinity by the same infinity. Standard library only.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction

ATOL, RTOL = 1e-6, 1e-5
FLOAT64_FACTOR = 2  # the float64 clause: ours may be this many times Keras's own distance from keras64
_ATOL, _RTOL = Fraction(1, 10 ** 6), Fraction(1, 10 ** 5)  # the decimal constants, exactly
_CLOSE = 1e-9  # relative margin within which the double-precision comparison is redone exactly
FLT_MAX = 3.4028234663852886e38


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _bits(value: float) -> int:
    return struct.unpack("<i", struct.pack("<f", value))[0]


def _from_bits(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<i", bits))[0]


def _ordinal(value: float) -> int:
    """Position of a float32 on the number line: neighbours differ by 1, -0.0 and 0.0 are both 0."""
    bits = _bits(value)
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF)


def ulps(ours: float, keras: float) -> int:
    """How many float32 values lie between ours and keras (0: equal); both finite."""
    return abs(_ordinal(_float32(ours)) - _ordinal(_float32(keras)))


def _at_most(lhs: float, rhs: float, exact_lhs, exact_rhs) -> bool:
    """lhs <= rhs: decided in double unless the two are within _CLOSE of each other, then exactly."""
    if lhs <= rhs * (1 - _CLOSE):
        return True
    if lhs > rhs * (1 + _CLOSE):
        return False
    return exact_lhs() <= exact_rhs()


def plain_clause(ours: float, keras: float) -> bool:
    """|ours - keras| <= ATOL + RTOL * |keras|, exactly; both finite."""
    return _at_most(abs(ours - keras), ATOL + RTOL * abs(keras),
                    lambda: abs(Fraction(ours) - Fraction(keras)), lambda: _ATOL + _RTOL * abs(Fraction(keras)))


def float64_clause(ours: float, keras: float, keras64: float) -> bool:
    """|ours - keras64| <= 2 * |keras - keras64| + ATOL + RTOL * |keras|, exactly; all finite."""
    return _at_most(abs(ours - keras64), FLOAT64_FACTOR * abs(keras - keras64) + ATOL + RTOL * abs(keras),
                    lambda: abs(Fraction(ours) - Fraction(keras64)),
                    lambda: FLOAT64_FACTOR * abs(Fraction(keras) - Fraction(keras64)) + _ATOL
                    + _RTOL * abs(Fraction(keras)))


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def verdict(ours: float, keras: float, keras64: float | None = None) -> str:
    """"plain" or "float64" (the clause that passed it), or "" when the value fails."""
    if math.isnan(keras):
        return "plain" if math.isnan(ours) else ""
    if math.isinf(keras):
        return "plain" if ours == keras else ""
    if not math.isfinite(ours):
        return ""
    if plain_clause(ours, keras):
        return "plain"
    if _finite(keras64) and float64_clause(ours, keras, keras64):
        return "float64"
    return ""


def passes(ours: float, keras: float, keras64: float | None = None) -> bool:
    """Whether ours reproduces Keras's value (keras64: the float64 run's, or None)."""
    return verdict(ours, keras, keras64) != ""


def tolerance_units(ours: float, keras: float, keras64: float | None = None) -> float:
    """The error in units of the tolerance that applies: at most 1 for a passing value (approximate)."""
    if math.isnan(keras) or math.isinf(keras) or not math.isfinite(ours):
        return 0.0 if passes(ours, keras, keras64) else math.inf
    units = abs(ours - keras) / (ATOL + RTOL * abs(keras))
    if _finite(keras64):
        room = FLOAT64_FACTOR * abs(keras - keras64) + ATOL + RTOL * abs(keras)
        units = min(units, abs(ours - keras64) / room)
    return units


# ---- the same judge as an interval, for runtimes without double precision (NAME_selftest) ----------


def _next32(value: float, up: bool) -> float:
    """The float32 neighbour of a finite float32 value, towards +inf (up) or -inf."""
    if value == 0:
        return _from_bits(1) if up else -_from_bits(1)
    bits = _bits(value)
    step = 1 if (value > 0) == up else -1
    return _from_bits(bits + step)


def _round32(bound: Fraction, up: bool) -> float:
    """The smallest float32 >= bound (up) or the largest float32 <= bound, clamped to +-FLT_MAX."""
    limit = Fraction(FLT_MAX)
    if bound >= limit:
        return FLT_MAX
    if bound <= -limit:
        return -FLT_MAX
    candidate = _float32(float(bound))
    while (Fraction(candidate) < bound) if up else (Fraction(candidate) > bound):
        candidate = _next32(candidate, up)
    while True:  # step back while the neighbour still satisfies the bound (double rounding)
        neighbour = _next32(candidate, not up)
        inside = math.isfinite(neighbour) and (Fraction(neighbour) >= bound if up else Fraction(neighbour) <= bound)
        if inside:
            candidate = neighbour
        else:
            return candidate


def bounds(keras: float, keras64: float | None = None) -> tuple:
    """(lo, hi), float32: a float32 `ours` passes exactly when lo <= ours <= hi.

    Both clauses' intervals contain keras, so their union is one interval; it is computed exactly
    and rounded inward. NaN from Keras gives (nan, nan) (only NaN passes), an infinity (inf, inf).
    """
    if math.isnan(keras):
        return math.nan, math.nan
    if math.isinf(keras):
        return keras, keras
    k = Fraction(keras)
    tolerance = _ATOL + _RTOL * abs(k)
    lo, hi = k - tolerance, k + tolerance
    if _finite(keras64):
        k64 = Fraction(keras64)
        room = FLOAT64_FACTOR * abs(k - k64) + tolerance
        lo, hi = min(lo, k64 - room), max(hi, k64 + room)
    return _round32(lo, up=True), _round32(hi, up=False)


# ---- many values: what verify(), the exporter's summary and the tests report -----------------------


@dataclass
class Judgement:
    """The judge's findings over one output's values."""

    values: int = 0
    failures: int = 0
    float64_needed: int = 0  # values the plain clause refused and the float64 clause passed
    max_abs_error: float = 0.0  # largest |ours - keras| over values both finite
    max_units: float = 0.0  # largest error in units of the applicable tolerance
    max_ulps: int = 0  # largest |ours - keras| in float32 ulps over values both finite
    first_failure: tuple | None = None  # (index, ours, keras, keras64)
    worst: tuple | None = None  # (index, ours, keras, keras64) of the value with max_units
    float64: bool = False  # whether float64 values were given
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def describe(self) -> str:
        """One line: max error in tolerances and ulps, and the float64 clause's share."""
        text = (f"max error {self.max_units:.3g} of the tolerance ({self.max_ulps} float32 ulp"
                f"{'' if self.max_ulps == 1 else 's'}, |error| {self.max_abs_error:.3g})")
        if self.float64:
            text += f", {self.float64_needed} of {self.values} values by the float64 clause"
        else:
            text += ", plain tolerance only (no float64 reference)"
        return text


def judge(ours, keras, keras64=None, into: Judgement | None = None) -> Judgement:
    """Judge flat sequences of values (keras64: a sequence of the same length, or None)."""
    result = into if into is not None else Judgement()
    result.float64 = result.float64 or keras64 is not None
    start = result.values
    if len(ours) != len(keras) or (keras64 is not None and len(keras64) != len(keras)):
        raise ValueError(f"judge: {len(ours)} values against {len(keras)} from Keras")
    for offset, (a, b) in enumerate(zip(ours, keras)):
        a, b = float(a), float(b)
        c = None if keras64 is None else float(keras64[offset])
        found = verdict(a, b, c)
        units = tolerance_units(a, b, c)
        if math.isfinite(a) and math.isfinite(b):
            result.max_abs_error = max(result.max_abs_error, abs(a - b))
            result.max_ulps = max(result.max_ulps, ulps(a, b))
        if not found:
            result.failures += 1
            if result.first_failure is None:
                result.first_failure = (start + offset, a, b, c)
        elif found == "float64":
            result.float64_needed += 1
        if units > result.max_units or result.worst is None:
            result.max_units, result.worst = max(units, result.max_units), (start + offset, a, b, c)
    result.values += len(keras)
    return result
