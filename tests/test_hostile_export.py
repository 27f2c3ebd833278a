"""export-model against hand-crafted files: limits before memory, linear wiring, all-or-nothing writes.

Each crafted .keras file is a small saved model whose config.json was edited as an attacker would.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest

from conftest import ROOT


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def one_error_line(done):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def rewrite_keras(source, target, edit=None, config_bytes=None):
    """Copy a .keras archive, replacing config.json by edit(config) (or by raw bytes)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "config.json":
                data = config_bytes if config_bytes is not None else json.dumps(edit(json.loads(data))).encode()
            new.writestr(info.filename, data)
    return target


def _layer(config, class_name):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


@pytest.fixture(scope="module")
def repeat_model(keras, tmp_path_factory):
    """Input(4) -> RepeatVector(3) -> Flatten -> Dense(2), saved as .keras."""
    L = keras.layers
    inputs = keras.Input((4,), name="x")
    outputs = L.Dense(2, name="d")(L.Flatten(name="f")(L.RepeatVector(3, name="r")(inputs)))
    path = tmp_path_factory.mktemp("repeat") / "repeat.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def _huge_input(config):
    _layer(config, "InputLayer")["config"]["batch_shape"] = [None, 100000, 100000]
    return config


def _rank70_input(config):
    _layer(config, "InputLayer")["config"]["batch_shape"] = [None] + [1] * 70
    return config


def _huge_repeat(config):
    _layer(config, "RepeatVector")["config"]["n"] = 10 ** 9
    return config


@pytest.mark.parametrize("edit, message", [(_huge_input, "holds 10,000,000,000 floats"), (_rank70_input, "rank 70"),
                                           (_huge_repeat, "n=1,000,000,000 repeats")])
@pytest.mark.parametrize("frontend", ["keras", "files"])
def test_declared_sizes_beyond_the_limits_exit_2_before_anything_is_built(repeat_model, tmp_path, edit, message,
                                                                           frontend):
    path = rewrite_keras(repeat_model, tmp_path / "crafted.keras", edit)
    assert path.stat().st_size < 20_000
    done = run_cli(path, "--frontend", frontend)
    assert message in one_error_line(done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crafted.keras"]


def test_graph_limits_hold_after_the_config(repeat_model, tmp_path, monkeypatch):
    """Sizes that only the graph shows (a Dense over a wide input) are checked before test vectors."""
    from exporter.errors import ExportError
    from exporter.export import export
    from runtime_py import limits

    monkeypatch.setattr(limits, "MAX_SAMPLE_FLOATS", 8)  # the RepeatVector's (3, 4) output holds 12
    with pytest.raises(ExportError, match=r"\(RepeatVector\): output shape \(3, 4\) holds 12 floats; kerasless supports at most 8"):
        export(repeat_model, [tmp_path / "m.json"], frontend="files")


# ---- item 3: graph ordering is linear --------------------------------------------------------------


def chain_config(count, reverse):
    """A functional chain of Activation layers, listed forward or in reverse."""
    def tensor(name):
        return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                             "keras_history": [name, 0, 0]}}

    layers = [{"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [None, 4]},
               "inbound_nodes": []}]
    for k in range(count):
        layers.append({"class_name": "Activation", "name": f"a{k}", "module": "keras.layers",
                       "config": {"name": f"a{k}", "activation": "tanh"},
                       "inbound_nodes": [{"args": [tensor(f"a{k - 1}" if k else "x")], "kwargs": {}}]})
    if reverse:
        layers = layers[:1] + layers[1:][::-1]
    return {"class_name": "Functional", "config": {"name": "chain", "layers": layers, "input_layers": [["x", 0, 0]],
                                                   "output_layers": [[f"a{count - 1}", 0, 0]]}}


def _seconds(config):
    from exporter.graph import build_graph

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        graph = build_graph(config, lambda path: [], "chain")
        best = min(best, time.perf_counter() - start)
    return best, graph


def test_a_reversed_chain_is_wired_in_linear_time():
    """8,000 layers listed last to first take about as long as listed in order (was 254 s against 1 s)."""
    forward, graph = _seconds(chain_config(8000, reverse=False))
    backward, reversed_graph = _seconds(chain_config(8000, reverse=True))
    assert [n.name for n in reversed_graph.nodes] == [n.name for n in graph.nodes]
    assert backward < 3 * forward + 0.05, (backward, forward)


def test_unwired_layers_are_named():
    from exporter.errors import ExportError
    from exporter.graph import build_graph

    config = chain_config(3, reverse=True)
    config["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["nowhere", 0, 0]
    with pytest.raises(ExportError, match="cannot wire layers a2: their inputs are never produced"):
        build_graph(config, lambda path: [], "chain")


# ---- item 5: --print-sha256 pins what was written ------------------------------------------------------


def test_print_sha256_gives_what_runtime_py_load_pins(zoo, tmp_path):
    import runtime_py

    json_out, header = tmp_path / "m.json", tmp_path / "m.h"
    done = run_cli(zoo.saved("digits", "keras"), "-o", json_out, "-o", header, "--print-sha256", "--frontend", "files")
    assert done.returncode == 0, done.stderr
    printed = dict(reversed(line.split("  ", 1)) for line in done.stdout.splitlines()[-2:])
    for path in (json_out, header):
        assert printed[str(path)] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert runtime_py.load(json_out, sha256=printed[str(json_out)]).verify() >= 0.0


# ---- item 6: special files ------------------------------------------------------------------------------


def test_special_files_as_model_or_output_exit_2(zoo, tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    assert "not a regular file" in one_error_line(run_cli(fifo, timeout=120))
    output = tmp_path / "out.json"
    os.mkfifo(output)
    done = run_cli(zoo.saved("digits", "keras"), "-o", output, "--frontend", "files", timeout=120)
    assert "exists and is not a regular file" in one_error_line(done)
    assert stat.S_ISFIFO(os.stat(output).st_mode)


# ---- item 7: all or nothing, modes kept, SIGTERM ----------------------------------------------------------


@pytest.fixture
def old_outputs(tmp_path):
    """Three existing outputs with known content; the .json one is private (0600)."""
    paths = [tmp_path / "m.json", tmp_path / "m.npz", tmp_path / "m.h"]
    for path in paths:
        path.write_bytes(b"old " + path.name.encode())
    os.chmod(paths[0], 0o600)
    return paths


def _as_before(paths):
    return all(p.read_bytes() == b"old " + p.name.encode() for p in paths) and \
        sorted(os.listdir(paths[0].parent)) == sorted(p.name for p in paths)


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_a_failure_between_two_renames_restores_every_output(zoo, old_outputs, monkeypatch, capsys, failure):
    from exporter import output
    from exporter.cli import main

    real, calls = os.replace, []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the first output is already new
            raise failure(28, "No space left on device", str(dst)) if failure is OSError else failure()
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", replace_then_fail)
    code = main([str(zoo.saved("digits", "keras")), *sum((["-o", str(p)] for p in old_outputs), []),
                 "--frontend", "files"])
    err = capsys.readouterr().err
    assert code == (130 if failure is KeyboardInterrupt else 2)
    assert "every output file is as it was" in err and len(err.strip().splitlines()) == 1
    assert _as_before(old_outputs)


def test_existing_modes_are_kept_and_new_files_follow_the_umask(zoo, old_outputs, tmp_path):
    new = tmp_path / "new.json"
    previous = os.umask(0o027)
    try:
        done = run_cli(zoo.saved("digits", "keras"), "-o", old_outputs[0], "-o", new, "--frontend", "files")
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(old_outputs[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o640


def test_sigterm_while_writing_leaves_no_temporary_file(zoo, old_outputs):
    """SIGTERM arrives while the outputs are staged: exit 143, the old files intact, no .tmp left."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from exporter import output
        from exporter.cli import main

        real_fsync = os.fsync
        def fsync_then_terminate(fd):
            real_fsync(fd)
            os.kill(os.getpid(), signal.SIGTERM)
        output.os.fsync = fsync_then_terminate
        sys.exit(main([{str(zoo.saved("digits", "keras"))!r}, "--frontend", "files",
                       {", ".join(f'"-o", {str(p)!r}' for p in old_outputs)}]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip() == "error: interrupted; every output file is as it was"
    assert _as_before(old_outputs)


# ---- item 9: names that no file can hold --------------------------------------------------------------


@pytest.mark.parametrize("frontend", ["keras", "files"])
def test_an_unpaired_surrogate_in_a_layer_name_exits_2_before_writing(repeat_model, tmp_path, frontend):
    text = zipfile.ZipFile(repeat_model).read("config.json").replace(b'"d"', b'"d\\ud800"')
    path = rewrite_keras(repeat_model, tmp_path / "named.keras", config_bytes=text)
    done = run_cli(path, "--frontend", frontend)
    one_error_line(done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named.keras"]


# ---- item 10: a config of empty lists -----------------------------------------------------------------


def test_a_config_of_empty_lists_is_refused_in_little_memory(repeat_model, tmp_path):
    """60 MiB of [] compress to a 62 KB .keras; parsed, they took 2.9 GB. Now counted and refused first."""
    import tracemalloc

    from exporter.config_scan import read_config
    from exporter.errors import ExportError

    config = zipfile.ZipFile(repeat_model).read("config.json")
    bloat = b'{"junk": [' + b"[]," * (20 * 2 ** 20) + b'[]], ' + config[1:]
    path = rewrite_keras(repeat_model, tmp_path / "bloat.keras", config_bytes=bloat)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ExportError, match="JSON lists and objects; kerasless reads at most 1,000,000"):
            read_config(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(bloat)
    assert "JSON lists and objects" in one_error_line(run_cli(path))


# ---- probed beyond the issue: work and output linear in the file ------------------------------------


def _merge_of_everything(count):
    """count activations of one input, all live until one Concatenate reads them all."""
    from exporter.ir import Graph, Node, TensorSpec

    nodes = [Node(f"a{k}", "activation", ["x"], (4,), {"activation": {"name": "tanh"}}, {}, f"a{k}", "Activation")
             for k in range(count)]
    nodes.append(Node("c", "concatenate", [f"a{k}" for k in range(count)], (4 * count,), {"axis": 0}, {}, "c",
                      "Concatenate"))
    return Graph("merge", [TensorSpec("x", (4,))], [TensorSpec("c", (4 * count,))], nodes)


def test_thousands_of_live_tensors_are_planned_in_linear_time():
    """Scratch planning searched every live region for every tensor: 2,000 live tensors took 30 s to render."""
    from exporter.c.buffers import plan_buffers

    def seconds(count):
        graph = _merge_of_everything(count)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            buffers = plan_buffers(graph)
            best = min(best, time.perf_counter() - start)
        assert buffers.floats == buffers.lower_bound == 4 * count  # all live at once: nothing to reuse
        return best

    small, large = seconds(1000), seconds(4000)
    assert large < 8 * small + 0.05, (small, large)  # linear: 4x; the old search: 16x


def test_one_long_layer_name_does_not_pad_every_line(tmp_path):
    """The banner aligned every layer to the longest name: a 100 KB name in 2,000 layers made 200 MB."""
    from exporter.c.render import to_header
    from exporter.ir import Graph, Node, TensorSpec

    nodes, previous = [], "x"
    for k in range(2000):
        layer = "n" * 100_000 if k == 0 else f"a{k}"
        nodes.append(Node(f"t{k}", "activation", [previous], (4,), {"activation": {"name": "tanh"}}, {}, layer,
                          "Activation"))
        previous = f"t{k}"
    header = to_header(Graph("named", [TensorSpec("x", (4,))], [TensorSpec(previous, (4,))], nodes), [], {})
    assert len(header) < 4 * 100_000 + 2000 * 400
