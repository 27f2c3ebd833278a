"""Read and validate a kerasless model file (format v1, JSON or NPZ) with the standard library.

The result is plain data: the manifest's dicts, with every array replaced by a
RawArray (shape + little-endian float32 bytes). Everything a kernel relies on is
checked here, before any large allocation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass

from runtime_py.errors import ModelFormatError
from runtime_py.npy import read_npy
from runtime_py.ops import OPS, size_of

FORMAT_NAME = "kerasless"
SUPPORTED_VERSIONS = (1,)
MANIFEST_MEMBER = "manifest"


@dataclass(frozen=True)
class RawArray:
    """A float32 array as stored: shape and little-endian bytes."""

    shape: tuple
    data: bytes

    @property
    def size(self) -> int:
        return size_of(self.shape)


def read_model_file(path) -> dict:
    """Parse, decode and validate a model file; raise ModelFormatError on any defect."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(4)
    except IsADirectoryError:
        raise ModelFormatError(f"{path}: is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if head.startswith(b"PK"):
        return _read_npz(path)
    return _read_json(path)


def read_model_bytes(data: bytes, name: str = "<bytes>") -> dict:
    """Parse, decode and validate a model file's content held in memory; name labels the errors."""
    data = bytes(data)
    if data.startswith(b"PK"):
        return _read_npz(name, io.BytesIO(data))
    return _read_json(name, data)


def _read_json(path: str, text: bytes = None) -> dict:
    try:
        if text is None:
            with open(path, "rb") as stream:
                text = stream.read()
        manifest = json.loads(text, parse_constant=_reject_constant)
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
    return _validate(manifest, lambda desc, what: _decode_base64(desc, what), path)


def _read_npz(path: str, source=None) -> dict:
    try:
        with zipfile.ZipFile(path if source is None else source) as archive:
            descr, shape, data = read_npy(archive, MANIFEST_MEMBER, path)
            if descr not in ("|u1", "<u1") or len(shape) != 1:
                raise ModelFormatError(f"{path}: member 'manifest.npy' must be a 1-D uint8 array")
            try:
                manifest = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
            except (ValueError, RecursionError) as exc:
                raise ModelFormatError(f"{path}: the manifest is not valid JSON ({exc})") from None

            def decode(desc, what):
                member = desc.get("member")
                if not isinstance(member, str):
                    raise ModelFormatError(f"{what}: array has no 'member' name")
                descr, shape, raw = read_npy(archive, member, what)
                if descr != "<f4":
                    raise ModelFormatError(f"{what}: member {member!r} is not float32")
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
    expected = size_of(desc["shape"]) * 4
    # Compare lengths before decoding, so a huge declared shape costs nothing.
    if len(data) != 4 * ((expected + 2) // 3):
        raise ModelFormatError(f"{what}: data holds about {len(data) * 3 // 4} bytes, shape {desc['shape']} needs {expected}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ModelFormatError(f"{what}: data is not valid base64") from None
    if len(raw) != expected:
        raise ModelFormatError(f"{what}: data holds {len(raw)} bytes, shape {desc['shape']} needs {expected}")
    return raw


def _expect(value, kind, what: str):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ModelFormatError(f"{what}: expected {name}, got {type(value).__name__}")
    return value


def _shape(value, what: str) -> tuple:
    _expect(value, list, what)
    if not all(type(d) is int and d > 0 for d in value):
        raise ModelFormatError(f"{what}: a shape must be a list of positive integers, got {value!r}")
    return tuple(value)


def _array(desc, decode, what: str) -> RawArray:
    _expect(desc, dict, what)
    if desc.get("dtype") != "float32":
        raise ModelFormatError(f"{what}: dtype must be 'float32', got {desc.get('dtype')!r}")
    shape = desc.get("shape")
    _expect(shape, list, what + " shape")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise ModelFormatError(f"{what}: malformed shape {shape!r}")
    return RawArray(tuple(shape), decode(desc, what))


def _tensor_list(value, what: str) -> list:
    _expect(value, list, what)
    specs = []
    for k, item in enumerate(value):
        _expect(item, dict, f"{what}[{k}]")
        name = _expect(item.get("name"), str, f"{what}[{k}].name")
        specs.append((name, _shape(item.get("shape"), f"{what}[{k}].shape")))
    return specs


def _validate(manifest, decode, path: str) -> dict:
    _expect(manifest, dict, path)
    if manifest.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path}: not a kerasless model file (format is {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise ModelFormatError(
            f"{path}: format version {version!r} is not supported; this runtime reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    name = _expect(manifest.get("name"), str, f"{path}: name")
    inputs = _tensor_list(manifest.get("inputs"), f"{path}: inputs")
    outputs = _tensor_list(manifest.get("outputs"), f"{path}: outputs")
    if not inputs or not outputs:
        raise ModelFormatError(f"{path}: a model needs at least one input and one output")
    shapes = {}
    for tensor, shape in inputs:
        if tensor in shapes:
            raise ModelFormatError(f"{path}: input name {tensor!r} is used twice")
        shapes[tensor] = shape

    nodes = []
    digest = hashlib.sha256()
    for k, raw in enumerate(_expect(manifest.get("nodes"), list, f"{path}: nodes")):
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
        weights = _expect(raw.get("weights", {}), dict, where + ".weights")
        if node["op"] not in OPS:
            raise ModelFormatError(f"{where}: unknown op {node['op']!r}; this runtime knows {', '.join(sorted(OPS))}")
        if node["name"] in shapes:
            raise ModelFormatError(f"{where}: tensor name {node['name']!r} is defined twice")
        for tensor in node["inputs"]:
            if not isinstance(tensor, str) or tensor not in shapes:
                raise ModelFormatError(
                    f"{where}: input {tensor!r} is not a model input or an earlier node (nodes must be in topological order)"
                )
        node["weights"] = {key: _array(desc, decode, f"{where}.weights.{key}") for key, desc in weights.items()}
        for key in sorted(node["weights"]):
            digest.update(node["weights"][key].data)
        OPS[node["op"]](node, [shapes[t] for t in node["inputs"]])
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
            arrays = [_array(d, decode, f"{where}.{side}[{i}]") for i, d in enumerate(_expect(raw.get(side), list, f"{where}.{side}"))]
            if len(arrays) != len(specs) or any(a.shape[1:] != s for a, (_, s) in zip(arrays, specs)):
                raise ModelFormatError(f"{where}: {side} do not match the model's {side}")
            vector[side] = arrays
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
