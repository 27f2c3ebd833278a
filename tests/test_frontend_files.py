"""The files front-end (h5py + zipfile, no TensorFlow) against the Keras front-end, and without TensorFlow at all.

* Same IR: for every model of the parity tables (zoo, layer cases, graph cases, plus nested and frozen
  cases that exercise how weights are stored), from .h5 and .keras, both front-ends give the same
  nodes, attrs, shapes, names and bit-identical weights.
* A subprocess where tensorflow and keras cannot be imported runs `python -m exporter`; its outputs
  match Keras's, computed here.
* Malformed files give one clear ExportError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

import runtime_py
from conftest import ROOT
from exporter import frontend_files
from exporter.errors import ExportError
from exporter.export import export
from exporter.graph import build_graph
from exporter.operations import is_operation
from graph_cases import GRAPHS, _randomize_all, build_graph_case, random_graph
from layer_cases import build_case, cases, keras_reads_h5
from parity import assert_parity
from test_layers import KERAS3_MISREADS_H5
from zoo import MODELS, build_model


def _storage_cases(keras):
    """Models whose weights are stored in the less obvious ways: nested, frozen, deeply nested, shared."""
    L = keras.layers

    def nested_with_state():
        inner_in = keras.Input((4,))
        h = L.BatchNormalization()(L.Dense(4)(inner_in))
        inner = keras.Model(inner_in, L.PReLU()(L.LayerNormalization()(h)), name="inner")
        x = keras.Input((4,), name="x")
        y = L.Dense(3, trainable=False)(inner(inner(x)))
        return keras.Model(x, L.Normalization(mean=[0.5, 0.0, -1.0], variance=[1.0, 2.0, 3.0])(y), name="state")

    def frozen_nested():
        inner = keras.Sequential([keras.Input((5,)), L.Dense(5, activation="tanh"), L.BatchNormalization(),
                                  L.Dense(5, use_bias=False)], name="frozen")
        inner.layers[1].trainable = False
        x = keras.Input((5,), name="x")
        return keras.Model(x, L.Dense(2)(L.BatchNormalization()(inner(x))), name="frozen_nested")

    def frozen_model():
        inner = keras.Sequential([keras.Input((3,)), L.Dense(4), L.BatchNormalization()], name="all_frozen")
        inner.trainable = False
        x = keras.Input((3,), name="x")
        return keras.Model(x, L.Dense(2, activation="sigmoid")(inner(x)), name="frozen_model")

    def deep():
        a_in = keras.Input((3,))
        a = keras.Model(a_in, L.Dense(3, activation="relu", name="a_dense")(a_in), name="a")
        b = keras.Sequential([keras.Input((3,)), a, L.BatchNormalization()], name="b")
        x = keras.Input((3,), name="x")
        c_in = keras.Input((3,))
        c = keras.Model(c_in, L.Add()([b(c_in), L.Dense(3)(c_in)]), name="c")
        return keras.Model(x, [c(c(x)), L.Dense(2)(x)], name="deep")

    def many_dense():
        """More than ten layers of one class: counters dense_10 sort before dense_2 in HDF5."""
        x = keras.Input((3,), name="x")
        y = x
        for _ in range(12):
            y = L.Dense(3, activation="tanh")(y)
        return keras.Model(x, y, name="many_dense")

    return {"nested_with_state": nested_with_state, "frozen_nested": frozen_nested, "frozen_model": frozen_model,
            "deep": deep, "many_dense": many_dense}


def _all_cases(keras):
    """name -> builder of a Keras model with random weights."""
    table = {f"zoo-{name}": (lambda n=name: build_model(keras, n)) for name in MODELS}
    table.update({f"layer-{name}": (lambda n=name: build_case(keras, n)) for name in cases(keras)})
    table.update({f"graph-{name}": (lambda n=name: build_graph_case(keras, n)) for name in GRAPHS})
    table.update({f"random-{seed}": (lambda s=seed: random_graph(keras, s)) for seed in range(6)})

    def storage(builder, seed=5):
        def build():
            keras.utils.set_random_seed(seed)
            model = builder()
            _randomize_all(model, seed)
            return model
        return build

    table.update({f"storage-{name}": storage(builder) for name, builder in _storage_cases(keras).items()})
    return table


def _case_names():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from exporter.frontend_keras import import_keras

    return sorted(_all_cases(import_keras()))


NAMES = _case_names()


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    """Each case built once and saved as .h5 and .keras: name -> (model, {container: path})."""
    directory = tmp_path_factory.mktemp("frontends")
    builders = _all_cases(keras)
    table = {}

    def get(name):
        if name not in table:
            model = builders[name]()
            paths = {}
            for container in ("h5", "keras"):
                paths[container] = directory / f"{name}.{container}"
                model.save(paths[container])
            table[name] = (model, paths)
        return table[name]

    return get


def assert_same_graph(ours, theirs, what):
    assert [(t.name, tuple(t.shape)) for t in ours.inputs] == [(t.name, tuple(t.shape)) for t in theirs.inputs], what
    assert [(t.name, tuple(t.shape)) for t in ours.outputs] == [(t.name, tuple(t.shape)) for t in theirs.outputs], \
        what
    assert [(n.name, n.op) for n in ours.nodes] == [(n.name, n.op) for n in theirs.nodes], what
    for mine, other in zip(ours.nodes, theirs.nodes):
        where = f"{what}: node {mine.name!r}"
        assert (mine.inputs, tuple(mine.shape), mine.layer, mine.layer_class) == \
            (other.inputs, tuple(other.shape), other.layer, other.layer_class), where
        assert json.dumps(mine.attrs, sort_keys=True) == json.dumps(other.attrs, sort_keys=True), where
        assert sorted(mine.weights) == sorted(other.weights), where
        for key in mine.weights:
            a, b = np.asarray(mine.weights[key]), np.asarray(other.weights[key])
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape, f"{where} weight {key}"
            assert a.tobytes() == b.tobytes(), f"{where} weight {key} differs"
    assert [(i.name, i.class_name, i.params) for i in ours.layers] == \
        [(i.name, i.class_name, i.params) for i in theirs.layers], what
    assert ours.weights_sha256() == theirs.weights_sha256(), what


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", NAMES)
def test_both_frontends_build_the_same_ir(saved, name, container):
    from exporter import frontend_keras

    _, paths = saved(name)
    if container == "h5" and name.startswith("layer-") and name[len("layer-"):] in KERAS3_MISREADS_H5:
        # Keras 3 cannot reread these files as written (tests/test_layers.py): it fails, or builds another graph
        ours = frontend_files.load(paths[container]).build_graph("m")
        try:
            keras_loaded = frontend_keras.load(paths[container])
        except frontend_keras.KerasLoadError:
            return
        with pytest.raises(AssertionError):
            assert_same_graph(ours, build_graph(keras_loaded.config, keras_loaded.weights_for, "m"), name)
        return
    # Keras 3 cannot load a legacy .h5 holding operation nodes (the Op rows; random graphs calling keras.ops):
    # compare with its reading of the .keras file
    operations = name.startswith("random-") and any(
        is_operation(layer) for layer in frontend_files.load(paths["keras"]).config["config"]["layers"])
    keras_container = container if keras_reads_h5(name.split("-", 1)[1]) and not operations else "keras"
    keras_loaded = frontend_keras.load(paths[keras_container])
    theirs = build_graph(keras_loaded.config, keras_loaded.weights_for, "m")
    loaded = frontend_files.load(paths[container])
    ours = loaded.build_graph("m")
    assert not loaded.writer_keras2 and loaded.keras_version == keras_loaded.keras_version
    assert_same_graph(ours, theirs, f"{name}.{container}")


def _strip_name_attributes(handle):
    """Make a .keras weights file look as Keras before 3.6 wrote it: no `name` on the vars groups."""
    def visit(_, item):
        if isinstance(item, h5py.Group) and "name" in item.attrs:
            del item.attrs["name"]
    handle.visititems(visit)


@pytest.mark.parametrize("name", ["storage-deep", "storage-many_dense", "storage-nested_with_state",
                                  "graph-multi_io", "layer-BatchNormalization_noscale"])
def test_keras_zip_without_name_attributes_matches_by_counter(saved, tmp_path, name):
    """Before Keras 3.6 the weight groups carry no layer name: the per-class counters find them."""
    _, paths = saved(name)
    reference = frontend_files.load(paths["keras"]).build_graph("m")
    old = _rewrite_zip(paths["keras"], tmp_path / "old.keras", edit_weights=_strip_name_attributes)
    with zipfile.ZipFile(old) as archive, h5py.File(archive.open("model.weights.h5"), "r") as handle:
        names = []
        handle.visititems(lambda _, item: names.extend(item.attrs.keys()) if isinstance(item, h5py.Group) else None)
        assert "name" not in names
    assert_same_graph(frontend_files.load(old).build_graph("m"), reference, name)


def _split_weight_names(handle):
    """Store every weight_names attribute as weight_names0, weight_names1, ... as Keras does for large ones."""
    for group in handle["model_weights"].values():
        names = list(group.attrs["weight_names"])
        if len(names) < 2:
            continue
        del group.attrs["weight_names"]
        half = len(names) // 2
        group.attrs["weight_names0"] = names[:half]
        group.attrs["weight_names1"] = names[half:]


@pytest.mark.parametrize("name", ["storage-nested_with_state", "zoo-digits"])
def test_h5_weight_names_split_in_chunks(saved, tmp_path, name):
    _, paths = saved(name)
    reference = frontend_files.load(paths["h5"]).build_graph("m")
    split = _edit_h5(_copy(paths["h5"], tmp_path / "split.h5"), _split_weight_names)
    assert_same_graph(frontend_files.load(split).build_graph("m"), reference, name)


def test_every_table_is_covered():
    assert {n.split("-", 1)[1] for n in NAMES if n.startswith("layer-")} == set(cases(_keras()))
    assert {n.split("-", 1)[1] for n in NAMES if n.startswith("graph-")} == set(GRAPHS)
    assert {n.split("-", 1)[1] for n in NAMES if n.startswith("zoo-")} == set(MODELS)


def _keras():
    from exporter.frontend_keras import import_keras

    return import_keras()


@pytest.mark.parametrize("container", ["h5", "keras"])
def test_files_frontend_export_matches_keras(saved, tmp_path, container):
    """Exported by the files front-end: runtime_py on the file matches model.predict, not only itself."""
    model, paths = saved("graph-multi_io")
    result = export(paths[container], [tmp_path / "m.json"], frontend="files")
    assert result.frontend == "files" and result.reference == "kerasless"
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["producer"]["reference"] == "kerasless"
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal((6, *t.shape[1:])).astype(np.float32) for t in model.inputs]
    expected = model.predict(inputs, verbose=0)
    for backend in runtime_py.BACKENDS:
        ours = runtime_py.load(tmp_path / "m.json", backend=backend)
        ours.verify()
        for got, want in zip(ours.predict(inputs), expected):
            assert_parity(got, want, f"{container} [{backend}]")


def test_keras_frontend_marks_its_reference(saved, tmp_path):
    _, paths = saved("zoo-digits")
    result = export(paths["keras"], [tmp_path / "d.json"], frontend="keras")
    assert result.reference == "keras"
    assert json.loads((tmp_path / "d.json").read_text())["producer"]["reference"] == "keras"


# ---- the whole export without TensorFlow ---------------------------------------------------------

BLOCKED_EXPORT = r"""
import runpy, sys
BLOCKED = {"tensorflow", "keras", "tf_keras", "jax", "torch"}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, Blocker())
sys.path.insert(0, sys.argv[1])
sys.argv = ["export-model"] + sys.argv[2:]
try:
    runpy.run_module("exporter", run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("LEAKED", leaked)
sys.exit(code)
"""


def run_without_tensorflow(*args, cwd):
    return subprocess.run([sys.executable, "-c", BLOCKED_EXPORT, str(ROOT), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("name", ["graph-nested", "zoo-digits"])
def test_export_without_tensorflow(saved, tmp_path, name, container):
    from test_c_header import driver_source, predict_c
    from cbuild import build

    model, paths = saved(name)
    done = run_without_tensorflow(paths[container], "-o", "x.json", "-o", "x.h", "--name", "net", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout
    assert "read without TensorFlow" in done.stdout and "not from Keras" in done.stdout
    rng = np.random.default_rng(8)
    inputs = [(2 * rng.standard_normal((7, *t.shape[1:]))).astype(np.float32) for t in model.inputs]
    result = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    expected = list(result) if isinstance(result, (list, tuple)) else [result]
    for backend in runtime_py.BACKENDS:
        ours = runtime_py.load(tmp_path / "x.json", backend=backend)
        ours.verify()
        got = ours.predict(inputs if len(inputs) > 1 else inputs[0])
        for mine, want in zip(got if len(expected) > 1 else [got], expected):
            assert_parity(mine, want, f"{name}.{container} [{backend}] without TensorFlow")
    (tmp_path / "driver.c").write_text(driver_source("x.h", "net", len(inputs), len(expected)))
    exe = build([tmp_path / "driver.c"], tmp_path / "driver", include=[tmp_path])
    for mine, want in zip(predict_c(exe, inputs, [tuple(e.shape[1:]) for e in expected]), expected):
        assert_parity(mine, want, f"{name}.{container} C header without TensorFlow")


def test_default_frontend_without_tensorflow_is_files(saved, tmp_path):
    _, paths = saved("zoo-regressor")
    done = run_without_tensorflow(paths["h5"], "-o", "r.json", "--frontend", "keras", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "TensorFlow" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.json").exists()


# ---- malformed files -----------------------------------------------------------------------------


def _copy(path, target):
    target.write_bytes(path.read_bytes())
    return target


def _edit_h5(path, edit):
    with h5py.File(path, "r+") as handle:
        edit(handle)
    return path


def _rewrite_zip(source, target, edit_weights=None, drop=(), replace=None):
    """Copy a .keras zip, editing its weights file with h5py and dropping or replacing members."""
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    if edit_weights is not None:
        scratch = target.with_suffix(".weights.h5")
        scratch.write_bytes(members["model.weights.h5"])
        _edit_h5(scratch, edit_weights)
        members["model.weights.h5"] = scratch.read_bytes()
        scratch.unlink()
    for name in drop:
        members.pop(name)
    members.update(replace or {})
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _replace_dataset(group, key, data):
    del group[key]
    group.create_dataset(key, data=data)


def _huge_dataset(group, key):
    del group[key]
    group.create_dataset(key, shape=(2 ** 20, 2 ** 20), dtype="float32", chunks=(1, 1024))


def _weight(handle, layer, k):
    """(group, key) of weight k of a layer in a legacy .h5, found through its weight_names attribute."""
    name = handle[f"model_weights/{layer}"].attrs["weight_names"][k]
    name = name.decode() if isinstance(name, bytes) else name
    parent, _, key = f"model_weights/{layer}/{name}".rpartition("/")
    return handle[parent], key


H5_BREAKAGES = {
    "missing group": (lambda h: h["model_weights"].__delitem__("hidden"), "weights of layer 'hidden' are missing"),
    "missing dataset": (lambda h: _weight(h, "hidden", 0)[0].__delitem__(_weight(h, "hidden", 0)[1]),
                        "is missing"),
    "wrong shape": (lambda h: _replace_dataset(*_weight(h, "hidden", 0), np.zeros((3, 3), np.float32)), "shape"),
    "wrong count": (lambda h: h["model_weights/hidden"].attrs.__setitem__("weight_names", [b"small/hidden/kernel"]),
                    "lists 1 weights"),
    "absurd size": (lambda h: _huge_dataset(*_weight(h, "hidden", 0)), "refusing weights larger"),
    "strings": (lambda h: _replace_dataset(*_weight(h, "hidden", 1), np.array([b"x", b"y"])), "not numbers"),
    "no weights": (lambda h: h.__delitem__("model_weights"), "no model_weights group"),
    "float64": (lambda h: _replace_dataset(*_weight(h, "hidden", 1), np.zeros(4, np.float64)), "float64"),
}


@pytest.fixture(scope="module")
def small(keras, tmp_path_factory):
    """A two-layer model as .h5 and .keras, to break."""
    directory = tmp_path_factory.mktemp("small")
    L = keras.layers
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu", name="hidden"),
                              L.Dense(2, name="out")], name="small")
    model.save(directory / "small.h5")
    model.save(directory / "small.keras")
    return directory


@pytest.mark.parametrize("breakage", sorted(H5_BREAKAGES))
def test_broken_h5_weights_are_refused_clearly(small, tmp_path, breakage):
    edit, message = H5_BREAKAGES[breakage]
    path = _edit_h5(_copy(small / "small.h5", tmp_path / "broken.h5"), edit)
    with pytest.raises(ExportError, match=message) as caught:
        export(path, [tmp_path / "out.json"], frontend="files")
    assert "broken.h5" in str(caught.value) or "'hidden'" in str(caught.value)
    assert not (tmp_path / "out.json").exists()


ZIP_BREAKAGES = {
    "missing group": (dict(edit_weights=lambda h: h["layers"].__delitem__("dense_1")),
                      "weights of layer 'out' are missing"),
    "wrong shape": (dict(edit_weights=lambda h: _replace_dataset(h["layers/dense/vars"], "0",
                                                                 np.zeros((4, 4), np.float32))), "shape"),
    "extra dataset": (dict(edit_weights=lambda h: h["layers/dense/vars"].create_dataset(
        "2", data=np.zeros(2, np.float32))), "3 weight arrays"),
    "absurd size": (dict(edit_weights=lambda h: _huge_dataset(h["layers/dense/vars"], "0")),
                    "refusing weights larger"),
    "no weights file": (dict(drop=["model.weights.h5"]), "has no model.weights.h5"),
    "weights not hdf5": (dict(replace={"model.weights.h5": b"not an hdf5 file"}), "cannot read the weights"),
    "bad metadata": (dict(replace={"metadata.json": b"{"}), "metadata.json"),
}


@pytest.mark.parametrize("breakage", sorted(ZIP_BREAKAGES))
def test_broken_keras_zip_is_refused_clearly(small, tmp_path, breakage):
    kwargs, message = ZIP_BREAKAGES[breakage]
    path = _rewrite_zip(small / "small.keras", tmp_path / "broken.keras", **kwargs)
    with pytest.raises(ExportError, match=message):
        export(path, [tmp_path / "out.json"], frontend="files")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9, 0.99])
def test_truncated_files_are_refused_clearly(small, tmp_path, container, fraction):
    data = (small / f"small.{container}").read_bytes()
    path = tmp_path / f"cut.{container}"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ExportError, match="cut"):
        export(path, [tmp_path / "out.json"], frontend="files")


def test_truncated_dataset_is_refused_clearly(small, tmp_path):
    """The HDF5 structure is intact, the data of a dataset is cut off: HDF5's read error becomes one line."""
    path = _copy(small / "small.h5", tmp_path / "short.h5")
    with h5py.File(path, "r") as handle:
        group, key = _weight(handle, "out", 0)
        offset = group[key].id.get_offset()
    data = path.read_bytes()
    path.write_bytes(data[:offset + 4])
    with pytest.raises(ExportError, match="short.h5"):
        export(path, [tmp_path / "out.json"], frontend="files")


def _external_link(handle, other):
    group, key = _weight(handle, "hidden", 0)
    del group[key]
    group[key] = h5py.ExternalLink(str(other), "/secret")


def _virtual_dataset(handle, other):
    group, key = _weight(handle, "hidden", 0)
    shape = group[key].shape
    del group[key]
    layout = h5py.VirtualLayout(shape=shape, dtype="float32")
    layout[:] = h5py.VirtualSource(str(other), "secret", shape=shape)
    group.create_virtual_dataset(key, layout)


@pytest.mark.parametrize("edit", [_external_link, _virtual_dataset])
def test_weights_in_other_files_are_not_followed(small, tmp_path, edit):
    """A model file that points HDF5 at another file (external link, virtual dataset) is refused."""
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["secret"] = np.ones((3, 4), np.float32)
    path = _copy(small / "small.h5", tmp_path / "linked.h5")
    with h5py.File(path, "r+") as handle:
        edit(handle, other)
    with pytest.raises(ExportError, match="linked.h5.*(ExternalLink|other files)"):
        export(path, [tmp_path / "out.json"], frontend="files")


def test_huge_zip_member_is_refused_before_reading(small, tmp_path, monkeypatch):
    monkeypatch.setattr(frontend_files, "MAX_WEIGHTS_BYTES", 64)
    with pytest.raises(ExportError, match="refusing more than 64"):
        export(small / "small.keras", [tmp_path / "out.json"], frontend="files")


def test_code_is_refused_by_the_files_frontend_too(keras, tmp_path):
    L = keras.layers
    x = keras.Input((3,))
    model = keras.Model(x, L.Lambda(lambda t: t * 2, name="doubler")(x))
    model.save(tmp_path / "lambda.h5")
    with pytest.raises(ExportError, match="'doubler'.*Python code"):
        export(tmp_path / "lambda.h5", [tmp_path / "out.json"], frontend="files")


def test_unknown_frontend_is_refused(small, tmp_path):
    with pytest.raises(ExportError, match="unknown front-end"):
        export(small / "small.h5", [tmp_path / "out.json"], frontend="tflite")
