"""The models every parity test runs: the seeds' networks, built with fixed seeds.

Weights are random (Keras's initializers, then biases made non-zero) so that
every weight matters; parity does not depend on training.
"""

from __future__ import annotations

import numpy as np


def _randomize_biases(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:
            layer.set_weights([weights[0], rng.normal(0, 0.5, weights[1].shape).astype(np.float32)])


def regressor(keras):
    """The seed's 33-64-32-1 all-ReLU regressor."""
    L = keras.layers
    return keras.Sequential([keras.Input((33,)), L.Dense(64, activation="relu"), L.Dense(32, activation="relu"),
                             L.Dense(1, activation="relu")], name="regressor")


def digits(keras):
    """8x8 digits: Flatten, 64-32-10, sigmoid hidden, softmax out."""
    L = keras.layers
    return keras.Sequential([keras.Input((8, 8)), L.Flatten(), L.Dense(32, activation="sigmoid"), L.Dropout(0.2),
                             L.Dense(10, activation="softmax")], name="digits")


def mnist(keras):
    """MNIST size: 784-300-10, sigmoid then softmax."""
    L = keras.layers
    return keras.Sequential([keras.Input((784,)), L.Dense(300, activation="sigmoid"),
                             L.Dense(10, activation="softmax")], name="mnist")


def no_bias(keras):
    """use_bias=False throughout, tanh hidden, a separate Activation layer, linear output."""
    L = keras.layers
    return keras.Sequential([keras.Input((12,)), L.Dense(16, use_bias=False, activation="tanh"),
                             L.Dense(8, use_bias=False), L.Activation("relu"), L.Dense(3, use_bias=False)],
                            name="no_bias")


def chain_functional(keras):
    """A functional model that is a single chain."""
    L = keras.layers
    inputs = keras.Input((5, 4), name="features")
    x = L.Flatten()(inputs)
    x = L.Dense(16, activation="tanh")(x)
    x = L.Dropout(0.5)(x)
    x = L.Activation("sigmoid")(x)
    outputs = L.Dense(4, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="chain_functional")


MODELS = {
    "regressor": regressor,
    "digits": digits,
    "mnist": mnist,
    "no_bias": no_bias,
    "chain_functional": chain_functional,
}


def build_model(keras, name: str, seed: int = 7):
    keras.utils.set_random_seed(seed)
    model = MODELS[name](keras)
    _randomize_biases(model, seed)
    return model
