"""The header's static const arrays: weights and index tables, identical arrays stored once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exporter.c.identifiers import array_name
from exporter.c.literals import c_comment, int_rows, literal_rows, shape_text


@dataclass
class Array:
    """A static const array in the header: a weight (float) or a transpose's index table (int)."""

    name: str
    size_expr: str  # e.g. "64 * 32"
    comment: str
    lines: list
    ctype: str = "float"
    users: set = field(default_factory=set)  # the layers reading it (comments only)


def _as_ctype(values, ctype: str) -> np.ndarray:
    """The values as the integers or floats the C array holds (a float16 kernel: its 16 bits)."""
    if ctype == "float":
        return np.ascontiguousarray(values, dtype=np.float32)
    if ctype == "unsigned short":
        return np.ascontiguousarray(values, dtype=np.float16).view(np.uint16).astype(np.int64)
    return np.ascontiguousarray(values, dtype=np.int64)


class WeightArrays:
    """The header's static arrays: every weight of every node, identical arrays stored once."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.arrays = []
        self.by_content = {}  # (ctype, shape, bytes) -> Array

    def add(self, node, node_index: int, key: str, values, ctype="float", comment=None, row_length=None) -> str:
        """Return the C name of an array holding values: a new PREFIX_node<index>_<key>, or an identical one's."""
        values = _as_ctype(values, ctype)
        content = (ctype, values.shape, values.tobytes())
        where = f"{c_comment(node.layer)} ({c_comment(node.layer_class)})"
        if content in self.by_content:  # a shared layer called again, or equal weights elsewhere
            array = self.by_content[content]
            note = "; stored once for every call of the layer" if where in array.users else f"; also {where}"
            if note not in array.comment:
                array.comment += note
            array.users.add(where)
            return array.name
        shape = values.shape or (1,)
        array = Array(array_name(self.prefix, node_index, key), " * ".join(str(d) for d in shape),
                      comment or f"{where} {key}: {shape_text(shape)}",
                      literal_rows(values, row_length or shape[-1]) if ctype == "float"
                      else int_rows(values.ravel(), row_length or shape[-1]), ctype)
        array.users.add(where)
        self.by_content[content] = array
        self.arrays.append(array)
        return array.name

    def find(self, values, ctype="float") -> str:
        """The name of the stored array with exactly these values (added earlier by the forward plan)."""
        values = _as_ctype(values, ctype)
        return self.by_content[(ctype, values.shape, values.tobytes())].name
