"""Files written by Keras 2 (tf_keras 2.21): exported by the files front-end, they compute what Keras 2 computed.

The fixtures in tests/fixtures/keras2 were written by tests/fixtures/make_keras2_fixtures.py in an
environment with tf_keras, together with the outputs tf_keras's own predict gave (<name>.npz). No Keras 2
runs here: runtime_py (both backends) and the C header must reproduce those outputs within the parity
tolerance, from .h5 and from .keras.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import runtime_py
from cbuild import build
from conftest import ROOT
from exporter import frontend_files, keras2
from exporter.config_scan import read_config
from exporter.errors import ExportError
from exporter.export import export
from parity import assert_parity

FIXTURES = ROOT / "tests" / "fixtures" / "keras2"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.npz"))


def fixture(name):
    data = np.load(FIXTURES / f"{name}.npz")
    count = lambda prefix: sum(1 for key in data.files if key.startswith(prefix) and key[1:].isdigit())  # noqa: E731
    return [data[f"x{k}"] for k in range(count("x"))], [data[f"y{k}"] for k in range(count("y"))], \
        str(data["keras_version"])


def _as_list(result, outputs):
    return list(result) if outputs > 1 else [result]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each fixture exported once per container by the files front-end: (name, container) -> (json, header)."""
    directory = tmp_path_factory.mktemp("keras2")
    table = {}

    def get(name, container):
        key = (name, container)
        if key not in table:
            target = directory / f"{name}-{container}.json"
            header = directory / f"{name}_{container}.h"
            result = export(FIXTURES / f"{name}.{container}", [target, header], name=f"{name}_{container}",
                            frontend="files")
            table[key] = (target, header, result)
        return table[key]

    return get


def test_fixture_set_is_complete_and_from_keras2():
    assert set(NAMES) >= {"hard_sigmoid", "thresholded_relu", "leaky_relu", "nested_twice", "batch_norm",
                          "layer_norm", "unit_norm", "activations"}
    for name in NAMES:
        _, _, version = fixture(name)
        assert version.startswith("2."), name
        for container in ("h5", "keras"):
            path = FIXTURES / f"{name}.{container}"
            assert path.stat().st_size < 64 * 1024, f"{path.name} is not small"
            assert frontend_files.read_version(path) == version


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", NAMES)
def test_runtime_py_reproduces_keras2(exported, name, container):
    inputs, expected, _ = fixture(name)
    path, _, result = exported(name, container)
    assert result.frontend == "files" and result.keras_version.startswith("2.")
    for backend in runtime_py.BACKENDS:
        model = runtime_py.load(path, backend=backend)
        model.verify()
        got = _as_list(model.predict(inputs if len(inputs) > 1 else inputs[0]), len(expected))
        assert len(got) == len(expected)
        for k, (mine, want) in enumerate(zip(got, expected)):
            assert_parity(mine, want, f"{name}.{container} [{backend}] output {k}")


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", NAMES)
def test_c_header_reproduces_keras2(exported, tmp_path, name, container):
    from test_c_header import driver_source, predict_c

    inputs, expected, _ = fixture(name)
    _, header, _ = exported(name, container)
    (tmp_path / "driver.c").write_text(driver_source(header.name, f"{name}_{container}", len(inputs),
                                                     len(expected)))
    exe = build([tmp_path / "driver.c"], tmp_path / "driver", include=[header.parent])
    for k, (mine, want) in enumerate(zip(predict_c(exe, inputs, [e.shape[1:] for e in expected]), expected)):
        assert_parity(mine, want, f"{name}.{container} C output {k}")


def _nodes(exported, name, container="h5"):
    path, _, _ = exported(name, container)
    return json.loads(path.read_text())["nodes"]


def test_keras2_formulas_are_recorded_in_the_ir(exported):
    hard = _nodes(exported, "hard_sigmoid")
    assert "hard_sigmoid" not in json.dumps([n["attrs"] for n in hard])
    clips = [n for n in hard if n["op"] == "activation" and n["attrs"]["activation"]["name"] == "relu"]
    assert [n["attrs"]["activation"]["max_value"] for n in clips] == [1.0, 1.0]
    assert sum(n["op"] == "scale_shift" for n in hard) == 2
    thresholds = [n["attrs"]["activation"] for n in _nodes(exported, "thresholded_relu") if n["op"] == "activation"]
    assert thresholds == [{"name": "thresholded_relu", "theta": 1.0},
                          {"name": "thresholded_relu", "theta": np.float32(0.4).item()}]
    slopes = [n["attrs"]["activation"]["negative_slope"] for n in _nodes(exported, "leaky_relu")
              if n["op"] == "activation"]
    assert slopes == [np.float32(0.3).item(), np.float32(0.05).item()]
    norms = [n for n in _nodes(exported, "unit_norm") if n["op"] == "unit_norm"]
    assert len(norms) == 3 and all(n["attrs"] == {"epsilon": 1e-12, "clamp": "square_sum"} for n in norms)


def test_keras2_differences_matter_on_the_fixtures(exported):
    """The fixtures do exercise the differences: Keras 3's formulas would miss tf_keras's outputs."""
    inputs, expected, _ = fixture("hard_sigmoid")
    x = inputs[0]
    keras3 = np.clip((x + 3.0) / 6.0, 0.0, 1.0)
    keras2 = np.clip(0.2 * x + 0.5, 0.0, 1.0)
    assert np.abs(keras3 - keras2).max() > 0.05
    inputs, expected, _ = fixture("unit_norm")
    tiny = np.all(np.abs(inputs[0]) < 1e-6, axis=1) & np.any(inputs[0] != 0, axis=1)
    assert tiny.any()
    a = inputs[0][tiny]
    keras3 = a * np.minimum(1.0 / np.sqrt((a * a).sum(axis=1, keepdims=True)), 1e12)
    assert not np.allclose(keras3, expected[0][tiny], rtol=1e-5, atol=1e-6)


def test_nested_models_called_twice_are_wired_as_keras2_wired_them(exported):
    nodes = _nodes(exported, "nested_twice", "keras")
    dense = [n["name"] for n in nodes if n["op"] == "dense"]
    assert sum("inner_dense" in name for name in dense) == 3  # inner is called three times
    assert any("block_dense" in name for name in dense)


@pytest.mark.parametrize("name", ["hard_sigmoid", "thresholded_relu", "unit_norm", "nested_twice"])
def test_divergent_keras2_files_are_flagged(name):
    path = FIXTURES / f"{name}.h5"
    found = keras2.divergences(read_config(path), frontend_files.read_version(path))
    assert found, name


def test_keras3_files_are_not_flagged(tmp_path):
    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense",
                                                                 "config": {"activation": "hard_sigmoid"}}]}}
    assert keras2.divergences(config, "3.15.1") == []


def test_keras_frontend_warns_about_keras2_files(keras, tmp_path):
    """Keras 3 reads hard_sigmoid differently: the export still works, and the summary says so."""
    result = export(FIXTURES / "hard_sigmoid.h5", [tmp_path / "k.json"], frontend="keras")
    assert any("--frontend files" in note and "hard_sigmoid" in note for note in result.notes)


def test_keras_frontend_failure_on_keras2_file_recommends_files(keras, tmp_path):
    with pytest.raises(ExportError, match="--frontend files"):
        export(FIXTURES / "thresholded_relu.h5", [tmp_path / "k.json"], frontend="keras")


def test_code_in_a_keras2_file_is_still_refused(tmp_path):
    """Translating a Keras 2 config changes no security decision: a module outside Keras is refused."""
    source = FIXTURES / "leaky_relu.keras"
    target = tmp_path / "hostile.keras"
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["module"] = "os"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    with pytest.raises(ExportError, match="'os'"):
        export(target, [tmp_path / "out.json"], frontend="files")


def test_keras2_lambda_is_refused(tmp_path):
    source = FIXTURES / "leaky_relu.h5"
    target = tmp_path / "lambda.h5"
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][2] = {"class_name": "Lambda", "config": {"name": "code", "function": ["AAAA", None,
                                                                                                        None]}}
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ExportError, match="'code'.*Python code"):
        export(target, [tmp_path / "out.json"], frontend="files")


def test_mixed_precision_keras2_file_is_refused(tmp_path):
    source = FIXTURES / "leaky_relu.h5"
    target = tmp_path / "mixed.h5"
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][1]["config"]["dtype"] = {"class_name": "Policy",
                                                            "config": {"name": "mixed_float16"}}
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ExportError, match="mixed_float16"):
        export(target, [tmp_path / "out.json"], frontend="files")


def test_fixture_script_is_committed():
    script = Path(ROOT / "tests" / "fixtures" / "make_keras2_fixtures.py").read_text()
    for name in NAMES:
        assert f'"{name}"' in script


@pytest.mark.parametrize("container", ["h5", "keras"])
def test_keras2_file_exports_without_tensorflow(tmp_path, container):
    """The whole export in a process where tensorflow, keras and tf_keras cannot be imported."""
    from test_frontend_files import run_without_tensorflow

    inputs, expected, _ = fixture("nested_twice")
    done = run_without_tensorflow(FIXTURES / f"nested_twice.{container}", "-o", "n.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout and "written by Keras 2.21.0, read without TensorFlow" in done.stdout
    for mine, want in zip(runtime_py.load(tmp_path / "n.json").predict(inputs[0]), expected):
        assert_parity(mine, want, f"nested_twice.{container} without TensorFlow")


@pytest.mark.parametrize("form", ["no_input_layer", "bare_list"])
def test_older_keras2_sequential_configs(exported, tmp_path, form):
    """Older Keras 2 wrote a Sequential without an InputLayer (shape on the first layer), or as a bare list."""
    inputs, expected, _ = fixture("leaky_relu")
    target = tmp_path / f"{form}.h5"
    target.write_bytes((FIXTURES / "leaky_relu.h5").read_bytes())
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        layers = config["config"]["layers"]
        assert layers[0]["class_name"] == "InputLayer" and "batch_input_shape" in layers[1]["config"]
        del layers[0]
        if form == "bare_list":
            config["config"] = layers
        handle.attrs["model_config"] = json.dumps(config)
    export(target, [tmp_path / "m.json"], frontend="files")
    assert_parity(runtime_py.load(tmp_path / "m.json").predict(inputs[0]), expected[0], form)
