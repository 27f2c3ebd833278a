"""Read and validate a kerasless model file (format v1, JSON or NPZ) with the standard library.

The result is plain data: the manifest's dicts, with every array replaced by a
RawArray (shape, dtype and little-endian bytes). Everything a kernel relies on is
checked here, before any large allocation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass

from runtime_py.errors import ModelFormatError
from runtime_py.limits import MAX_FILE_BYTES, MAX_NODES, Budget, json_problem, short_shape
from runtime_py.npy import read_npy
from runtime_py.ops import SIGNATURES, check_node, size_of

FORMAT_NAME = "kerasless"
SUPPORTED_VERSIONS = (1, 2)  # 2: integer-only int8 models (runtime_py/integer_file.py)
MANIFEST_MEMBER = "manifest"
MAX_MANIFEST_BYTES = 2 ** 26  # an NPZ's JSON manifest holds no weights: 64 MiB is far beyond any model


# dtype -> bytes per value and numpy's descr: float64 only in test vectors' outputs64, float16 and
# int8 only for a dense kernel stored in fewer bits (export-model --weights; ops.check_dense says where)
# int32 only in integer models (format version 2)
ITEM_SIZES = {"float32": 4, "float64": 8, "float16": 2, "int8": 1, "int32": 4}
NPY_DESCR = {"float32": "<f4", "float64": "<f8", "float16": "<f2", "int8": "|i1", "int32": "<i4"}
WEIGHT_DTYPES = ("float32", "float16", "int8")


@dataclass(frozen=True)
class RawArray:
    """An array as stored: shape and little-endian bytes of its dtype (float32, float64, float16, int8)."""

    shape: tuple
    data: bytes
    dtype: str = "float32"

    @property
    def size(self) -> int:
        return size_of(self.shape)


def read_model_file(path, max_bytes: int = None, sha256: str = None) -> dict:
    """Read, decode and validate a model file; raise ModelFormatError on any defect.

    Only a regular file is read (not a device, FIFO or socket, also behind a symlink), and at
    most max_bytes of it (default runtime_py.limits.MAX_FILE_BYTES). sha256, when given, is the
    hex digest the file's bytes must have.
    """
    path = os.fspath(path)
    return read_model_bytes(read_regular_file(path, max_bytes), path, sha256)


def read_regular_file(path, max_bytes: int = None) -> bytes:
    """Return the bytes of a regular file of at most max_bytes; refuse anything else without blocking."""
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if type(limit) is not int or limit < 0:
        raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise ModelFormatError(f"{path}: is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ModelFormatError(f"{path}: is a directory, not a model file")
        if not stat.S_ISREG(info.st_mode):
            raise ModelFormatError(f"{path}: is not a regular file (a device, FIFO or socket); "
                                   "only model files are read")
        if info.st_size > limit:
            raise ModelFormatError(f"{path}: is {info.st_size:,} bytes, more than the {limit:,} a model file may "
                                   "have here (runtime_py.load's max_bytes)")
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise ModelFormatError(f"{path}: holds more than the {limit:,} bytes a model file may have here")
    return data


def _read_at_most(fd: int, count: int) -> bytes:
    chunks, left = [], count
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_model_bytes(data: bytes, name: str = "<bytes>", sha256: str = None) -> dict:
    """Parse, decode and validate a model file's content held in memory; name labels the errors."""
    data = bytes(data)
    if sha256 is not None:
        check_sha256(data, sha256, name)
    if data.startswith(b"PK"):
        return _read_npz(name, io.BytesIO(data))
    return _read_json(name, data)


def check_sha256(data: bytes, expected: str, name: str) -> None:
    """Raise ModelFormatError unless data's sha256 is expected (64 hex digits, either case)."""
    if not isinstance(expected, str) or len(expected) != 64 or any(c not in "0123456789abcdefABCDEF" for c in expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {expected!r}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ModelFormatError(f"{name}: the file's sha256 is {actual}, expected {expected.lower()}: "
                               "this is not the pinned file")


def _read_json(path: str, text: bytes) -> dict:
    problem = json_problem(text)
    if problem:
        raise ModelFormatError(f"{path}: {problem}")
    try:  # decoded here: json.loads would also take UTF-16 and UTF-32 bytes, which the format does not allow
        manifest = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
    return _validate(manifest, lambda desc, what: _decode_base64(desc, what), path)


def _read_npz(path: str, source) -> dict:
    try:
        with zipfile.ZipFile(source) as archive:
            descr, shape, data = read_npy(archive, MANIFEST_MEMBER, path, max_bytes=MAX_MANIFEST_BYTES)
            if descr not in ("|u1", "<u1") or len(shape) != 1:
                raise ModelFormatError(f"{path}: member 'manifest.npy' must be a 1-D uint8 array")
            problem = json_problem(data)
            if problem:
                raise ModelFormatError(f"{path}: the manifest {problem}")
            try:
                manifest = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
            except (ValueError, RecursionError) as exc:
                raise ModelFormatError(f"{path}: the manifest is not valid JSON ({exc})") from None

            def decode(desc, what):
                member = desc.get("member")
                if not isinstance(member, str):
                    raise ModelFormatError(f"{what}: array has no 'member' name")
                descr, shape, raw = read_npy(archive, member, what, expected_shape=desc["shape"])
                if descr != NPY_DESCR[desc["dtype"]]:
                    raise ModelFormatError(f"{what}: member {member!r} is not {desc['dtype']}")
                if shape != tuple(desc["shape"]):
                    raise ModelFormatError(f"{what}: member {member!r} has shape {shape}, declared {desc['shape']}")
                return raw

            return _validate(manifest, decode, path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ModelFormatError(f"{path}: not a readable NPZ archive ({exc})") from None


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed in a model file")


def _decode_base64(desc: dict, what: str) -> bytes:
    data = desc.get("data")
    if not isinstance(data, str):
        raise ModelFormatError(f"{what}: array has no base64 'data' string")
    expected = size_of(desc["shape"]) * ITEM_SIZES[desc["dtype"]]
    # Compare lengths before decoding, so a huge declared shape costs nothing.
    if len(data) != 4 * ((expected + 2) // 3):
        raise ModelFormatError(f"{what}: data holds about {len(data) * 3 // 4} bytes, shape "
                               f"{short_shape(desc['shape'])} needs {expected}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ModelFormatError(f"{what}: data is not valid base64") from None
    if len(raw) != expected:
        raise ModelFormatError(f"{what}: data holds {len(raw)} bytes, shape {short_shape(desc['shape'])} needs {expected}")
    return raw


def _expect(value, kind, what: str):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ModelFormatError(f"{what}: expected {name}, got {type(value).__name__}")
    return value


def _shape(value, what: str) -> tuple:
    """A tensor's shape: one or more positive ints (the batch axis is not part of it)."""
    _expect(value, list, what)
    if not value or not all(type(d) is int and d > 0 for d in value):
        raise ModelFormatError(f"{what}: a tensor shape must be a non-empty list of positive integers, "
                               f"got {_short_json(value)}")
    return tuple(value)


def _short_json(value) -> str:
    return short_shape(value) if isinstance(value, list) and all(type(d) is int for d in value) else repr(value)[:80]


def _array(desc, decode, what: str, check, dtype="float32") -> RawArray:
    """Read one stored array; check(shape) names a broken limit, and runs before any data is decoded.

    dtype: the one allowed, or a tuple of those allowed."""
    _expect(desc, dict, what)
    allowed = (dtype,) if isinstance(dtype, str) else dtype
    if desc.get("dtype") not in allowed:
        raise ModelFormatError(f"{what}: dtype must be {' or '.join(map(repr, allowed))}, got {desc.get('dtype')!r}"[:200])
    shape = desc.get("shape")
    _expect(shape, list, what + ".shape")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise ModelFormatError(f"{what}.shape: malformed shape {_short_json(shape)}")
    problem = check(shape)
    if problem:
        raise ModelFormatError(problem)
    return RawArray(tuple(shape), decode(desc, what), desc["dtype"])


def _check_numbers(value, what: str) -> None:
    """Attribute numbers must be finite and, as ints, exactly representable as doubles (|n| <= 2**53)."""
    stack = [(value, what)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif type(item) is float and not math.isfinite(item):
            raise ModelFormatError(f"{where}: {item!r} is not a finite number")
        elif type(item) is int and abs(item) > 2 ** 53:
            raise ModelFormatError(f"{where}: the integer {str(item)[:20]}... is too large for a model parameter")


def _tensor_list(value, what: str) -> list:
    _expect(value, list, what)
    specs = []
    for k, item in enumerate(value):
        _expect(item, dict, f"{what}[{k}]")
        name = _expect(item.get("name"), str, f"{what}[{k}].name")
        specs.append((name, _shape(item.get("shape"), f"{what}[{k}].shape")))
    return specs


REQUIRED_KEYS = ("format", "format_version", "name", "inputs", "outputs", "nodes")  # docs/format.md


def _validate(manifest, decode, path: str) -> dict:
    _expect(manifest, dict, path)
    if manifest.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path}: not a kerasless model file (format is {repr(manifest.get('format'))[:80]})")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ModelFormatError(f"{path}: required key(s) {', '.join(missing)} missing (docs/format.md)")
    version = manifest.get("format_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFormatError(
            f"{path}: format version {repr(version)[:40]} is not supported; this runtime reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))} (an integer)"
        )
    if version == 2:
        from runtime_py.integer_file import validate_integer

        return validate_integer(manifest, decode, path, (_expect, _tensor_list, _array))
    name = _expect(manifest.get("name"), str, f"{path}: name")
    inputs = _tensor_list(manifest.get("inputs"), f"{path}: inputs")
    outputs = _tensor_list(manifest.get("outputs"), f"{path}: outputs")
    if not inputs or not outputs:
        raise ModelFormatError(f"{path}: a model needs at least one input and one output")
    budget = Budget()
    shapes = {}
    for k, (tensor, shape) in enumerate(inputs):
        if tensor in shapes:
            raise ModelFormatError(f"{path}: input name {tensor!r} is used twice")
        problem = budget.add_tensor(shape, f"{path}: inputs[{k}].shape")
        if problem:
            raise ModelFormatError(problem)
        shapes[tensor] = shape

    nodes = []
    digest = hashlib.sha256()
    raw_nodes = _expect(manifest.get("nodes"), list, f"{path}: nodes")
    if len(raw_nodes) > MAX_NODES:
        raise ModelFormatError(f"{path}: nodes: {len(raw_nodes):,} nodes, more than the {MAX_NODES:,} kerasless supports")
    for k, raw in enumerate(raw_nodes):
        where = f"{path}: nodes[{k}]"
        _expect(raw, dict, where)
        node = {
            "name": _expect(raw.get("name"), str, where + ".name"),
            "op": _expect(raw.get("op"), str, where + ".op"),
            "inputs": _expect(raw.get("inputs"), list, where + ".inputs"),
            "shape": _shape(raw.get("shape"), where + ".shape"),
            "attrs": _expect(raw.get("attrs", {}), dict, where + ".attrs"),
            "layer": raw.get("layer") if isinstance(raw.get("layer"), str) else raw.get("name"),
            "layer_class": raw.get("layer_class") if isinstance(raw.get("layer_class"), str) else "",
        }
        where = f"{where} ({node['name']!r})"
        weights = _expect(raw.get("weights", {}), dict, where + ".weights")
        if node["op"] not in SIGNATURES:
            raise ModelFormatError(f"{where}: unknown op {node['op']!r}; this runtime knows {', '.join(sorted(SIGNATURES))}")
        if node["name"] in shapes:
            raise ModelFormatError(f"{where}: tensor name {node['name']!r} is defined twice")
        for tensor in node["inputs"]:
            if not isinstance(tensor, str) or tensor not in shapes:
                raise ModelFormatError(
                    f"{where}: input {tensor!r} is not a model input or an earlier node (nodes must be in topological order)"
                )
        problem = budget.add_tensor(node["shape"], where + ".shape")
        if problem:
            raise ModelFormatError(problem)
        _check_numbers(node["attrs"], where + ".attrs")
        node["weights"] = {key: _array(desc, decode, f"{where}.weights.{key}",
                                       lambda shape, w=f"{where}.weights.{key}.shape": budget.add_weight(shape, w),
                                       WEIGHT_DTYPES)  # ops.SIGNATURES says which weight may be stored smaller
                           for key, desc in weights.items()}
        for key in sorted(node["weights"]):
            digest.update(node["weights"][key].data)
        check_node(node, [shapes[t] for t in node["inputs"]])
        shapes[node["name"]] = node["shape"]
        nodes.append(node)
    for tensor, shape in outputs:
        if shapes.get(tensor) != shape:
            problem = "is not produced by any node" if tensor not in shapes else f"has shape {shapes[tensor]}, declared {shape}"
            raise ModelFormatError(f"{path}: output {tensor!r} {problem}")
    expected_hash = manifest.get("weights_sha256")
    if expected_hash is not None and expected_hash != digest.hexdigest():
        raise ModelFormatError(f"{path}: weights do not match weights_sha256: the file is corrupted or was edited")

    vectors = []
    for k, raw in enumerate(_expect(manifest.get("test_vectors", []), list, f"{path}: test_vectors")):
        where = f"{path}: test_vectors[{k}]"
        _expect(raw, dict, where)
        vector = {}
        for side, specs in (("inputs", inputs), ("outputs", outputs)):
            descs = _expect(raw.get(side), list, f"{where}.{side}")
            if len(descs) != len(specs):
                raise ModelFormatError(f"{where}.{side}: {len(descs)} arrays, the model has {len(specs)} {side}")

            def fits(shape, spec, what):
                if len(shape) < 2 or tuple(shape[1:]) != spec or shape[0] < 1:
                    return (f"{what}: shape {short_shape(shape)} is not (rows >= 1, *{spec}), "
                            f"the model's {side[:-1]} shape with a batch axis")
                return budget.add_test_array(shape, what)

            vector[side] = [_array(d, decode, f"{where}.{side}[{i}]",
                                   lambda shape, s=spec, w=f"{where}.{side}[{i}].shape": fits(shape, s, w))
                            for i, (d, (_, spec)) in enumerate(zip(descs, specs))]
        if raw.get("outputs64") is not None:  # optional: the float64 run's outputs (docs/format.md)
            descs = _expect(raw["outputs64"], list, f"{where}.outputs64")
            if len(descs) != len(vector["outputs"]):
                raise ModelFormatError(f"{where}.outputs64: {len(descs)} arrays, the model has "
                                       f"{len(vector['outputs'])} outputs")
            vector["outputs64"] = [
                _array(d, decode, f"{where}.outputs64[{i}]",
                       lambda shape, o=o, w=f"{where}.outputs64[{i}].shape":
                       budget.add_test_array(shape, w) if tuple(shape) == o.shape
                       else f"{w}: {short_shape(shape)} is not the shape of outputs",
                       "float64")
                for i, (d, o) in enumerate(zip(descs, vector["outputs"]))]
        if len({a.shape[0] for a in vector["inputs"] + vector["outputs"]}) != 1:
            raise ModelFormatError(f"{where}: batches of different sizes")
        vectors.append(vector)
    producer = manifest.get("producer") if isinstance(manifest.get("producer"), dict) else {}
    return {
        "name": name,
        "format_version": version,
        "producer": producer,
        "inputs": inputs,
        "outputs": outputs,
        "nodes": nodes,
        "weights_sha256": digest.hexdigest(),
        "test_vectors": vectors,
    }
