"""Keras model config (+ weights) -> Graph IR.

Works on the serialized model config (the JSON Keras writes: Sequential or
Functional, nested models included) and a weight lookup by layer path, so every
front-end that can produce those two feeds the same converters. Nested models are
flattened; each layer call becomes zero or more IR nodes.
"""

from __future__ import annotations

from collections import deque

from exporter.converters import LAYERS, LayerCall, supported_layers
from exporter.errors import ExportError
from exporter.ir import Graph, LayerInfo, LayerInput, Node, TensorSpec
from exporter.operations import OPERATIONS, OperationCall, is_operation, supported_operations
from runtime_py.limits import MAX_NODES, Budget

MODEL_CLASSES = ("Sequential", "Functional", "Model")


def build_graph(model_config: dict, weights_for, name: str) -> Graph:
    """Flatten a serialized Keras model into IR; weights_for(path) returns a layer's arrays."""
    builder = _Builder(weights_for)
    outputs = builder.expand(model_config, (), None)
    graph = Graph(
        name=name,
        inputs=builder.inputs,
        outputs=[TensorSpec(t, builder.shapes[t]) for t in outputs],
        nodes=builder.nodes,
        layers=builder.layers,
    )
    _prune(graph)
    return graph


def _prune(graph: Graph) -> None:
    """Drop nodes no output depends on."""
    needed = {t.name for t in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if node.name in needed:
            kept.append(node)
            needed.update(node.inputs)
    graph.nodes = kept[::-1]


def _layer_name(layer_cfg: dict) -> str:
    name = layer_cfg.get("name") or (layer_cfg.get("config") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ExportError(f"a {layer_cfg.get('class_name', 'layer')} in the model config has no name")
    check_name(name, f"a {layer_cfg.get('class_name', 'layer')} in the model config")
    return name


def check_name(name: str, what: str) -> str:
    """Refuse a name that no output file can hold: text that is not valid Unicode (an unpaired surrogate)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ExportError(f"{what} is named {ascii(name)[:200]}, which is not valid Unicode text "
                          "(an unpaired surrogate); rename it") from None
    return name


def _check_float32(what: str, dtype) -> None:
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in (None, "float32"):
        raise ExportError(f"{what}: dtype {dtype!r} is not supported; kerasless computes in float32")


def _input_spec(layer_cfg: dict, name: str) -> tuple:
    config = layer_cfg.get("config") or {}
    where = f"input {name!r}"
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if not isinstance(shape, list) or len(shape) < 2:
        raise ExportError(f"{where}: needs a batch shape with at least one axis besides the batch, got {shape!r}")
    dims = shape[1:]
    for axis, dim in enumerate(dims, start=1):
        if not (isinstance(dim, int) and not isinstance(dim, bool) and dim > 0):
            what = "unknown (None)" if dim is None else f"{dim!r}, not a positive size"
            example = ", ".join("N" if k == axis else (str(d) if isinstance(d, int) and d > 0 else "?")
                                for k, d in enumerate(dims, start=1))
            raise ExportError(
                f"{where}: axis {axis} of its shape {_shape_text(shape)} is {what}; kerasless needs a fixed size for "
                f"every axis but the batch: build the model on keras.Input(shape=({example}{',' if len(dims) == 1 else ''}))"
                f" with N the size your data has on that axis, then save it again")
    _check_float32(where, config.get("dtype"))
    for flag in ("sparse", "ragged"):
        if config.get(flag):
            raise ExportError(f"{where}: {flag} inputs are not supported")
    return tuple(dims)


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else repr(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _tensor_refs(value, where: str) -> list:
    """Flatten a call's args into [(layer, node_index, tensor_index)]."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
                and all(isinstance(i, int) for i in history[1:])):
            raise ExportError(f"{where}: malformed tensor reference {history!r}")
        return [tuple(history)]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _tensor_refs(item, where)]
    raise ExportError(f"{where}: is called with a non-tensor argument {value!r}, which is not supported")


def operation_arguments(args, where: str) -> tuple:
    """An operation call's args (exporter/operations.py): (tensor refs, args with tensor k as {"tensor": k}).

    Operations take constants beside tensors (`x * 2.0`, slices): numbers, lists, and Keras's
    {"class_name": "__tensor__" | "__slice__", "config": ...} records are kept as data for the converter.
    """
    refs = []

    def walk(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            refs.extend(_tensor_refs(value, where))
            return {"tensor": len(refs) - 1}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    if not isinstance(args, list):
        raise ExportError(f"{where}: malformed call arguments")
    return refs, walk(args)


def _check_kwargs(kwargs, where: str) -> None:
    if not isinstance(kwargs, dict):
        raise ExportError(f"{where}: malformed call arguments")
    for key, value in kwargs.items():
        if value is None or (key == "training" and value is False):
            continue
        raise ExportError(f"{where}: is called with {key}={value!r}, which is not supported")


class _Builder:
    def __init__(self, weights_for):
        self.weights_for = weights_for
        self.inputs = []
        self.nodes = []
        self.layers = []
        self.shapes = {}
        self.next_suffix = {}
        self.budget = Budget()  # runtime_py.limits, checked on every shape before test vectors are made

    @staticmethod
    def _within_limits(problem) -> None:
        if problem:
            raise ExportError(f"{problem} (SECURITY.md lists the limits)")

    def _unique(self, name: str) -> str:
        if name not in self.shapes:
            return name
        k = self.next_suffix.get(name, 1)  # remembered, so many equal names cost linear time
        while f"{name}_{k}" in self.shapes:
            k += 1
        self.next_suffix[name] = k + 1
        return f"{name}_{k}"

    def _add_input(self, layer_cfg: dict) -> str:
        name = _layer_name(layer_cfg)
        shape = _input_spec(layer_cfg, name)
        tensor = self._unique(name)
        self._within_limits(self.budget.add_tensor(shape, f"input {name!r}: shape"))
        self.shapes[tensor] = shape
        self.inputs.append(TensorSpec(tensor, shape))
        return tensor

    def expand(self, model_cfg: dict, path: tuple, bound: list | None) -> list:
        """Add a model's layers; `bound` are the caller's tensors (None for the top model)."""
        class_name = model_cfg.get("class_name")
        config = model_cfg.get("config")
        if class_name not in MODEL_CLASSES or not isinstance(config, dict):
            raise ExportError(f"not a Sequential or functional Keras model (found {class_name!r})")
        if class_name == "Sequential":
            return self._expand_sequential(model_cfg, config, path, bound)
        return self._expand_functional(config, path, bound)

    def _expand_sequential(self, model_cfg, config, path, bound):
        layers = config.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ExportError(f"Sequential model {'/'.join(path) or config.get('name')!r} has no layers")
        if layers[0].get("class_name") == "InputLayer":
            first, layers = layers[0], layers[1:]
        else:
            build = (model_cfg.get("build_config") or {}).get("input_shape")
            first = {"class_name": "InputLayer", "config": {"name": "input", "batch_shape": build}}
        if bound is None:
            current = [self._add_input(first)]
        else:
            if len(bound) != 1:
                raise ExportError(f"Sequential model {path[-1]!r} is called with {len(bound)} inputs")
            current = bound
        for layer_cfg in layers:
            current = self._call(layer_cfg, path, current, 0)
            if len(current) != 1:
                raise ExportError(f"layer {_layer_name(layer_cfg)!r} in a Sequential model has several outputs")
        return current

    def _expand_functional(self, config, path, bound):
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ExportError("functional model config has no layer list")
        by_name = {}
        for layer_cfg in layers:
            if not isinstance(layer_cfg, dict):
                raise ExportError("functional model config has a malformed layer entry")
            by_name[_layer_name(layer_cfg)] = layer_cfg
        input_refs = _history_list(config.get("input_layers"), "input_layers")
        output_refs = _history_list(config.get("output_layers"), "output_layers")
        # In output_layers Keras counts a nested Functional's own built-in node as node 0, so its calls
        # are 1-based there, while inbound_nodes count calls from 0 (keras/src/models/functional.py,
        # get_config's node_reindexing_map and functional_from_config's get_tensor).
        output_refs = [(n, i - 1, t) if (by_name.get(n) or {}).get("class_name") in ("Functional", "Model")
                       else (n, i, t) for n, i, t in output_refs]
        if bound is not None and len(bound) != len(input_refs):
            raise ExportError(f"model {path[-1]!r} takes {len(input_refs)} inputs, is called with {len(bound)}")
        tensors = {}
        for k, ref in enumerate(input_refs):
            layer_cfg = by_name.get(ref[0])
            if layer_cfg is None or layer_cfg.get("class_name") != "InputLayer":
                raise ExportError(f"model input {ref[0]!r} is not an InputLayer of the model")
            tensors[ref] = self._add_input(layer_cfg) if bound is None else bound[k]

        self._run_calls(layers, path, tensors)
        missing = [ref for ref in output_refs if ref not in tensors]
        if missing:
            raise ExportError(f"model output {missing[0]!r} is not produced by any layer")
        return [tensors[ref] for ref in output_refs]

    def _run_calls(self, layers: list, path: tuple, tensors: dict) -> None:
        """Run every layer call once its input tensors exist (Kahn's algorithm over tensor refs).

        A call waits on the refs it still lacks; producing a ref releases exactly the calls
        waiting on it, so the work is linear in calls and refs whatever order the file lists them in.
        """
        calls = []  # (layer_cfg, call index, inbound node, refs, where)
        for layer_cfg in layers:
            if layer_cfg.get("class_name") == "InputLayer":
                continue
            nodes = layer_cfg.get("inbound_nodes")
            operation = is_operation(layer_cfg)
            where = f"{'operation' if operation else 'layer'} {_layer_name(layer_cfg)!r} ({layer_cfg.get('class_name')})"
            if not isinstance(nodes, list):
                raise ExportError(f"{where}: malformed inbound_nodes")
            for index, node in enumerate(nodes):
                if not isinstance(node, dict):
                    raise ExportError(f"{where}: malformed inbound node (a Keras 2 file? it needs the Keras front-end)")
                refs, arguments = (operation_arguments(node.get("args", []), where) if operation
                                   else (_tensor_refs(node.get("args", []), where), None))
                calls.append((layer_cfg, index, node, refs, where, arguments))
        if len(calls) > MAX_NODES:
            raise ExportError(f"the model has {len(calls):,} layer calls; kerasless supports at most {MAX_NODES:,}")
        waiting = {}  # ref -> positions of the calls that need it
        missing = []
        ready = deque()
        for position, (_, _, _, refs, _, _) in enumerate(calls):
            lacking = {ref for ref in refs if ref not in tensors}
            missing.append(len(lacking))
            for ref in lacking:
                waiting.setdefault(ref, []).append(position)
            if not lacking:
                ready.append(position)
        done = 0
        while ready:
            layer_cfg, index, node, refs, where, arguments = calls[ready.popleft()]
            _check_kwargs(node.get("kwargs", {}), where)
            outputs = self._call(layer_cfg, path, [tensors[ref] for ref in refs], index, arguments)
            done += 1
            name = _layer_name(layer_cfg)
            for t, tensor in enumerate(outputs):
                ref = (name, index, t)
                if ref in tensors:
                    continue
                tensors[ref] = tensor
                for position in waiting.pop(ref, ()):
                    missing[position] -= 1
                    if missing[position] == 0:
                        ready.append(position)
        if done < len(calls):
            names = sorted({_layer_name(c[0]) for c, left in zip(calls, missing) if left})
            shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
            raise ExportError(f"cannot wire layers {shown}: their inputs are never produced")

    def _call(self, layer_cfg: dict, path: tuple, inputs: list, call_index: int, arguments=None) -> list:
        name = _layer_name(layer_cfg)
        class_name = layer_cfg.get("class_name")
        layer_path = path + (name,)
        display = "/".join(layer_path)
        if class_name in MODEL_CLASSES:
            return self.expand(layer_cfg, layer_path, inputs)
        module = layer_cfg.get("module")
        registered = layer_cfg.get("registered_name")
        if (module is not None and not str(module).startswith("keras.")) or registered not in (None, class_name):
            raise ExportError(
                f"layer {display!r} ({class_name}) is a custom class ({registered or module}); "
                f"only built-in Keras layers are supported: {supported_layers()}"
            )
        operation = is_operation(layer_cfg)
        kind = "operation" if operation else "layer"
        converter = (OPERATIONS if operation else LAYERS).get(class_name)
        if converter is None:
            raise ExportError(
                f"operation {display!r} ({class_name}) is not supported; supported operations: "
                f"{supported_operations()}" if operation else
                f"layer {display!r} ({class_name}) is not supported; supported layers: {supported_layers()}"
            )
        config = layer_cfg.get("config")
        if not isinstance(config, dict):
            raise ExportError(f"{kind} {display!r} ({class_name}) has no config")
        _check_float32(f"{kind} {display!r} ({class_name})", config.get("dtype"))
        weights = [] if operation else self.weights_for(layer_path)
        shapes = [self.shapes[t] for t in inputs]
        call = (OperationCall(display, class_name, config, weights, shapes,
                               arguments if arguments is not None else [{"tensor": k} for k in range(len(inputs))])
                if operation else LayerCall(display, class_name, config, weights, shapes))
        ops = converter(call)
        base = display if call_index == 0 else f"{display}#{call_index}"
        current = inputs
        produced = []  # tensor of each op so far
        for k, op in enumerate(ops):
            where = f"{kind} {display!r} ({class_name})"
            if op.inputs is not None:
                current = [inputs[ref.index] if isinstance(ref, LayerInput) else produced[ref] for ref in op.inputs]
            self._within_limits(self.budget.add_node())
            self._within_limits(self.budget.add_tensor(tuple(op.shape), f"{where}: output shape"))
            for key, value in op.weights.items():
                self._within_limits(self.budget.add_weight(tuple(value.shape), f"{where}: weight {key!r} shape"))
            tensor = self._unique(base if k == len(ops) - 1 else f"{base}.{k}")
            self.nodes.append(Node(tensor, op.op, list(current), tuple(op.shape), op.attrs, op.weights,
                                   display, class_name))
            self.shapes[tensor] = tuple(op.shape)
            current = [tensor]
            produced.append(tensor)
        marked = sorted((op.output, produced[k]) for k, op in enumerate(ops) if op.output is not None)
        if marked:  # several outputs (keras.ops.split), in the order the converter numbered them
            current = [tensor for _, tensor in marked]
        if not ops and len(inputs) != 1:
            raise ExportError(f"layer {display!r} ({class_name}) passes through several inputs")
        params = sum(int(getattr(w, "size", 0)) for w in weights)
        self.layers.append(LayerInfo(display, class_name, call.input_shapes, self.shapes[current[0]], params))
        return current


def _history_list(value, what: str) -> list:
    """input_layers/output_layers: one [name, node, tensor] triple or a list of them."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ExportError(f"functional model config has no {what}")
    refs = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], int) and isinstance(item[2], int)):
            raise ExportError(f"functional model config has a malformed {what} entry {item!r}")
        refs.append(tuple(item))
    return refs
