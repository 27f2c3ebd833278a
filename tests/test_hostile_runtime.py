"""runtime_py against hand-crafted files: limits before memory, one exception type, pinned files, input values.

The files are small kerasless model files built from IR and then edited as an attacker would;
every case raises ModelFormatError at load (or VerificationError / TypeError where SECURITY.md
says so), fast and without allocating what the file declares.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import runtime_py
from exporter.ir import Graph, Node, TensorSpec
from runtime_py import limits


def _graph():
    rng = np.random.default_rng(7)
    nodes = [Node("d", "dense", ["x"], (3,), {"activation": {"name": "tanh"}},
                  {"kernel": rng.standard_normal((4, 3)).astype(np.float32),
                   "bias": rng.standard_normal(3).astype(np.float32)}, "d", "Dense")]
    return Graph("m", [TensorSpec("x", (4,))], [TensorSpec("d", (3,))], nodes)


@pytest.fixture(scope="module")
def manifest():
    """A valid JSON model file with test vectors, as a dict to edit."""
    from exporter.frontend_files import reference_predict
    from exporter.model_file import to_json
    from exporter.test_vectors import make_test_vectors

    graph = _graph()
    return json.loads(to_json(graph, make_test_vectors(graph, reference_predict(graph)), {"source": "test"}))


def _f32(shape, value=0.0):
    count = int(np.prod(shape, dtype=np.int64))
    return {"dtype": "float32", "shape": list(shape),
            "data": base64.b64encode(np.full(count, value, "<f4").tobytes()).decode()}


# ---- item 2: sizes before memory --------------------------------------------------------------------


def _transposed_huge_input():
    """The issue's 465-byte file: a declared 100000 x 100000 input, permuted (no weights at all)."""
    return {"format": "kerasless", "format_version": 1, "name": "t",
            "inputs": [{"name": "x", "shape": [100000, 100000]}], "outputs": [{"name": "p", "shape": [100000, 100000]}],
            "nodes": [{"name": "p", "op": "transpose", "inputs": ["x"], "shape": [100000, 100000],
                       "attrs": {"perm": [1, 0]}, "weights": {}}]}


def _rank70_input():
    shape = [1] * 70
    return {"format": "kerasless", "format_version": 1, "name": "r", "inputs": [{"name": "x", "shape": shape}],
            "outputs": [{"name": "y", "shape": shape}],
            "nodes": [{"name": "y", "op": "reshape", "inputs": ["x"], "shape": shape, "attrs": {}, "weights": {}}]}


def _huge_repeat():
    return {"format": "kerasless", "format_version": 1, "name": "r", "inputs": [{"name": "x", "shape": [4]}],
            "outputs": [{"name": "y", "shape": [10 ** 9, 4]}],
            "nodes": [{"name": "y", "op": "repeat", "inputs": ["x"], "shape": [10 ** 9, 4], "attrs": {"n": 10 ** 9},
                       "weights": {}}]}


def _too_many_nodes():
    nodes = [{"name": f"r{k}", "op": "reshape", "inputs": [f"r{k - 1}" if k else "x"], "shape": [4], "attrs": {},
              "weights": {}} for k in range(limits.MAX_NODES + 1)]
    return {"format": "kerasless", "format_version": 1, "name": "n", "inputs": [{"name": "x", "shape": [4]}],
            "outputs": [{"name": f"r{limits.MAX_NODES}", "shape": [4]}], "nodes": nodes}


@pytest.mark.parametrize("make, message", [
    (_transposed_huge_input, "inputs\\[0\\].shape \\(100000, 100000\\) holds 10,000,000,000 floats"),
    (_rank70_input, "has rank 70"),
    (_huge_repeat, "nodes\\[0\\] \\('y'\\).shape \\(1000000000, 4\\) holds 4,000,000,000 floats"),
    (_too_many_nodes, "20,001 nodes, more than the 20,000"),
])
@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_declared_sizes_beyond_the_limits_fail_before_allocating(make, message, backend):
    data = json.dumps(make()).encode()
    tracemalloc.start()
    try:
        with pytest.raises(runtime_py.ModelFormatError, match=message):
            runtime_py.loads(data, backend=backend)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * len(data) + 2 ** 20  # the parsed JSON, nothing of the declared sizes


def test_weight_and_test_vector_totals_are_limited(manifest, monkeypatch):
    """The totals over a model are checked as the declared shapes are read, before data is decoded."""
    monkeypatch.setattr(limits, "MAX_WEIGHT_FLOATS", 10)
    with pytest.raises(runtime_py.ModelFormatError, match="weights hold more than 10 floats"):
        runtime_py.loads(json.dumps(manifest).encode())
    monkeypatch.undo()
    monkeypatch.setattr(limits, "MAX_TEST_FLOATS", 10)
    with pytest.raises(runtime_py.ModelFormatError, match="test vectors hold more than 10 floats"):
        runtime_py.loads(json.dumps(manifest).encode())


# ---- item 4: every malformed file raises ModelFormatError at load, naming node and field ---------------


def _edit(manifest, change):
    edited = copy.deepcopy(manifest)
    change(edited)
    return json.dumps(edited).encode()


EDITS = {
    "empty input shape": (lambda m: m["inputs"][0].update(shape=[]), "inputs\\[0\\].shape: a tensor shape"),
    "empty node shape": (lambda m: m["nodes"][0].update(shape=[]), "nodes\\[0\\].shape: a tensor shape"),
    "rank-70 weight": (lambda m: m["nodes"][0]["weights"].update(kernel=_f32([1] * 70)),
                       "nodes\\[0\\] \\('d'\\).weights.kernel.shape .* has rank 70"),
    "401-digit parameter": (lambda m: m["nodes"][0]["attrs"].update(
        activation={"name": "leaky_relu", "negative_slope": 10 ** 400}),
        "nodes\\[0\\] \\('d'\\).attrs.activation.negative_slope: the integer"),
    "1e400 parameter": (lambda m: m["nodes"][0]["attrs"]["activation"].update(extra=float("inf")),
                        "attrs.activation.extra: inf is not a finite number"),
    "0 test rows": (lambda m: m["test_vectors"][0].update(inputs=[_f32([0, 4])], outputs=[_f32([0, 3])]),
                    "test_vectors\\[0\\].inputs\\[0\\].shape: shape \\(0, 4\\) is not \\(rows >= 1"),
    "float format version": (lambda m: m.update(format_version=1.0), "format version 1.0 is not supported"),
    "missing nodes": (lambda m: m.pop("nodes"), "required key\\(s\\) nodes missing"),
    "unknown attribute": (lambda m: m["nodes"][0]["attrs"].update(axis=1),
                          "'d' \\(dense\\): unknown attribute\\(s\\) 'axis'; dense takes 'activation'"),
    "missing attribute": (lambda m: m["nodes"][0]["attrs"].pop("activation"), "missing attribute 'activation'"),
    "unknown activation parameter": (lambda m: m["nodes"][0]["attrs"]["activation"].update(alpha=1.0),
                                     "activation 'tanh' has unknown parameter\\(s\\) 'alpha'; it takes none"),
    "unknown weight": (lambda m: m["nodes"][0]["weights"].update(gamma=_f32([3])), "unexpected weight 'gamma'"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_malformed_files_raise_model_format_error_at_load(manifest, case, backend):
    change, message = EDITS[case]
    data = _edit(manifest, change)
    if case == "1e400 parameter":
        data = data.replace(b"Infinity", b"1e400")  # json.dumps spells inf that way; a file says 1e400
    with pytest.raises(runtime_py.ModelFormatError, match=message):
        runtime_py.loads(data, backend=backend)


# ---- item 5: nothing to verify, and pinning the exact file -------------------------------------------


def test_verify_with_nothing_to_verify_raises(manifest):
    """An edited bias in a file stripped of weights_sha256 and test vectors loads, but verify() says so."""
    def strip(m):
        m.pop("weights_sha256")
        m.pop("test_vectors")
        m["nodes"][0]["weights"]["bias"] = _f32([3], 5.0)

    model = runtime_py.loads(_edit(manifest, strip))
    with pytest.raises(runtime_py.VerificationError, match="no test vectors, so nothing can be verified"):
        model.verify()


def test_a_pinned_sha256_detects_any_change(manifest, tmp_path):
    path = tmp_path / "m.json"
    data = json.dumps(manifest).encode()
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert runtime_py.load(path, sha256=digest).verify() >= 0.0
    assert runtime_py.load(path, sha256=digest.upper()).name == "m"
    assert runtime_py.loads(data, sha256=digest).name == "m"
    path.write_bytes(data.replace(b'"name": "m"', b'"name": "n"'))
    with pytest.raises(runtime_py.ModelFormatError, match="not the pinned file"):
        runtime_py.load(path, sha256=digest)
    with pytest.raises(ValueError, match="64 hex digits"):
        runtime_py.load(path, sha256="abc")


# ---- item 6: special files and the size read -----------------------------------------------------------


def test_special_files_are_refused_without_reading_or_blocking(tmp_path):
    """A symlink to /dev/zero, a FIFO with no writer, a directory: refused at once (in a child with a timeout)."""
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    script = textwrap.dedent(f"""
        import runtime_py
        for path in ({str(zero)!r}, {str(fifo)!r}, {str(tmp_path)!r}):
            try:
                runtime_py.load(path)
            except runtime_py.ModelFormatError as exc:
                print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 3, done.stderr
    assert "is not a regular file" in lines[0] and "is not a regular file" in lines[1]
    assert "is a directory" in lines[2]


def test_the_bytes_read_are_capped(manifest, tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(json.dumps(manifest).encode())
    size = path.stat().st_size
    assert runtime_py.load(path, max_bytes=size).name == "m"
    with pytest.raises(runtime_py.ModelFormatError, match=f"is {size:,} bytes, more than the {size - 1:,}"):
        runtime_py.load(path, max_bytes=size - 1)


# ---- item 8: input values ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
@pytest.mark.parametrize("bad, position, shown", [
    ([[1, None, 3, 4]], "[1]", "None"), ([[1, "1.5", 3, 4]], "[1]", "'1.5'"), ([[1, 2, "1_0", 4]], "[2]", "'1_0'"),
    ([[1, 2, 3, " 2 "]], "[3]", "' 2 '"), ([[b"1", 2, 3, 4]], "[0]", "b'1'"), ([[1, 2, 3, 4], [1, 2, 3, 1j]], "[3]", "1j"),
])
def test_non_numeric_values_raise_type_error_naming_the_position(manifest, backend, bad, position, shown):
    model = runtime_py.loads(json.dumps(manifest).encode(), backend=backend)
    with pytest.raises(TypeError, match=re.escape(f"position {position}: {shown} is not a number")):
        model.predict(bad)


@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_numeric_arrays_and_plain_numbers_stay_accepted(manifest, backend):
    model = runtime_py.loads(json.dumps(manifest).encode(), backend=backend)
    expected = np.asarray(model.predict(np.array([[1, 2, 3, 4]], dtype=np.float32)))
    for good in (np.array([[1, 2, 3, 4]], dtype=np.int64), np.array([[1, 2, 3, 4]], dtype=np.float64),
                 [[1, 2.0, np.float32(3), np.int8(4)]], [[True, 2, 3, 4]]):
        assert np.array_equal(np.asarray(model.predict(good), dtype=np.float32), expected), good
    with pytest.raises(TypeError, match="dtype <U1 is not numeric"):
        model.predict(np.array([["1", "2", "3", "4"]]))


# ---- item 10: peak memory a small multiple of the declared weight bytes -----------------------------------

MEMORY_CHILD = """
import resource, sys
import numpy, runtime_py
path, backend, weight_bytes, factor = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def vm_bytes():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
limit = vm_bytes() + factor * weight_bytes + 64 * 2 ** 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    model = runtime_py.load(path, backend=backend)
    model.predict([[0.5] * model.inputs[0].shape[0]])
    print("loaded")
except runtime_py.ModelFormatError as exc:
    print("refused", exc)
"""


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    """A 2048 x 2048 dense layer (16 MiB of weights) as JSON and NPZ."""
    from exporter.model_file import to_json, to_npz

    n = 2048
    rng = np.random.default_rng(1)
    weights = {"kernel": rng.standard_normal((n, n)).astype(np.float32), "bias": np.zeros(n, np.float32)}
    graph = Graph("big", [TensorSpec("x", (n,))], [TensorSpec("d", (n,))],
                  [Node("d", "dense", ["x"], (n,), {"activation": {"name": "linear"}}, weights, "d", "Dense")])
    directory = tmp_path_factory.mktemp("big")
    (directory / "big.json").write_bytes(to_json(graph, [], {}))
    (directory / "big.npz").write_bytes(to_npz(graph, [], {}))
    return directory, 4 * (n * n + n)


def _child(path, backend, weight_bytes, factor):
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(path), backend, str(weight_bytes), str(factor)],
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout.strip(), done.stderr[-2000:]


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_loading_needs_a_small_multiple_of_the_weight_bytes(big_files, suffix, backend):
    """Address space limited to what the process had plus 8 x the weight bytes (and 64 MiB of slack)."""
    directory, weight_bytes = big_files
    code, out, err = _child(directory / f"big{suffix}", backend, weight_bytes, 8)
    assert code == 0 and out == "loaded", err


def test_a_zip_bomb_kernel_is_refused_in_little_memory(tmp_path):
    """A 261 KB NPZ whose member inflates to a 256 MiB kernel: refused from its declared shape."""
    import zipfile

    n = 8192
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, n)
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    manifest = {"format": "kerasless", "format_version": 1, "name": "bomb", "inputs": [{"name": "x", "shape": [n]}],
                "outputs": [{"name": "d", "shape": [n]}],
                "nodes": [{"name": "d", "op": "dense", "inputs": ["x"], "shape": [n],
                           "attrs": {"activation": {"name": "linear"}},
                           "weights": {"kernel": {"dtype": "float32", "shape": [n, n], "member": "k"}}}]}
    text = json.dumps(manifest).encode()
    manifest_header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % len(text)
    manifest_header = manifest_header + " " * (63 - (len(manifest_header) + 10) % 64) + "\n"
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.npy", b"\x93NUMPY\x01\x00" + len(manifest_header).to_bytes(2, "little")
                         + manifest_header.encode() + text)
        with archive.open("k.npy", "w", force_zip64=True) as member:
            member.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
            zeros = bytes(2 ** 24)
            for _ in range(16):
                member.write(zeros)
    assert path.stat().st_size < 400_000
    for backend in runtime_py.BACKENDS:
        code, out, err = _child(path, backend, 4 * n * n // 64, 1)  # a quarter of the kernel's size in all
        assert code == 0 and out.startswith("refused") and "67,108,864 floats" in out, (out, err)
