"""Functional graphs through the compiled C header, and the header's buffer plan.

Every graph case (from .h5 and .keras), a model built to trip buffer reuse, the XOR network
(trained until solved) and the 50 random graphs of tests/graph_cases.py are exported with
their own prefixes and compiled into ONE program (tests/cheader.py); each is checked against
Keras's model.predict. The plan itself (plan_buffers) is checked on IR graphs without Keras:
the scratch array of a chain is its widest pair of neighbours, and no two tensors that are
live at once ever share a float.
"""

from __future__ import annotations

import numpy as np
import pytest

from cheader import MultiModelProgram, array_of, input_local_of, local_of
from exporter.ir import Graph, Node, TensorSpec
from graph_cases import GRAPHS, build_graph_case, random_graph
from parity import assert_parity
from test_graphs import RANDOM_SEEDS, _as_list, _inputs, xor_model  # noqa: F401 (xor_model is a fixture)

CONTAINERS = ("h5", "keras")


def buffer_traps(keras):
    """Tensors read after an in-place candidate, outputs read by later layers, reshape aliases as outputs."""
    L = keras.layers
    x = keras.Input((6,), name="x")
    a = L.Dense(8, activation="relu", name="a")(x)
    b = L.BatchNormalization(name="b")(a)  # a is read again below: b must not overwrite it
    c = L.LayerNormalization(name="c")(b)  # b dies here: in place
    d = L.Add(name="d")([c, a])  # c and a die here
    o1 = L.Dense(8, name="o1")(d)  # output 0, read again by e
    e = L.Multiply(name="e")([o1, d])  # output 3, read again by f
    f = L.Reshape((2, 4), name="f")(e)
    g = L.Permute((2, 1), name="g")(f)
    h = L.Reshape((8,), name="h")(g)  # output 2: g is written straight into outputs[2], then read by o2
    o2 = L.Dense(3, activation="softmax", name="o2")(h)
    return keras.Model(x, [o1, o2, h, e, x, o1], name="buffer_traps")


def _export(model, directory, prefix, container):
    from exporter.export import export

    source = directory / f"{prefix}.{container}"
    model.save(source)
    header = directory / f"{prefix}.h"
    export(source, [header], name=prefix)
    return header


@pytest.fixture(scope="module")
def c_graphs(keras, tmp_path_factory, xor_model):
    """(program, driver, {key: Keras model}) for every graph of this file, compiled once."""
    directory = tmp_path_factory.mktemp("c_graphs")
    program, models = MultiModelProgram(directory), {}

    def add(key, model, prefix, container):
        models[key] = model
        program.add(key, _export(model, directory, prefix, container), prefix, len(model.inputs), len(model.outputs))

    for name in sorted(GRAPHS):
        for container in CONTAINERS:
            add((name, container), build_graph_case(keras, name), f"graph_{name}_{container}", container)
    keras.utils.set_random_seed(5)
    add(("buffer_traps", "keras"), buffer_traps(keras), "buffer_traps", "keras")
    model, path, _, _ = xor_model
    program.add("xor", path.with_suffix(".h"), "xor_net", 1, 1)
    from exporter.export import export

    export(path, [path.with_suffix(".h")], name="xor_net")
    models["xor"] = model
    for seed in RANDOM_SEEDS:
        add(("random", seed), random_graph(keras, seed), f"random_{seed}", "keras" if seed % 2 else "h5")
    return program, program.build(), models


def _check(c_graphs, key, scale=1.0, rows=20):
    program, exe, models = c_graphs
    failures, err = program.selftest(exe, key)
    assert failures == 0, f"{key}: selftest misses {failures} values (largest error {err})"
    model = models[key]
    inputs = _inputs(model, rows=rows, scale=scale)
    expected = _as_list(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))
    got = program.predict(exe, key, inputs, [e.shape[1:] for e in expected])
    assert len(got) == len(expected) == len(model.outputs)
    for k, (mine, theirs) in enumerate(zip(got, expected)):
        assert_parity(mine, theirs, f"{key} in C, output {k}, scale {scale}")


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_parity_in_c(c_graphs, name, container):
    _check(c_graphs, (name, container))


def test_buffer_traps_in_c(c_graphs):
    _check(c_graphs, ("buffer_traps", "keras"), scale=1.0)
    _check(c_graphs, ("buffer_traps", "keras"), scale=3.0)
    header = c_graphs[0].entries[c_graphs[0].index[("buffer_traps", "keras")]].header.read_text()
    body = header.split("_predict_scratch(float *scratch, const float *const inputs[], float *const outputs[])\n{")[1]
    g, x, o1 = local_of(body, "g"), input_local_of(body, "x"), local_of(body, "o1")
    assert f"float *const {g} = outputs[2];" in body  # the permuted tensor lands in the output it is reshaped to
    assert f"kl_reshape_forward(outputs[4], {x}, 6);" in body  # a model input as an output is copied
    assert f"kl_reshape_forward(outputs[5], {o1}, 8);" in body  # so is the second appearance of an output
    assert body.count("kl_reshape_forward(") == 2


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_graph_in_c(c_graphs, seed):
    _check(c_graphs, ("random", seed))


def test_xor_solved_in_c(c_graphs, xor_model):
    program, exe, _ = c_graphs
    model, _, x, y = xor_model
    got = program.predict(exe, "xor", [x], [(1,)])[0]
    assert np.array_equal(np.round(got), y), got
    assert_parity(got, model.predict(x, verbose=0), "xor in C")
    assert program.selftest(exe, "xor")[0] == 0


def test_graphs_under_other_builds(c_graphs):
    """Every graph's self test (Keras's own outputs, embedded) under ASan/UBSan and as C++ (g++)."""
    from cbuild import SANITIZE

    program, _, _ = c_graphs
    for name, flags, cc in (("sanitized", SANITIZE, "gcc"), ("cxx", (), "g++")):
        exe = program.build(name, cc=cc, flags=flags, opt="-O0")
        for key in program.index:
            failures, err = program.selftest(exe, key)
            assert failures == 0, f"{key} [{name}]: selftest misses {failures} values (largest error {err})"


def test_shared_layer_stores_its_weights_once(c_graphs):
    """The shared-layer case stores its Dense once, though the IR holds it twice."""
    program, _, _ = c_graphs
    text = program.entries[program.index[("shared_layer", "keras")]].header.read_text()
    kernel = array_of(text, "shared", "kernel")
    assert text.count("/* shared (Dense) kernel: ") == 1  # one array, though the IR holds the layer twice
    assert "stored once for every call of the layer" in text
    assert text.count(f"{kernel},") == 2  # both calls read it


# ---- the buffer plan, on IR graphs ----------------------------------------------------------------


def _dense(name, source, n_in, n_out, rng, act="linear"):
    weights = {"kernel": rng.standard_normal((n_in, n_out)).astype(np.float32),
               "bias": rng.standard_normal(n_out).astype(np.float32)}
    return Node(name, "dense", [source], (n_out,), {"activation": {"name": act}}, weights, name, "Dense")


def chain(widths, seed=0, name="chain"):
    """Input of widths[0] -> Dense -> ... -> Dense of widths[-1] (the output)."""
    rng = np.random.default_rng(seed)
    nodes, previous = [], "x"
    for k, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        nodes.append(_dense(f"d{k}", previous, n_in, n_out, rng, "tanh"))
        previous = f"d{k}"
    return Graph(name, [TensorSpec("x", (widths[0],))], [TensorSpec(previous, (widths[-1],))], nodes)


def widest_neighbours(widths):
    """Scratch a chain needs: the hidden layers only (the input and output are the caller's)."""
    hidden = widths[1:-1]
    return max([hidden[0], hidden[-1]] + [a + b for a, b in zip(hidden, hidden[1:])])


@pytest.mark.parametrize("widths", [[5, 30, 8, 50, 3, 40, 7, 2], [784, 300, 10], [1024, 1024, 1024, 10],
                                    [4, 10, 20, 30, 40, 50, 60, 1], [4, 60, 50, 40, 30, 20, 10, 1], [3, 7, 3]])
def test_chain_scratch_is_the_widest_pair_of_neighbours(widths):
    from exporter.c.buffers import plan_buffers

    assert plan_buffers(chain(widths)).floats == widest_neighbours(widths)


def test_chain_header_exports_that_size():
    from exporter.c.render import to_header

    text = to_header(chain([5, 30, 8, 50, 3, 40, 7, 2]), [], {}).decode()
    assert "#define chain_SCRATCH_FLOATS 58 " in text  # 8 + 50, not 30 + 8 + 50 + 3 + 40 + 7 = 138
    assert f"float *const {local_of(text, 'd1')} = scratch + 50; /* (8,) */" in text  # it alternates between the ends


def test_random_chains_need_only_their_widest_pair():
    from exporter.c.buffers import plan_buffers

    rng = np.random.default_rng(1)
    for _ in range(200):
        widths = [int(w) for w in rng.integers(1, 100, int(rng.integers(3, 14)))]
        buffers = plan_buffers(chain(widths))
        assert buffers.floats == buffers.lower_bound == widest_neighbours(widths), widths


def check_live_tensors_never_share_floats(graph, buffers):
    """Scratch regions of two owners overlap only if one is dead before the other is written,
    or the later one is written in place over the earlier one at its last read."""
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    sizes = {node.name: int(np.prod(node.shape)) for node in graph.nodes}
    owners = sorted(buffers.offset, key=index.get)
    for k, a in enumerate(owners):
        for b in owners[k + 1:]:
            a_start, b_start = buffers.offset[a], buffers.offset[b]
            overlap = a_start < b_start + sizes[b] and b_start < a_start + sizes[a]
            if not overlap or index[b] > buffers.last_use[a]:
                continue
            in_place = buffers.root.get(buffers.in_place.get(b)) == a and index[b] == buffers.last_use[a]
            assert in_place and a_start == b_start and sizes[a] == sizes[b], (graph.name, a, b)
    assert all(buffers.offset[o] + sizes[o] <= buffers.floats for o in owners)


def test_plan_keeps_live_tensors_apart(keras, c_graphs):
    """Every model of the C program (graph cases, buffer traps, XOR, random graphs), checked float by float."""
    import json

    from exporter.frontend_keras import _collect_weights
    from exporter.graph import build_graph
    from exporter.c.buffers import plan_buffers

    for key, model in c_graphs[2].items():
        weights = {}
        _collect_weights(model, (), weights)
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        graph = build_graph(config, lambda path, w=weights: w.get(path, []), "m")
        buffers = plan_buffers(graph)
        check_live_tensors_never_share_floats(graph, buffers)
        assert buffers.lower_bound <= buffers.floats <= sum(int(np.prod(n.shape)) for n in graph.nodes), key


def test_in_place_only_over_a_dead_scratch_tensor():
    """Two in-place candidates that must not be overwritten: d0 is read again later, x is the caller's."""
    from exporter.c.buffers import plan_buffers

    rng = np.random.default_rng(3)
    d0 = _dense("d0", "x", 4, 6, rng)
    keep = Node("keep", "unit_norm", ["d0"], (6,), {"epsilon": 1e-12, "clamp": "inverse"}, {}, "keep", "UnitNormalization")
    scale = Node("scale", "scale_shift", ["x"], (4,), {}, {"scale": np.ones(4, np.float32),
                                                          "shift": np.zeros(4, np.float32)}, "scale", "Rescaling")
    d1 = _dense("d1", "scale", 4, 6, rng)
    total = Node("total", "add", ["keep", "d0", "d1"], (6,), {}, {}, "total", "Add")
    graph = Graph("g", [TensorSpec("x", (4,))], [TensorSpec("total", (6,))], [d0, keep, scale, d1, total])
    buffers = plan_buffers(graph)
    assert "keep" not in buffers.in_place  # d0 is read again by total
    assert "scale" not in buffers.in_place  # x is the caller's, read only
    assert buffers.in_place.get("total") is None and buffers.output_home == {"total": 0}
    check_live_tensors_never_share_floats(graph, buffers)


def test_outputs_are_written_in_place_of_nothing_and_dead_nodes_are_skipped():
    from exporter.c.forward import plan_forward

    rng = np.random.default_rng(4)
    nodes = [_dense("d0", "x", 3, 5, rng), _dense("unused", "x", 3, 9, rng), _dense("d1", "d0", 5, 2, rng)]
    graph = Graph("g", [TensorSpec("x", (3,))], [TensorSpec("d1", (2,)), TensorSpec("d0", (5,))], nodes)
    plan = plan_forward(graph)
    assert plan.scratch_floats == 0  # d0 lives in outputs[1], d1 in outputs[0]
    assert all("unused" not in a.name for a in plan.arrays)
    assert any("skipped" in step.comment for step in plan.steps)


def test_an_op_without_a_c_kernel_still_keeps_the_header_from_being_written(monkeypatch):
    """The refusal mechanism stays for future ops: take one op out of the writer's table."""
    from exporter.c import forward
    from exporter.errors import ExportError

    graph = chain([3, 4, 2])
    graph.nodes.append(Node("n", "layer_norm", ["d1"], (2,), {"epsilon": 1e-3, "rms_scaling": False}, {}, "norm",
                            "LayerNormalization"))
    graph.outputs = [TensorSpec("n", (2,))]
    assert forward.header_unsupported(graph) is None
    monkeypatch.setattr(forward, "C_OPS", tuple(op for op in forward.C_OPS if op != "layer_norm"))
    assert "layer 'norm' (LayerNormalization): op 'layer_norm' has no C kernel yet" in forward.header_unsupported(graph)
    with pytest.raises(ExportError, match="cannot write a C header: layer 'norm'"):
        forward.plan_forward(graph)


def test_without_a_kernel_the_default_export_skips_the_header_and_an_explicit_one_fails(keras, tmp_path, capsys,
                                                                                          monkeypatch):
    """The CLI's behaviour for an op without a C kernel, now that every op has one: take layer_norm out."""
    from exporter.c import forward
    from exporter.cli import main

    monkeypatch.setattr(forward, "C_OPS", tuple(op for op in forward.C_OPS if op != "layer_norm"))
    L = keras.layers
    model = keras.Sequential([keras.Input((6,)), L.Dense(4), L.LayerNormalization(), L.Dense(2)])
    path = tmp_path / "normed.keras"
    model.save(path)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "normed.json").exists() and not (tmp_path / "normed.h").exists()
    assert "no C header written: layer" in out and "LayerNormalization" in out
    assert main([str(path), "-o", str(tmp_path / "explicit.h")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write a C header: layer") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "explicit.h").exists()
    monkeypatch.undo()
    assert main([str(path)]) == 0 and (tmp_path / "normed.h").exists()  # with its kernel, the header is written
