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
from exporter.converters import OPS

# Activation name -> its parameters in kernel argument order (exporter/activations.py).
ACTIVATION_PARAMS = getattr(_activations, "PARAMETERS", {})

TEMPLATE = "model.h.j2"
# IR ops plan_forward lays out a call for; each also needs its kernel runtime_c/<op>.h (an
# activation node needs runtime_c/<activation>.h). An op missing from either keeps a model
# from getting a header, with the layer named (header_unsupported).
C_OPS = ("dense", "activation", "reshape", "scale_shift", "prelu", "layer_norm", "rms_norm", "unit_norm",
         "standardize", "transpose", "repeat", "concatenate", "add", "subtract", "multiply", "average", "maximum",
         "minimum", "dot")
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
        if node.op not in C_OPS or (node.op != "activation" and not _kernel_path(node.op).is_file()):
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
    """A static const array in the header: a weight (float) or a transpose's index table (int)."""

    name: str
    size_expr: str  # e.g. "64 * 32"
    comment: str
    lines: list
    ctype: str = "float"
    users: set = field(default_factory=set)  # the layers reading it (comments only)


@dataclass
class Step:
    """One node of the forward pass: a comment, an optional declaration, kernel calls."""

    comment: str
    declaration: str | None
    calls: list = field(default_factory=list)


@dataclass
class Plan:
    prefix: str
    arrays: list  # Array: the weights (identical arrays stored once), then index tables
    inputs: list  # dicts: index, name, shape, size
    outputs: list
    input_declarations: list  # C lines binding model inputs to names
    steps: list  # Step
    scratch: list  # dicts: var, offset, size, shape, node, in_place (for comments and tests)
    scratch_floats: int
    kernels: list  # kernel names: ops in the registry's order, then activations
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


# ---- buffers: where every tensor lives, planned from tensor lifetimes ---------------------------

# Ops whose kernel may write its output over an input of the same size (runtime_c/README.md):
# each output value is computed from the same position of the inputs, or a row is read in full
# before it is written. dense, transpose, repeat, concatenate and dot never run in place.
IN_PLACE_OPS = frozenset({"activation", "scale_shift", "prelu", "layer_norm", "rms_norm", "unit_norm", "standardize",
                          "add", "subtract", "multiply", "average", "maximum", "minimum"})


@dataclass
class Buffers:
    """Where each tensor's floats live during one predict call.

    A reshape shares its source's floats; `root` maps every tensor to the tensor that owns
    them. An owner lives in a model input (read only), in outputs[k], or in one region of
    the scratch array from its node until its last reader (its own node if never read).
    """

    root: dict  # tensor -> the tensor owning its floats
    needed: set  # tensors some output depends on; other nodes are skipped
    output_home: dict  # owner -> k: written straight into outputs[k]
    copies: list  # (k, tensor): outputs filled by a copy at the end (inputs, repeated outputs)
    offset: dict  # owner in scratch -> its first float
    in_place: dict  # node -> the input it overwrites (the input's floats are dead afterwards)
    last_use: dict  # owner -> index of the last node reading it (len(nodes) for a final copy)
    floats: int  # NAME_SCRATCH_FLOATS: the highest scratch float used
    lower_bound: int  # the most floats live at once: no placement can use fewer


def plan_buffers(graph: Graph) -> Buffers:
    """Place every intermediate tensor: outputs in the caller's buffers, the rest in one scratch array.

    Scratch regions are reused once their tensor is dead, so the scratch array holds the peak
    of simultaneously live intermediates; docs/c-api.md (Stack) describes the rules.
    """
    sizes = {name: size_of(shape) for name, shape in graph.tensor_shapes().items()}
    root = {t.name: t.name for t in graph.inputs}
    for node in graph.nodes:
        root[node.name] = root[node.inputs[0]] if node.op == "reshape" else node.name
    model_inputs = {t.name for t in graph.inputs}

    needed = {t.name for t in graph.outputs}
    for node in reversed(graph.nodes):
        if node.name in needed:
            needed.update(node.inputs)
    steps = [(i, node) for i, node in enumerate(graph.nodes) if node.name in needed]

    output_home, copies = {}, []
    for k, spec in enumerate(graph.outputs):
        owner = root[spec.name]
        if owner in model_inputs or owner in output_home:
            copies.append((k, spec.name))
        else:
            output_home[owner] = k

    last_use = {}
    for i, node in steps:
        last_use.setdefault(node.name, i)  # never read: dead right after its own node
        for t in node.inputs:
            last_use[root[t]] = i
    for _, t in copies:
        last_use[root[t]] = len(graph.nodes)

    def in_scratch(owner):
        return owner not in model_inputs and owner not in output_home

    # Decide what each step does with the scratch array; placement comes after.
    # events: (node, floats in scratch (0: it lives elsewhere), the owner it overwrites in place or None,
    #          owners whose floats are free after this node)
    events, in_place = [], {}
    live, lower_bound = set(), 0
    for i, node in steps:
        if node.op == "reshape":
            continue
        dying = sorted({root[t] for t in node.inputs if in_scratch(root[t]) and last_use[root[t]] == i})
        if not in_scratch(node.name):
            events.append((node.name, 0, None, dying))
            live -= set(dying)
            continue
        size = sizes[node.name]
        reuse = None
        if node.op in IN_PLACE_OPS:
            reuse = next((t for t in node.inputs if root[t] in dying and sizes[root[t]] == size), None)
        if reuse is not None:
            in_place[node.name] = reuse
        lower_bound = max(lower_bound, sum(sizes[o] for o in live) + (0 if reuse else size))
        if last_use[node.name] == i:  # never read (only when a graph has a dead end): free at once
            dying.append(node.name)
        events.append((node.name, size, reuse and root[reuse], dying))
        live = (live | {node.name}) - set(dying)

    inputs_of = {node.name: [root[t] for t in node.inputs] for _, node in steps}
    best = None
    for strategy in ("ends", "first_fit"):
        offset, floats = _place(events, inputs_of, lower_bound, strategy)
        if best is None or floats < best[1]:
            best = (offset, floats)
    return Buffers(root, needed, output_home, copies, best[0], in_place, last_use, best[1], lower_bound)


def _place(events, inputs_of, limit, strategy):
    """Give each scratch tensor an offset; return (offsets, floats used).

    first_fit: the lowest gap that holds the tensor. ends: within `limit` floats, the end of a
    gap farthest from the node's own inputs, so a chain of layers alternates between the two
    ends of the array and needs only its widest pair of neighbours; it falls back to
    first_fit when nothing fits below the limit.
    """
    offset, regions, floats = {}, {}, 0  # regions: live owner -> (start, end)
    for name, size, overwritten, dying in events:
        if size and overwritten is not None:
            offset[name] = offset[overwritten]
            regions[name] = regions.pop(overwritten)
        elif size:
            taken = sorted(regions.values())
            gaps, start = [], 0
            for begin, end in taken:
                if begin > start:
                    gaps.append((start, begin))
                start = max(start, end)
            gaps.append((start, None))  # everything above the last live region
            spot = None
            if strategy == "ends":
                near = [regions[o] for o in inputs_of[name] if o in regions]
                candidates = []
                for begin, end in gaps:
                    end = limit if end is None else min(end, limit)
                    if end - begin >= size:
                        candidates += [begin, end - size]
                if candidates:
                    def distance(at):
                        return min((max(b - (at + size), at - e, 0) for b, e in near), default=0)
                    spot = max(candidates, key=lambda at: (distance(at), -at))
            if spot is None:
                spot = next((begin for begin, end in gaps if end is None or end - begin >= size))
            offset[name] = spot
            regions[name] = (spot, spot + size)
            floats = max(floats, spot + size)
        for owner in dying:
            regions.pop(owner, None)
    return offset, floats


# ---- the steps of NAME_predict_multi ----------------------------------------------------------


def _c_list(values) -> str:
    """The inside of a C initializer: a, b, c."""
    return ", ".join(str(v) for v in values)


def int_rows(values, row_length: int) -> list:
    """Format ints as aligned lines; every row of row_length starts a line."""
    texts = [str(int(v)) for v in values]
    width = max((len(s) for s in texts), default=0)
    row_length = max(int(row_length), 1)
    lines = []
    for start in range(0, len(texts), row_length):
        row = texts[start:start + row_length]
        for k in range(0, len(row), 2 * VALUES_PER_LINE):
            lines.append(" ".join(f"{s:>{width}}," for s in row[k:k + 2 * VALUES_PER_LINE]))
    if lines:
        lines[-1] = lines[-1].rstrip(",")
    return lines


def transpose_index(shape, perm) -> np.ndarray:
    """Flat source index of every output value of transposing `shape` by `perm` (row-major)."""
    return np.transpose(np.arange(size_of(shape)).reshape(shape), perm).ravel()


class _Arrays:
    """The header's static arrays: every weight of every node, identical arrays stored once."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.arrays = []
        self.by_content = {}  # (ctype, shape, bytes) -> Array

    def add(self, node, node_id: str, key: str, values, ctype="float", comment=None, row_length=None) -> str:
        values = np.ascontiguousarray(values, dtype=np.float32 if ctype == "float" else np.int64)
        content = (ctype, values.shape, values.tobytes())
        where = f"{c_comment(node.layer)} ({c_comment(node.layer_class)})"
        if content in self.by_content:  # a shared layer called again, or equal weights elsewhere
            array = self.by_content[content]
            note = "; stored once for every call of the layer" if where in array.users else f"; also {where}"
            if note not in array.comment:
                array.comment += note
            array.users.add(where)
            return array.name
        shape = values.shape or (1,)
        array = Array(f"{self.prefix}_{node_id}_{key}", " * ".join(str(d) for d in shape),
                      comment or f"{where} {key}: {shape_text(shape)}",
                      (literal_rows if ctype == "float" else int_rows)(values, row_length or shape[-1]), ctype)
        array.users.add(where)
        self.by_content[content] = array
        self.arrays.append(array)
        return array.name


def plan_forward(graph: Graph) -> Plan:
    """Decide names, weight arrays, stack buffers and kernel calls for the graph."""
    prefix = check_prefix(graph.name)
    reason = header_unsupported(graph)
    if reason:
        raise ExportError(f"cannot write a C header: {reason}; the .json and .npz formats support it")
    buffers = plan_buffers(graph)
    shapes = graph.tensor_shapes()
    node_ids = _Namer()
    locals_ = _Namer({"inputs", "outputs", "scratch", "input", "output"})
    arrays = _Arrays(prefix)

    # Which tensors the code reads: inputs of the nodes it runs, and the sources of final copies.
    read = {t for node in graph.nodes if node.name in buffers.needed and node.op != "reshape" for t in node.inputs}
    read |= {t for _, t in buffers.copies}
    for node in reversed(graph.nodes):  # a reshape that is read makes its source read
        if node.op == "reshape" and node.name in read:
            read.add(node.inputs[0])

    variables = {}  # tensor name -> C variable
    input_declarations = []
    for k, spec in enumerate(graph.inputs):
        if spec.name in read:
            variables[spec.name] = var = locals_(f"t_{spec.name}")
            input_declarations.append(
                f"const float *const {var} = inputs[{k}]; /* input {c_comment(spec.name)}: {shape_text(spec.shape)} */")

    steps, scratch, kernels = [], [], set()
    for node in graph.nodes:
        in_shapes = [shapes[t] for t in node.inputs]
        record = node.attrs.get("activation") or {"name": "linear"}
        act = record["name"]
        summary = (f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): {node.op} "
                   f"{' + '.join(shape_text(s) for s in in_shapes)} -> {shape_text(node.shape)}")
        if node.op in ("dense", "activation"):
            summary += f", {act}"
        if node.name not in buffers.needed:
            steps.append(Step(summary + ": no output depends on it, skipped", None))
            continue
        if node.op == "reshape":
            if node.name in read:
                var = variables[node.name] = locals_(f"t_{node.name}")
                steps.append(Step(summary + ": same data, no copy",
                                  f"const float *const {var} = {variables[node.inputs[0]]}; /* {shape_text(node.shape)} */"))
            continue
        var = variables[node.name] = locals_(f"t_{node.name}")
        srcs = [variables[t] for t in node.inputs]
        if node.name in buffers.output_home:
            k = buffers.output_home[node.name]
            declaration = f"float *const {var} = outputs[{k}]; /* {shape_text(node.shape)}: output {k} */"
        else:
            offset = buffers.offset[node.name]
            overwritten = buffers.in_place.get(node.name)
            note = f": in place of {variables[overwritten]}, not read after this" if overwritten else ""
            declaration = f"float *const {var} = scratch + {offset}; /* {shape_text(node.shape)}{note} */"
            scratch.append({"var": var, "offset": offset, "size": size_of(node.shape), "shape": shape_text(node.shape),
                            "node": c_comment(node.name), "in_place": overwritten})
        step = Step(summary, declaration)
        node_id = node_ids(node.name) if node.weights or node.op == "transpose" else None

        def weight(key):
            if key not in node.weights:
                return "NULL"
            return arrays.add(node, node_id, key, node.weights[key])

        size = size_of(node.shape)
        n = node.shape[-1] if node.shape else 1
        rows = size // n
        op = node.op
        if op == "dense":
            n_in, n_out = node.weights["kernel"].shape
            step.calls.append(f"kl_dense_forward({var}, {srcs[0]}, {weight('kernel')}, {weight('bias')}, "
                              f"{size // n_out}, {n_in}, {n_out});")
            if act != "linear":
                step.calls.append(f"kl_{act}_forward({var}, {var}, {rows}, {n}{_activation_args(node, record)});")
                kernels.add(act)
        elif op == "activation":  # rows and n describe the input (glu halves its last axis)
            n_in = in_shapes[0][-1] if in_shapes[0] else 1
            step.calls.append(f"kl_{act}_forward({var}, {srcs[0]}, {size_of(in_shapes[0]) // n_in}, {n_in}"
                              f"{_activation_args(node, record)});")
            kernels.add(act)
        elif op == "scale_shift":
            step.calls.append(f"kl_scale_shift_forward({var}, {srcs[0]}, {weight('scale')}, {weight('shift')}, "
                              f"{rows}, {n});")
        elif op == "prelu":
            step.calls.append(f"kl_prelu_forward({var}, {srcs[0]}, {weight('alpha')}, {size});")
        elif op == "layer_norm":
            step.comment += " (rms_scaling)" if node.attrs["rms_scaling"] else ""
            step.calls.append(f"kl_layer_norm_forward({var}, {srcs[0]}, {weight('gamma')}, {weight('beta')}, {rows}, "
                              f"{n}, {float_literal(node.attrs['epsilon'])}, {int(node.attrs['rms_scaling'])});")
        elif op == "rms_norm":
            step.calls.append(f"kl_rms_norm_forward({var}, {srcs[0]}, {weight('scale')}, {rows}, {n}, "
                              f"{float_literal(node.attrs['epsilon'])});")
        elif op == "unit_norm":
            clamp = node.attrs["clamp"]
            step.comment += f" (clamp {clamp})"
            step.calls.append(f"kl_unit_norm_forward({var}, {srcs[0]}, {rows}, {n}, "
                              f"{float_literal(node.attrs['epsilon'])}, {int(clamp == 'inverse')});")
        elif op == "standardize":
            step.comment += " (inverted)" if node.attrs["invert"] else ""
            step.calls.append(f"kl_standardize_forward({var}, {srcs[0]}, {weight('mean')}, {weight('std')}, {size}, "
                              f"{int(node.attrs['invert'])});")
        elif op == "transpose":
            perm = node.attrs["perm"]
            table = arrays.add(node, node_id, "index", transpose_index(in_shapes[0], perm), "int",
                               f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): source index of each value "
                               f"of {shape_text(in_shapes[0])} permuted by {shape_text(perm)}", size)
            step.calls.append(f"kl_transpose_forward({var}, {srcs[0]}, {table}, {size});")
        elif op == "repeat":
            step.calls.append(f"kl_repeat_forward({var}, {srcs[0]}, {size_of(in_shapes[0])}, {node.attrs['n']});")
        elif op == "concatenate":
            axis = node.attrs["axis"]
            parts, chunks = locals_(f"in_{node.name}"), locals_(f"chunks_{node.name}")
            step.calls += [f"const float *const {parts}[{len(srcs)}] = {{{_c_list(srcs)}}};",
                           f"const int {chunks}[{len(srcs)}] = {{{_c_list(size_of(s[axis:]) for s in in_shapes)}}};",
                           f"kl_concatenate_forward({var}, {parts}, {chunks}, {len(srcs)}, "
                           f"{size_of(in_shapes[0][:axis])});"]
        elif op in ("add", "multiply", "average", "maximum", "minimum"):
            parts = locals_(f"in_{node.name}")
            step.calls += [f"const float *const {parts}[{len(srcs)}] = {{{_c_list(srcs)}}};",
                           f"kl_{op}_forward({var}, {parts}, {len(srcs)}, {size});"]
        elif op == "subtract":
            step.calls.append(f"kl_subtract_forward({var}, {srcs[0]}, {srcs[1]}, {size});")
        elif op == "dot":
            step.comment += " (normalized)" if node.attrs["normalize"] else ""
            step.calls.append(f"kl_dot_forward({var}, {srcs[0]}, {srcs[1]}, {size_of(in_shapes[0])}, "
                              f"{int(node.attrs['normalize'])});")
        else:  # header_unsupported lets through only the ops above
            raise ExportError(f"node {node.name!r}: op {op!r} has no call in the header writer")
        if op != "activation":
            kernels.add(op)
        steps.append(step)

    for k, tensor in buffers.copies:  # a model input, or a tensor that is also an earlier output
        steps.append(Step(f"output {k} is {c_comment(tensor)}: copy it", None,
                          [f"kl_reshape_forward(outputs[{k}], {variables[tensor]}, {size_of(shapes[tensor])});"]))
        kernels.add("reshape")

    def tensors(specs):
        return [{"index": k, "name": c_comment(t.name), "shape": shape_text(t.shape), "size": size_of(t.shape)}
                for k, t in enumerate(specs)]

    order = [op for op in OPS if op in kernels]
    return Plan(prefix, arrays.arrays, tensors(graph.inputs), tensors(graph.outputs), input_declarations, steps,
                sorted(scratch, key=lambda s: s["offset"]), buffers.floats,
                order + sorted(kernels - set(order)), not input_declarations)


def _activation_args(node, record) -> str:
    """The activation's parameters as C arguments, in exporter/activations.py's order."""
    act = record["name"]
    missing = [p for p in ACTIVATION_PARAMS.get(act, ()) if p not in record]
    if missing:
        raise ExportError(f"node {node.name!r}: activation {act!r} lacks parameter(s) {', '.join(missing)}")
    return "".join(f", {param_literal(record[p])}" for p in ACTIVATION_PARAMS.get(act, ()))


def scratch_floats(graph: Graph) -> int:
    """Floats of stack scratch one NAME_predict_multi call uses (NAME_SCRATCH_FLOATS)."""
    return plan_buffers(graph).floats  # the buffer plan alone: no weight literals to format


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
             "input": " + ".join(shape_text(graph.tensor_shapes()[t]) for t in node.inputs),
             "output": shape_text(node.shape)}
            for node in graph.nodes
        ],
        "layer_width": max((len(c_comment(n.layer)) for n in graph.nodes), default=0),
        "class_width": max((len(c_comment(n.layer_class)) for n in graph.nodes), default=0),
        "single": len(graph.inputs) == 1 and len(graph.outputs) == 1,
        "batch": plan_batch(graph, plan),
        "parameters": graph.parameter_count(),
        "weight_bytes": sum(4 * size_of(a.size_expr.split(" * ")) for a in plan.arrays if a.ctype == "float"),
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


# ---- NAME_predict_batch ---------------------------------------------------------------------------

BATCH_ROWS = 8  # samples NAME_predict_batch pushes through each layer together: each weight is read once per 8


def plan_batch(graph: Graph, plan: Plan) -> dict | None:
    """Lay out NAME_predict_batch for a one-input, one-output chain of dense and activation nodes.

    The calls are NAME_predict_multi's own, with rows multiplied by the samples in the chunk: every
    kernel involved works row by row, so the results are those of NAME_predict, bit for bit.
    Returns None for any other graph; the template then loops NAME_predict.
    """
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return None
    previous = graph.inputs[0].name
    for node in graph.nodes:
        if list(node.inputs) != [previous] or node.op not in ("dense", "activation", "reshape"):
            return None
        previous = node.name
    if previous != graph.outputs[0].name:
        return None
    rows_arg = {"dense": 4}  # argument index of rows; activations: 2
    calls = [call for step in plan.steps for call in step.calls]
    if not calls or any(not call.startswith("kl_") or call.startswith("kl_reshape_forward") for call in calls):
        return None
    width = max([size_of(node.shape) for node in graph.nodes] or [1])
    lines, current, buffer, producing = [], "input", 0, None
    last_step = max(k for k, step in enumerate(plan.steps) if step.calls)
    for k, step in enumerate(plan.steps):
        for position, call in enumerate(step.calls):
            name, args = call[:-2].split("(", 1)
            args = args.split(", ")
            kernel = name[len("kl_"):-len("_forward")]
            if position == 0:  # the node's first call reads the previous tensor and writes the next one
                producing = "output" if k == last_step else f"buffers[{buffer}]"
                buffer = 1 - buffer if k != last_step else buffer
                args[0], args[1] = producing, current
            else:  # a fused activation, in place
                args[0] = args[1] = producing
            index = rows_arg.get(kernel, 2)
            args[index] = f"b * {args[index]}"
            lines.append(f"{name}({', '.join(args)});")
        if step.calls:
            current = producing
    return {"rows": BATCH_ROWS, "width": width, "lines": lines, "buffers": last_step > 0}
