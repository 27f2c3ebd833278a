"""export_model(keras_model, outputs): a live model goes through export-model's checks and loses nothing a file keeps.

The reference for every comparison is Keras itself: the CLI's export of the same model saved by
the user, the live model's predict, or tf_keras's predict for a Keras 2 model.
"""

from __future__ import annotations

import json
import tempfile

import numpy as np
import pytest

import runtime_py
from exporter import export_model
from exporter.errors import ExportError
from exporter.export import export
from parity import assert_parity


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's directory for this test alone, so a file left behind shows."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture(scope="module")
def two_way(keras):
    """A functional model with two named inputs and two named outputs, and biases that matter."""
    L = keras.layers
    a = keras.Input((3,), name="left")
    b = keras.Input((2, 2), name="right")
    x = L.Concatenate(name="joined")([a, L.Flatten(name="flat")(b)])
    x = L.Dense(6, activation="tanh", name="hidden")(x)
    model = keras.Model([a, b], [L.Dense(2, activation="softmax", name="probs")(x),
                                 L.Dense(1, name="score")(x)], name="two_way")
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.7, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def left_behind(directory) -> list:
    """What is left in the temp directory, but for the Python modules TensorFlow's autograph writes there."""
    return [p.name for p in directory.iterdir() if p.suffix != ".py"]


def test_export_model_equals_the_cli_on_the_saved_file(keras, two_way, tmp_path, private_tmp):
    live = export_model(two_way, [tmp_path / "live.json", tmp_path / "live.h"], name="two")
    two_way.save(tmp_path / "two_way.keras")
    saved = export(tmp_path / "two_way.keras", [tmp_path / "file.json"], name="two")
    mine, theirs = (json.loads((tmp_path / n).read_text()) for n in ("live.json", "file.json"))
    for key in set(mine) - {"producer", "sha256"}:
        assert mine[key] == theirs[key], key  # the same graph, weights and test vectors, bit for bit
    assert mine["producer"]["source"] == "two_way" and theirs["producer"]["source"] == "two_way.keras"
    assert mine["producer"]["reference_keras"] == f"keras {keras.__version__}"
    assert [t.name for t in live.graph.inputs] == ["left", "right"]
    assert [t.name for t in live.graph.outputs] == ["probs", "score"]
    assert [layer.name for layer in live.graph.layers] == [layer.name for layer in saved.graph.layers]
    assert (live.frontend, live.reference, live.vector_rows) == ("keras", "keras", saved.vector_rows)
    assert [w.path.name for w in live.written] == ["live.json", "live.h"]
    assert "two_predict_multi" in (tmp_path / "live.h").read_text()
    assert left_behind(private_tmp) == []


def test_export_model_reproduces_the_live_model(two_way, tmp_path, private_tmp):
    export_model(two_way, [tmp_path / "m.npz"])
    rng = np.random.default_rng(8)
    x = [rng.standard_normal((9, 3)).astype(np.float32), rng.standard_normal((9, 2, 2)).astype(np.float32)]
    want = two_way.predict(x, verbose=0)
    for backend in runtime_py.BACKENDS:
        model = runtime_py.load(tmp_path / "m.npz", backend=backend)
        model.verify()
        for k, (got, expected) in enumerate(zip(model.predict(x), want)):
            assert_parity(got, expected, f"{backend} output {k}")


def test_default_prefix_is_the_model_name(keras, tmp_path, private_tmp):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="my-net.v2")
    result = export_model(model, [str(tmp_path / "m.h")])
    assert result.graph.name == "my_net_v2"
    assert "my_net_v2_predict(" in (tmp_path / "m.h").read_text()


def test_the_live_model_is_the_reference(keras, tmp_path, private_tmp, monkeypatch):
    """A live model that computes otherwise than what Keras saves of it is refused, not exported."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="drifted")
    import exporter.float64_reference as float64_reference
    import exporter.frontend_keras as frontend_keras

    real, seen = frontend_keras.predict_rows, []

    def drifted(model_, batches):  # Keras computing something the saved config does not say
        seen.append(model_)
        return [o + 1.0 for o in real(model_, batches)]

    monkeypatch.setattr(float64_reference, "predict_rows", drifted)  # the float64 twin too
    monkeypatch.setattr(frontend_keras, "predict_rows", drifted)
    with pytest.raises(ExportError, match="disagrees with Keras"):
        export_model(model, [tmp_path / "m.json"])
    assert seen[0] is model  # the test vectors are the live model's outputs, not a reloaded copy's
    assert not (tmp_path / "m.json").exists()
    assert left_behind(private_tmp) == []


def test_keras2_model_keeps_keras2_semantics(tmp_path, private_tmp):
    """A tf_keras model: hard_sigmoid is Keras 2's clip(0.2x + 0.5, 0, 1), checked against tf_keras itself."""
    tf_keras = pytest.importorskip("tf_keras", reason="tf_keras (the test extra) is Keras 2")
    L = tf_keras.layers
    inputs = tf_keras.Input((4,), name="x")
    model = tf_keras.Model(inputs, L.Dense(3, activation="hard_sigmoid", name="out")(L.Dense(5)(inputs)),
                           name="old_style")
    result = export_model(model, [tmp_path / "k2.json"])
    assert result.frontend == "files" and result.reference == "keras"
    assert result.reference_keras == f"tf_keras {tf_keras.__version__}"
    assert any("Keras 2" in note and "model 'old_style'" in note for note in result.notes)
    x = (3 * np.random.default_rng(2).standard_normal((20, 4))).astype(np.float32)
    want = model.predict(x, verbose=0)
    keras3_formula = np.clip((x @ model.layers[1].get_weights()[0] + model.layers[1].get_weights()[1])
                             @ model.layers[2].get_weights()[0] + model.layers[2].get_weights()[1] + 3, 0, 6) / 6
    assert np.abs(keras3_formula - want).max() > 1e-3  # the rows do tell the two formulas apart
    for backend in runtime_py.BACKENDS:
        assert_parity(runtime_py.load(tmp_path / "k2.json", backend=backend).predict(x), want, backend)
    assert left_behind(private_tmp) == []


def test_files_frontend_is_a_self_check(two_way, tmp_path, private_tmp):
    result = export_model(two_way, [tmp_path / "f.json"], frontend="files")
    assert (result.frontend, result.reference) == ("files", "kerasless")


def _message(call) -> str:
    with pytest.raises(ExportError) as caught:
        call()
    return str(caught.value)


def test_refusals_name_the_model_not_a_temporary_file(keras, tmp_path, private_tmp):
    L = keras.layers
    inputs = keras.Input((3,))
    lam = keras.Model(inputs, L.Lambda(lambda t: t * 2, name="doubler")(inputs), name="with_code")
    message = _message(lambda: export_model(lam, [tmp_path / "a.json"]))
    assert "'doubler'" in message and "Python code" in message
    assert "kerasless-live-model" not in message and str(private_tmp) not in message

    class Custom(keras.Model):
        def call(self, x):
            return x

    custom = Custom(name="sub")
    custom(np.zeros((1, 2), np.float32))
    message = _message(lambda: export_model(custom, [tmp_path / "b.json"]))
    assert "model 'sub': is a Custom; only Sequential and functional models" in message
    assert "kerasless-live-model" not in message

    unbuilt = keras.Sequential([L.Dense(2)], name="unbuilt")
    assert "keras.Input(shape=" in _message(lambda: export_model(unbuilt, [tmp_path / "c.json"]))
    assert "not a builtins.str" in _message(lambda: export_model("model.h5", [tmp_path / "d.json"]))
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)], name="fine")
    assert "no output files" in _message(lambda: export_model(model, []))
    assert "unknown output format" in _message(lambda: export_model(model, [tmp_path / "e.txt"]))
    assert "not a valid C identifier" in _message(lambda: export_model(model, [tmp_path / "f.h"], name="1bad"))
    assert not [p for p in tmp_path.iterdir() if p.is_file()]
    assert left_behind(private_tmp) == []


def test_options_are_the_clis(keras, tmp_path, private_tmp):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)],
                             name="opts")
    result = export_model(model, [tmp_path / "g.h"], gradients=True)
    assert result.gradient_error is not None and "opts_input_gradient" in (tmp_path / "g.h").read_text()
    result = export_model(model, [tmp_path / "q.json"], weights="int8")
    assert result.reference == "dequantized" and result.cost is not None
    assert "--gradients" in _message(lambda: export_model(model, [tmp_path / "x.json"], gradients=True))
    assert left_behind(private_tmp) == []
