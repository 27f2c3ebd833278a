"""Files written by Keras 2 (tf.keras, tf_keras): their config in Keras 3's form, and Keras 2's formulas.

Two steps, so graph.py and the converters only ever see Keras 3:

* translate(config) rewrites a Keras 2 model config into Keras 3's form: inbound nodes
  as {"args", "kwargs"} with __keras_tensor__ references, node indices of nested models
  made 0-based (Keras 2 counts a nested model's own construction as its node 0, so calls
  are 1-based), Sequential models given their InputLayer, ThresholdedReLU (gone from
  Keras 3) as a ReLU with its threshold.
* correct_graph(graph) then makes the IR compute what Keras 2 computed where Keras 3
  differs (KERAS-NOTES.md, measured with tf_keras 2.21): hard_sigmoid is
  clip(0.2x + 0.5, 0, 1), not relu6(x + 3) / 6; UnitNormalization and Dot(normalize=True)
  clamp the squared sum at 1e-12 (tf.math.l2_normalize) instead of the inverse norm at 1e12;
  ThresholdedReLU is x * cast(x > theta) (the thresholded_relu activation: NaN for NaN and -inf).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter.activations import make_record
from exporter.errors import ExportError
from exporter.ir import Node

MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Keras 2 writes these module names for its model classes (tf_keras's .keras format).
MODEL_MODULES = ("tf_keras.src.engine.functional", "tf_keras.src.engine.sequential",
                 "tf_keras.src.engine.training", "keras.engine.functional", "keras.engine.sequential")
# What Keras 3 reads differently from Keras 2 (for the Keras front-end's warning).
DIVERGENT_LAYERS = {"ThresholdedReLU": "is unknown to Keras 3",
                    "UnitNormalization": "clamps tiny norms differently in Keras 3"}
DIVERGENT_ACTIVATIONS = {"hard_sigmoid": "is relu6(x + 3) / 6 in Keras 3, clip(0.2x + 0.5, 0, 1) in Keras 2"}
L2_EPSILON = 1e-12  # tf.math.l2_normalize's default epsilon, on the squared sum


@dataclass
class Correction:
    """A layer whose Keras 2 meaning is restored on the graph: `kind` says how."""

    layer: str  # display path, as graph.py names layers ("outer/inner/name")
    kind: str
    params: dict


def written_by_keras2(config: dict, version: str) -> bool:
    """Whether the file comes from Keras 1/2: its recorded version, else the form of its config."""
    if version:
        return version.split(".")[0] in ("1", "2")
    return _has_list_nodes(config)


def _has_list_nodes(model_cfg) -> bool:
    config = model_cfg.get("config") if isinstance(model_cfg, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else config if isinstance(config, list) else []
    for layer in layers or []:
        if not isinstance(layer, dict):
            continue
        nodes = layer.get("inbound_nodes")
        if isinstance(nodes, list) and nodes and isinstance(nodes[0], list):
            return True
        if "batch_input_shape" in (layer.get("config") or {}):
            return True
        if layer.get("class_name") in MODEL_CLASSES and _has_list_nodes(layer):
            return True
    return False


def divergences(config: dict, version: str) -> list:
    """What Keras 3 would read differently in this file (empty unless Keras 2 wrote it)."""
    if not written_by_keras2(config, version):
        return []
    found = {}
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            class_name = item.get("class_name")
            if class_name in DIVERGENT_LAYERS:
                found[class_name] = f"{class_name} {DIVERGENT_LAYERS[class_name]}"
            if class_name in MODEL_CLASSES and _nested_called(item):
                found["nested"] = "nested models are wired by 1-based node indices, which Keras 3 misreads"
            activation = (item.get("config") or {}).get("activation") if isinstance(item.get("config"), dict) \
                else None
            if activation in DIVERGENT_ACTIVATIONS:
                found[activation] = f"{activation} {DIVERGENT_ACTIVATIONS[activation]}"
            stack.extend(item.values())
    return [found[k] for k in sorted(found)]


def _nested_called(model_cfg: dict) -> bool:
    layers = (model_cfg.get("config") or {}).get("layers") if isinstance(model_cfg.get("config"), dict) else None
    return any(isinstance(layer, dict) and layer.get("class_name") in MODEL_CLASSES for layer in layers or [])


# ---- config translation --------------------------------------------------------------------------


def translate(config: dict, path: Path) -> tuple:
    """Return (Keras 3 form of a Keras 2 model config, [Correction])."""
    config = copy.deepcopy(config)
    corrections = []
    _translate_model(config, (), corrections, path, top=True)
    return config, corrections


def _name(layer_cfg: dict) -> str:
    config = layer_cfg.get("config") if isinstance(layer_cfg.get("config"), dict) else {}
    name = layer_cfg.get("name") or config.get("name")
    if not isinstance(name, str) or not name:
        raise ExportError(f"a {layer_cfg.get('class_name', 'layer')} in the model config has no name")
    return name


def _skips_first_node(layer_cfg: dict) -> bool:
    """Keras 2 numbers the calls of a nested model that starts with an InputLayer from 1 (its node 0 is its own)."""
    if layer_cfg.get("class_name") not in MODEL_CLASSES:
        return False
    config = layer_cfg.get("config")
    layers = config.get("layers") if isinstance(config, dict) else config
    return bool(isinstance(layers, list) and layers and isinstance(layers[0], dict)
                and layers[0].get("class_name") == "InputLayer")


def _translate_model(model_cfg: dict, scope: tuple, corrections: list, path: Path, top: bool = False) -> None:
    if model_cfg.get("module") in MODEL_MODULES:
        model_cfg["module"] = "keras.src.models"
    if model_cfg.get("class_name") == "Sequential" and isinstance(model_cfg.get("config"), list):
        model_cfg["config"] = {"name": model_cfg.get("name", "sequential"), "layers": model_cfg["config"]}
    config = model_cfg.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return  # config_scan reports it
    for layer_cfg in layers:
        if not isinstance(layer_cfg, dict):
            continue
        name = layer_cfg.get("name") or (layer_cfg.get("config") or {}).get("name")
        if layer_cfg.get("class_name") in MODEL_CLASSES:
            _translate_model(layer_cfg, scope + (str(name),), corrections, path)
        else:
            _translate_layer(layer_cfg, scope, corrections)
    if model_cfg.get("class_name") == "Sequential":
        _add_input_layer(model_cfg, config, layers)
    else:
        _translate_wiring(config, layers, scope, path)


def _add_input_layer(model_cfg: dict, config: dict, layers: list) -> None:
    """Keras 2 Sequential models without an InputLayer record the input shape on the first layer."""
    if not layers or not isinstance(layers[0], dict) or layers[0].get("class_name") == "InputLayer":
        return
    first = layers[0].get("config") or {}
    shape = first.get("batch_input_shape") or config.get("build_input_shape")
    if isinstance(shape, list):
        layers.insert(0, {"class_name": "InputLayer",
                          "config": {"batch_shape": shape, "dtype": first.get("dtype", "float32"),
                                     "name": f"{first.get('name', 'layer')}_input"}})


def _translate_layer(layer_cfg: dict, scope: tuple, corrections: list) -> None:
    config = layer_cfg.get("config")
    if not isinstance(config, dict):
        return
    display = "/".join(scope + (str(layer_cfg.get("name") or config.get("name")),))
    if layer_cfg.get("class_name") == "ThresholdedReLU":
        theta = config.get("theta", 1.0)
        layer_cfg["class_name"] = "ReLU"
        layer_cfg["config"] = {"name": config.get("name"), "dtype": config.get("dtype"), "trainable":
                               config.get("trainable", True), "threshold": theta, "negative_slope": 0.0,
                               "max_value": None}
        corrections.append(Correction(display, "thresholded_relu", {"theta": theta}))
    elif layer_cfg.get("class_name") == "UnitNormalization":
        corrections.append(Correction(display, "l2_normalize", {}))
    elif layer_cfg.get("class_name") == "Dot" and config.get("normalize"):
        corrections.append(Correction(display, "dot_l2_normalize", {}))


def _translate_wiring(config: dict, layers: list, scope: tuple, path: Path) -> None:
    shifts, functional = {}, set()
    for layer_cfg in layers:
        if isinstance(layer_cfg, dict):
            shifts[_name(layer_cfg)] = 1 if _skips_first_node(layer_cfg) else 0
            if layer_cfg.get("class_name") in ("Functional", "Model"):
                functional.add(_name(layer_cfg))
    where = "/".join(scope) or "the model"

    def reference(item, model_output=False) -> list:
        """Keras 2 reference -> Keras 3's: calls counted from 0, except a Functional's in output_layers."""
        if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)
                and isinstance(item[1], int) and isinstance(item[2], int)):
            raise ExportError(f"{path}: {where} has a malformed Keras 2 tensor reference {item!r}")
        index = item[1] - shifts.get(item[0], 0)
        if index < 0:
            raise ExportError(f"{path}: {where} refers to node {item[1]} of nested model {item[0]!r}, "
                              f"which Keras 2 numbers from 1")
        if model_output and item[0] in functional:
            index += 1  # Keras 3 keeps a Functional's built-in node 0 there (graph.py)
        return [item[0], index, item[2]]

    for layer_cfg in layers:
        if not isinstance(layer_cfg, dict):
            continue
        nodes = layer_cfg.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            continue
        translated = []
        for node in nodes:
            if not isinstance(node, list):
                translated.append(node)  # already Keras 3's form, or malformed: graph.py says which
                continue
            tensors, kwargs = [], {}
            for item in node:
                ref = reference(item)
                if len(item) > 3 and isinstance(item[3], dict):
                    kwargs.update(item[3])
                tensors.append({"class_name": "__keras_tensor__", "config": {"keras_history": ref}})
            translated.append({"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs})
        layer_cfg["inbound_nodes"] = translated
    for key in ("input_layers", "output_layers"):
        value = config.get(key)
        if isinstance(value, list) and value and isinstance(value[0], list):
            config[key] = [reference(item, True) for item in value]
        elif isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            config[key] = [reference(value, True)]


# ---- graph corrections ---------------------------------------------------------------------------


def _hard_sigmoid_nodes(node: Node, graph) -> list:
    """Keras 2's hard_sigmoid, clip(f32(f32(0.2 x) + 0.5), 0, 1), in existing ops: scale_shift, relu clipped at 1."""
    n = node.shape[-1] if node.shape else 1
    taken = {t.name for t in graph.inputs} | {m.name for m in graph.nodes}

    def fresh(base):
        candidate, k = base, 1
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        return candidate

    clip = make_record("relu", node.layer, negative_slope=0.0, max_value=1.0, threshold=0.0)
    scale = {"scale": np.full((n,), 0.2, np.float32), "shift": np.full((n,), 0.5, np.float32)}
    nodes, current = [], list(node.inputs)
    if node.op == "dense":
        linear = make_record("linear", node.layer)
        name = fresh(f"{node.name}.linear")
        nodes.append(Node(name, "dense", current, node.shape, {"activation": linear}, node.weights, node.layer,
                          node.layer_class))
        current = [name]
    name = fresh(f"{node.name}.hard_sigmoid")
    nodes.append(Node(name, "scale_shift", current, node.shape, {}, scale, node.layer, node.layer_class))
    nodes.append(Node(node.name, "activation", [name], node.shape, {"activation": clip}, {}, node.layer,
                      node.layer_class))
    return nodes


def _unit_norm_nodes(node: Node, shapes: dict) -> list:
    """Keras 2's Dot(normalize=True): l2_normalize each input (squared sum clamped at 1e-12), then the dot."""
    nodes, inputs = [], []
    for k, source in enumerate(node.inputs):
        name = f"{node.name}.l2_normalize{k}"
        shape = shapes[source]
        nodes.append(Node(name, "unit_norm", [source], tuple(shape), {"epsilon": L2_EPSILON, "clamp": "square_sum"},
                          {}, node.layer, node.layer_class))
        inputs.append(name)
    nodes.append(Node(node.name, "dot", inputs, node.shape, {**node.attrs, "normalize": False}, node.weights,
                      node.layer, node.layer_class))
    return nodes


def correct_graph(graph, corrections: list) -> list:
    """Make a Keras 2 file's graph compute Keras 2's formulas; return summary notes."""
    notes = []
    by_kind = {}  # kind -> layer -> correction: one lookup per node, linear in nodes and corrections
    for correction in corrections:
        by_kind.setdefault(correction.kind, {})[correction.layer] = correction
    shapes = graph.tensor_shapes()
    rewritten = []
    hard_sigmoid_layers = set()
    for node in graph.nodes:
        activation = node.attrs.get("activation") if isinstance(node.attrs, dict) else None
        if isinstance(activation, dict) and activation.get("name") == "hard_sigmoid":
            rewritten.extend(_hard_sigmoid_nodes(node, graph))
            hard_sigmoid_layers.add(node.layer)
            continue
        fixed = node
        correction = by_kind.get("thresholded_relu", {}).get(node.layer)
        if correction is not None and node.op == "activation":
            theta = float(correction.params["theta"])
            node.attrs = {"activation": make_record("thresholded_relu", node.layer, theta=theta)}
            node.layer_class = "ThresholdedReLU"
        if node.op == "unit_norm" and (node.layer in by_kind.get("l2_normalize", {})
                                       or node.layer in by_kind.get("dot_l2_normalize", {})):
            # a Dot between matrices normalizes through unit_norm nodes of its own (converters.dot)
            node.attrs = {"epsilon": L2_EPSILON, "clamp": "square_sum"}
        if node.layer in by_kind.get("dot_l2_normalize", {}) and node.op == "dot" and node.attrs.get("normalize"):
            rewritten.extend(_unit_norm_nodes(node, shapes))
            fixed = None
        if fixed is not None:
            rewritten.append(fixed)
    graph.nodes = rewritten
    for info in graph.layers:
        if info.name in by_kind.get("thresholded_relu", {}):
            info.class_name = "ThresholdedReLU"
    if hard_sigmoid_layers:
        notes.append(f"note: Keras 2 file: hard_sigmoid computed as Keras 2 did, clip(0.2x + 0.5, 0, 1), in "
                     f"{', '.join(sorted(hard_sigmoid_layers))}")
    kinds = {c.kind for c in corrections}
    if "thresholded_relu" in kinds:
        notes.append("note: Keras 2 file: ThresholdedReLU exported as Keras 2 computed it, x * (x > theta)")
    if kinds & {"l2_normalize", "dot_l2_normalize"}:
        notes.append("note: Keras 2 file: L2 normalization clamps the squared sum at 1e-12, as Keras 2 did")
    return notes
