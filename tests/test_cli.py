"""export-model: outputs, summary, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runtime_py
from conftest import ROOT


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def digits_h5(zoo, tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    path = directory / "my digits.h5"
    path.write_bytes(zoo.saved("digits", "h5").read_bytes())
    return path


def test_default_output_beside_model(digits_h5):
    done = run_cli(digits_h5)
    assert done.returncode == 0, done.stderr
    json_path = digits_h5.with_suffix(".json")
    assert json_path.exists()
    model = runtime_py.load(json_path)
    assert model.name == "my_digits"  # the stem made into a C identifier
    model.verify()
    # summary: layers, parameter count, files with sizes, max error
    assert "2,410 parameters" in done.stdout
    assert "Flatten" in done.stdout and "Dense" in done.stdout
    assert f"wrote {json_path}" in done.stdout and "KiB" in done.stdout and "max |error| vs Keras" in done.stdout
    assert "of the tolerance" in done.stdout and "float32 ulp" in done.stdout and "by the float64 clause" in done.stdout
    assert done.stderr == ""  # TensorFlow's start-up noise stays off the terminal


def test_several_outputs_and_name(digits_h5, tmp_path):
    outputs = [tmp_path / "a.json", tmp_path / "b.npz"]
    done = run_cli(digits_h5, "-o", outputs[0], "-o", outputs[1], "--name", "digit_net")
    assert done.returncode == 0, done.stderr
    models = [runtime_py.load(p) for p in outputs]
    assert [m.name for m in models] == ["digit_net", "digit_net"]
    assert models[0].spec == models[1].spec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.h5"], "no such file"),
        (["."], "is a directory"),
        (["MODEL", "-o", "x.txt"], "unknown output format"),
        (["MODEL", "--name", "9lives"], "not a valid C identifier"),
        (["MODEL", "--name", "int"], "keyword"),
        (["MODEL", "-o", "no/such/dir/x.json"], "does not exist"),
        (["MODEL", "-o", "MODEL"], "unknown output format"),
        (["MODEL", "--bogus"], "unrecognized arguments"),
    ],
)
def test_user_errors_exit_2_with_one_line(digits_h5, tmp_path, args, message):
    args = [str(digits_h5) if a == "MODEL" else a for a in args]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_unsupported_layer_names_layer_class_and_supported(keras, tmp_path):
    L = keras.layers
    model = keras.Sequential([keras.Input((6, 2)), L.Conv1D(3, 2, name="conv"), L.Flatten(), L.Dense(3)])
    path = tmp_path / "unsupported.keras"
    model.save(path)
    done = run_cli(path)
    assert done.returncode == 2
    assert "'conv'" in done.stderr and "Conv1D" in done.stderr and "supported layers: " in done.stderr
    assert "Dense" in done.stderr and "Traceback" not in done.stderr
    assert not path.with_suffix(".json").exists()


@pytest.mark.parametrize("container", ["keras", "h5"])
def test_unknown_input_size_says_which_axis_and_how_to_fix_it(keras, tmp_path, container):
    inputs = keras.Input((None, 3), name="seq")
    path = tmp_path / f"unknown.{container}"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    done = run_cli(path)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "input 'seq': axis 1 of its shape (None, None, 3) is unknown (None)" in done.stderr
    assert "keras.Input(shape=(N, 3))" in done.stderr and "Traceback" not in done.stderr
    assert not path.with_suffix(".json").exists() and not path.with_suffix(".h").exists()


def test_corrupt_model_file(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    done = run_cli(path)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and str(path) in done.stderr
    assert "Traceback" not in done.stderr


def test_console_script_is_installed():
    from shutil import which

    script = which("export-model") or str((ROOT / ".venv" / "bin" / "export-model"))
    done = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "kerasless" in done.stdout
