"""Integer-only int8 kernels (format version 2, docs/format.md "Integer models"), pure-Python ints.

Mirrors runtime_c/integer.h line for line; runtime_py/integer_kernels_numpy.py computes the same
values with numpy int64. Rounding is TensorFlow Lite's: a Q31 multiplier and a shift applied with
one 64-bit product and one rounding (TFLITE_SINGLE_ROUNDING, how LiteRT's reference kernels are
built: tests/test_integer_tflite.py); no float anywhere.
"""

from __future__ import annotations

def requantize(acc: int, multiplier: int, shift: int) -> int:
    """TensorFlow Lite's MultiplyByQuantizedMultiplier, single rounding (as LiteRT is built).

    floor(acc * multiplier / 2**(31 - shift) + 1/2): acc * multiplier * 2**(shift - 31) rounded to
    nearest, ties toward +infinity; shift in [-31, 30].
    """
    total = 31 - shift
    return (acc * multiplier + (1 << (total - 1))) >> total


def dense_int8_forward(out: list, inp: list, kernel: list, bias: list, multiplier: list, shift: list,
                       output_zero_point: int, low: int, high: int, rows: int, n: int, units: int) -> None:
    """out[r][j] = clamp(requantize(sum_i inp[r][i] * kernel[i][j] + bias[j]) + zp_out, low, high).

    inp: rows * n int8 values, flat; kernel: n * units, row-major (n, units); bias int32 with the
    input zero point folded in at export (docs/format.md).
    """
    for r in range(rows):
        base = r * n
        for j in range(units):
            acc = bias[j]
            for i in range(n):
                acc += inp[base + i] * kernel[i * units + j]
            value = requantize(acc, multiplier[j], shift[j]) + output_zero_point
            out[r * units + j] = low if value < low else (high if value > high else value)


def lut_int8_forward(out: list, inp: list, table: list, count: int) -> None:
    """out[k] = table[inp[k] + 128]: a smooth activation tabulated at export."""
    for k in range(count):
        out[k] = table[inp[k] + 128]


def softmax_int8_forward(out: list, inp: list, exp_table: list, rows: int, n: int) -> None:
    """Integer softmax per row: e = exp_table[max - q] (Q15), out = round(256 * e / sum e) - 128, clamped."""
    for r in range(rows):
        base = r * n
        top = max(inp[base:base + n])
        total = 0
        for i in range(n):
            total += exp_table[top - inp[base + i]]
        for i in range(n):
            value = (exp_table[top - inp[base + i]] * 256 + total // 2) // total - 128
            out[base + i] = 127 if value > 127 else value
