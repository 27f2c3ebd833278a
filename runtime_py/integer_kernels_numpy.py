"""Integer-only int8 kernels with numpy int64: the same values as runtime_py/integer_kernels.py.

Every intermediate fits int64 (the exporter and the reader bound the accumulators to int32 and
the multiplier to Q31: |acc * multiplier| < 2**62), so the numpy operations below are exact
integer arithmetic.
"""

from __future__ import annotations

import numpy as np


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TensorFlow Lite's single-rounding MultiplyByQuantizedMultiplier per output channel (the last axis)."""
    total = 31 - shift
    return (acc * multiplier + (np.int64(1) << (total - 1))) >> total


def dense_int8_forward(inp: np.ndarray, kernel: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
                       shift: np.ndarray, output_zero_point: int, low: int, high: int) -> np.ndarray:
    """inp (rows, n) int64 -> (rows, units) int64 in [low, high]."""
    acc = inp @ kernel + bias
    return np.clip(requantize(acc, multiplier, shift) + output_zero_point, low, high)


def lut_int8_forward(inp: np.ndarray, table: np.ndarray) -> np.ndarray:
    """out = table[inp + 128]."""
    return table[inp + 128]


def softmax_int8_forward(inp: np.ndarray, exp_table: np.ndarray) -> np.ndarray:
    """Integer softmax per row (the last axis), as integer_kernels.softmax_int8_forward."""
    e = exp_table[inp.max(axis=-1, keepdims=True) - inp]
    total = e.sum(axis=-1, keepdims=True)
    return np.minimum((e * 256 + total // 2) // total - 128, 127)
