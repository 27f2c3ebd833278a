"""Model.invert: round trips through invertible chains, and a clear refusal for everything else.

The round trip invert(predict(x)) is judged against a bound from the chain's conditioning: the
float32 outputs differ from the exact (float64 Keras) outputs by e = predict(x) - y64, and an exact
inversion moves the inputs by about M^-1 e, M the chain's Jacobian at x (TensorFlow, float64). So
|invert(predict(x)) - x| <= 2 |M^-1| |e| + 4 u |x| value by value (u = 2^-24, the final rounding),
and the a-priori form of the same bound, prod over layers of ||W^-1|| * max 1/act', is what the
condition-number limit keeps in check.
"""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from exporter.float64_reference import rebuild_float64
from runtime_py.linalg import LU, SingularMatrixError
from test_gradients import runtime_model

U = 2.0 ** -24


def _orthogonal(rng, n, scale):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (scale * q).astype(np.float32)


def _set_dense(model, rng, scale=0.8):
    """Well-conditioned square kernels (scaled orthogonal) and small biases for every Dense layer."""
    for layer in model.layers:
        if layer.__class__.__name__ == "Dense":
            kernel, bias = layer.get_weights()
            layer.set_weights([_orthogonal(rng, kernel.shape[0], scale) + 0.1 * rng.standard_normal(kernel.shape)
                               .astype(np.float32), (0.1 * rng.standard_normal(bias.shape)).astype(np.float32)])


def tanh_chain(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((6,)), L.Dense(6, activation="tanh"), L.Dense(6, activation="tanh"),
                             L.Dense(6)], name="tanh_chain")


def every_invertible_kind(keras):
    """One of each invertible node: activations, folded affines, PReLU, reshape and transpose, rank-3 dense."""
    L = keras.layers
    return keras.Sequential([
        keras.Input((8,)), L.Normalization(mean=[0.5] * 8, variance=[2.0] * 8), L.Dense(8, activation="elu"),
        L.BatchNormalization(), L.Dense(8, activation="sigmoid"), L.Rescaling(2.0, offset=-1.0),
        L.Dense(8, activation="softplus"), L.LeakyReLU(negative_slope=0.3), L.Dense(8, activation="selu"),
        L.Activation("softsign"), L.Dense(8, activation="celu"), L.PReLU(alpha_initializer="ones"),
        L.Dense(8, activation="log_sigmoid"), L.Dense(8, activation="squareplus"), L.Reshape((2, 4)),
        L.Dense(4, activation="tanh"), L.Permute((2, 1)), L.Dense(2, activation="exponential"),
        L.ReLU(negative_slope=0.5), L.Flatten(), L.Dense(8, activation="leaky_relu"),
        L.Normalization(mean=1.0, variance=4.0, invert=True),
    ], name="every_invertible_kind")


ROUND_TRIPS = {"tanh_chain": tanh_chain, "every_invertible_kind": every_invertible_kind}


@pytest.fixture(scope="module")
def chains(keras):
    built = {}
    for name, builder in ROUND_TRIPS.items():
        keras.utils.set_random_seed(4)
        model = builder(keras)
        rng = np.random.default_rng(8)
        _set_dense(model, rng)
        for layer in model.layers:
            if layer.__class__.__name__ == "BatchNormalization":
                layer.set_weights([rng.uniform(0.5, 2, 8), rng.normal(0, 0.3, 8), rng.normal(0, 0.3, 8),
                                   rng.uniform(0.5, 2, 8)])
            if layer.__class__.__name__ == "PReLU":
                layer.set_weights([rng.uniform(0.2, 2, layer.get_weights()[0].shape).astype(np.float32)])
        built[name] = (model, rebuild_float64(model), {b: runtime_model(model, b) for b in runtime_py.BACKENDS})
    return built


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_invert_recovers_the_inputs_within_the_conditioning_bound(keras, chains, name):
    import tensorflow as tf

    model, twin, ours = chains[name]
    x = (0.7 * np.random.default_rng(1).standard_normal((20, *model.inputs[0].shape[1:]))).astype(np.float32)
    x64 = tf.constant(x.astype(np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x64)
        y64 = tf.reshape(twin(x64), (x.shape[0], -1))
    jacobian = np.asarray(tape.batch_jacobian(y64, x64)).reshape(x.shape[0], y64.shape[1], -1)
    inverse = np.abs(np.linalg.inv(jacobian))
    y = ours["numpy"].predict(x)
    error = np.abs(y.reshape(x.shape[0], -1).astype(np.float64) - np.asarray(y64))
    bound = 2 * np.einsum("rij,rj->ri", inverse, error) + 4 * U * np.abs(x.reshape(x.shape[0], -1))
    recovered = {}
    for backend, runtime in ours.items():
        got = runtime.invert(y)
        assert got.dtype == np.float32 and got.shape == x.shape
        off = np.abs(got.reshape(x.shape[0], -1).astype(np.float64) - x.reshape(x.shape[0], -1))
        assert (off <= bound).all(), (f"{name} [{backend}]: |invert(predict(x)) - x| up to {off.max():.3g}, "
                                      f"bound {bound[off > bound][:3]}")
        recovered[backend] = got
        as_list = runtime.invert(y.tolist())
        np.testing.assert_array_equal(np.array(as_list, np.float32), got)
    difference = np.abs(recovered["numpy"].astype(np.float64) - recovered["python"])
    assert (difference <= 2 * np.spacing(np.abs(recovered["numpy"]))).all(), "the backends disagree beyond 2 ulp"


# ---- refusals ------------------------------------------------------------------------------------


def _single(keras, layers, shape=(4,), weights=None):
    model = keras.Sequential([keras.Input(shape), *layers])
    if weights:
        for layer, values in weights.items():
            model.get_layer(layer).set_weights(values)
    return model


def _refusals(keras):
    L = keras.layers
    eye = np.eye(4, dtype=np.float32)
    singular = eye.copy()
    singular[:, 3] = singular[:, 2]
    skewed = np.diag([1.0, 1.0, 1.0, 1e-7]).astype(np.float32)
    a, b = keras.Input((4,)), keras.Input((4,))
    branched_in = keras.Input((4,))
    hidden = L.Dense(4, name="first")(branched_in)
    return {
        "not square": (_single(keras, [L.Dense(3, name="d")]), "d", "not square"),
        "singular": (_single(keras, [L.Dense(4, name="d")], weights={"d": [singular, np.zeros(4, np.float32)]}), "d",
                     "singular"),
        "ill-conditioned": (_single(keras, [L.Dense(4, name="d")], weights={"d": [skewed, np.zeros(4, np.float32)]}),
                            "d", "ill-conditioned: its condition number 1e\\+07"),
        "relu": (_single(keras, [L.Dense(4, activation="relu", name="d")]), "d", "flat region"),
        "relu max_value": (_single(keras, [L.ReLU(max_value=6.0, name="r")]), "r", "flat region"),
        "relu6": (_single(keras, [L.Activation("relu6", name="r6")]), "r6", "clips to \\[0, 6\\]"),
        "softmax": (_single(keras, [L.Softmax(name="s")]), "s", "softmax\\(x \\+ c\\)"),
        "gelu": (_single(keras, [L.Activation("gelu", name="g")]), "g", "not monotonic"),
        "leaky slope 0": (_single(keras, [L.LeakyReLU(negative_slope=0.0, name="l")]), "l", "flat region|slope"),
        "layer norm": (_single(keras, [L.LayerNormalization(name="n")]), "n", "mean and spread"),
        "prelu negative": (_single(keras, [L.PReLU(alpha_initializer="zeros", name="p")]), "p", "alpha\\[0\\] is 0"),
        "zero scale": (_single(keras, [L.Rescaling(0.0, name="z")]), "z", "scale\\[0\\] is 0"),
        "two inputs": (keras.Model([a, b], L.Add()([a, b])), None, "2 input"),
        "branch": (keras.Model(branched_in, L.Add(name="sum")([hidden, branched_in])), "sum", "chains"),
    }


def test_refusals_name_the_node_and_why(keras):
    for case, (model, node, reason) in _refusals(keras).items():
        for backend in runtime_py.BACKENDS:
            runtime = runtime_model(model, backend)
            with pytest.raises(runtime_py.NotInvertibleError, match=reason) as info:
                runtime.invert(np.zeros((1, *runtime.outputs[0].shape), np.float32))
            if node is None:
                assert info.value.node is None, case
            else:
                assert info.value.node.startswith(node), f"{case}: names {info.value.node!r}"
                assert str(info.value).startswith(f"node {info.value.node!r}: "), case


def test_an_output_outside_the_activation_range_names_node_row_and_index(keras):
    L = keras.layers
    keras.utils.set_random_seed(2)
    model = _single(keras, [L.Dense(4, activation="tanh", name="t")])
    for backend in runtime_py.BACKENDS:
        runtime = runtime_model(model, backend)
        y = np.full((3, 4), 0.5, np.float32)
        y[2, 1] = 1.0  # tanh saturated in float32: no input gives exactly 1
        with pytest.raises(runtime_py.NotInvertibleError, match=r"1\.0 \(row 2, index 1\).*\(-1, 1\)") as info:
            runtime.invert(y)
        assert (info.value.node, info.value.row, info.value.index) == ("t", 2, 1)
        y[2, 1] = np.nan
        with pytest.raises(runtime_py.NotInvertibleError, match="nan"):
            runtime.invert(y)


def test_max_condition_sets_the_limit(chains):
    _, _, ours = chains["tanh_chain"]
    y = ours["numpy"].predict(np.zeros((1, 6), np.float32))
    for runtime in ours.values():
        runtime.invert(y)
        with pytest.raises(runtime_py.NotInvertibleError, match="exceeds the limit 1.01"):
            runtime.invert(y, max_condition=1.01)


def test_wrong_output_shape_is_refused(chains):
    _, _, ours = chains["tanh_chain"]
    for runtime in ours.values():
        with pytest.raises(ValueError, match="expected"):
            runtime.invert(np.zeros((2, 5), np.float32).tolist() if runtime.backend == "python"
                           else np.zeros((2, 5), np.float32))


# ---- the pure-Python solver, against numpy.linalg ---------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_lu_solves_and_measures_conditioning_like_numpy(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal(n)
    lu = LU(a.tolist())
    np.testing.assert_allclose(lu.solve(b.tolist()), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lu.condition_number(), np.linalg.cond(a, 1), rtol=1e-10)


def test_lu_refuses_a_singular_matrix():
    with pytest.raises(SingularMatrixError, match="column 1"):
        LU([[1.0, 2.0], [2.0, 4.0]])
