"""Write the single self-contained C header: weights, kernels, NAME_predict, NAME_selftest.

Python does the thinking here (C names, exact float literals, the buffer plan,
which kernels to paste in); templates/model.h.j2 only loops and lays out.
docs/c-api.md documents what the generated header offers.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import __version__
from exporter.errors import ExportError
from exporter.ir import Graph, size_of
from exporter.names import c_identifier, check_prefix
from exporter import activations as _activations

# Activation name -> its parameters in kernel argument order (exporter/activations.py).
ACTIVATION_PARAMS = getattr(_activations, "PARAMETERS", {})

TEMPLATE = "model.h.j2"
# IR ops the header writer lays out. Each op and each activation has a kernel runtime_c/<name>.h.
C_OPS = ("dense", "activation", "reshape")
KERNEL_ORDER = ("dense", "reshape")  # then activations, sorted
VALUES_PER_LINE = 8


# ---- resources: runtime_c/ and templates/ in the source tree or in the wheel ----------------


def _resource_dir(package: str, folder: str):
    """Return the folder as a Traversable: exporter.<folder> in the wheel, <repo>/<folder> in a checkout."""
    try:
        directory = importlib.resources.files(package)
        if directory.is_dir():
            return directory
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parent
    for candidate in (here / folder, here.parent / folder):
        if candidate.is_dir():
            return candidate
    raise ExportError(f"kerasless is installed without its {folder}/ folder; reinstall kerasless")


def _kernel_path(name: str):
    return _resource_dir("exporter.runtime_c", "runtime_c").joinpath(f"{name}.h")


def kernel_source(name: str) -> str:
    """Return the text of runtime_c/<name>.h."""
    path = _kernel_path(name)
    if not path.is_file():
        raise ExportError(f"cannot write a C header: there is no C kernel runtime_c/{name}.h yet; "
                          "export to .json or .npz instead")
    return path.read_text(encoding="utf-8")


def header_unsupported(graph: Graph) -> str | None:
    """Say why the header writer cannot express the graph yet, or return None when it can."""
    for node in graph.nodes:
        where = f"layer {node.layer!r} ({node.layer_class})"
        if node.op not in C_OPS:
            return f"{where}: op {node.op!r} has no C kernel yet"
        act = (node.attrs.get("activation") or {}).get("name", "linear")
        if act != "linear" and not _kernel_path(act).is_file():
            return f"{where}: activation {act!r} has no C kernel yet"
    return None


def _template():
    import jinja2

    text = _resource_dir("exporter.templates", "templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    return env.from_string(text)


# ---- literals and comments ------------------------------------------------------------------


def float_literal(value) -> str:
    """Return a C expression for a float32 that the compiler reads back to the same bits.

    Finite values use the shortest decimal that round-trips (numpy's Dragon4) plus the
    `f` suffix; C has no literal for inf and NaN, so those use math.h's INFINITY and NAN
    (a NaN keeps its sign but not its payload).
    """
    v = np.float32(value)
    if np.isnan(v):
        return "-NAN" if np.signbit(v) else "NAN"
    if np.isinf(v):
        return "-INFINITY" if v < 0 else "INFINITY"
    magnitude = abs(float(v))
    if magnitude == 0.0 or 1e-4 <= magnitude < 1e16:
        text = np.format_float_positional(v, unique=True, trim="0")  # 0.0, -0.0, 1.0, 0.25
    else:
        text = np.format_float_scientific(v, unique=True, trim="-")  # 1e-45, 3.4028235e+38
    return text + "f"


def param_literal(value) -> str:
    """An activation parameter as a C argument: booleans as int 1/0, numbers as exact floats."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return float_literal(value)


def c_comment(text: str) -> str:
    """Make text safe inside a /* */ comment on one line: ASCII only, no */ or /*, no newline."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif 32 <= code < 127:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    safe = "".join(out)
    while "*/" in safe or "/*" in safe or "??" in safe:  # ?? would start a trigraph in C99
        safe = safe.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
    return safe


def shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def literal_rows(values, row_length: int) -> list:
    """Format a flat float32 array as aligned lines of literals; every row of row_length starts a line."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    literals = [float_literal(v) for v in flat]
    width = max((len(s) for s in literals), default=0)
    row_length = max(int(row_length), 1)
    lines = []
    for start in range(0, len(literals), row_length):
        row = literals[start:start + row_length]
        for k in range(0, len(row), VALUES_PER_LINE):
            lines.append(" ".join(f"{s:>{width}}," for s in row[k:k + VALUES_PER_LINE]))
    if lines:
        lines[-1] = lines[-1].rstrip(",")
    return lines


# ---- the plan: C names, weight arrays, buffers and the steps of NAME_predict_multi ------------


@dataclass
class Array:
    """A static const float array in the header."""

    name: str
    size_expr: str  # e.g. "64 * 32"
    comment: str
    lines: list


@dataclass
class Step:
    """One node of the forward pass: a comment, an optional declaration, kernel calls."""

    comment: str
    declaration: str | None
    calls: list = field(default_factory=list)


@dataclass
class Plan:
    prefix: str
    arrays: list  # Array, the weights
    inputs: list  # dicts: index, name, shape, size
    outputs: list
    input_declarations: list  # C lines binding model inputs to names
    steps: list  # Step
    scratch: list  # dicts: var, offset, size, shape, node (for comments)
    scratch_floats: int
    kernels: list  # kernel names: KERNEL_ORDER, then activations
    inputs_unused: bool


class _Namer:
    """Hand out unique C identifiers made from arbitrary text."""

    def __init__(self, taken=()):
        self.taken = set(taken)

    def __call__(self, text: str, fallback: str = "node") -> str:
        # Always used behind a prefix (NAME_..., t_...), so a keyword needs no trailing underscore.
        base = c_identifier(text, fallback).rstrip("_") or fallback
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name


def plan_forward(graph: Graph) -> Plan:
    """Decide names, weight arrays, stack buffers and kernel calls for the graph."""
    prefix = check_prefix(graph.name)
    globals_ = _Namer()
    locals_ = _Namer({"inputs", "outputs", "scratch", "input", "output"})
    shapes = graph.tensor_shapes()
    output_of = {}  # tensor -> first output index it is written to directly
    for k, spec in enumerate(graph.outputs):
        output_of.setdefault(spec.name, k)
    consumed = {t for node in graph.nodes for t in node.inputs} | {t.name for t in graph.outputs}

    variables = {}  # tensor name -> C variable
    input_declarations = []
    for k, spec in enumerate(graph.inputs):
        if spec.name in consumed:
            variables[spec.name] = var = locals_(f"t_{spec.name}")
            input_declarations.append(
                f"const float *const {var} = inputs[{k}]; /* input {c_comment(spec.name)}: {shape_text(spec.shape)} */")

    arrays, steps, scratch, kernels = [], [], [], set()
    offset = 0
    written_outputs = set()
    reason = header_unsupported(graph)
    if reason:
        raise ExportError(f"cannot write a C header: {reason}; the .json and .npz formats support it")
    for node in graph.nodes:
        src = variables[node.inputs[0]]
        size = size_of(node.shape)
        var = locals_(f"t_{node.name}")
        variables[node.name] = var
        record = node.attrs.get("activation") or {"name": "linear"}
        act = record["name"]
        missing = [p for p in ACTIVATION_PARAMS.get(act, ()) if p not in record]
        if missing:
            raise ExportError(f"node {node.name!r}: activation {act!r} lacks parameter(s) {', '.join(missing)}")
        params = "".join(f", {param_literal(record[p])}" for p in ACTIVATION_PARAMS.get(act, ()))
        in_shape = shapes[node.inputs[0]]
        summary = f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): {node.op} {shape_text(in_shape)} -> {shape_text(node.shape)}"
        if node.op != "reshape":
            summary += f", {act}"
        if node.op == "reshape":
            steps.append(Step(summary + ": same data, no copy",
                              f"const float *const {var} = {src}; /* {shape_text(node.shape)} */"))
            continue
        if node.name in output_of:
            k = output_of[node.name]
            written_outputs.add(k)
            declaration = f"float *const {var} = outputs[{k}]; /* {shape_text(node.shape)}: output {k} */"
        else:
            declaration = f"float *const {var} = scratch + {offset}; /* {shape_text(node.shape)} */"
            scratch.append({"var": var, "offset": offset, "size": size, "shape": shape_text(node.shape),
                            "node": c_comment(node.name)})
            offset += size
        step = Step(summary, declaration)
        n = node.shape[-1] if node.shape else 1
        if node.op == "dense":
            kernel = node.weights["kernel"]
            n_in, n_out = kernel.shape
            node_id = globals_(node.name)
            names = {}
            for key in ("kernel", "bias"):
                if key in node.weights:
                    array = node.weights[key]
                    names[key] = f"{prefix}_{node_id}_{key}"
                    arrays.append(Array(
                        names[key],
                        " * ".join(str(d) for d in array.shape),
                        f"{c_comment(node.layer)} ({c_comment(node.layer_class)}) {key}: {shape_text(array.shape)}",
                        literal_rows(array, array.shape[-1]),
                    ))
            rows = size // n_out
            step.calls.append(f"kl_dense_forward({var}, {src}, {names['kernel']}, {names.get('bias', 'NULL')}, "
                              f"{rows}, {n_in}, {n_out});")
            kernels.add("dense")
            if act != "linear":
                step.calls.append(f"kl_{act}_forward({var}, {var}, {size // n}, {n}{params});")
                kernels.add(act)
        else:  # activation: rows and n describe the input (glu halves its last axis)
            n_in = in_shape[-1] if in_shape else 1
            step.calls.append(f"kl_{act}_forward({var}, {src}, {size_of(in_shape) // n_in}, {n_in}{params});")
            kernels.add(act)
        steps.append(step)

    for k, spec in enumerate(graph.outputs):
        if k not in written_outputs:  # an alias, a model input, or a tensor that is also an earlier output
            steps.append(Step(f"output {k} is {c_comment(spec.name)}: copy it", None,
                              [f"kl_reshape_forward(outputs[{k}], {variables[spec.name]}, {size_of(spec.shape)});"]))
            kernels.add("reshape")

    def tensors(specs):
        return [{"index": k, "name": c_comment(t.name), "shape": shape_text(t.shape), "size": size_of(t.shape)}
                for k, t in enumerate(specs)]

    return Plan(prefix, arrays, tensors(graph.inputs), tensors(graph.outputs), input_declarations, steps, scratch,
                offset, [k for k in KERNEL_ORDER if k in kernels] + sorted(kernels - set(KERNEL_ORDER)),
                not input_declarations)


def scratch_floats(graph: Graph) -> int:
    """Floats of stack scratch one NAME_predict_multi call uses (NAME_SCRATCH_FLOATS)."""
    return plan_forward(graph).scratch_floats


# ---- test vectors ---------------------------------------------------------------------------------


def _vector_table(vectors: list, which: str, count: int) -> np.ndarray:
    """Concatenate every batch row by row: (rows, total floats of all inputs or all outputs)."""
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32)
    batches = []
    for vector in vectors:
        arrays = [np.asarray(a, dtype=np.float32) for a in vector[which]]
        if len(arrays) != count:
            raise ExportError(f"test vectors have {len(arrays)} {which}, the model has {count}")
        rows = arrays[0].shape[0]
        batches.append(np.concatenate([a.reshape(rows, -1) for a in arrays], axis=1))
    return np.concatenate(batches, axis=0)


# ---- the writer -------------------------------------------------------------------------------------


def to_header(graph: Graph, vectors: list, producer: dict) -> bytes:
    """Render the C header for the graph (a WRITERS entry: graph, test vectors, producer -> bytes)."""
    plan = plan_forward(graph)
    inputs = _vector_table(vectors, "inputs", len(graph.inputs))
    outputs = _vector_table(vectors, "outputs", len(graph.outputs))
    input_total = sum(t["size"] for t in plan.inputs)
    output_total = sum(t["size"] for t in plan.outputs)
    offsets = lambda tensors: [sum(t["size"] for t in tensors[:k]) for k in range(len(tensors))]  # noqa: E731
    context = {
        "version": __version__,
        "source": c_comment(producer.get("source", "a Keras model")),
        "keras_version": c_comment(producer.get("keras_version", "unknown")),
        "backend": c_comment(producer.get("backend", "unknown")),
        "sha256": graph.weights_sha256(),
        "prefix": plan.prefix,
        "guard": f"KERASLESS_MODEL_{plan.prefix}_H",
        "plan": plan,
        "layers": [
            {"name": c_comment(node.layer), "class_name": c_comment(node.layer_class), "op": node.op,
             "input": shape_text(graph.tensor_shapes()[node.inputs[0]]), "output": shape_text(node.shape)}
            for node in graph.nodes
        ],
        "layer_width": max((len(c_comment(n.layer)) for n in graph.nodes), default=0),
        "class_width": max((len(c_comment(n.layer_class)) for n in graph.nodes), default=0),
        "single": len(graph.inputs) == 1 and len(graph.outputs) == 1,
        "parameters": graph.parameter_count(),
        "weight_bytes": graph.weight_bytes(),
        "kernels": [{"name": k, "source": kernel_source(k).rstrip("\n")} for k in plan.kernels],
        "input_total": input_total,
        "output_total": output_total,
        "input_offsets": offsets(plan.inputs),
        "output_offsets": offsets(plan.outputs),
        "test_rows": int(inputs.shape[0]),
        "test_inputs": literal_rows(inputs, input_total) if inputs.size else [],
        "test_outputs": literal_rows(outputs, output_total) if outputs.size else [],
    }
    return _template().render(**context).encode("ascii")
