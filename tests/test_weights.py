"""Smaller weights: export-model --weights float16|int8 (exporter/quantize.py, docs/format.md "Stored kernels").

The stored values follow the documented rules (checked here with numpy, independently of the
exporter's code); runtime_py (both backends) and the C header compute the same bits from them;
every runtime's self-check holds against the quantized model's own float reference; and the
export summary reports the cost against Keras's float model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runtime_py
from cbuild import build, run, run_rows
from test_c_header import driver_source, model_arity, output_shapes

ROOT = Path(__file__).resolve().parent.parent
STORAGES = ("float16", "int8")
DIGITS = ROOT / "examples" / "digits.keras"
HOLDOUT = ROOT / "examples" / "digits_holdout.csv"


def relu_no_bias(keras):
    """Dense + ReLU without biases (and a separate Activation layer): every operation exactly rounded."""
    L = keras.layers
    keras.utils.set_random_seed(9)
    return keras.Sequential([keras.Input((12,)), L.Dense(16, use_bias=False, activation="relu"),
                             L.Dense(8, use_bias=False), L.Activation("relu"), L.Dense(3, use_bias=False)],
                            name="relu_no_bias")


@pytest.fixture(scope="module")
def exports(zoo, keras, tmp_path_factory):
    """(model, storage) -> {suffix: path}: the regressor and relu_no_bias (Dense + ReLU only) and digits."""
    from exporter.export import export

    directory = tmp_path_factory.mktemp("weights")
    saved = {name: zoo.saved(name, "keras") for name in ("regressor", "digits")}
    saved["relu_no_bias"] = directory / "relu_no_bias.keras"
    relu_no_bias(keras).save(saved["relu_no_bias"])
    found = {}
    for name, source in saved.items():
        for storage in STORAGES:
            paths = {suffix: directory / f"{name}-{storage}{suffix}" for suffix in (".json", ".npz", ".h")}
            export(source, list(paths.values()), name=name, weights=storage)
            found[name, storage] = paths
    return found


def manifest(path: Path) -> dict:
    return json.loads(path.read_text())


def decode_array(desc) -> np.ndarray:
    import base64

    dtype = {"float32": "<f4", "float16": "<f2", "int8": "i1"}[desc["dtype"]]
    return np.frombuffer(base64.b64decode(desc["data"]), dtype=dtype).reshape(desc["shape"])


def dense_nodes(document) -> list:
    return [node for node in document["nodes"] if node["op"] == "dense"]


@pytest.mark.parametrize("name", ["regressor", "digits"])
def test_int8_is_symmetric_per_output_unit(zoo, exports, name):
    """q in -127..127, scale = max |w| / 127 per output unit, and w within half a step of q * scale."""
    document = manifest(exports[name, "int8"][".json"])
    assert document["weight_storage"] == "int8"
    kernels = [layer.get_weights()[0] for layer in zoo.model(name).layers if layer.__class__.__name__ == "Dense"]
    nodes = dense_nodes(document)
    assert len(nodes) == len(kernels)
    for node, kernel in zip(nodes, kernels):
        q, scale = decode_array(node["weights"]["kernel"]), decode_array(node["weights"]["kernel_scale"])
        assert node["weights"]["kernel"]["dtype"] == "int8" and q.shape == kernel.shape
        assert np.abs(q.astype(int)).max() <= 127 and (np.abs(q.astype(int)).max(axis=0) == 127).all()
        np.testing.assert_allclose(scale, np.abs(kernel).max(axis=0) / 127, rtol=1e-6)
        decoded = q.astype(np.float32) * scale
        assert (np.abs(decoded - kernel) <= scale / 2 * (1 + 1e-6)).all()
        assert node["weights"]["bias"]["dtype"] == "float32"


def test_float16_is_ieee_binary16(zoo, exports):
    document = manifest(exports["regressor", "float16"][".json"])
    kernels = [layer.get_weights()[0] for layer in zoo.model("regressor").layers]
    for node, kernel in zip(dense_nodes(document), kernels):
        stored = decode_array(node["weights"]["kernel"])
        assert stored.dtype == np.float16
        assert stored.view(np.uint16).tobytes() == kernel.astype(np.float16).view(np.uint16).tobytes()


@pytest.mark.parametrize("storage", STORAGES)
def test_stored_weights_are_smaller(zoo, exports, storage):
    """The kernels take 1 or 2 bytes a weight in the model files; the header's arrays are counted the same way."""
    float_bytes = 4 * zoo.model("digits").count_params()
    header = exports["digits", storage][".h"].read_text()
    stored = int(header.split("#define digits_WEIGHT_BYTES ")[1].split()[0])
    assert stored <= (0.3 if storage == "int8" else 0.55) * float_bytes
    document = manifest(exports["digits", storage][".json"])
    in_file = sum(decode_array(d).nbytes for node in document["nodes"] for d in node["weights"].values())
    assert in_file == stored


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("storage", STORAGES)
def test_runtime_verifies_quantized_files(exports, storage, suffix):
    for name in ("regressor", "digits", "relu_no_bias"):
        for backend in ("python", "numpy"):
            assert runtime_py.load(exports[name, storage][suffix], backend=backend).verify() >= 0


def host_driver(exports, zoo, name, storage, directory) -> Path:
    header = exports[name, storage][".h"]
    source = directory / f"{name}-{storage}.c"
    source.write_text(driver_source(header.name, name, *model_arity(zoo, name)))
    return build([source], directory / f"{name}-{storage}", include=[header.parent])


@pytest.mark.parametrize("name", ["regressor", "relu_no_bias"])
@pytest.mark.parametrize("storage", STORAGES)
def test_python_and_c_compute_the_same_bits(exports, tmp_path, name, storage):
    """Dense + ReLU only, so every operation is exactly rounded: both backends give the header's bits.

    (Through sigmoid, tanh or softmax the bits follow each libm's expf, as for float32 models.)"""
    header = exports[name, storage][".h"]
    source = tmp_path / f"{name}.c"
    n_in = {"regressor": 33, "relu_no_bias": 12}[name]
    n_out = {"regressor": 1, "relu_no_bias": 3}[name]
    source.write_text(driver_source(header.name, name, 1, 1))
    exe = build([source], tmp_path / name, include=[header.parent])
    rows = [(3.0 * np.random.default_rng(11).standard_normal((24, n_in))).astype(np.float32)]
    c_out = run_rows(exe, [], rows, [(n_out,)])[0]
    assert run(exe, "selftest").returncode == 0
    for backend in ("python", "numpy"):
        model = runtime_py.load(exports[name, storage][".npz"], backend=backend)
        ours = np.asarray(model.predict(rows[0]), dtype=np.float32).reshape(c_out.shape)
        differ = ours.view(np.uint32) != np.ascontiguousarray(c_out).view(np.uint32)
        assert not differ.any(), f"{backend}: {differ.sum()} values differ from the header's, by up to " \
                                 f"{np.abs(ours - c_out).max():.3g}"


@pytest.mark.parametrize("storage", STORAGES)
def test_header_selftest_checks_the_quantized_model(zoo, exports, tmp_path, storage):
    """The embedded vectors are the quantized model's outputs: the selftest passes, and fails for a float32 kernel."""
    exe = host_driver(exports, zoo, "digits", storage, tmp_path)
    failures, err = run(exe, "selftest").stdout.split()
    assert int(failures) == 0 and float(err) < 1e-5
    # The same vectors against Keras's float model: the int8 model is measurably elsewhere.
    document = manifest(exports["digits", storage][".json"])
    assert document["producer"]["reference"] == "dequantized"
    vector = document["test_vectors"][0]
    keras_out = zoo.keras_predict("digits", [decode_array(vector["inputs"][0])])[0]
    assert np.abs(decode_array(vector["outputs"][0]) - keras_out).max() > 1e-5


def test_half_decoding_in_c_is_exact_for_every_bit_pattern(tmp_path):
    """kl_half_to_float gives numpy's float16 -> float32 value for all 65,536 patterns (NaNs: a NaN)."""
    source = tmp_path / "half.c"
    source.write_text(f"""\
#include <stdio.h>
#include "{ROOT / 'runtime_c' / 'dense.h'}"
int main(void)
{{
    for (unsigned int h = 0; h < 65536u; h++) {{
        const float value = kl_half_to_float(h);
        fwrite(&value, sizeof value, 1, stdout);
    }}
    return 0;
}}
""")
    exe = build([source], tmp_path / "half")
    got = np.frombuffer(run(exe).stdout, dtype="<f4")
    want = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    assert (np.isnan(got) == nan).all()
    assert (got[~nan].view(np.uint32) == want[~nan].view(np.uint32)).all()


def test_in_order_kernels_are_exactly_rounded_fmaf():
    """The runtimes' fmaf against the C library's (glibc: exactly rounded), hard halfway cases included."""
    import ctypes
    from array import array

    from runtime_py import kernels_numpy, kernels_python

    libm = ctypes.CDLL("libm.so.6")
    libm.fmaf.restype = ctypes.c_float
    libm.fmaf.argtypes = [ctypes.c_float] * 3
    rng = np.random.default_rng(3)
    n = 20000
    x = rng.standard_normal(n).astype(np.float32)
    w = rng.standard_normal(n).astype(np.float32)
    s = (rng.standard_normal(n) * np.exp2(rng.integers(-30, 30, n))).astype(np.float32)
    # 1 + 2^-24 + 2^-60: just above a halfway point, where rounding through double goes wrong
    x[:4], w[:4], s[:4] = 1 + 2 ** -12, np.float32(2 ** -24 * (1 - 2 ** -12 + 2 ** -24)), 1.0
    want = np.array([libm.fmaf(a, b, c) for a, b, c in zip(x.tolist(), w.tolist(), s.tolist())], dtype=np.float32)
    assert want[0] == np.float32(1 + 2 ** -23)
    by_numpy = kernels_numpy._fmaf(x, w, s)
    by_python = np.array(array("f", map(kernels_python._fmaf, x.tolist(), w.tolist(), s.tolist())), dtype=np.float32)
    assert (by_numpy.view(np.uint32) == want.view(np.uint32)).all()
    assert (by_python.view(np.uint32) == want.view(np.uint32)).all()


# ---- the model file -----------------------------------------------------------------------------


def test_only_a_dense_kernel_may_be_stored_smaller(exports, tmp_path):
    import base64

    from runtime_py.errors import ModelFormatError

    document = manifest(exports["regressor", "int8"][".json"])
    node = dense_nodes(document)[0]
    broken = json.loads(json.dumps(document))
    broken.pop("weights_sha256")
    units = node["weights"]["bias"]["shape"]
    broken["nodes"][0]["weights"]["bias"] = {"dtype": "int8", "shape": units,
                                             "data": base64.b64encode(bytes(units[0])).decode("ascii")}
    path = tmp_path / "bias.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ModelFormatError, match="weight 'bias' is int8"):
        runtime_py.load(path)
    no_scale = json.loads(json.dumps(document))
    no_scale.pop("weights_sha256")
    del no_scale["nodes"][0]["weights"]["kernel_scale"]
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(no_scale))
    with pytest.raises(ModelFormatError, match="kernel_scale"):
        runtime_py.load(path)


def test_weights_hash_covers_the_stored_bytes(exports, tmp_path):
    from runtime_py.errors import ModelFormatError

    document = manifest(exports["regressor", "int8"][".json"])
    kernel = document["nodes"][0]["weights"]["kernel"]
    q = decode_array(kernel).copy()
    q.flat[0] = -q.flat[0] if q.flat[0] else 1
    import base64

    kernel["data"] = base64.b64encode(q.tobytes()).decode("ascii")
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFormatError, match="weights_sha256"):
        runtime_py.load(path)


# ---- the command line -----------------------------------------------------------------------------


def export_model(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    """examples/digits_holdout.csv as X.npy (100, 8, 8) and y.npy (100,)."""
    table = np.loadtxt(HOLDOUT, delimiter=",", skiprows=1)
    directory = tmp_path_factory.mktemp("holdout")
    np.save(directory / "x.npy", table[:, 1:].reshape(-1, 8, 8).astype(np.float32))
    np.save(directory / "y.npy", table[:, 0].astype(np.int64))
    return directory / "x.npy", directory / "y.npy"


def test_summary_reports_the_cost_against_keras(tmp_path, holdout):
    x, y = holdout
    done = export_model(DIGITS, "-o", tmp_path / "d.h", "--weights", "int8", "--check-data", x, "--check-labels", y)
    assert done.returncode == 0, done.stderr
    line = next(text for text in done.stdout.splitlines() if text.startswith("int8 weights:"))
    assert "Keras's float32 model" in line and "0.2" in line.split("(")[1]
    check = next(text for text in done.stdout.splitlines() if text.startswith("--check-data"))
    unchanged = float(check.split("argmax unchanged on ")[1].split("%")[0])
    assert unchanged >= 99.0, check  # the target on the held-back digits
    assert "accuracy" in check


@pytest.mark.parametrize("args, message", [
    (["--check-data", "x.npy"], "give --weights too"),
    (["--weights", "int8", "--check-labels", "y.npy"], "needs --check-data"),
    (["--weights", "int8", "--gradients"], "float32 weights"),
    (["--weights", "int4"], "invalid choice"),
])
def test_bad_weight_options_are_one_error_line(tmp_path, args, message):
    done = export_model(DIGITS, "-o", tmp_path / "d.h", *args)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "d.h").exists()


@pytest.mark.parametrize("storage", STORAGES)
def test_tiny_weights_round_to_zero_under_any_numpy_error_state(keras, tmp_path, storage):
    """A weight below float16's subnormals (or far below its column's int8 step) rounds to 0 as IEEE says,
    also when the caller has numpy raising on underflow (np.seterr(all="raise"), as some libraries set it)."""
    from exporter.export import export

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    kernel = np.array([[1e-12, 0.5], [2.0, 1e-30], [-0.25, 3e-8]], np.float32)
    model.layers[0].set_weights([kernel, np.zeros(2, np.float32)])
    source = tmp_path / "tiny.keras"
    model.save(source)
    target = tmp_path / f"tiny-{storage}.json"
    with np.errstate(all="raise"):
        export(source, [target], name="tiny", weights=storage)
    stored = decode_array(dense_nodes(manifest(target))[0]["weights"]["kernel"])
    if storage == "float16":
        with np.errstate(under="ignore"):
            want = kernel.astype(np.float16)
        assert stored.view(np.uint16).tobytes() == want.view(np.uint16).tobytes()
        assert stored[0, 0] == 0 and stored[1, 1] == 0
    else:
        assert stored[0, 0] == 0 and stored[1, 1] == 0 and stored[2, 1] == 0
    runtime_py.load(target).verify()
