"""Dense kernels stored in fewer bits (export-model --weights float16|int8), decoded to float32 at load.

docs/format.md, "Stored kernels": a float16 kernel holds IEEE binary16 values (each exactly a
float32); an int8 kernel holds q in [-127, 127] with one float32 `kernel_scale` per output unit,
and the weight is the float32 product (float)q[i][j] * scale[j]. The header decodes the same way on
the fly, and both runtimes then run such a layer in the header's order with an exactly rounded
fmaf (kernels_*.dense_in_order), so the Python and C outputs are the same bits.
"""

from __future__ import annotations

import struct
import sys
from array import array

from runtime_py.model_file import RawArray
from runtime_py.ops import size_of


def _scales(raw: RawArray) -> array:
    values = array("f")
    values.frombytes(raw.data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def decoded_kernel(kernel: RawArray, scale: RawArray | None) -> RawArray:
    """The float32 kernel (little-endian bytes) a stored float16 or int8 kernel stands for."""
    n_out = kernel.shape[-1]
    if kernel.dtype == "float16":
        values = array("f", struct.unpack(f"<{size_of(kernel.shape)}e", kernel.data))
    else:
        columns = _scales(scale)
        q = array("b", kernel.data)
        # q * scale is exact in double (7 + 24 bits): array("f") then rounds once, as float32 * does
        values = array("f", [v * columns[k % n_out] for k, v in enumerate(q)])
    if sys.byteorder == "big":
        values.byteswap()
    return RawArray(kernel.shape, values.tobytes())


def decode_stored_kernels(nodes: list) -> list:
    """The nodes with every stored kernel decoded; such a node gets "stored": its dtype ("float16", "int8")."""
    result = []
    for node in nodes:
        kernel = node["weights"].get("kernel")
        if node["op"] != "dense" or kernel is None or kernel.dtype == "float32":
            result.append(node)
            continue
        weights = {key: raw for key, raw in node["weights"].items() if key != "kernel_scale"}
        weights["kernel"] = decoded_kernel(kernel, node["weights"].get("kernel_scale"))
        result.append({**node, "weights": weights, "stored": kernel.dtype})
    return result
