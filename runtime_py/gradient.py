"""Input gradients by reverse mode over the IR: Model.gradient and Model.jacobian.

A forward pass keeps every node's output (and a dense node's sums before its activation); a
backward pass then walks the nodes in reverse, applying one backward rule per op and per
activation (backward_python.py / backward_numpy.py, activations_backward_*.py) and adding up
the gradients of tensors read by several nodes. Only nodes the chosen output depends on are
differentiated, as tf.GradientTape does; an input the output does not depend on gets zeros.
The pure-Python backend runs one sample at a time in double precision and rounds every tensor
to float32; the numpy backend runs the batch in float32, as TensorFlow does.
"""

from __future__ import annotations

from array import array

from runtime_py.activations import ACTIVATIONS, activation_input_shape
from runtime_py.ops import size_of

try:
    import numpy as _np
except ImportError:  # the runtime works with the standard library alone
    _np = None


def _float32(values) -> list:
    return array("f", values).tolist()


class Tape:
    """One model's forward pass with everything kept, and backward passes over it, for one backend."""

    def __init__(self, spec: dict, backend: str):
        from runtime_py.model import _Backend

        self.backend = backend
        engine = _Backend(backend)
        if backend == "numpy":
            from runtime_py import activations_backward_numpy as act_rules
            from runtime_py import backward_numpy as rules
        else:
            from runtime_py import activations_backward_python as act_rules
            from runtime_py import backward_python as rules
        self.rules, self.act_rules, self.engine = rules, act_rules, engine
        slots = {name: k for k, (name, _) in enumerate(spec["inputs"])}
        shapes = dict(spec["inputs"])
        self.first = len(spec["inputs"])
        self.steps = []  # (forward(*inputs) -> (output, pre-activation or None), backward, input slots)
        for node in spec["nodes"]:
            in_shapes = [shapes[t] for t in node["inputs"]]
            self.steps.append((self._forward(node, in_shapes), self._backward(node, in_shapes),
                               [slots[t] for t in node["inputs"]]))
            slots[node["name"]] = len(slots)
            shapes[node["name"]] = node["shape"]
        self.slot_count = len(slots)
        self.output_slots = [slots[name] for name, _ in spec["outputs"]]

    # ---- compiling one node ----------------------------------------------------------------

    def _forward(self, node, in_shapes):
        """f(*inputs) -> (output, pre) for one node: the predict kernels, a dense node's activation apart."""
        engine = self.engine
        numpy = self.backend == "numpy"
        if node["op"] != "dense":
            step = engine.compile(node, in_shapes)
            if numpy:
                return lambda *xs: (step(*xs), None)
            return lambda *xs: (_float32(step(*xs)), None)
        kernel = engine.kernels.dense_forward
        args = engine.dense_args(node)
        if node["attrs"]["activation"]["name"] == "linear":
            if numpy:
                return lambda x: (kernel(x, *args), None)
            return lambda x: (_float32(kernel(x, *args)), None)
        act = engine.activation(node)
        if numpy:
            def dense(x):
                sums = kernel(x, *args)
                return act(sums.copy()), sums  # numpy activations work in place
            return dense

        def dense_python(x):
            sums = _float32(kernel(x, *args))
            return _float32(act(sums)), sums
        return dense_python

    def _activation_rule(self, node, shape):
        """g(grad, x, y) for the node's activation; shape: the activation's input shape."""
        record = node["attrs"]["activation"]
        rule = getattr(self.act_rules, record["name"] + "_backward")
        n = shape[-1] if shape else 1
        rows = size_of(shape) // n
        params = [record[p] for p in ACTIVATIONS[record["name"]]]
        return lambda grad, x, y: rule(grad, x, y, rows, n, *params)

    def _weight(self, node, key):
        raw = node["weights"].get(key)
        if raw is None:
            return None
        values = self.engine.to_array(raw)
        return values.reshape(-1) if self.backend == "numpy" else values

    def _backward(self, node, in_shapes):
        """b(grad, inputs, output, pre) -> one gradient per input, for one node."""
        from runtime_py.model import broadcast_index, matmul_args, slice_index, transpose_index

        op, attrs, shape = node["op"], node["attrs"], node["shape"]
        rule = getattr(self.rules, op + "_backward", None)
        n = shape[-1] if shape else 1
        rows = size_of(shape) // n
        weight = lambda key: self._weight(node, key)  # noqa: E731
        if op == "activation":
            act = self._activation_rule(node, activation_input_shape(attrs["activation"], shape))
            return lambda g, xs, y, pre: [act(g, xs[0], y)]
        if op == "dense":
            raw = node["weights"]["kernel"]
            n_in, n_out = raw.shape
            kernel = self.engine.to_array(raw)
            if self.backend == "python":
                kernel = [tuple(kernel[i * n_out:(i + 1) * n_out]) for i in range(n_in)]
            if attrs["activation"]["name"] == "linear":
                return lambda g, xs, y, pre: [rule(g, kernel, n_in, n_out)]
            act = self._activation_rule(node, shape)
            if self.backend == "python":
                return lambda g, xs, y, pre: [rule(_float32(act(g, pre, y)), kernel, n_in, n_out)]
            return lambda g, xs, y, pre: [rule(act(g, pre, y), kernel, n_in, n_out)]
        if op == "reshape":
            return lambda g, xs, y, pre: [rule(g)]
        if op == "scale_shift":
            scale = weight("scale")
            return lambda g, xs, y, pre: [rule(g, scale, rows, n)]
        if op == "prelu":
            alpha = weight("alpha")
            return lambda g, xs, y, pre: [rule(g, xs[0], alpha)]
        if op == "layer_norm":
            gamma, epsilon, rms = weight("gamma"), attrs["epsilon"], attrs["rms_scaling"]
            return lambda g, xs, y, pre: [rule(g, xs[0], gamma, rows, n, epsilon, rms)]
        if op == "rms_norm":
            scale, epsilon = weight("scale"), attrs["epsilon"]
            return lambda g, xs, y, pre: [rule(g, xs[0], scale, rows, n, epsilon)]
        if op == "unit_norm":
            epsilon, clamp = attrs["epsilon"], attrs["clamp"]
            return lambda g, xs, y, pre: [rule(g, xs[0], rows, n, epsilon, clamp)]
        if op == "standardize":
            std, invert = weight("std"), attrs["invert"]
            return lambda g, xs, y, pre: [rule(g, std, invert)]
        if op == "transpose":
            index = transpose_index(in_shapes[0], attrs["perm"])
            if self.backend == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda g, xs, y, pre: [rule(g, index)]
        if op == "broadcast":
            index = broadcast_index(in_shapes[0], shape)
            size = size_of(in_shapes[0])
            if self.backend == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda g, xs, y, pre: [rule(g, index, size)]
        if op == "slice":
            index = slice_index(in_shapes[0], attrs["begin"], attrs["step"], shape)
            size = size_of(in_shapes[0])
            if self.backend == "numpy":
                index = _np.asarray(index, dtype=_np.intp)
            return lambda g, xs, y, pre: [rule(g, index, size)]
        if op == "repeat":
            times = attrs["n"]
            return lambda g, xs, y, pre: [rule(g, times)]
        if op == "concatenate":
            chunks = [size_of(s[attrs["axis"]:]) for s in in_shapes]
            return lambda g, xs, y, pre: rule(g, *chunks)
        if op in ("add", "average"):
            count = len(in_shapes)
            return lambda g, xs, y, pre: rule(g, count)
        if op == "subtract":
            return lambda g, xs, y, pre: rule(g)
        if op in ("multiply", "maximum", "minimum", "divide"):
            return lambda g, xs, y, pre: rule(g, *xs)
        if op == "reduce":
            width, function = in_shapes[0][-1], attrs["function"]
            count = size_of(in_shapes[0]) // width
            return lambda g, xs, y, pre: [rule(g, xs[0], y, count, width, function)]
        if op == "dot":
            normalize = attrs["normalize"]
            return lambda g, xs, y, pre: rule(g, xs[0], xs[1], normalize)
        if op == "matmul":
            args = matmul_args(in_shapes, shape, self.backend == "numpy")
            return lambda g, xs, y, pre: rule(g, xs[0], xs[1], *args)
        raise NotImplementedError(f"node {node['name']!r}: op {op!r} has no backward rule")  # ops.OPS is exhaustive

    # ---- running ---------------------------------------------------------------------------

    def forward(self, inputs: list) -> tuple:
        """inputs: one value per model input (a sample, or a numpy batch); return (values, pre-activations)."""
        values = list(inputs) + [None] * (self.slot_count - self.first)
        pres = [None] * len(self.steps)
        position = self.first
        for k, (forward, _, slots) in enumerate(self.steps):
            values[position], pres[k] = forward(*[values[i] for i in slots])
            position += 1
        return values, pres

    def backward(self, values, pres, seed_slot: int, seed) -> list:
        """Gradients of sum(seed * tensor[seed_slot]) for every model input (None: does not depend on it)."""
        grads = [None] * self.slot_count
        grads[seed_slot] = seed
        python = self.backend == "python"
        for k in range(len(self.steps) - 1, -1, -1):
            slot = self.first + k
            grad = grads[slot]
            if grad is None:
                continue
            _, backward, slots = self.steps[k]
            parts = backward(grad, [values[i] for i in slots], values[slot], pres[k])
            for i, part in zip(slots, parts):
                if python:
                    part = _float32(part) if grads[i] is None else _float32([a + b for a, b in zip(grads[i], part)])
                elif grads[i] is not None:
                    part = grads[i] + part
                grads[i] = part
        return grads[:self.first]


# ---- Model.gradient and Model.jacobian ----------------------------------------------------------


def _output_total(model) -> int:
    return sum(size_of(t.shape) for t in model.outputs)


def output_position(model, output) -> tuple:
    """(output tensor's position, flat index in it) for Model.gradient's `output` argument.

    An int indexes the concatenation of every output flattened row-major, in the model's order;
    (o, k) picks flat index k of output o, o its position or its name. Raise ValueError otherwise.
    """
    sizes = [size_of(t.shape) for t in model.outputs]
    total = sum(sizes)
    if isinstance(output, tuple) and len(output) == 2:
        which, k = output
        names = [t.name for t in model.outputs]
        if isinstance(which, str):
            if which not in names:
                raise ValueError(f"no output named {which!r}; the model's outputs are {', '.join(names)}")
            which = names.index(which)
        if not _is_index(which) or not 0 <= which < len(sizes):
            raise ValueError(f"output {which!r}: the model has {len(sizes)} output(s)")
        if not _is_index(k) or not 0 <= k < sizes[which]:
            raise ValueError(f"index {k!r} is outside output {names[which]!r}, which has {sizes[which]} values")
        return int(which), int(k)
    if not _is_index(output):
        raise TypeError(f"output must be an int (a flat index over all outputs), a pair (output, index) or "
                        f"one of those per row, got {output!r}")
    if not 0 <= output < total:
        raise ValueError(f"output {output} is out of range: the model's outputs hold {total} values "
                         f"({' + '.join(map(str, sizes))})")
    which = 0
    output = int(output)
    while output >= sizes[which]:
        output -= sizes[which]
        which += 1
    return which, output


def _is_index(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return _np is not None and isinstance(value, _np.integer)


def _row_outputs(model, output, rows: int) -> list:
    """One (output position, index) per row."""
    if output is None:
        if _output_total(model) != 1:
            raise ValueError(f"the model's outputs hold {_output_total(model)} values: say which one with output=k "
                             "(a flat index over all outputs, or a pair (output, index))")
        output = 0
    per_row = output.tolist() if _np is not None and isinstance(output, _np.ndarray) and output.ndim else output
    if not isinstance(per_row, list):  # one selector for every row
        return [output_position(model, output)] * rows
    if len(per_row) != rows:
        raise ValueError(f"output: give one selector for all rows or a list of one per row ({rows} rows), "
                         f"got {len(per_row)}")
    return [output_position(model, tuple(o) if isinstance(o, list) else o) for o in per_row]


def _tape(model) -> Tape:
    if getattr(model, "_tape", None) is None:
        model._tape = Tape(model.spec, model.backend)
    return model._tape


def _prepare(model, x):
    """Split and convert x as predict does: (batches, whether numpy arrays came in)."""
    values = model._split_inputs(x)
    as_numpy = _np is not None and any(isinstance(v, _np.ndarray) for v in values)
    convert = model._batch_numpy if model.backend == "numpy" else model._batch_python
    batches = [convert(v, info) for v, info in zip(values, model.inputs)]
    if len({len(b) for b in batches}) > 1:
        raise ValueError(f"inputs have different batch sizes: {[len(b) for b in batches]}")
    return batches, as_numpy


def _seed_rows(tape, values, pres, model, which: int, index: int, rows=None):
    """Input gradients of output `which`, value `index` (numpy: for all rows of the batch)."""
    size = size_of(model.outputs[which].shape)
    slot = tape.output_slots[which]
    if tape.backend == "numpy":
        seed = _np.zeros((values[slot].shape[0], size), dtype=_np.float32)
        seed[_np.arange(seed.shape[0]) if rows is None else rows, index] = 1
    else:
        seed = [0.0] * size
        seed[index] = 1.0
    return tape.backward(values, pres, slot, seed)


def _gradients_numpy(tape, model, batches, wanted) -> list:
    """wanted: one (output, index) per row -> per input (rows, size) float32."""
    values, pres = tape.forward(batches)
    rows = batches[0].shape[0]
    result = [_np.zeros((rows, size_of(t.shape)), dtype=_np.float32) for t in model.inputs]
    for which, index in sorted(set(wanted)):
        chosen = _np.array([w == (which, index) for w in wanted])
        grads = _seed_rows(tape, values, pres, model, which, index)
        for out, grad in zip(result, grads):
            if grad is not None:
                out[chosen] = grad[chosen]
    return result


def _gradients_python(tape, model, batches, wanted) -> list:
    result = [[] for _ in model.inputs]
    for sample, (which, index) in zip(zip(*batches), wanted):
        values, pres = tape.forward(list(sample))
        grads = _seed_rows(tape, values, pres, model, which, index)
        for out, grad, info in zip(result, grads, model.inputs):
            out.append(grad if grad is not None else [0.0] * size_of(info.shape))
    return result


def _shape_results(model, flats, as_numpy, extra=()) -> list:
    """Per-input flat results (rows, *extra, size) in the caller's form with Keras input shapes."""
    from runtime_py.model import _nest

    shaped = []
    for flat, info in zip(flats, model.inputs):
        full = tuple(extra) + tuple(info.shape)
        if model.backend == "numpy" or as_numpy:
            array_ = _np.asarray(flat, dtype=_np.float32).reshape((-1,) + full)
            shaped.append(array_ if as_numpy else array_.tolist())
        else:
            shaped.append([_nest_rows(row, extra, info.shape, _nest) for row in flat])
    return shaped[0] if len(shaped) == 1 else shaped


def _nest_rows(row, extra, shape, nest):
    if not extra:
        return nest(row, shape)
    return [nest(part, shape) for part in row]


def input_gradient(model, x, output=None):
    """Model.gradient: d y[output] / d x for every row of x, in the caller's form (one batch per input)."""
    tape = _tape(model)
    batches, as_numpy = _prepare(model, x)
    wanted = _row_outputs(model, output, len(batches[0]))
    if tape.backend == "numpy":
        with _np.errstate(all="ignore"):  # overflow to inf and inf * 0 = NaN are intended, as in predict
            return _shape_results(model, _gradients_numpy(tape, model, batches, wanted), as_numpy)
    return _shape_results(model, _gradients_python(tape, model, batches, wanted), as_numpy)


def jacobian(model, x):
    """Model.jacobian: every output value's gradient, (rows, all output values, *input shape) per input."""
    tape = _tape(model)
    batches, as_numpy = _prepare(model, x)
    targets = [(which, k) for which, t in enumerate(model.outputs) for k in range(size_of(t.shape))]
    total = len(targets)
    if tape.backend == "numpy":
        with _np.errstate(all="ignore"):
            values, pres = tape.forward(batches)
            rows = batches[0].shape[0]
            flats = [_np.zeros((rows, total, size_of(t.shape)), dtype=_np.float32) for t in model.inputs]
            for j, (which, k) in enumerate(targets):
                for out, grad in zip(flats, _seed_rows(tape, values, pres, model, which, k)):
                    if grad is not None:
                        out[:, j] = grad
        return _shape_results(model, flats, as_numpy, (total,))
    flats = [[] for _ in model.inputs]
    for sample in zip(*batches):
        values, pres = tape.forward(list(sample))
        per_input = [[] for _ in model.inputs]
        for which, k in targets:
            for part, grad, info in zip(per_input, _seed_rows(tape, values, pres, model, which, k), model.inputs):
                part.append(grad if grad is not None else [0.0] * size_of(info.shape))
        for out, part in zip(flats, per_input):
            out.append(part)
    return _shape_results(model, flats, as_numpy, (total,))
