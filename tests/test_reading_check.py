"""The file wins (exporter/reading_check.py): every registry entry, with non-default attributes, read alike.

One model per entry of exporter/converters.LAYERS, each attribute its converter reads set away
from Keras's default where the converter supports another value, saved as .h5 and as .keras.
The converters read the file's own config; Keras 3 reloads the file; the attributes the converters
read must agree with the layer Keras rebuilt (or, where Keras writes them otherwise, convert to
the same graph). The comparison is shown not to be vacuous: every attribute set here is one the
converter read, and a Keras value changed under any attribute read is reported.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from exporter import reading_check
from exporter.config_scan import read_config
from exporter.converters import LAYERS
from exporter.graph import build_graph


def _entries(keras):
    """LAYERS entry -> (input shapes, layer, attributes its converter must read)."""
    L = keras.layers
    three = [(6,), (6,), (6,)]
    return {
        "Activation": ([(6,)], L.Activation("softplus"), ["activation"]),
        "ActivityRegularization": ([(6,)], L.ActivityRegularization(l1=0.1, l2=0.2), []),
        "Add": (three, L.Add(), []),
        "AlphaDropout": ([(6,)], L.AlphaDropout(0.3, seed=7), []),
        "Average": (three, L.Average(), []),
        "BatchNormalization": ([(6,)], L.BatchNormalization(epsilon=0.01, center=False, momentum=0.9),
                               ["axis", "epsilon", "center", "scale"]),
        "Concatenate": ([(3, 4), (2, 4)], L.Concatenate(axis=1), ["axis"]),
        "Dense": ([(5,)], L.Dense(4, activation="elu", use_bias=False), ["units", "use_bias", "activation"]),
        "Dot": ([(6,), (6,)], L.Dot(axes=1, normalize=True), ["axes", "normalize"]),
        "Dropout": ([(6,)], L.Dropout(0.3, seed=7), []),
        "ELU": ([(6,)], L.ELU(alpha=0.7), ["alpha"]),
        "EinsumDense": ([(3, 4)], L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d",
                                                activation="relu"),
                        ["equation", "output_shape", "bias_axes", "activation"]),
        "Flatten": ([(3, 2, 4)], L.Flatten(data_format="channels_first"), ["data_format"]),
        "GaussianDropout": ([(6,)], L.GaussianDropout(0.3, seed=7), []),
        "GaussianNoise": ([(6,)], L.GaussianNoise(0.4, seed=7), []),
        "Identity": ([(6,)], L.Identity(), []),
        "LayerNormalization": ([(6,)], L.LayerNormalization(epsilon=0.01, center=False),
                               ["axis", "epsilon", "center", "scale", "rms_scaling"]),
        "LeakyReLU": ([(6,)], L.LeakyReLU(negative_slope=0.15), ["negative_slope"]),
        "Maximum": (three, L.Maximum(), []),
        "Minimum": (three, L.Minimum(), []),
        "Multiply": (three, L.Multiply(), []),
        "Normalization": ([(3,)], L.Normalization(mean=[0.5, -1.0, 2.0], variance=[1.0, 4.0, 0.25], invert=True),
                          ["axis", "mean", "variance", "invert"]),
        "PReLU": ([(3, 4)], L.PReLU(shared_axes=[1]), []),  # shared_axes is in alpha's shape: (1, 4)
        "Permute": ([(2, 3)], L.Permute((2, 1)), ["dims"]),
        "RMSNormalization": ([(6,)], L.RMSNormalization(epsilon=1e-3), ["axis", "epsilon"]),
        "ReLU": ([(6,)], L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.3),
                 ["max_value", "negative_slope", "threshold"]),
        "RepeatVector": ([(5,)], L.RepeatVector(4), ["n"]),
        "Rescaling": ([(6,)], L.Rescaling(scale=0.5, offset=0.25), ["scale", "offset"]),
        "Reshape": ([(12,)], L.Reshape((4, 3)), ["target_shape"]),
        "Softmax": ([(3, 4)], L.Softmax(axis=1), ["axis"]),
        "SpatialDropout1D": ([(3, 4)], L.SpatialDropout1D(0.3, seed=7), []),
        "SpatialDropout2D": ([(2, 3, 4)], L.SpatialDropout2D(0.3, seed=7), []),
        "SpatialDropout3D": ([(2, 2, 3, 4)], L.SpatialDropout3D(0.3, seed=7), []),
        "Subtract": ([(6,), (6,)], L.Subtract(), []),
        "UnitNormalization": ([(6,)], L.UnitNormalization(axis=1), ["axis"]),
    }


def _model(keras, name, shapes, layer):
    inputs = [keras.Input(shape, name=f"x{k}") for k, shape in enumerate(shapes)]
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    model = keras.Model(inputs, outputs, name=f"entry_{name.lower()}")
    rng = np.random.default_rng(3)
    model.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _layer(cfg: dict, name: str) -> dict:
    return next(entry for path, entry in reading_check._layer_entries(cfg) if path[-1] == name)


@pytest.fixture(scope="module")
def readings(keras, tmp_path_factory):
    """(entry, container) -> (the file's config, Keras's reloaded config, weights_for, the layer's name)."""
    from exporter import frontend_keras

    directory = tmp_path_factory.mktemp("entries")
    table = {}
    for name, (shapes, layer, _) in _entries(keras).items():
        model = _model(keras, name, shapes, layer)
        for container in ("h5", "keras"):
            path = directory / f"{name}.{container}"
            model.save(path)
            loaded = frontend_keras.load(path)
            table[(name, container)] = (read_config(path), loaded.config, loaded.weights_for, layer.name)
    return table


def test_every_registry_entry_has_a_row(keras):
    assert sorted(_entries(keras)) == sorted(set(LAYERS) - {"InputLayer"})


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"InputLayer"}))
def test_file_and_keras_read_every_entry_alike(keras, readings, name, container):
    file_cfg, keras_cfg, weights_for, layer_name = readings[(name, container)]
    graph, found = reading_check.build_from_file(file_cfg, keras_cfg, weights_for, "entry")
    assert found == [], [str(d) for d in found]
    assert reading_check.same_graph(graph, build_graph(keras_cfg, weights_for, "entry"))

    recorded = reading_check.recording(file_cfg)
    build_graph(recorded, weights_for, "entry")
    read = _layer(recorded, layer_name)["config"].read
    expected = _entries(keras)[name][2]
    assert set(expected) <= set(read), f"the converter did not read {sorted(set(expected) - set(read))}"
    for key in read:  # a Keras value changed under any attribute read is reported
        if not dict.__contains__(_layer(recorded, layer_name)["config"], key):
            continue
        misread = copy.deepcopy(keras_cfg)
        _layer(misread, layer_name)["config"][key] = "a value the file does not hold"
        changed = reading_check.differences(recorded, misread)
        assert [(d.layer.split("/")[-1], d.attribute) for d in changed] == [(layer_name, key)], key
