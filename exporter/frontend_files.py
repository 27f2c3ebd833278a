"""Files front-end: read .keras and legacy .h5 Keras files with zipfile, h5py and json only.

No TensorFlow, no Keras: the model config is read as JSON and checked by config_scan
(nothing named in a file is imported or executed), Keras 2 configs are translated to
Keras 3's form (exporter/keras2.py), and the weights are read from HDF5 datasets and
handed to the converters as lists in get_weights() order, keyed by layer path, exactly
as the Keras front-end hands them over. Weights are matched by position, never by
Keras's variable names; every count is checked, and sizes are capped before reading.

File layouts (measured with Keras 3.15 and tf_keras 2.21, KERAS-NOTES.md):
* .keras: a zip of metadata.json (keras_version), config.json and model.weights.h5,
  whose weights sit at layers/<snake_case class name + per-container counter>/vars/<i>;
  nested models recurse (layers/functional/layers/dense/vars/0); since Keras 3.6 each
  vars group names its layer in the attribute `name`.
* legacy .h5: root attributes keras_version, backend, model_config; weights under
  model_weights/<layer name>, listed in order by the attribute weight_names (split into
  weight_names0, weight_names1, ... when large); a nested model's weights are one flat
  list: all trainable weights of its layers first, then all non-trainable ones.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import keras2
from exporter.config_scan import check_config, read_config
from exporter.errors import ExportError
from exporter.frontend_keras import LoadedModel
from exporter.graph import build_graph
from exporter.operations import is_operation

MODEL_CLASSES = ("Sequential", "Functional", "Model")
MAX_WEIGHTS_BYTES = 2 * 2 ** 30  # all weights of one model; the largest seed model holds 9 MB
MAX_METADATA_BYTES = 2 ** 20
MAX_WEIGHT_NAMES = 100_000


def tensorflow_available() -> bool:
    """Whether the Keras front-end can run: TensorFlow and Keras findable, without importing them."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "keras"))
    except (ImportError, ValueError):
        return False


@dataclass
class FileModel(LoadedModel):
    """A model read from its file: config (Keras 3's form), weights, the writer's version and corrections."""

    writer_keras2: bool = False
    corrections: list = field(default_factory=list)  # keras2.Correction, applied to the graph
    notes: list = field(default_factory=list)  # one line each for the summary

    def build_graph(self, name: str):
        """Build the IR and apply the corrections that make it compute what the writer's Keras computed."""
        graph = build_graph(self.config, self.weights_for, name)
        if self.writer_keras2:
            self.notes = keras2.correct_graph(graph, self.corrections)
        return graph


# ---- entry point ---------------------------------------------------------------------------------


def load(path: Path) -> FileModel:
    """Read a .keras or .h5 Keras model file without TensorFlow."""
    path = Path(path)
    raw = read_config(path)
    if path.suffix.lower() == ".keras":
        version, backend = _zip_version(path), ""
    else:
        version, backend = _h5_version(path)
    writer_keras2 = keras2.written_by_keras2(raw, version)
    corrections = []
    config = raw
    if writer_keras2:
        config, corrections = keras2.translate(raw, path)
    check_config(config, path)
    if path.suffix.lower() == ".keras":
        weights = _read_zip_weights(path, config)
    else:
        weights = _read_h5_weights(path, config)
    return FileModel(config, weights, version or ("2.x" if writer_keras2 else "unknown"), backend, None,
                     writer_keras2=writer_keras2, corrections=corrections)


def reference_predict(graph):
    """Return predict(batches) computed by runtime_py's numpy backend on the graph itself.

    Without Keras there is no Keras predict: the embedded test vectors are then a self-check
    of the runtimes against each other, and the file says so (producer reference "kerasless").
    """
    import runtime_py
    from exporter.model_file import to_npz

    def predict(batches: list) -> list:
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "reference.npz"
            target.write_bytes(to_npz(graph, [], {"source": "reference"}))
            model = runtime_py.load(target, backend="numpy")
        result = model.predict(list(batches))
        return [np.asarray(r, dtype=np.float32) for r in (result if len(graph.outputs) > 1 else [result])]

    return predict


# ---- versions ------------------------------------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _zip_version(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("metadata.json")
            except KeyError:
                return ""
            if info.file_size > MAX_METADATA_BYTES:
                raise ExportError(f"{path}: metadata.json is {info.file_size} bytes, more than metadata can be")
            metadata = json.loads(archive.read(info))
    except ExportError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, RecursionError) as exc:
        raise ExportError(f"{path}: cannot read metadata.json: {exc}") from None
    return _text(metadata.get("keras_version")) if isinstance(metadata, dict) else ""


def _h5_version(path: Path) -> tuple:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return _text(handle.attrs.get("keras_version")), _text(handle.attrs.get("backend"))
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError... on damaged files
        raise ExportError(f"{path}: not a readable HDF5 Keras file: {' '.join(str(exc).split())[:200]}") from None


def read_version(path: Path) -> str:
    """The keras_version a file records ('' if none), read without Keras."""
    path = Path(path)
    try:
        return _zip_version(path) if path.suffix.lower() == ".keras" else _h5_version(path)[0]
    except ExportError:
        return ""


# ---- which weights each layer has ----------------------------------------------------------------


def weight_slots(layer_cfg: dict) -> list:
    """A layer's weights in get_weights() order, as a list of `trainable` flags (by class and config).

    A layer whose config says trainable: false has only non-trainable weights.
    """
    class_name = layer_cfg.get("class_name")
    config = layer_cfg.get("config") if isinstance(layer_cfg.get("config"), dict) else {}
    if is_operation(layer_cfg):  # keras.ops / keras.activations on tensors: no weights
        return []
    if class_name == "Dense":
        slots = [True] * (2 if config.get("use_bias", True) else 1)
    elif class_name == "EinsumDense":
        slots = [True] * (2 if config.get("bias_axes") else 1)
    elif class_name == "BatchNormalization":
        slots = [True] * (bool(config.get("scale", True)) + bool(config.get("center", True))) + [False, False]
    elif class_name == "LayerNormalization":
        rms = bool(config.get("rms_scaling", False))
        slots = [True] * (bool(config.get("scale", True)) + bool(config.get("center", True) and not rms))
    elif class_name in ("RMSNormalization", "PReLU"):
        slots = [True]
    elif class_name == "Normalization":
        slots = [False] * 3 if config.get("mean") is None else []  # adapted: mean, variance, count
    else:
        slots = []
    if config.get("trainable", True) is False:
        slots = [False] * len(slots)
    return slots


def _layer_name(layer_cfg: dict) -> str:
    config = layer_cfg.get("config") if isinstance(layer_cfg.get("config"), dict) else {}
    name = layer_cfg.get("name") or config.get("name")
    if not isinstance(name, str) or not name:
        raise ExportError(f"a {layer_cfg.get('class_name', 'layer')} in the model config has no name")
    return name


def _model_layers(model_cfg: dict) -> list:
    config = model_cfg.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        raise ExportError(f"model {_layer_name(model_cfg)!r} has no layer list")
    return [layer for layer in layers if isinstance(layer, dict)]


def _flat_slots(model_cfg: dict, prefix: tuple, trainable: bool) -> list:
    """A nested model's weights as Keras lists them flat: [(layer path, index, trainable)] in layer order."""
    trainable = trainable and (model_cfg.get("config") or {}).get("trainable", True) is not False
    slots = []
    for layer_cfg in _model_layers(model_cfg):
        path = prefix + (_layer_name(layer_cfg),)
        if layer_cfg.get("class_name") in MODEL_CLASSES:
            slots.extend(_flat_slots(layer_cfg, path, trainable))
        else:
            slots.extend((path, k, trainable and t) for k, t in enumerate(weight_slots(layer_cfg)))
    return slots


# ---- reading datasets, with caps -----------------------------------------------------------------


def _hard(group, name: str, path: Path):
    """group[name] reached through hard links only, or None if absent.

    An external or soft link (or a virtual dataset, below) would make HDF5 open another file
    the model file names; kerasless reads nothing but the file it was given.
    """
    import h5py

    item = group
    for part in [p for p in name.split("/") if p]:
        if not isinstance(item, h5py.Group) or part not in item:
            return None
        link = item.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ExportError(f"{path}: {item.name.rstrip('/')}/{part} is a {type(link).__name__}, "
                              f"not stored in the file itself; refusing to follow it")
        item = item[part]
    return item


class _Budget:
    """Counts the bytes of weights read so far and refuses a dataset that would exceed the cap."""

    def __init__(self, path: Path):
        self.path, self.used = path, 0

    def read(self, dataset, where: str) -> np.ndarray:
        import h5py

        if not isinstance(dataset, h5py.Dataset):
            raise ExportError(f"{self.path}: {where} is not a dataset")
        if dataset.is_virtual or dataset.external:
            raise ExportError(f"{self.path}: {where} keeps its data in other files; refusing to read them")
        dtype = dataset.dtype
        if dtype.kind not in "fiu" or dtype.itemsize > 8:
            raise ExportError(f"{self.path}: {where} holds {dtype} values, not numbers")
        shape = dataset.shape
        if shape is None or any(d < 0 for d in shape):
            raise ExportError(f"{self.path}: {where} has no valid shape")
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if size > MAX_WEIGHTS_BYTES - self.used:
            raise ExportError(f"{self.path}: {where} declares shape {shape} ({size:,} bytes); refusing weights "
                              f"larger than {MAX_WEIGHTS_BYTES:,} bytes in all")
        self.used += size
        try:
            array = dataset[()]
        except Exception as exc:  # truncated or corrupt data: OSError, ValueError... from HDF5
            raise ExportError(f"{self.path}: cannot read {where} (truncated or corrupt file?): "
                              f"{' '.join(str(exc).split())[:200]}") from None
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.dtype.itemsize == 4 and array.dtype.byteorder not in ("=", "|"):
            array = array.astype(np.float32)  # big-endian float32: same values, native order
        return array


def _check_count(path: Path, label: str, arrays: list, slots: list) -> None:
    if len(arrays) != len(slots):
        raise ExportError(f"{path}: layer {label!r} has {len(arrays)} weight arrays in the file; "
                          f"its config needs {len(slots)}")


# ---- .keras (zip) --------------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    """Keras's naming.to_snake_case, which names the weight groups of a .keras file."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _group_key(class_name: str) -> str:
    # A config's "Model" is a Functional object: its group is named after the Python class.
    return "functional" if class_name in ("Functional", "Model") else _snake_case(str(class_name))


def _read_zip_weights(path: Path, config: dict) -> dict:
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("model.weights.h5")
            except KeyError:
                names = [n for n in archive.namelist() if n.startswith("model.weights")]
                raise ExportError(f"{path}: has no model.weights.h5" + (
                    f" (found {', '.join(names[:3])}: sharded or npz weights are not supported)" if names else
                    " (the weights are missing)")) from None
            if info.file_size > MAX_WEIGHTS_BYTES:
                raise ExportError(f"{path}: model.weights.h5 is {info.file_size:,} bytes; refusing more than "
                                  f"{MAX_WEIGHTS_BYTES:,}")
            with tempfile.TemporaryFile() as scratch:
                with archive.open(info) as member:
                    shutil.copyfileobj(member, scratch, 2 ** 20)  # never more than file_size (zipfile stops)
                scratch.seek(0)
                with h5py.File(scratch, "r") as handle:
                    table = {}
                    _walk_zip_model(path, config, _hard(handle, "layers", path), (), table, _Budget(path), "layers")
                    return table
    except ExportError:
        raise
    except Exception as exc:  # BadZipFile, CRC errors, truncated members, HDF5 errors
        raise ExportError(f"{path}: cannot read the weights in the .keras archive: "
                          f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None


def _walk_zip_model(path, model_cfg, group, prefix, table, budget, where):
    """Match a model's layers to the weight groups under `group`: by the name attribute, else by counter."""
    import h5py

    children = {}
    if isinstance(group, h5py.Group):
        for key in group:
            child = _hard(group, key, path)
            if isinstance(child, h5py.Group):
                children[key] = child
    by_name = {}
    for key, child in children.items():
        own = _hard(child, "vars", path)
        name = own.attrs.get("name") if isinstance(own, h5py.Group) else None
        if name is not None:
            by_name[_text(name)] = key
    counters = {}
    for layer_cfg in _model_layers(model_cfg):
        name = _layer_name(layer_cfg)
        class_name = layer_cfg.get("class_name")
        key = _group_key(class_name)
        if key in counters:
            counters[key] += 1
            key = f"{key}_{counters[key]}"
        else:
            counters[key] = 0
        key = by_name.get(name, key) if by_name else key
        layer_path = prefix + (name,)
        label = "/".join(layer_path)
        child = children.get(key)
        if class_name in MODEL_CLASSES:
            inner = _hard(child, "layers", path) if child is not None else None
            if inner is None and _flat_slots(layer_cfg, layer_path, True):
                raise ExportError(f"{path}: the weights of model {label!r} are missing ({where}/{key}/layers)")
            _walk_zip_model(path, layer_cfg, inner, layer_path, table, budget, f"{where}/{key}/layers")
            continue
        slots = weight_slots(layer_cfg)
        own = _hard(child, "vars", path) if child is not None else None
        if own is None:
            if slots:
                raise ExportError(f"{path}: the weights of layer {label!r} are missing ({where}/{key}/vars)")
            continue
        if not isinstance(own, h5py.Group):
            raise ExportError(f"{path}: {where}/{key}/vars is not a group")
        keys = list(own.keys())
        if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
            raise ExportError(f"{path}: {where}/{key}/vars holds {keys[:5]}, not the datasets 0, 1, ...")
        arrays = [budget.read(_hard(own, str(i), path), f"{where}/{key}/vars/{i}") for i in range(len(keys))]
        _check_count(path, label, arrays, slots)
        if arrays:
            table[layer_path] = arrays


# ---- legacy .h5 ----------------------------------------------------------------------------------


def _string_list(group, name: str, path: Path) -> list:
    """An attribute holding a list of strings, possibly split into name0, name1, ... (Keras's chunking)."""
    attrs = group.attrs
    if name in attrs:
        parts = [attrs[name]]
    else:
        parts, k = [], 0
        while f"{name}{k}" in attrs and k < MAX_WEIGHT_NAMES:
            parts.append(attrs[f"{name}{k}"])
            k += 1
    values = []
    for part in parts:
        part = np.asarray(part)
        if part.size == 0:
            continue
        if part.ndim != 1 or part.size > MAX_WEIGHT_NAMES or part.dtype.kind not in "OSU":
            raise ExportError(f"{path}: attribute {name!r} of {group.name} is not a list of names")
        values.extend(_text(v) if isinstance(v, bytes) else str(v) for v in part.tolist())
    return values


def _read_h5_weights(path: Path, config: dict) -> dict:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            root = _hard(handle, "model_weights", path)
            if not isinstance(root, h5py.Group):
                raise ExportError(f"{path}: has no model_weights group (the weights are missing)")
            return _walk_h5_model(path, config, root, _Budget(path))
    except ExportError:
        raise
    except Exception as exc:  # truncated or corrupt HDF5
        raise ExportError(f"{path}: cannot read the weights: {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}") from None


def _walk_h5_model(path: Path, model_cfg: dict, root, budget: _Budget) -> dict:
    import h5py

    table = {}
    top_trainable = (model_cfg.get("config") or {}).get("trainable", True) is not False
    for layer_cfg in _model_layers(model_cfg):
        name = _layer_name(layer_cfg)
        if layer_cfg.get("class_name") in MODEL_CLASSES:
            slots = _flat_slots(layer_cfg, (name,), top_trainable)
        else:
            slots = [((name,), k, top_trainable and t) for k, t in enumerate(weight_slots(layer_cfg))]
        group = _hard(root, name, path)
        if not slots and group is None:
            continue
        if not isinstance(group, h5py.Group):
            raise ExportError(f"{path}: the weights of layer {name!r} are missing (model_weights/{name})")
        names = _string_list(group, "weight_names", path)
        if len(names) != len(slots):
            raise ExportError(f"{path}: layer {name!r} lists {len(names)} weights in the file; "
                              f"its config needs {len(slots)}")
        arrays = []
        for weight_name in names:
            dataset = _hard(group, weight_name, path)
            if dataset is None:
                raise ExportError(f"{path}: weight {weight_name!r} of layer {name!r} is missing "
                                  f"(model_weights/{name}/{weight_name})")
            arrays.append(budget.read(dataset, f"model_weights/{name}/{weight_name}"))
        # The file lists trainable weights first, then the rest; put each back in its layer's order.
        ordered = [s for s in slots if s[2]] + [s for s in slots if not s[2]]
        per_layer = {}
        for (layer_path, index, _), array in zip(ordered, arrays):
            per_layer.setdefault(layer_path, {})[index] = array
        for layer_path, arrays_by_index in per_layer.items():
            table[layer_path] = [arrays_by_index[k] for k in sorted(arrays_by_index)]
    return table
