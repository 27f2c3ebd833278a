"""The file wins: compare what the converters read from the file's own config with the layer Keras rebuilt.

Keras 3 does not always reload a layer as its file describes it (Keras 3.15 reloads a legacy .h5
UnitNormalization(axis=[1, 2]) with axis=-1). The exporter converts from the file's config; this
module records which attributes every converter reads there, compares them with the same layer
in Keras's reloaded config, and says where they differ, so the export can follow the file and know
that Keras's predict computed another model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from exporter.graph import build_graph

MODEL_CLASSES = ("Sequential", "Functional", "Model")
_MISSING = object()


class ReadRecorder(dict):
    """A layer config that remembers which keys were read from it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = []

    def _note(self, key):
        if key not in self.read:
            self.read.append(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


@dataclass
class Difference:
    layer: str  # display path, "outer/inner/name"
    class_name: str
    attribute: str
    in_file: object
    in_keras: object

    def __str__(self):
        return (f"layer {self.layer!r} ({self.class_name}): the file says {self.attribute}="
                f"{_show(self.in_file)}, Keras rebuilt it with {self.attribute}={_show(self.in_keras)}")


def _show(value) -> str:
    return json.dumps(value) if value is not _MISSING else "(nothing)"


def _layer_entries(model_cfg: dict, prefix: tuple = ()):
    """Yield (path, layer entry) for every layer of a model config, nested models included."""
    config = model_cfg.get("config") if isinstance(model_cfg, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else None
    for entry in layers if isinstance(layers, list) else []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        path = prefix + (str(name),)
        if entry.get("class_name") in MODEL_CLASSES:
            yield from _layer_entries(entry, path)
        else:
            yield path, entry


def recording(model_cfg: dict) -> dict:
    """A copy of the config whose every layer config is a ReadRecorder."""
    copy = json.loads(json.dumps(model_cfg))
    for _, entry in _layer_entries(copy):
        if isinstance(entry.get("config"), dict):
            entry["config"] = ReadRecorder(entry["config"])
    return copy


def _canonical(value):
    """Serialized forms that mean the same, made equal: a built-in activation function is its name."""
    if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
        return value["config"]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if k != "registered_name"}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def differences(recorded_cfg: dict, keras_cfg: dict) -> list:
    """Where an attribute a converter read from the file differs from Keras's reloaded layer."""
    theirs = {path: entry for path, entry in _layer_entries(keras_cfg)}
    found = []
    for path, entry in _layer_entries(recorded_cfg):
        config = entry.get("config")
        other = theirs.get(path)
        if not isinstance(config, ReadRecorder) or other is None:
            continue
        other_config = other.get("config") if isinstance(other.get("config"), dict) else {}
        for key in config.read:
            if not dict.__contains__(config, key):
                continue  # the file does not say: nothing to contradict
            mine = _canonical(json.loads(json.dumps(dict.__getitem__(config, key))))
            keras = _canonical(json.loads(json.dumps(other_config.get(key, None)))) if key in other_config \
                else _MISSING
            if mine != keras:
                found.append(Difference("/".join(path), str(entry.get("class_name")), key,
                                        dict.__getitem__(config, key), other_config.get(key, _MISSING)))
    return found


def _node_key(node) -> tuple:
    weights = tuple((k, w.dtype.str, w.shape, w.tobytes()) for k, w in sorted(node.weights.items()))
    return node.name, node.op, tuple(node.inputs), tuple(node.shape), json.dumps(node.attrs, sort_keys=True), weights


def same_graph(a, b) -> bool:
    """Whether two graphs compute the same (same nodes, attributes, weights, inputs and outputs)."""
    return ([(t.name, tuple(t.shape)) for t in a.inputs] == [(t.name, tuple(t.shape)) for t in b.inputs]
            and [t.name for t in a.outputs] == [t.name for t in b.outputs]
            and [_node_key(n) for n in a.nodes] == [_node_key(n) for n in b.nodes])


def build_from_file(file_cfg: dict, keras_cfg: dict, weights_for, prefix: str):
    """Build the graph from the file's config; return (graph, [Difference] that change the result).

    An ExportError from a converter on the file's reading is raised with the differences for its
    layer appended, so the message says that Keras reads the layer otherwise.
    """
    from exporter.errors import ExportError

    recorded = recording(file_cfg)
    try:
        graph = build_graph(recorded, weights_for, prefix)
    except ExportError as exc:
        found = differences(recorded, keras_cfg)
        if found:
            raise ExportError(f"{exc} (the file's own config is what kerasless converts; Keras "
                              f"reads it otherwise: {'; '.join(map(str, found))})") from None
        raise
    found = differences(recorded, keras_cfg)
    if not found:
        return graph, []
    try:
        if same_graph(graph, build_graph(keras_cfg, weights_for, prefix)):
            return graph, []
    except ExportError:
        pass
    return graph, found
