"""Model file format v1: exact float32 weights through JSON and NPZ, NPZ readable without pickle."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import runtime_py
from exporter.graph import build_graph
from exporter.model_file import to_json, to_npz
from parity import assert_parity
from runtime_py.model_file import read_model_file

SPECIAL = np.array([0.0, -0.0, 1e-45, -1e-45, 1.17e-38, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan,
                    0.1, -2.5, 1 / 3], dtype=np.float32)


def _special_kernel(shape, seed):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(np.float32).ravel()
    special = np.concatenate([SPECIAL, np.array([0x7FC12345, 0xFFC00001], dtype=np.uint32).view(np.float32)])
    count = min(len(special), values.size)  # NaN with a payload, negative NaN: they must survive too
    values[:count] = special[:count]
    return values.reshape(shape)


@pytest.fixture(scope="module")
def special_model(keras):
    """A model whose weights hold -0.0, subnormals, extremes, inf and NaN."""
    from zoo import build_model

    model = build_model(keras, "regressor")
    for k, layer in enumerate(model.layers):
        kernel, bias = layer.get_weights()
        layer.set_weights([_special_kernel(kernel.shape, k), _special_kernel(bias.shape, k + 10)])
    return model


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_weights_round_trip_bit_for_bit(special_model, keras, tmp_path, suffix):
    from exporter.frontend_keras import _collect_weights

    config = json.loads(json.dumps(keras.saving.serialize_keras_object(special_model)))
    weights = {}
    _collect_weights(special_model, (), weights)
    graph = build_graph(config, lambda path: weights.get(path, []), "special")
    writer = {".json": to_json, ".npz": to_npz}[suffix]
    path = tmp_path / f"special{suffix}"
    path.write_bytes(writer(graph, [], {"keras_version": keras.__version__}))
    spec = read_model_file(path)
    dense_nodes = [n for n in spec["nodes"] if n["op"] == "dense"]
    keras_layers = [layer for layer in special_model.layers if layer.get_weights()]
    assert len(dense_nodes) == len(keras_layers) == 3
    for node, layer in zip(dense_nodes, keras_layers):
        for raw, original in zip((node["weights"]["kernel"], node["weights"]["bias"]), layer.get_weights()):
            restored = np.frombuffer(raw.data, dtype="<f4").reshape(raw.shape)
            assert restored.tobytes() == np.ascontiguousarray(original, dtype="<f4").tobytes()
    # Both backends load weights from the same bytes.
    for backend in runtime_py.BACKENDS:
        runtime_py.load(path, backend=backend)


def test_npz_loads_with_numpy_without_pickle(zoo):
    path = zoo.exported("digits", "h5", ".npz")
    with np.load(path, allow_pickle=False) as archive:
        manifest = json.loads(archive["manifest"].tobytes().decode("utf-8"))
        assert manifest["format"] == "kerasless" and manifest["format_version"] == 1
        node = next(n for n in manifest["nodes"] if n["op"] == "dense")
        kernel = archive[node["weights"]["kernel"]["member"]]
        assert kernel.dtype == np.float32 and list(kernel.shape) == node["weights"]["kernel"]["shape"]
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_json_and_npz_carry_the_same_model(zoo):
    a = read_model_file(zoo.exported("mnist", "keras", ".json"))
    b = read_model_file(zoo.exported("mnist", "keras", ".npz"))
    assert a == b


def test_manifest_documents_producer_and_vectors(zoo, keras):
    manifest = json.loads(zoo.exported("digits", "keras", ".json").read_text())
    assert manifest["producer"]["name"] == "kerasless"
    assert manifest["producer"]["keras_version"] == keras.__version__
    assert manifest["inputs"] == [{"name": "input_layer", "shape": [8, 8]}] or manifest["inputs"][0]["shape"] == [8, 8]
    assert len(manifest["test_vectors"]) >= 3
    extreme = manifest["test_vectors"][-1]["inputs"][0]
    assert extreme["shape"][1:] == [8, 8]
    values = np.frombuffer(__import__("base64").b64decode(extreme["data"]), dtype="<f4")
    assert np.abs(values).max() >= 1e4 and (values == 0).sum() >= 64


def test_test_vectors_hold_what_keras_predicted(zoo):
    """Each embedded row holds what Keras's predict gives for that row alone, bit for bit.

    Predicted together, Keras's rows differ by an ulp or so (oneDNN picks kernels by batch size):
    the parity judge, not bit equality, is what holds between batch sizes.
    """
    spec = read_model_file(zoo.exported("no_bias", "h5", ".json"))
    model = zoo.model("no_bias")
    for vector in spec["test_vectors"]:
        x = np.frombuffer(vector["inputs"][0].data, dtype="<f4").reshape(vector["inputs"][0].shape)
        y = np.frombuffer(vector["outputs"][0].data, dtype="<f4").reshape(vector["outputs"][0].shape)
        for row in range(len(x)):
            np.testing.assert_array_equal(model.predict(x[row:row + 1], verbose=0), y[row:row + 1])
        assert_parity(model.predict(x, verbose=0), y, "the same rows predicted as one batch")


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_vectors_carry_float64_outputs_from_keras(zoo, suffix):
    """outputs64: float64 arrays of the outputs' shapes, close to Keras's float32 outputs, not equal to them."""
    path = zoo.exported("regressor", "keras", suffix)
    spec = read_model_file(path)
    assert spec["producer"]["reference_keras"].startswith("keras 3")
    for vector in spec["test_vectors"]:
        (exact,), (single,) = vector["outputs64"], vector["outputs"]
        assert exact.dtype == "float64" and exact.shape == single.shape
        values64 = np.frombuffer(exact.data, dtype="<f8")
        values32 = np.frombuffer(single.data, dtype="<f4")
        np.testing.assert_allclose(values64, values32, rtol=1e-4, atol=1e-4)
    # a float64 computation, not Keras's float32 outputs widened
    assert any(np.any(np.frombuffer(v["outputs64"][0].data, "<f8") != np.frombuffer(v["outputs"][0].data, "<f4"))
               for v in spec["test_vectors"])
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            manifest = json.loads(archive["manifest"].tobytes().decode("utf-8"))
            member = manifest["test_vectors"][0]["outputs64"][0]["member"]
            assert archive[member].dtype == np.float64


def test_files_without_float64_outputs_still_load_and_verify(zoo, tmp_path):
    manifest = json.loads(zoo.exported("digits", "keras", ".json").read_text())
    for vector in manifest["test_vectors"]:
        del vector["outputs64"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(manifest))
    for backend in runtime_py.BACKENDS:
        model = runtime_py.load(path, backend=backend)
        model.verify()
        assert not any(r.float64 for r in model.verify_report())


def test_float64_outputs_must_be_float64(zoo, tmp_path):
    manifest = json.loads(zoo.exported("digits", "keras", ".json").read_text())
    manifest["test_vectors"][0]["outputs64"] = manifest["test_vectors"][0]["outputs"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(runtime_py.ModelFormatError, match="outputs64.*float64"):
        runtime_py.load(path)
