"""Bounded fuzzing: mutated model files either load or raise ModelFormatError, nothing else.

The longer run outside CI: `KERASLESS_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py`
(docs/fuzzing.md records what it ran and found).
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime_py

EXAMPLES = int(os.environ.get("KERASLESS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def seeds(zoo):
    """Valid files to mutate: a multi-node model as JSON and NPZ."""
    return {suffix: zoo.exported("digits", "keras", suffix).read_bytes() for suffix in (".json", ".npz")}


def _load_or_format_error(data: bytes, suffix: str, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / f"m{suffix}"
    path.write_bytes(data)
    try:
        model = runtime_py.load(path, backend="python")
    except runtime_py.ModelFormatError:
        return
    # A file that loads must also run without crashing (a verification failure is allowed).
    try:
        model.verify()
    except runtime_py.VerificationError:
        pass


@FUZZ
@given(data=st.data())
def test_byte_mutations(seeds, tmp_path_factory, data):
    suffix = data.draw(st.sampled_from([".json", ".npz"]))
    blob = bytearray(seeds[suffix])
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        position = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if kind == "flip" and blob:
            blob[position] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate":
            del blob[position:]
        elif kind == "insert":
            blob[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif blob:
            del blob[position:position + data.draw(st.integers(1, 64))]
    _load_or_format_error(bytes(blob), suffix, tmp_path_factory)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 40), 2 ** 40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _mutate_structure(manifest, data):
    paths = list(_paths(manifest))
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        if not path:
            continue
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "shape"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "shape":
            parent[path[-1]] = data.draw(st.lists(st.integers(-2, 200000), max_size=3))
        else:
            parent[path[-1]] = data.draw(JSON_VALUES)
        paths = list(_paths(manifest))
    return manifest


@FUZZ
@given(data=st.data())
def test_structure_mutations_json(seeds, tmp_path_factory, data):
    manifest = _mutate_structure(json.loads(seeds[".json"]), data)
    _load_or_format_error(json.dumps(manifest).encode(), ".json", tmp_path_factory)


@FUZZ
@given(data=st.data())
def test_structure_mutations_npz(seeds, tmp_path_factory, data):
    with np.load(io.BytesIO(seeds[".npz"]), allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    manifest = _mutate_structure(json.loads(members["manifest"].tobytes()), data)
    members["manifest"] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    if data.draw(st.booleans()):  # also swap an array for one of another dtype or shape
        key = data.draw(st.sampled_from(sorted(k for k in members if k != "manifest")))
        members[key] = data.draw(st.sampled_from([np.zeros(3, np.float64), np.zeros((2, 2), np.float32),
                                                  np.array(["x"]), np.zeros(0, np.float32)]))
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    _load_or_format_error(buffer.getvalue(), ".npz", tmp_path_factory)


def test_object_arrays_are_refused_not_unpickled(seeds, tmp_path):
    """An NPZ member holding a pickled object array: refused, and nothing is unpickled."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with np.load(io.BytesIO(seeds[".npz"]), allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    key = sorted(k for k in members if k != "manifest")[0]
    members[key] = np.array([Evil()], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    path = tmp_path / "evil.npz"
    path.write_bytes(buffer.getvalue())
    for backend in runtime_py.BACKENDS:
        with pytest.raises(runtime_py.ModelFormatError, match="dtype"):
            runtime_py.load(path, backend=backend)
    assert not marker.exists()


def test_huge_declared_shape_fails_fast_and_small(seeds, tmp_path):
    """A 200000 x 200000 kernel with little data is refused before anything large is allocated."""
    import tracemalloc

    manifest = json.loads(seeds[".json"])
    node = next(n for n in manifest["nodes"] if n["op"] == "dense")
    node["weights"]["kernel"]["shape"] = [200000, 200000]
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(manifest))
    tracemalloc.start()
    with pytest.raises(runtime_py.ModelFormatError, match=r"kernel.shape \(200000, 200000\) holds 40,000,000,000 floats"):
        runtime_py.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2 ** 20


def test_zip_bomb_member_sizes_are_checked_before_reading(seeds, tmp_path):
    """A member whose .npy header declares far more data than it holds is refused from the zip directory."""
    with zipfile.ZipFile(io.BytesIO(seeds[".npz"])) as archive:
        names = archive.namelist()
        contents = {name: archive.read(name) for name in names}
    victim = next(n for n in names if n != "manifest.npy")
    header_end = contents[victim].index(b"\n") + 1
    contents[victim] = contents[victim][:header_end].replace(b"(64, 32)", b"(9999999, 32)")
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, contents[name])
    with pytest.raises(runtime_py.ModelFormatError):
        runtime_py.load(path)


@pytest.fixture(scope="module")
def keras_files(zoo):
    return {suffix: zoo.saved("digits", suffix[1:]).read_bytes() for suffix in (".h5", ".keras")}


@FUZZ
@given(data=st.data())
def test_exporter_file_reading(keras_files, tmp_path_factory, data):
    """Mutated .h5/.keras files: the exporter's own reading either passes or raises ExportError."""
    from exporter.config_scan import check_config, read_config
    from exporter.errors import ExportError

    suffix = data.draw(st.sampled_from([".h5", ".keras"]))
    blob = bytearray(keras_files[suffix])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if data.draw(st.booleans()) and blob:
            blob[position] ^= 1 << data.draw(st.integers(0, 7))
        else:
            del blob[position:position + data.draw(st.integers(1, 4096))]
    path = tmp_path_factory.mktemp("fuzz") / f"m{suffix}"
    path.write_bytes(bytes(blob))
    try:
        check_config(read_config(path), path)
    except ExportError:
        pass


HOSTILE_SHAPES = (st.lists(st.integers(1, 10 ** 12), max_size=12) | st.lists(st.just(1), min_size=9, max_size=120)
                  | st.lists(st.integers(2 ** 20, 2 ** 26), min_size=1, max_size=2))
HOSTILE_NUMBERS = st.integers(2 ** 53, 10 ** 400) | st.integers(-(10 ** 400), -(2 ** 53)) | st.integers(0, 2 ** 40)


@FUZZ
@given(data=st.data())
def test_declared_sizes_and_numbers_beyond_the_limits_fail_small(seeds, tmp_path_factory, data):
    """Shapes of any rank and size, numbers of any magnitude (runtime_py.limits): ModelFormatError, and the
    declared sizes are never allocated: the peak stays a small multiple of the file."""
    import tracemalloc

    manifest = json.loads(seeds[".json"])
    for _ in range(data.draw(st.integers(1, 3))):
        shapes = [p for p in _paths(manifest) if p and p[-1] == "shape"]
        numbers = [p for p in _paths(manifest) if p and _leaf(manifest, p) is not None
                   and type(_leaf(manifest, p)) in (int, float)]
        path = data.draw(st.sampled_from(shapes + numbers))
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(HOSTILE_SHAPES if path[-1] == "shape" else HOSTILE_NUMBERS)
    blob = json.dumps(manifest).encode()
    tracemalloc.start()
    try:
        _load_or_format_error(blob, ".json", tmp_path_factory)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(blob) + 16 * 2 ** 20


def _leaf(value, path):
    for key in path:
        value = value[key]
    return value if not isinstance(value, (dict, list)) else None
