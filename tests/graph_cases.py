"""Functional graphs: several inputs and outputs, shared layers, nested models, and a random graph generator."""

from __future__ import annotations

import numpy as np

from layer_cases import _randomize


def multi_io(keras):
    """Two inputs, two heads, a merge in between: outputs come back in Keras's order."""
    L = keras.layers
    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    x = L.Concatenate()([L.Dense(4, activation="relu")(a), b])
    h = L.Dense(6, activation="tanh")(x)
    first = L.Dense(2, activation="softmax", name="first")(h)
    second = L.Dense(1, name="second")(L.Add()([h, L.Dense(6)(a)]))
    return keras.Model([a, b], [second, first], name="multi_io")


def shared_layer(keras):
    """One Dense called at two places (the same weights twice)."""
    L = keras.layers
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = L.Dense(3, activation="sigmoid", name="shared")
    return keras.Model([a, b], L.Subtract()([shared(a), shared(b)]), name="shared_layer")


def nested(keras):
    """A Sequential inside a functional model, called twice, and a functional model inside it."""
    L = keras.layers
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, L.Dense(4, activation="tanh", name="inner_dense")(inner_in), name="inner")
    block = keras.Sequential([keras.Input((4,)), L.Dense(4, activation="relu"), inner], name="block")
    x = keras.Input((4,), name="x")
    y = block(block(x))
    return keras.Model(x, L.Dense(2)(L.Concatenate()([x, y])), name="nested")


def functional_in_sequential(keras):
    L = keras.layers
    inner_in = keras.Input((6,))
    h = L.Dense(5, activation="elu")(inner_in)
    inner = keras.Model(inner_in, L.Add()([h, L.Dense(5)(inner_in)]), name="residual")
    return keras.Sequential([keras.Input((6,)), inner, L.LayerNormalization(), L.Dense(3, activation="softmax")],
                            name="functional_in_sequential")


def xor_with_skip(keras):
    """The seed's XOR network: 2 inputs, one hidden unit, and a skip from the inputs to the output."""
    L = keras.layers
    inputs = keras.Input((2,), name="xy")
    hidden = L.Dense(1, activation="tanh", name="hidden")(inputs)
    output = L.Dense(1, activation="sigmoid", name="out")(L.Concatenate()([inputs, hidden]))
    return keras.Model(inputs, output, name="xor")


GRAPHS = {
    "multi_io": multi_io,
    "shared_layer": shared_layer,
    "nested": nested,
    "functional_in_sequential": functional_in_sequential,
}


def build_graph_case(keras, name, seed=11):
    keras.utils.set_random_seed(seed)
    model = GRAPHS[name](keras)
    _randomize_all(model, seed)
    return model


def _randomize_all(model, seed):
    """Random weights everywhere, nested models included."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        name = variable.path if hasattr(variable, "path") else variable.name
        shape = tuple(variable.shape)
        if "variance" in name:
            variable.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
        elif "count" not in name:
            variable.assign(rng.normal(0.0, 0.6, shape).astype(np.float32))


# ---- random graphs ------------------------------------------------------------------------------

ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "selu", "softplus", "gelu", "silu", "linear", "softsign",
               "leaky_relu", "hard_sigmoid", "mish", "relu6", "log_sigmoid"]


def _ops_step(keras, rng, x, tensors):
    """x through a few keras.ops calls that keep its width (operation nodes, exporter/operations.py)."""
    ops = keras.ops
    width = int(x.shape[-1])
    same = [t for t in tensors if int(t.shape[-1]) == width and t is not x]
    other = same[int(rng.integers(len(same)))] if same else ops.tanh(x)
    c = float(np.float32(rng.uniform(-2, 2)))
    choices = {
        "constants": lambda: (2.5 - x * c) / 1.7 + c,
        "negative_abs": lambda: -ops.abs(x),
        "square_sqrt": lambda: ops.sqrt(ops.square(x) + 0.5),
        "log": lambda: ops.log(ops.square(x) + 1.0),
        "clip": lambda: ops.clip(x, -1.0, 0.5),
        "extrema": lambda: ops.minimum(ops.maximum(x, c), 1.5),
        "pair": lambda: getattr(ops, str(rng.choice(["add", "subtract", "multiply", "maximum", "minimum"])))(x, other),
        "divide": lambda: x / (ops.abs(other) + 1.0),
        "center": lambda: x - ops.mean(x, axis=-1, keepdims=True),
        # minus, not plus, a (None, 1) tensor: Keras 3's ops.add on TensorFlow turns x + y into tf.nn.bias_add
        # when y squeezes to a vector as long as x's last axis, and at predict time a (batch, 1) y does so
        # whenever the batch size equals that axis (measured: it then adds row j's value to column j)
        "scale_by_max": lambda: x * ops.max(ops.abs(x), axis=1, keepdims=True) - ops.sum(other, axis=-1, keepdims=True),
        "rotate": lambda: ops.concatenate([x[:, width // 2:], x[:, :width // 2]], axis=-1) if width > 1 else -x,
        "split": lambda: ops.concatenate(ops.split(x, [width - 1], axis=1)[::-1], axis=1) if width > 1 else x * 2.0,
        "stack": lambda: ops.stack([x, other], axis=1)[:, int(rng.integers(2))],
        "transpose": lambda: (ops.reshape(ops.transpose(ops.reshape(x, (-1, 2, width // 2)), (0, 2, 1)), (-1, width))
                              if width % 2 == 0 else ops.squeeze(ops.expand_dims(x, 1), axis=1)),
        "matmul": lambda: x @ rng.uniform(-1, 1, (width, width)).astype(np.float32),
    }
    return choices[str(rng.choice(sorted(choices)))]()


def random_graph(keras, seed: int):
    """A random MLP graph: 1-3 inputs, dense/normalization/activation layers, skips, merges, matrix Dots and
    EinsumDense contractions (between reshapes, so every tensor drawn from stays a vector), keras.ops calls
    after some steps, 1-3 outputs.

    The keras.ops calls draw from their own generator and keep each tensor's width, so the layers every
    seed drew before they were added stay as they were."""
    L = keras.layers
    rng = np.random.default_rng(seed)
    ops_rng = np.random.default_rng(seed + 1_000_003)
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input((int(rng.integers(2, 9)),), name=f"in{k}") for k in range(int(rng.integers(1, 4)))]
    tensors = list(inputs)
    for step in range(int(rng.integers(3, 9))):
        kind = rng.choice(["dense", "dense", "dense", "merge", "concat", "norm", "act", "skip", "dot", "einsum"])
        x = tensors[int(rng.integers(len(tensors)))]
        width = int(x.shape[-1])
        if kind == "dense":
            y = L.Dense(int(rng.integers(1, 12)), activation=str(rng.choice(ACTIVATIONS)),
                        use_bias=bool(rng.random() < 0.8))(x)
        elif kind == "merge":
            same = [t for t in tensors if int(t.shape[-1]) == width]
            if len(same) < 2:
                same = [x, L.Dense(width)(tensors[int(rng.integers(len(tensors)))])]
            layer = rng.choice(["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
            picked = same[:2] if layer == "Subtract" else same[: int(rng.integers(2, len(same) + 1))]
            y = getattr(L, str(layer))()(picked)
        elif kind == "concat":
            others = [tensors[int(i)] for i in rng.integers(len(tensors), size=int(rng.integers(1, 3)))]
            y = L.Concatenate()([x, *others])
        elif kind == "norm":
            y = rng.choice([L.BatchNormalization, L.LayerNormalization, L.UnitNormalization])()(x)
        elif kind == "act":
            y = rng.choice([L.ReLU(max_value=3.0), L.LeakyReLU(), L.PReLU(), L.ELU(), L.Softmax(),
                            L.Dropout(0.3)])(x)
        elif kind == "dot":  # (width, 1) with (width, n) on axis 1: a matmul contracting width, maybe normalized
            n = int(rng.integers(1, 4))
            other = L.Reshape((width, n))(L.Dense(width * n)(tensors[int(rng.integers(len(tensors)))]))
            y = L.Flatten()(L.Dot(axes=1, normalize=bool(rng.random() < 0.5))([L.Reshape((width, 1))(x), other]))
        elif kind == "einsum":  # (1, width) through a rank-3 kernel, the bias on one or both kernel axes
            d, e = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            # a bias over d alone with d == e is one Keras 3 on TensorFlow adds along e: refused (converters.py)
            layer = L.EinsumDense("abc,cde->abde", output_shape=(1, d, e),
                                  bias_axes=str(rng.choice(["de", "e"] + (["d"] if d != e else []))),
                                  activation=str(rng.choice(ACTIVATIONS)))
            y = L.Flatten()(layer(L.Reshape((1, width))(x)))
        else:
            y = L.Add()([x, L.Dense(width, activation="tanh")(x)])
        if ops_rng.random() < 0.4:
            y = _ops_step(keras, ops_rng, y, tensors)
        tensors.append(y)
    # The first output reads every input, so no input is left unconnected.
    head = L.Concatenate(name="head")([tensors[-1]] + [L.Dense(2)(t) for t in inputs])
    candidates = tensors[len(inputs):-1]
    extra = min(len(candidates), int(rng.integers(0, 3)))
    outputs = [head] + [candidates[int(i)] for i in rng.choice(len(candidates), extra, replace=False)]
    model = keras.Model(inputs, outputs, name=f"random_{seed}")
    _randomize_all(model, seed)
    return model
