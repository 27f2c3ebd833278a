"""Input gradients: every backward rule and every parity-table model against tf.GradientTape.

The reference is TensorFlow: tf.GradientTape on the Keras model (float32), judged with its run
on the model rebuilt in float64 as the exact value (exporter/float64_reference.py), with the
parity judge of runtime_py/judge.py (tests/parity.py). The activation
rules are checked one by one on the activation table's inputs (special values included); the
models are those of the parity tables (tests/zoo.py, tests/layer_cases.py, the activation
models of tests/test_activations.py, tests/graph_cases.py with its random graphs), on normal,
scaled and extreme inputs. A second, independent check compares with central differences of
the float64 model's outputs, where two step sizes agree (no kink in between).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import runtime_py
from exporter.frontend_keras import _collect_weights
from exporter.graph import build_graph
from exporter.model_file import to_json
from exporter.test_vectors import make_inputs
from exporter.float64_reference import rebuild_float64
from gradient_reference import finite_differences, pick_targets, tf_gradients
from graph_cases import GRAPHS, build_graph_case, random_graph
from layer_cases import build_case
from parity import assert_parity
from runtime_py import activations as runtime_activations
from runtime_py import activations_backward_numpy, activations_backward_python, activations_numpy, activations_python
from test_activations import (HALVING, KERNEL_ROWS, build_models, c_parameter_args, kernel_inputs, model_batches,
                              nonfinite_rows, record_of, sparsemax_borderline_rows)
from test_graphs import RANDOM_SEEDS
from test_layers import NAMES as LAYER_NAMES
from zoo import MODELS, build_model


@pytest.fixture(scope="module")
def tf(keras):
    import tensorflow

    return tensorflow


# ---- activation rules, one row per code path ------------------------------------------------------


def activation_vjp(tf, call: str, x: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
    """TensorFlow's gradient of sum(cotangent * keras.activations.<call>(x)), in graph mode."""
    import keras

    def vjp(t, c):
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = eval(call, {"x": t, "tf": tf, "ops": keras.ops, **vars(keras.activations)})  # noqa: S307 (a row of the table)
        return tape.gradient(y, t, output_gradients=c)

    return np.asarray(tf.function(vjp, autograph=False)(tf.constant(x), tf.constant(cotangent)))


def odd_activation_rows(name, x) -> np.ndarray:
    """Rows where TensorFlow's forward pass itself is not reproduced (test_activations explains them)."""
    if name in ("softmax", "log_softmax"):
        return nonfinite_rows(x)
    if name == "sparsemax":
        return sparsemax_borderline_rows(x)
    return np.zeros(x.shape[0], dtype=bool)


def run_rules(name, record, x, cotangent):
    """(python, numpy) gradients of the activation at x for the cotangent."""
    params = [record[p] for p in runtime_activations.ACTIVATIONS[name]]
    rows, n = x.shape
    with np.errstate(all="ignore"):
        y = getattr(activations_numpy, f"{name}_forward")(x.copy().reshape(1, -1), rows, n, *params)
        numpy_grad = getattr(activations_backward_numpy, f"{name}_backward")(
            cotangent.reshape(1, -1), x.reshape(1, -1), y.reshape(1, -1), rows, n, *params)
    y_python = np.array(getattr(activations_python, f"{name}_forward")(x.ravel().tolist(), rows, n, *params),
                        np.float32).tolist()
    python_grad = getattr(activations_backward_python, f"{name}_backward")(
        cotangent.ravel().tolist(), x.ravel().tolist(), y_python, rows, n, *params)
    with np.errstate(all="ignore"):
        return np.array(python_grad, np.float32).reshape(x.shape), numpy_grad.reshape(x.shape)


def activation_case(tf, row) -> tuple:
    """(x, cotangent, TensorFlow's gradient, the float64 one, the rows to judge) for a kernel row."""
    _, name, _, call = row
    x = kernel_inputs()
    width = x.shape[1] // 2 if name in HALVING else x.shape[1]
    cotangent = np.random.default_rng(3).standard_normal((x.shape[0], width)).astype(np.float32)
    want = activation_vjp(tf, call, x, cotangent)
    exact = activation_vjp(tf, call, x.astype(np.float64), cotangent.astype(np.float64))
    return x, cotangent, want, exact, ~odd_activation_rows(name, x)


@pytest.mark.parametrize("row", KERNEL_ROWS, ids=[r[0] for r in KERNEL_ROWS])
def test_activation_rules_match_tensorflow(tf, row):
    row_id, name, params, call = row
    x, cotangent, want, exact, keep = activation_case(tf, row)
    for backend, got in zip(("python", "numpy"), run_rules(name, record_of(name, params), x, cotangent)):
        assert got.dtype == np.float32
        assert_parity(got[keep], want[keep], f"{row_id} [{backend}]", keras64=exact[keep])


# ---- models of the parity tables --------------------------------------------------------------------

ACTIVATION_MODELS = ("activation_heads", "dense_heads", "glu")
MODEL_CASES = ([("zoo", name) for name in sorted(MODELS)] + [("layer", name) for name in LAYER_NAMES]
               + [("activations", name) for name in ACTIVATION_MODELS] + [("graph", name) for name in sorted(GRAPHS)]
               + [("random", seed) for seed in RANDOM_SEEDS])


def runtime_model(keras_model, backend: str):
    """The Keras model as runtime_py loads it: the exporter's graph in a JSON file, without saving the model."""
    weights = {}
    _collect_weights(keras_model, (), weights)
    config = json.loads(json.dumps(__import__("keras").saving.serialize_keras_object(keras_model)))
    graph = build_graph(config, lambda path: weights.get(path, []), "m")
    return runtime_py.loads(to_json(graph, [], {"source": "test"}), backend=backend)


class GradientCases:
    """Each table's Keras model, its float64 twin and runtime_py loads of it, built once per module."""

    def __init__(self, keras):
        self.keras = keras
        self.cache = {}
        self.activation_models = None

    def get(self, table, name):
        key = (table, name)
        if key not in self.cache:
            model = self._build(table, name)
            self.cache[key] = (model, rebuild_float64(model),
                               {b: runtime_model(model, b) for b in runtime_py.BACKENDS})
        return self.cache[key]

    def _build(self, table, name):
        keras = self.keras
        if table == "zoo":
            return build_model(keras, name)
        if table == "layer":
            return build_case(keras, name)
        if table == "graph":
            return build_graph_case(keras, name)
        if table == "random":
            return random_graph(keras, name)
        if self.activation_models is None:
            self.activation_models = build_models(keras)
        return self.activation_models[name]

    def inputs(self, table, name, model) -> list:
        """Batches: normal rows, rows scaled by 4, and the exporter's extreme rows (zeros, +-1e4 entries)."""
        if table == "activations":
            batches = model_batches(name)
            return [[np.concatenate([batches["normal"][:6], batches["scaled50"][:3], batches["extreme"]])]]
        rng = np.random.default_rng(5)
        normal = [rng.standard_normal((8, *t.shape[1:])).astype(np.float32) for t in model.inputs]
        scaled = [(4 * rng.standard_normal((3, *t.shape[1:]))).astype(np.float32) for t in model.inputs]

        class Spec:  # what make_inputs reads of a graph: the inputs' shapes
            inputs = [type("T", (), {"shape": tuple(t.shape[1:])})() for t in model.inputs]

        extreme = make_inputs(Spec)[2]
        return [[np.concatenate([a, b, c]) for a, b, c in zip(normal, scaled, extreme)]]

    def reference(self, tf, table, name) -> tuple:
        """(inputs, targets, TensorFlow's gradients, the float64 twin's): [target][input] arrays, cached."""
        key = ("reference", table, name)
        if key not in self.cache:
            model, twin, ours = self.get(table, name)
            targets = pick_targets([int(np.prod(t.shape)) for t in ours["numpy"].outputs])
            inputs = self.inputs(table, name, model)[0]
            self.cache[key] = (inputs, targets, tf_gradients(tf, model, inputs, targets),
                               tf_gradients(tf, twin, inputs, targets))
        return self.cache[key]


@pytest.fixture(scope="module")
def cases(keras):
    return GradientCases(keras)


@pytest.mark.parametrize("table, name", MODEL_CASES, ids=[f"{t}-{n}" for t, n in MODEL_CASES])
def test_model_gradients_match_tensorflow(tf, cases, table, name):
    inputs, targets, want, exact = cases.reference(tf, table, name)
    for backend, runtime in cases.get(table, name)[2].items():
        for target, per_input, exact_per_input in zip(targets, want, exact):
            got = runtime.gradient(inputs if len(inputs) > 1 else inputs[0], output=target)
            got = got if len(inputs) > 1 else [got]
            for k, (mine, theirs, truth) in enumerate(zip(got, per_input, exact_per_input)):
                assert_parity(mine, theirs, f"{table} {name} [{backend}] d out[{target}] / d in{k}", keras64=truth)


# ---- the same models through headers exported with --gradients -------------------------------------


def gradient_header(keras_model, prefix: str) -> bytes:
    """The header export-model --gradients writes for the model (test vectors and gradients from Keras)."""
    import keras

    from exporter.c.render import to_header
    from exporter.gradient_vectors import keras_gradients, make_gradient_check
    from exporter.test_vectors import make_test_vectors

    weights = {}
    _collect_weights(keras_model, (), weights)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(keras_model)))
    graph = build_graph(config, lambda path: weights.get(path, []), prefix)

    def predict(batches):
        result = keras_model.predict_on_batch(batches if len(batches) > 1 else batches[0])
        return list(result) if isinstance(result, (list, tuple)) else [result]

    vectors = make_test_vectors(graph, predict)
    check = make_gradient_check(graph, vectors, keras_gradients(keras_model), "TensorFlow")
    return to_header(graph, vectors, {"source": "test"}, check)


class GradientPrograms:
    """One C program per table holding every model's --gradients header (one compile per table)."""

    def __init__(self, cases, directory):
        self.cases, self.directory, self.programs = cases, directory, {}

    def get(self, table):
        from cheader import MultiModelProgram

        if table not in self.programs:
            program = MultiModelProgram(self.directory / table)
            program.directory.mkdir()
            for position, (t, name) in enumerate(c for c in MODEL_CASES if c[0] == table):
                model = self.cases.get(t, name)[0]
                prefix = f"{table}{position}"
                header = program.directory / f"{prefix}.h"
                header.write_bytes(gradient_header(model, prefix))
                program.add(name, header, prefix, len(model.inputs), len(model.outputs), gradients=True)
            self.programs[table] = (program, program.build(opt="-O1"))
        return self.programs[table]


@pytest.fixture(scope="module")
def programs(cases, tmp_path_factory):
    return GradientPrograms(cases, tmp_path_factory.mktemp("gradient-headers"))


@pytest.mark.parametrize("table, name", MODEL_CASES, ids=[f"{t}-{n}" for t, n in MODEL_CASES])
def test_header_gradients_match_tensorflow(tf, cases, programs, table, name):
    """NAME_input_gradient against tf.GradientTape, and NAME_selftest passes with its gradient rows."""
    program, exe = programs.get(table)
    inputs, targets, want, exact = cases.reference(tf, table, name)
    for target, per_input, exact_per_input in zip(targets, want, exact):
        got = program.gradient(exe, name, inputs, target)
        for k, (mine, theirs, truth) in enumerate(zip(got, per_input, exact_per_input)):
            assert_parity(mine, theirs, f"{table} {name} [C] d out[{target}] / d in{k}", keras64=truth)
    failures, error = program.selftest(exe, name)
    assert failures == 0, f"{table} {name}: NAME_selftest failed {failures} values (max |error| {error})"


# ---- a second, independent reference: finite differences of the float64 model ----------------------

FD_MODELS = [("zoo", "digits"), ("zoo", "chain_functional"), ("zoo", "no_bias"), ("zoo", "regressor"),
             ("graph", "multi_io"), ("graph", "functional_in_sequential"), ("layer", "LayerNormalization_rank3"),
             ("layer", "Dot_normalize"), ("activations", "dense_heads")]
FD_STEP = 1e-4


@pytest.mark.parametrize("table, name", FD_MODELS, ids=[f"{t}-{n}" for t, n in FD_MODELS])
def test_jacobian_matches_float64_finite_differences(cases, table, name):
    """Central differences of the float64 model at steps h and h/2; where they agree (no kink within h),
    every runtime's Jacobian must agree with them too."""
    model, twin, ours = cases.get(table, name)
    inputs = [x[:6] for x in cases.inputs(table, name, model)[0]]  # normal rows only: no saturation
    coarse = finite_differences(twin, inputs, FD_STEP)
    fine = finite_differences(twin, inputs, FD_STEP / 2)
    for backend, runtime in ours.items():
        got = runtime.jacobian(inputs if len(inputs) > 1 else inputs[0])
        got = got if len(inputs) > 1 else [got]
        for k, (mine, a, b) in enumerate(zip(got, coarse, fine)):
            scale = 1e-6 + 1e-6 * np.abs(b)
            smooth = np.abs(a - b) <= scale
            assert smooth.mean() > 0.9, f"{name}: finite differences disagree at {1 - smooth.mean():.0%} of points"
            error = np.abs(np.asarray(mine, np.float64) - b)
            bad = smooth & (error > 2e-5 * np.maximum(np.abs(b), 1e-2))
            assert not bad.any(), (f"{table} {name} [{backend}] input {k}: {int(bad.sum())} values off the finite "
                                   f"differences, e.g. ours {np.asarray(mine)[bad][:3]} vs {b[bad][:3]}")


# ---- the API: forms, selectors, errors ----------------------------------------------------------------


def test_jacobian_stacks_the_gradients_of_every_output_value(cases):
    model, _, ours = cases.get("graph", "multi_io")  # two inputs (5,), (3,); outputs second (1,), first (2,)
    inputs = [x[:4] for x in cases.inputs("graph", "multi_io", model)[0]]
    for backend, runtime in ours.items():
        jacobian = runtime.jacobian(inputs)
        assert [np.asarray(j).shape for j in jacobian] == [(4, 3, 5), (4, 3, 3)]
        for k in range(3):
            for j, g in zip(jacobian, runtime.gradient(inputs, output=k)):
                np.testing.assert_array_equal(np.asarray(j)[:, k], g)


def test_output_selectors(cases):
    """A flat index over the concatenated outputs, (position, index), (name, index), or one per row."""
    model, _, ours = cases.get("graph", "multi_io")
    inputs = [x[:4] for x in cases.inputs("graph", "multi_io", model)[0]]
    runtime = ours["numpy"]
    names = [t.name for t in runtime.outputs]
    flat = [runtime.gradient(inputs, output=k) for k in range(3)]
    for k, selector in [(0, (0, 0)), (1, (1, 0)), (2, (names[1], 1)), (2, (1, np.int64(1)))]:
        for a, b in zip(runtime.gradient(inputs, output=selector), flat[k]):
            np.testing.assert_array_equal(a, b)
    per_row = runtime.gradient(inputs, output=[2, 0, (1, 0), 2])
    for a, grads in zip(per_row, zip(*flat)):
        np.testing.assert_array_equal(a, np.stack([grads[2][0], grads[0][1], grads[1][2], grads[2][3]]))
    by_name = runtime.gradient({t.name: x for t, x in zip(runtime.inputs, inputs)}, output=1)
    for a, b in zip(by_name, flat[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("output, error, match", [
    (None, ValueError, "say which one"), (3, ValueError, "out of range"), (-1, ValueError, "out of range"),
    ((2, 0), ValueError, "2 output"), (("nope", 0), ValueError, "no output named"), ((0, 1), ValueError, "outside"),
    (1.5, TypeError, "must be an int"), (True, TypeError, "must be an int"), ([0, 1], ValueError, "one per row"), ([0, 9, 0, 0], ValueError, "out of range"),
])
def test_bad_output_selectors_are_refused(cases, output, error, match):
    model, _, ours = cases.get("graph", "multi_io")
    inputs = [x[:4] for x in cases.inputs("graph", "multi_io", model)[0]]
    for runtime in ours.values():
        with pytest.raises(error, match=match):
            runtime.gradient(inputs, output=output)


def test_lists_in_lists_out_numpy_in_numpy_out(cases):
    model, _, ours = cases.get("zoo", "chain_functional")  # input (5, 4)
    x = cases.inputs("zoo", "chain_functional", model)[0][0][:3]
    for runtime in ours.values():
        as_array = runtime.gradient(x, output=2)
        as_list = runtime.gradient(x.tolist(), output=2)
        assert isinstance(as_array, np.ndarray) and as_array.shape == (3, 5, 4) and as_array.dtype == np.float32
        assert isinstance(as_list, list) and len(as_list[0]) == 5 and len(as_list[0][0]) == 4
        np.testing.assert_array_equal(np.array(as_list, np.float32), as_array)
        jacobian = runtime.jacobian(x.tolist())
        assert np.array(jacobian).shape == (3, 4, 5, 4)


def test_one_output_value_needs_no_selector(cases):
    model, _, ours = cases.get("zoo", "regressor")
    x = cases.inputs("zoo", "regressor", model)[0][0][:3]
    for runtime in ours.values():
        np.testing.assert_array_equal(runtime.gradient(x), runtime.gradient(x, output=0))


def test_an_input_the_output_ignores_gets_zeros(keras):
    L = keras.layers
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    model = keras.Model([a, b], [L.Dense(2, name="from_a")(a), L.Dense(1, name="from_b")(b)])
    for backend in runtime_py.BACKENDS:
        runtime = runtime_model(model, backend)
        x = [np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)]
        grad_a, grad_b = runtime.gradient(x, output=2)  # from_b's value: a does not matter
        np.testing.assert_array_equal(grad_a, np.zeros((2, 3), np.float32))
        np.testing.assert_array_equal(grad_b, np.repeat(model.get_layer("from_b").get_weights()[0].T, 2, axis=0))


# ---- C activation rules: one driver holds them all --------------------------------------------------

C_DRIVER = r"""
/* Backward activation driver: argv = name rows n params...; stdin: x (rows * n), then the cotangent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
%(includes)s

int main(int argc, char **argv)
{
    if (argc < 4) {
        return 2;
    }
    const char *name = argv[1];
    const int rows = atoi(argv[2]), n = atoi(argv[3]);
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 4; i < argc && i < 8; i++) {
        p[i - 4] = strtof(argv[i], NULL);
    }
    const size_t count = (size_t)rows * (size_t)n;
    const int halving = strcmp(name, "glu") == 0;
    const size_t out_count = halving ? count / 2 : count;
    float *x = (float *)malloc(count * sizeof(float));
    float *g = (float *)malloc(out_count * sizeof(float));
    float *y = (float *)malloc(out_count * sizeof(float));
    float *d = (float *)calloc(count, sizeof(float));
    if (x == NULL || g == NULL || y == NULL || d == NULL || fread(x, sizeof(float), count, stdin) != count ||
        fread(g, sizeof(float), out_count, stdin) != out_count) {
        return 2;
    }
    if (0) {
    }
%(branches)s
    else {
        fprintf(stderr, "unknown activation %%s\n", name);
        return 2;
    }
    fwrite(d, sizeof(float), count, stdout);
    free(x);
    free(g);
    free(y);
    free(d);
    return 0;
}
"""


def c_driver_source() -> str:
    names = sorted(runtime_activations.ACTIVATIONS)
    branches = []
    for name in names:
        args = c_parameter_args(name)
        branches.append(f'    else if (strcmp(name, "{name}") == 0) {{\n'
                        f'        kl_{name}_forward(y, x, rows, n{args});\n'
                        f'        kl_{name}_backward(d, g, x, y, rows, n{args});\n    }}')
    includes = "\n".join(f'#include "{name}.h"\n#include "backward/{name}.h"' for name in names)
    return C_DRIVER % {"includes": includes, "branches": "\n".join(branches)}


@pytest.fixture(scope="module")
def c_driver(tmp_path_factory):
    from cbuild import RUNTIME_C, build

    directory = tmp_path_factory.mktemp("backward-kernels")
    source = directory / "driver.c"
    source.write_text(c_driver_source())
    return build([source], directory / "driver", include=[RUNTIME_C], opt="-O2")


def run_c_rule(driver, name, record, x, cotangent):
    from cbuild import float32_bytes, read_float32, run

    params = [record[p] for p in runtime_activations.ACTIVATIONS[name]]
    args = [str(int(p)) if isinstance(p, bool) else float(p).hex() for p in params]
    done = run(driver, name, x.shape[0], x.shape[1], *args, stdin=float32_bytes(x, cotangent))
    return read_float32(done.stdout, x.shape)


@pytest.mark.parametrize("row", KERNEL_ROWS, ids=[r[0] for r in KERNEL_ROWS])
def test_c_activation_rules_match_tensorflow(tf, c_driver, row):
    row_id, name, params, call = row
    x, cotangent, want, exact, keep = activation_case(tf, row)
    got = run_c_rule(c_driver, name, record_of(name, params), x, cotangent)
    assert_parity(got[keep], want[keep], f"{row_id} [C]", keras64=exact[keep])


@pytest.mark.parametrize("cc", ["clang", "g++", "clang++"])
def test_c_backward_kernels_compile_warning_free(tmp_path, cc):
    """Every backward kernel, activations and ops, in one translation unit (gcc: the driver build)."""
    from cbuild import RUNTIME_C, build

    ops = sorted(p.stem for p in (RUNTIME_C / "backward").glob("*.h"))
    source = tmp_path / ("all.cpp" if cc.endswith("++") else "all.c")
    source.write_text("".join(f'#include "backward/{op}.h"\n' for op in ops) + "int main(void) { return 0; }\n")
    build([source], tmp_path / "all", cc=cc, include=[RUNTIME_C], opt="-O2")


# ---- the header's gradient API: built only when asked, clean under every strict build ---------------

GRADIENT_CALLS = {
    "input_gradient": "float in[{P}_INPUT_SIZE] = {{0}};\n    float grad[{P}_INPUT_SIZE];\n"
                      "    {P}_input_gradient(in, 0, grad);\n    return grad[0] == grad[0] ? 0 : 1;",
    "input_gradient_multi": "float in[{P}_INPUT_0_SIZE] = {{0}};\n    float grad[{P}_INPUT_0_SIZE];\n"
                            "    const float *const inputs[1] = {{in}};\n    float *const grads[1] = {{grad}};\n"
                            "    {P}_input_gradient_multi(inputs, 0, grads);\n    return grad[0] == grad[0] ? 0 : 1;",
    "selftest": "return {P}_selftest(NULL);",
    "nothing": "return 0;",
}


@pytest.fixture(scope="module")
def digits_gradient_header(zoo, tmp_path_factory):
    from exporter.export import export

    directory = tmp_path_factory.mktemp("gradient-api")
    result = export(zoo.saved("digits", "h5"), [directory / "digits.h"], gradients=True)
    return directory / "digits.h", result


@pytest.mark.parametrize("variant", ["gcc-O0", "gcc-O2", "clang-O2", "g++", "clang++", "sanitize"])
@pytest.mark.parametrize("calls", sorted(GRADIENT_CALLS))
def test_gradient_header_builds_calling_one_function(digits_gradient_header, tmp_path, variant, calls):
    from cbuild import SANITIZE, build, run

    header, _ = digits_gradient_header
    cc, opt = {"gcc-O0": ("gcc", "-O0"), "gcc-O2": ("gcc", "-O2"), "clang-O2": ("clang", "-O2"), "g++": ("g++", "-O2"),
               "clang++": ("clang++", "-O2"), "sanitize": ("gcc", "-O1")}[variant]
    source = tmp_path / ("main.cpp" if cc.endswith("++") else "main.c")
    source.write_text(f'#include <stddef.h>\n#include "{header.name}"\n\nint main(void)\n{{\n    '
                      + GRADIENT_CALLS[calls].format(P="digits") + "\n}\n")
    run(build([source], tmp_path / "main", cc=cc, include=[header.parent], opt=opt,
              flags=SANITIZE if variant == "sanitize" else ()))


def test_gradient_floats_and_out_of_range_indices(digits_gradient_header, tmp_path):
    """NAME_GRADIENT_FLOATS is what the exporter reports; an index outside the outputs gives NaN everywhere."""
    from cbuild import build, run

    from exporter.c.gradients import gradient_floats

    header, result = digits_gradient_header
    text = header.read_text()
    assert f"#define digits_GRADIENT_FLOATS {gradient_floats(result.graph)} " in text
    assert result.gradient_error is not None and result.gradient_error < 1e-5
    source = tmp_path / "main.c"
    source.write_text(f'#include <stdio.h>\n#include "{header.name}"\n\nint main(void)\n{{\n'
                      "    float in[digits_INPUT_SIZE] = {0};\n    float grad[digits_INPUT_SIZE];\n"
                      "    int nan = 0;\n    const int indices[3] = {-1, 10, 1000};\n"
                      "    for (int i = 0; i < 3; i++) {\n        digits_input_gradient(in, indices[i], grad);\n"
                      "        for (int k = 0; k < digits_INPUT_SIZE; k++) {\n            nan += grad[k] != grad[k];\n"
                      "        }\n    }\n    printf(\"%d\\n\", nan);\n    return 0;\n}\n")
    done = run(build([source], tmp_path / "main", include=[header.parent]))
    assert done.stdout.decode().split() == [str(3 * 64)]


def test_header_without_the_flag_has_no_gradient_code(zoo):
    text = zoo.exported("digits", "h5", ".h").read_text()
    assert "input_gradient" not in text and "_backward" not in text and "GRADIENT" not in text


def test_cli_gradients(zoo, tmp_path):
    import subprocess
    import sys

    model = zoo.saved("digits", "h5")
    done = subprocess.run([sys.executable, "-m", "exporter", str(model), "-o", str(tmp_path / "d.json"), "--gradients"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and done.stderr.startswith("error: --gradients") and done.stderr.count("\n") == 1
    assert not (tmp_path / "d.json").exists()
    done = subprocess.run([sys.executable, "-m", "exporter", str(model), "-o", str(tmp_path / "d.h"), "--gradients",
                           "--name", "dg"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "dg_input_gradient:" in done.stdout and "checked by dg_selftest on 7 rows" in done.stdout
    assert "void dg_input_gradient(const float *input, int output_index, float *grad)" in (tmp_path / "d.h").read_text()


def test_gradients_without_tensorflow_are_a_self_check(zoo, tmp_path):
    """The files front-end has no TensorFlow: the header's gradient rows come from kerasless's numpy runtime."""
    from cbuild import build, run

    from exporter.export import export

    result = export(zoo.saved("no_bias", "keras"), [tmp_path / "nb.h"], gradients=True, frontend="files", name="nb")
    text = (tmp_path / "nb.h").read_text()
    assert "as kerasless computed it" in text and result.gradient_error == 0.0
    source = tmp_path / "main.c"
    source.write_text('#include <stdio.h>\n#include "nb.h"\nint main(void)\n{\n    printf("%d\\n", nb_selftest(NULL));\n'
                      "    return 0;\n}\n")
    assert run(build([source], tmp_path / "main", include=[tmp_path])).stdout.decode().split() == ["0"]
