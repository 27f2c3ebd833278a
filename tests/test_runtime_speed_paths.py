"""runtime_py's fast paths give Keras's results: both backends and the automatic choice, batch 1 and 1024.

The fast paths (a float32 array of the model's shape skips the general conversions; the
automatic backend runs small calls in pure Python) are separate code, so each is checked
against Keras here, with numpy and list inputs. Speed itself is measured by
benchmarks/run.py, never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

import runtime_py
from parity import assert_parity

BACKENDS = (None, "numpy", "python")


def _rows_for(backend, name):
    # the pure-Python backend at batch 1024 on MNIST takes seconds: it is checked on the smaller models
    return (1, 1024) if backend != "python" or name not in ("mnist",) else (1, 64)


@pytest.mark.parametrize("backend", BACKENDS, ids=["auto", "numpy", "python"])
def test_array_fast_path_matches_keras(zoo, zoo_name, backend):
    model = runtime_py.load(zoo.exported(zoo_name, "keras", ".json"), backend=backend)
    for rows in _rows_for(backend, zoo_name):
        x = zoo.inputs(zoo_name, rows=rows, seed=rows)
        want = zoo.keras_predict(zoo_name, x)[0]
        got = model.predict(x[0])
        assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == want.shape
        assert_parity(got, want, f"{zoo_name} backend={backend} rows={rows}")


@pytest.mark.parametrize("backend", BACKENDS, ids=["auto", "numpy", "python"])
def test_list_input_matches_keras(zoo, backend):
    model = runtime_py.load(zoo.exported("digits", "keras", ".json"), backend=backend)
    x = zoo.inputs("digits", rows=3, seed=5)
    got = model.predict(x[0].tolist())
    assert isinstance(got, list)
    assert_parity(got, zoo.keras_predict("digits", x)[0], f"digits lists backend={backend}")


@pytest.fixture(scope="module")
def tiny(keras, tmp_path_factory):
    """XOR-sized 2-1-1 with a skip (concatenate): small enough for the automatic pure-Python path."""
    from exporter.export import export

    keras.utils.set_random_seed(3)
    inp = keras.Input((2,), name="x")
    hidden = keras.layers.Dense(1, activation="tanh", name="hidden")(inp)
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(keras.layers.Concatenate()([inp, hidden]))
    model = keras.Model(inp, out, name="tiny")
    folder = tmp_path_factory.mktemp("tiny")
    model.save(folder / "tiny.keras")
    export(folder / "tiny.keras", [folder / "tiny.json"])
    return model, folder / "tiny.json"


@pytest.mark.parametrize("rows", [1, 2, 1024])
def test_automatic_choice_on_a_tiny_model(tiny, rows):
    model, path = tiny
    auto = runtime_py.load(path)
    python = runtime_py.load(path, backend="python")
    numpy_ = runtime_py.load(path, backend="numpy")
    assert auto._small_rows >= 1, "a 7-weight model should take the pure-Python path at batch 1"
    x = np.random.default_rng(rows).uniform(-3, 3, (rows, 2)).astype(np.float32)
    got = auto.predict(x)
    assert_parity(got, model.predict(x, verbose=0), f"tiny rows={rows}")
    expected_engine = python if rows <= auto._small_rows else numpy_
    assert got.tobytes() == expected_engine.predict(x).tobytes(), "the automatic choice ran the other engine"
    assert_parity(auto.predict(x.tolist()), model.predict(x, verbose=0), f"tiny lists rows={rows}")


def test_automatic_choice_keeps_numpy_for_large_models(zoo):
    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"))
    assert model.backend == "numpy" and model._small_rows == 0


def test_extreme_inputs_through_the_fast_path(zoo):
    x = zoo.inputs("mnist", rows=4, seed=2, scale=1e4)
    want = zoo.keras_predict("mnist", x)[0]
    for backend in BACKENDS:
        got = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend=backend).predict(x[0])
        assert_parity(got, want, f"mnist x1e4 backend={backend}")


# ---- the numpy backend's in-place sigmoid, fused dense steps and reused buffers --------------------------


def _tf_sigmoid(x):
    """TF's overflow-free sigmoid as the numpy backend computed it before (the formula, spelled out)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, np.float32(1) / (np.float32(1) + e), e / (np.float32(1) + e)).astype(np.float32)


def _sigmoid_cases():
    rng = np.random.default_rng(11)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1.2e-38, -1.2e-38, 1e-8, -1e-8,
                        16.6, -16.6, 17.0, -17.0, 88.7, -88.7, 89.0, -89.0, 103.9, -104.0, 3.4e38, -3.4e38],
                       dtype=np.float32)
    every_bit_pattern = rng.integers(0, 2 ** 32, 60000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return [special.reshape(1, -1), every_bit_pattern.reshape(200, 300),
            rng.normal(0, 12, (1024, 300)).astype(np.float32), rng.uniform(-1, 1, (7, 33)).astype(np.float32)]


def test_in_place_sigmoid_is_bit_identical_to_the_formula():
    from runtime_py.activations_numpy import _sigmoid, sigmoid_forward, sigmoid_into

    for x in _sigmoid_cases():
        with np.errstate(all="ignore"):
            want = _tf_sigmoid(x).view(np.uint32)
            scratch, step = np.empty_like(x), np.empty_like(x)
            for got in (sigmoid_forward(x.copy(), 1, x.shape[1]), _sigmoid(x),
                        sigmoid_into(x.copy(), scratch, step), sigmoid_into(x.copy(), scratch, step)):
                assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), want), x.shape
        strided = x[:, ::2]  # _sigmoid serves glu's half-rows, which are views
        with np.errstate(all="ignore"):
            assert np.array_equal(_sigmoid(strided).view(np.uint32), _tf_sigmoid(strided).view(np.uint32))


def test_softmax_without_method_wrappers_is_unchanged():
    from runtime_py.activations_numpy import softmax_forward

    rng = np.random.default_rng(4)
    for shape, n in (((1, 10), 10), ((1024, 10), 10), ((3, 12), 4)):
        x = rng.normal(0, 30, shape).astype(np.float32)
        x.flat[1] = np.inf
        groups = x.reshape(-1, n).astype(np.float32)
        with np.errstate(all="ignore"):
            e = np.exp(groups - groups.max(axis=1, keepdims=True))
            want = (e / e.sum(axis=1, keepdims=True)).reshape(shape)
            got = softmax_forward(x.copy(), 1, n)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("rows", [1, 7, 1024])
def test_fused_chain_equals_the_node_by_node_engine(zoo, zoo_name, rows):
    """The fused dense+activation steps with reused buffers give the general engine's values, bit for bit."""
    model = runtime_py.load(zoo.exported(zoo_name, "keras", ".json"), backend="numpy")
    assert model._chain_steps is not None and any(fused for _, fused in model._chain_steps)
    x = zoo.inputs(zoo_name, rows=rows, seed=rows + 40)[0]
    flat = x.reshape(rows, -1)
    want = model._run_numpy([flat])[0].reshape((rows,) + tuple(model.outputs[0].shape))
    for _ in range(2):  # the second call runs on the buffers the first one left
        got = model.predict(x)
        assert got.tobytes() == want.tobytes()


def test_results_never_alias_a_reused_buffer(zoo):
    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend="numpy")
    a, b = zoo.inputs("mnist", rows=5, seed=1)[0], zoo.inputs("mnist", rows=5, seed=2)[0]
    first = model.predict(a)
    kept = first.copy()
    second = model.predict(b)
    assert first.tobytes() == kept.tobytes() and first.tobytes() != second.tobytes()
    buffers = [arr for runners in model._workspaces.values() for step in runners
               for arr in getattr(step, "keywords", {}).get("workspace", ()) if arr is not None]
    assert buffers, "mnist's hidden layer should run on a reused buffer"
    assert not any(np.shares_memory(out, buf) for out in (first, second) for buf in buffers)


def test_buffers_are_kept_for_a_few_batch_sizes_only(zoo):
    from runtime_py.model import MAX_WORKSPACES

    model = runtime_py.load(zoo.exported("regressor", "keras", ".json"), backend="numpy")
    for rows in range(1, 12):
        model.predict(zoo.inputs("regressor", rows=rows, seed=rows)[0])
        assert len(model._workspaces) <= MAX_WORKSPACES


def test_threads_sharing_a_model_get_their_own_results(zoo):
    from concurrent.futures import ThreadPoolExecutor

    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend="numpy")
    xs = [zoo.inputs("mnist", rows=64, seed=s)[0] for s in range(8)]
    want = [model.predict(x).tobytes() for x in xs]

    def run(k):
        return all(model.predict(xs[k]).tobytes() == want[k] for _ in range(20))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, [k % 8 for k in range(32)]))


def test_a_reentrant_call_makes_its_own_buffers(zoo):
    """A call that starts while another runs on the same thread (a signal handler, say) must not share its buffers."""
    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend="numpy")
    x, inner_x = zoo.inputs("mnist", rows=3, seed=8)[0], zoo.inputs("mnist", rows=3, seed=9)[0]
    want, inner_want = model.predict(x).tobytes(), model.predict(inner_x).tobytes()
    runners = model._workspaces[3]
    seen = []

    def reentering(value, _first=runners[0]):
        seen.append(model.predict(inner_x).tobytes())  # runs while the outer call holds its buffers
        return _first(value)

    runners[0] = reentering
    assert model.predict(x).tobytes() == want and seen == [inner_want]


def test_overflow_through_the_fused_path_is_silent(zoo):
    import warnings

    model = runtime_py.load(zoo.exported("mnist", "keras", ".json"), backend="numpy")
    x = zoo.inputs("mnist", rows=2, seed=3)[0] * np.float32(1e37)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(x)


# ---- the pure-Python chain: a dense + plain relu output is not rounded to float32 a second time ----------


@pytest.mark.parametrize("name, relu_nodes", [("regressor", 3), ("mnist", 0)])
def test_python_chain_skips_only_rounding_that_changes_nothing(zoo, name, relu_nodes):
    """Bit for bit the chain that rounds every node's output, on rows with -0.0, NaN, inf and huge values."""
    from array import array

    model = runtime_py.load(zoo.exported(name, "keras", ".json"), backend="python")
    assert sum(getattr(fn, "float32_out", False) for fn, _ in model._steps) == relu_nodes
    rows = zoo.inputs(name, rows=6, seed=9)[0].tolist()
    rows[0][:6] = [-0.0, 0.0, float("nan"), float("inf"), float("-inf"), 3e38]
    rows[1] = [-0.0] * len(rows[1])
    rows[2] = [float("nan")] * len(rows[2])
    rows[3] = [v * 1e30 for v in rows[3]]
    for row in rows:
        row = array("f", row).tolist()
        want = row
        for fn, _ in model._steps:
            want = array("f", fn(want)).tolist()
        got = model._run_chain_python(row, model._steps)
        assert array("d", got).tobytes() == array("d", want).tobytes()  # doubles: an unrounded value would differ
        assert [type(v) for v in got] == [float] * len(got)
