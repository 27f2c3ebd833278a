"""The documented size limits of a model (SECURITY.md), one table for the exporter and runtime_py.

They are checked on declared shapes, before anything of that size is allocated: by
runtime_py when it reads a model file, by the exporter on the model config before Keras
builds it and on the graph before test vectors or output files are made. Within them every
size in a generated header fits a C int, also multiplied by NAME_predict_batch's 8 rows.
"""

from __future__ import annotations

MAX_RANK = 8  # axes of one tensor, the batch axis not counted
MAX_TENSOR_FLOATS = 2 ** 24  # 16,777,216 floats (64 MiB): one weight array
MAX_SAMPLE_FLOATS = 2 ** 22  # 4,194,304 floats (16 MiB): every input and node output of one sample together
MAX_WEIGHT_FLOATS = 2 ** 26  # 67,108,864 floats (256 MiB): all weights of one model
MAX_TEST_FLOATS = 2 ** 26  # all test-vector values of one file (the exporter's 11 rows always fit)
MAX_NODES = 20_000  # IR nodes (or Keras layers and layer calls) in one model
MAX_JSON_CONTAINERS = 1_000_000  # [ and { in one JSON text (a model file, a Keras config), counted before parsing
MAX_REPEAT = 2 ** 16  # RepeatVector's n
MAX_FILE_BYTES = 2 ** 30  # runtime_py.load reads at most this many bytes unless told otherwise (max_bytes)

LIMITS = {  # name -> (value, what it bounds): the table SECURITY.md lists (a test compares them)
    "MAX_RANK": (MAX_RANK, "axes of one tensor (batch axis not counted)"),
    "MAX_TENSOR_FLOATS": (MAX_TENSOR_FLOATS, "floats in one weight array"),
    "MAX_SAMPLE_FLOATS": (MAX_SAMPLE_FLOATS, "floats of every input and node output of one sample together"),
    "MAX_WEIGHT_FLOATS": (MAX_WEIGHT_FLOATS, "floats of all weights of one model"),
    "MAX_TEST_FLOATS": (MAX_TEST_FLOATS, "floats of all test vectors of one model file"),
    "MAX_NODES": (MAX_NODES, "nodes of one model (layers and layer calls in a Keras config)"),
    "MAX_JSON_CONTAINERS": (MAX_JSON_CONTAINERS, "lists and objects in one JSON text, counted before it is parsed"),
    "MAX_REPEAT": (MAX_REPEAT, "RepeatVector's n"),
    "MAX_FILE_BYTES": (MAX_FILE_BYTES, "bytes runtime_py.load reads from one file (its max_bytes argument)"),
}


def size_of(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def short_shape(shape) -> str:
    """A shape for an error message, cut when it is long (a hostile file may declare thousands of axes)."""
    shape = tuple(shape)
    if len(shape) <= 12:
        return str(shape)
    return "(" + ", ".join(str(d) for d in shape[:6]) + f", ... {len(shape) - 6} more axes)"


def shape_problem(shape, what: str = "shape", max_floats: int = MAX_TENSOR_FLOATS) -> str | None:
    """Say how a declared shape breaks the rank or size limit, or return None when it fits."""
    if len(shape) > MAX_RANK:
        return f"{what} {short_shape(shape)} has rank {len(shape)}; kerasless supports at most {MAX_RANK} axes"
    floats = size_of(shape)
    if floats > max_floats:
        return f"{what} {short_shape(shape)} holds {floats:,} floats; kerasless supports at most {max_floats:,}"
    return None


def json_problem(text) -> str | None:
    """Say why a JSON text (bytes or str) is too large to parse, before json.loads builds its objects.

    Counts every [ and { (inside strings too, so it can only overcount): parsed, each costs 50 to 200
    bytes of Python objects, so a few megabytes of `[]` would otherwise take gigabytes.
    """
    opening = (b"[", b"{") if isinstance(text, (bytes, bytearray)) else ("[", "{")
    count = text.count(opening[0]) + text.count(opening[1])
    if count > MAX_JSON_CONTAINERS:
        return f"holds {count:,} JSON lists and objects; kerasless reads at most {MAX_JSON_CONTAINERS:,}"
    return None


class Budget:
    """Running totals over one model: nodes, floats per sample, weight and test-vector floats.

    Each add_* returns None while the model fits, else a sentence saying which limit it broke.
    """

    def __init__(self):
        self.nodes = 0
        self.sample_floats = 0
        self.weight_floats = 0
        self.test_floats = 0

    def add_node(self) -> str | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return f"the model has more than {MAX_NODES:,} nodes"
        return None

    def add_tensor(self, shape, what: str) -> str | None:
        problem = shape_problem(shape, what, MAX_SAMPLE_FLOATS)
        if problem:
            return problem
        self.sample_floats += size_of(shape)
        if self.sample_floats > MAX_SAMPLE_FLOATS:
            return f"{what}: the model's tensors hold more than {MAX_SAMPLE_FLOATS:,} floats per sample together"
        return None

    def add_weight(self, shape, what: str) -> str | None:
        problem = shape_problem(shape, what)
        if problem:
            return problem
        self.weight_floats += size_of(shape)
        if self.weight_floats > MAX_WEIGHT_FLOATS:
            return f"{what}: the model's weights hold more than {MAX_WEIGHT_FLOATS:,} floats together"
        return None

    def add_test_array(self, shape, what: str) -> str | None:
        if len(shape) > MAX_RANK + 1:
            return f"{what} {short_shape(shape)} has rank {len(shape)}; a test batch has at most {MAX_RANK + 1} axes"
        self.test_floats += size_of(shape)
        if self.test_floats > MAX_TEST_FLOATS:
            return f"{what}: the test vectors hold more than {MAX_TEST_FLOATS:,} floats together"
        return None
