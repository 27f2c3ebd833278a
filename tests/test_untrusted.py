"""Broken and hostile input (SECURITY.md): one clear error, exit 2, no code run, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import numpy as np
import pytest

import runtime_py
from exporter.cli import main


def run_main(capsys, *args):
    """Run export-model in-process; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def valid(zoo):
    return {"h5": zoo.saved("digits", "h5"), "keras": zoo.saved("digits", "keras")}


# ---- files that are not Keras models ----------------------------------------------------------


def _broken_files(valid, directory):
    h5 = valid["h5"].read_bytes()
    keras_zip = valid["keras"].read_bytes()
    other_zip = directory / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    return {
        "empty.h5": b"",
        "random.h5": os.urandom(4096),
        "random.keras": os.urandom(4096),
        "truncated.h5": h5[: len(h5) // 3],
        "truncated.keras": keras_zip[: len(keras_zip) // 2],
        "notkeras.keras": other_zip.read_bytes(),
        "text.h5": b"hello, I am text\n" * 10,
    }


def test_broken_files_exit_2_naming_the_file(valid, tmp_path, capsys):
    for name, data in _broken_files(valid, tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, err = run_main(capsys, path, "-o", tmp_path / "out.json")
        assert_user_error(code, err, str(path))
        assert "Traceback" not in err
        assert not (tmp_path / "out.json").exists()


def test_unknown_extension_missing_file_and_directory(tmp_path, capsys):
    (tmp_path / "model.pkl").write_bytes(b"x")
    for target, message in ((tmp_path / "model.pkl", "unknown extension"), (tmp_path / "nope.h5", "no such file"),
                            (tmp_path, "is a directory")):
        code, _, err = run_main(capsys, target)
        assert_user_error(code, err, message, str(target))


# ---- code in model files never runs ----------------------------------------------------------


@pytest.mark.parametrize("container", ["keras", "h5"])
def test_lambda_layer_is_refused_and_never_runs(keras, tmp_path, capsys, container):
    marker = tmp_path / "lambda-ran"
    inputs = keras.Input((3,))
    touch = keras.layers.Lambda(lambda x, m=str(marker): (open(m, "w").close(), x)[1], name="sneaky")
    model = keras.Model(inputs, keras.layers.Dense(2)(touch(inputs)))
    path = tmp_path / f"lambda.{container}"
    model.save(path)
    marker.unlink()  # building the model called the lambda once; from here on it must never run
    code, _, err = run_main(capsys, path)
    assert_user_error(code, err, "'sneaky'", "Lambda")
    assert not marker.exists()
    assert not path.with_suffix(".json").exists()


def _rewrite_keras_config(source, target, edit):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_config_naming_another_module_is_refused(valid, tmp_path, capsys):
    marker = tmp_path / "os-ran"

    def inject(config):
        layer = config["config"]["layers"][-1]
        layer["module"] = "os"
        layer["class_name"] = "system"
        layer["config"]["command"] = f"touch {marker}"

    path = tmp_path / "injected.keras"
    _rewrite_keras_config(valid["keras"], path, inject)
    code, _, err = run_main(capsys, path)
    assert_user_error(code, err, "'os'")
    assert not marker.exists()


def test_initializer_from_another_module_is_refused(valid, tmp_path, capsys):
    def inject(config):
        dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
        dense["config"]["kernel_initializer"] = {"module": "subprocess", "class_name": "getoutput",
                                                 "config": {"cmd": "true"}, "registered_name": None}

    path = tmp_path / "initializer.keras"
    _rewrite_keras_config(valid["keras"], path, inject)
    code, _, err = run_main(capsys, path)
    assert_user_error(code, err, "'subprocess'", "layer 'dense")  # Keras numbers names per session


def test_custom_registered_class_is_refused(keras, tmp_path, capsys):
    @keras.saving.register_keras_serializable(package="evil")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inputs = keras.Input((3,))
    model = keras.Model(inputs, Doubler(name="doubler")(inputs))
    path = tmp_path / "custom.keras"
    model.save(path)
    code, _, err = run_main(capsys, path)
    assert_user_error(code, err, "'doubler'", "evil>Doubler")


# ---- unsupported configurations are refused, not approximated -----------------------------------------


def _model_cases(keras):
    L = keras.layers

    def training_true():
        x = keras.Input((4,))
        return keras.Model(x, L.Dropout(0.5, name="drop")(L.Dense(4)(x), training=True))

    def integer_input():
        x = keras.Input((4,), dtype="int32", name="ids")
        return keras.Model(x, L.Dense(2)(L.Rescaling(1.0)(x)))

    def masking():
        x = keras.Input((3, 4))
        return keras.Model(x, L.Masking(name="mask")(x))

    def einsum_per_position():
        x = keras.Input((3, 4))
        return keras.Model(x, L.EinsumDense("abc,bcd->abd", output_shape=(3, 5), name="per_position")(x))

    return {
        "einsum_per_position": (einsum_per_position, ["'per_position'", "abc,bcd->abd", "kernel per position"]),
        "training_true": (training_true, ["'drop'", "training=True"]),
        "integer_input": (integer_input, ["'ids'", "int32"]),
        "masking": (masking, ["'mask'", "Masking"]),
    }


@pytest.mark.parametrize("case", ["training_true", "integer_input", "masking", "einsum_per_position"])
def test_unsupported_configuration_is_refused(keras, tmp_path, capsys, case):
    build, fragments = _model_cases(keras)[case]
    path = tmp_path / f"{case}.keras"
    build().save(path)
    code, _, err = run_main(capsys, path)
    assert_user_error(code, err, *fragments)


# ---- nothing lost ------------------------------------------------------------------------------------


def test_failed_export_leaves_every_target_as_it_was(valid, tmp_path, capsys, monkeypatch):
    targets = [tmp_path / "a.json", tmp_path / "b.npz"]
    for target in targets:
        target.write_bytes(b"previous contents")

    from exporter import output

    calls = []

    def fsync_then_disk_full(fd):  # the second file hits a full disk
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "fsync", fsync_then_disk_full)
    code, _, err = run_main(capsys, valid["keras"], "-o", targets[0], "-o", targets[1])
    assert code == 2 and err.startswith("error: ")
    assert [t.read_bytes() for t in targets] == [b"previous contents"] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]  # no temp files left


def test_output_equal_to_input_is_refused(valid, tmp_path, capsys):
    model = tmp_path / "model.keras"
    shutil.copy(valid["keras"], model)
    before = model.read_bytes()
    alias = tmp_path / "alias.json"
    alias.symlink_to(model)
    code, _, err = run_main(capsys, model, "-o", alias)
    assert_user_error(code, err, "input model")
    assert model.read_bytes() == before


# ---- the runtime's predict ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_input_model(keras, tmp_path_factory):
    from exporter.export import export
    from graph_cases import build_graph_case

    directory = tmp_path_factory.mktemp("predict")
    build_graph_case(keras, "multi_io").save(directory / "m.keras")
    export(directory / "m.keras", [directory / "m.json"])
    return directory / "m.json"


@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_predict_rejects_bad_input_clearly(two_input_model, backend):
    model = runtime_py.load(two_input_model, backend=backend)
    a, b = np.zeros((2, 5), np.float32), np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="2 inputs"):
        model.predict(a)
    with pytest.raises(ValueError, match=r"expected shape \(batch, 3\).*\(2, 4\)"):
        model.predict([a, np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="batch sizes"):
        model.predict([a, np.zeros((3, 3), np.float32)])
    with pytest.raises((TypeError, ValueError), match="input 'b'"):
        model.predict([a.tolist(), [["x", "y", "z"]] * 2])
    with pytest.raises(ValueError, match="missing input"):
        model.predict({"a": a})


@pytest.mark.parametrize("backend", runtime_py.BACKENDS)
def test_nan_and_inf_flow_through(two_input_model, backend):
    model = runtime_py.load(two_input_model, backend=backend)
    a = np.array([[np.nan, 0, 0, 0, 0], [np.inf, -np.inf, 1e30, 0, 0]], np.float32)
    b = np.zeros((2, 3), np.float32)
    second, first = model.predict([a, b])
    assert second.shape == (2, 1) and first.shape == (2, 2)


def test_edited_weights_are_detected(zoo, tmp_path):
    """A weight changed after export no longer matches weights_sha256: ModelFormatError."""
    import base64

    manifest = json.loads(zoo.exported("digits", "keras", ".json").read_text())
    node = next(n for n in manifest["nodes"] if n["op"] == "dense")
    raw = bytearray(base64.b64decode(node["weights"]["kernel"]["data"]))
    raw[0] ^= 1
    node["weights"]["kernel"]["data"] = base64.b64encode(bytes(raw)).decode()
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(runtime_py.ModelFormatError, match="weights_sha256"):
        runtime_py.load(path)


def test_runtime_refuses_unknown_format_versions(zoo, tmp_path):
    manifest = json.loads(zoo.exported("digits", "keras", ".json").read_text())
    manifest["format_version"] = 3  # 2 is the integer models' version (docs/format.md)
    path = tmp_path / "v3.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(runtime_py.ModelFormatError, match=r"reads version\(s\) 1, 2"):
        runtime_py.load(path)
