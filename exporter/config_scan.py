"""Read a Keras file's model config without Keras, and refuse what could run code before Keras sees it.

Keras deserializes layers, initializers and activations by module and class name;
a hostile file can name any module (`os`), a custom registered class, or a Lambda
carrying marshalled bytecode. This scan reads the JSON config with zipfile/h5py
and walks every object in it, so such a file is refused, naming the layer, before
any of it is imported or executed (SECURITY.md).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from exporter.activations import convert_activation
from exporter.converters import LAYERS, supported_layers
from exporter.errors import ExportError
from exporter.operations import OPERATIONS, is_operation, supported_operations
from runtime_py.limits import MAX_NODES, MAX_REPEAT, MAX_SAMPLE_FLOATS, json_problem, shape_problem

MAX_CONFIG_BYTES = 64 * 2 ** 20  # a model config is kilobytes; refuse absurd sizes before reading
MODEL_CLASSES = ("Sequential", "Functional", "Model")
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")


def read_config(path: Path) -> dict:
    """Return the model config JSON of a .keras zip or a legacy .h5 file."""
    if path.suffix.lower() == ".keras":
        return _read_keras_zip(path)
    return _read_h5(path)


def _read_keras_zip(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise ExportError(f"{path}: is a zip archive but not a Keras model (no config.json)") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise ExportError(f"{path}: config.json is {info.file_size} bytes, more than a model config can be")
            text = archive.read(info)
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{path}: not a valid .keras file (a zip archive): {exc}") from None
    except (OSError, EOFError, RuntimeError, ValueError) as exc:  # truncated or corrupt members
        raise ExportError(f"{path}: cannot read the .keras archive: {exc}") from None
    return _parse(text, path, "config.json")


def _read_h5(path: Path) -> dict:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ExportError("reading .h5 files needs h5py (pip install h5py)") from None
    try:
        with h5py.File(path, "r") as handle:
            if "model_config" not in handle.attrs:
                raise ExportError(f"{path}: holds no model config (a weights-only file?); save the whole model")
            text = handle.attrs["model_config"]
    except ExportError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError... on damaged files
        raise ExportError(f"{path}: not a readable HDF5 Keras file: {' '.join(str(exc).split())[:200]}") from None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or len(text) > MAX_CONFIG_BYTES:
        raise ExportError(f"{path}: the model_config attribute is not a JSON string of sensible size")
    return _parse(text, path, "model_config")


def _parse(text, path: Path, what: str) -> dict:
    problem = json_problem(text)
    if problem:
        raise ExportError(f"{path}: {what} {problem} (SECURITY.md lists the limits)")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ExportError(f"{path}: {what} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ExportError(f"{path}: {what} is not a model config")
    return config


def check_config(config: dict, path: Path) -> None:
    """Refuse configs naming code, custom classes, modules outside Keras, or unsupported layers."""
    class_name = config.get("class_name")
    if class_name not in MODEL_CLASSES:
        raise ExportError(f"{path}: the model is a {class_name!r}; only Sequential and functional models are "
                          f"supported (subclassed models carry Python code)")
    _check_objects(config, path, "the model")
    counted = _check_layers(config, path, ())
    if counted > MAX_NODES:
        raise ExportError(f"{path}: the model has {counted:,} layers; kerasless supports at most {MAX_NODES:,}")


def _layer_label(layer: dict, scope: tuple) -> str:
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    name = layer.get("name") or config.get("name") or "?"
    return "/".join(scope + (str(name),))


def _check_layers(model: dict, path: Path, scope: tuple) -> int:
    """Check every layer, nested models too; return how many layers there are."""
    config = model.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        raise ExportError(f"{path}: model {'/'.join(scope) or 'config'} has no layer list")
    count = len(layers)
    for layer in layers:
        if not isinstance(layer, dict):
            raise ExportError(f"{path}: malformed layer entry in the model config")
        label = _layer_label(layer, scope)
        class_name = layer.get("class_name")
        if class_name in CODE_CLASSES:
            raise ExportError(f"layer {label!r} ({class_name}) carries Python code, which kerasless never runs; "
                              f"rewrite it with built-in layers (supported: {supported_layers()})")
        _check_declared_sizes(layer, label, class_name)
        if class_name in MODEL_CLASSES:
            count += _check_layers(layer, path, scope + (label.split("/")[-1],))
        elif is_operation(layer):
            if class_name not in OPERATIONS:
                raise ExportError(f"operation {label!r} ({class_name}) is not supported; "
                                  f"supported operations: {supported_operations()}")
        elif class_name not in LAYERS:
            raise ExportError(f"layer {label!r} ({class_name}) is not supported; "
                              f"supported layers: {supported_layers()}")
    return count


def _check_declared_sizes(layer: dict, label: str, class_name) -> None:
    """Refuse sizes beyond runtime_py.limits that the config states outright, before Keras allocates them.

    Input shapes, Dense units, RepeatVector n and Reshape targets; everything else is checked
    on the graph, and weights are capped by the front-ends.
    """
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    where = f"layer {label!r} ({class_name})"
    shapes = []
    if class_name == "InputLayer":
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        if isinstance(shape, list) and len(shape) > 1:
            shapes.append(("input shape", shape[1:]))
    elif class_name == "Reshape" and isinstance(config.get("target_shape"), list):
        shapes.append(("target_shape", config["target_shape"]))
    elif class_name == "Dense":
        shapes.append(("units", [config.get("units")]))
    elif class_name == "RepeatVector":
        n = config.get("n")
        if type(n) is int and n > MAX_REPEAT:
            raise ExportError(f"{where}: n={n:,} repeats; kerasless supports at most {MAX_REPEAT:,} (SECURITY.md)")
    for what, shape in shapes:
        if all(type(d) is int and d > 0 for d in shape):
            problem = shape_problem(shape, f"{where}: {what}", MAX_SAMPLE_FLOATS)
            if problem:
                raise ExportError(f"{problem} (SECURITY.md lists the limits)")


def _check_objects(value, path: Path, where: str) -> None:
    """Every serialized object anywhere in the config must be a Keras built-in."""
    stack = [(value, where)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, list):
            stack.extend((child, where) for child in item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("class_name") == "function":
            # A serialized activation function ({"module": "builtins", "config": "relu", ...}): only its
            # name is read, and the activation table decides (a custom function is refused there).
            convert_activation(item, where)
            continue
        if "class_name" in item and isinstance(item.get("config"), dict) and "name" in item["config"] \
                and item.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy"):
            where = f"layer {item['config']['name']!r} ({item.get('class_name')})"
        registered = item.get("registered_name")
        if registered is not None and registered not in (item.get("class_name"), "function"):
            raise ExportError(f"{where}: uses the custom class {registered!r}; only built-in Keras layers "
                              f"are supported: {supported_layers()}")
        module = item.get("module")
        if module is not None and not (module == "keras" or str(module).startswith("keras.")):
            raise ExportError(f"{where}: names module {module!r}; only Keras's own objects are allowed "
                              f"(kerasless imports nothing a file names)")
        if item.get("class_name") == "__lambda__" or "function_type" in item:
            raise ExportError(f"{where}: carries Python code, which kerasless never runs")
        stack.extend((child, where) for child in item.values())
