"""Integer models against TensorFlow Lite's int8 conversion of the same Keras model, value for value.

TFLiteConverter with the same representative rows (full-integer int8, int8 input and output), run
by the LiteRT interpreter (ai-edge-litert) with its reference kernels. Where the schemes match
(dense, relu, relu6) the int8 outputs must be equal value for value on the same int8 inputs; the
digits model's softmax normalizes otherwise than TFLite's (docs/format.md, "Integer models"), so
there one step of difference is allowed. The shares found are printed (pytest -s) and quoted in
docs/embedded.md.
"""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from test_integer import DIGITS, digits_rows

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed "
                             "(pip install ai-edge-litert; part of the test extra)")


def digits_calibration():
    """300 digits rows that are not among the held-back 100 (examples/train_digits.py's split), if scikit-learn is here."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return np.concatenate([digits_rows()[0]] * 2)
    images = (load_digits().images / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    return images[order[100:400]]


def tflite_int8(keras_model, calibration):
    """The LiteRT interpreter of TFLiteConverter's full-integer int8 model (int8 input and output)."""
    import tensorflow as tf

    def representative():
        for row in calibration:
            yield [row[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # TFLite's reference kernels: the default XNNPACK delegate requantizes in float (round half to even)
    interpreter = litert.Interpreter(model_content=converter.convert(),
                                     experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter


def tflite_outputs(interpreter, rows: np.ndarray) -> np.ndarray:
    entry, exit_ = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for row in rows:
        interpreter.set_tensor(entry["index"], row[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(exit_["index"])[0].copy())
    return np.array(outputs)


def relu_model(keras):
    L = keras.layers
    keras.utils.set_random_seed(21)
    return keras.Sequential([keras.Input((10,)), L.Dense(24, activation="relu"), L.Dense(16), L.Activation("relu6"),
                             L.Dense(5)], name="relu_tfl")


@pytest.fixture(scope="module")
def pairs(keras, tmp_path_factory):
    """name -> (our model, TFLite's interpreter, calibration rows, extra rows to compare on)."""
    from exporter.export import export

    directory = tmp_path_factory.mktemp("tflite")
    holdout, _ = digits_rows()
    rng = np.random.default_rng(5)
    relu_rows = rng.normal(size=(300, 10)).astype(np.float32)
    cases = {"digits": (DIGITS, keras.saving.load_model(DIGITS, compile=False), digits_calibration(), holdout),
             "relu_tfl": (directory / "relu_tfl.keras", relu_model(keras), relu_rows[:200], relu_rows[200:])}
    found = {}
    for name, (path, model, calibration, extra) in cases.items():
        if name != "digits":
            model.save(path)
        np.save(directory / f"{name}.npy", calibration)
        export(path, [directory / f"{name}.json"], name=name, integer=True, calibrate=directory / f"{name}.npy")
        found[name] = (runtime_py.load(directory / f"{name}.json"), tflite_int8(model, calibration), calibration,
                       extra)
    return found


@pytest.mark.parametrize("name", ["digits", "relu_tfl"])
def test_quantization_parameters_are_tflite_s(pairs, name):
    ours, interpreter, _, _ = pairs[name]
    entry, exit_ = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert (ours.input_scale, ours.input_zero_point) == pytest.approx(entry["quantization"], rel=1e-6)
    assert ours.input_zero_point == entry["quantization"][1]
    assert ours.output_scale == pytest.approx(exit_["quantization"][0], rel=1e-6)
    assert ours.output_zero_point == exit_["quantization"][1]


@pytest.mark.parametrize("name", ["digits", "relu_tfl"])
def test_int8_outputs_agree_with_tflite_value_for_value(pairs, name):
    """On the same int8 inputs: every output within one step of TFLite's, 99% equal; all equal without softmax."""
    ours, interpreter, calibration, extra = pairs[name]
    rows = ours.quantize(np.concatenate([calibration, extra]))
    mine = ours.predict_int8(rows).astype(np.int64)
    theirs = tflite_outputs(interpreter, rows).astype(np.int64)
    steps = np.abs(mine - theirs)
    print(f"\n{name}: {rows.shape[0]} rows, {100 * np.mean(steps == 0):.3f}% of int8 outputs equal to TFLite's, "
          f"max difference {steps.max()} step(s)")
    if name == "relu_tfl":  # dense, relu and relu6 only: the same integers as TFLite's reference kernels
        assert steps.max() == 0
    assert steps.max() <= 1  # digits: the softmax normalizes otherwise than TFLite's
    assert np.mean(steps == 0) >= 0.99


def test_digits_accuracy_not_worse_than_tflite(pairs):
    ours, interpreter, _, _ = pairs["digits"]
    x, y = digits_rows()
    q = ours.quantize(x)
    mine = (ours.predict_int8(q).argmax(-1) == y).mean()
    theirs = (tflite_outputs(interpreter, q).argmax(-1) == y).mean()
    print(f"\ndigits held-back accuracy: kerasless int8 {mine:.2%}, TFLite int8 {theirs:.2%}")
    assert mine >= theirs
