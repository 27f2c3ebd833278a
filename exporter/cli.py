"""export-model: the command line. User errors print one `error: ...` line and exit 2."""

from __future__ import annotations

import argparse
import signal
import sys

from exporter import __version__
from exporter.errors import ExportError, Interrupted


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: same one-line contract
        self.exit(2, f"error: {message} (see export-model --help)\n")


def parse_args(argv):
    parser = _Parser(
        prog="export-model",
        description="Export a Keras model (.h5 or .keras) to a kerasless model file (.json/.npz) and a C header (.h).",
    )
    parser.add_argument("model", help="Keras model file (.h5, .hdf5 or .keras)")
    parser.add_argument("-o", "--output", action="append", default=[], metavar="OUT",
                        help="output file; format from the extension (.json, .npz, .h, or .so: the header compiled with the "
                             "system C compiler for runtime_py.load); repeatable. "
                             "Default: MODEL-stem.json and MODEL-stem.h beside MODEL")
    parser.add_argument("--name", help="C prefix for the header's symbols (default: the model file's stem)")
    parser.add_argument("--frontend", choices=("keras", "files"),
                        help="how to read MODEL: keras (Keras 3 on TensorFlow; test vectors from model.predict) or "
                             "files (h5py and zipfile only, no TensorFlow; Keras 2 files keep Keras 2's formulas; "
                             "test vectors from kerasless's numpy runtime). Default: keras if TensorFlow is "
                             "installed, else files")
    parser.add_argument("--print-sha256", action="store_true",
                        help="print the sha256 of every file written, as sha256sum does, to pin it with "
                             "runtime_py.load(path, sha256=...)")
    parser.add_argument("--gradients", action="store_true",
                        help="also give the C header NAME_input_gradient (d output value / d input), checked by "
                             "NAME_selftest against TensorFlow's gradients")
    parser.add_argument("--weights", choices=("float32", "float16", "int8"), default="float32",
                        help="how to store the dense kernels: float32 (default), float16 (IEEE binary16) or int8 "
                             "(one scale per output unit); computed in float32 either way. The summary reports "
                             "the cost against the float model")
    parser.add_argument("--integer", action="store_true",
                        help="write an integer-only int8 model: int8 weights and activations, int32 accumulators, "
                             "no float at run time (NAME_predict_int8 in the header); needs --calibrate")
    parser.add_argument("--calibrate", metavar="X.npy",
                        help="with --integer: representative input rows (at least 16, a few hundred is better) "
                             "whose ranges set the activations' scales and zero points")
    parser.add_argument("--check-data", metavar="X.npy",
                        help="with --weights float16|int8 or --integer: also measure the cost on these input rows (max |error|, "
                             "share of rows whose argmax is unchanged)")
    parser.add_argument("--check-labels", metavar="Y.npy",
                        help="with --check-data: class labels of those rows, to report both models' accuracy")
    parser.add_argument("--version", action="version", version=f"kerasless {__version__}")
    return parser.parse_args(argv)


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def print_integer_summary(result, model) -> None:
    """--integer: the files written and what the integers cost against the float model."""
    graph, cost, prefix = result.integer, result.cost, result.graph.name
    against = "Keras's float model" if result.frontend == "keras" else "the float model (kerasless's runtime)"
    print(f"{model}: integer-only int8 model of {len(graph.nodes)} integer ops; input scale {graph.input_quant.scale:.6g} "
          f"zero point {graph.input_quant.zero_point}, output scale {graph.output_quant.scale:.6g} zero point "
          f"{graph.output_quant.zero_point}")
    for written in result.written:
        extra = (f"; {prefix}_predict_int8 and {prefix}_predict; check it with {prefix}_selftest()"
                 if written.path.suffix.lower() == ".h" else
                 f"; runtime_py reproduces its {result.vector_rows} int8 test rows exactly")
        print(f"wrote {written.path} ({_size(written.size)}{extra})")
    line = (f"integer int8: {_size(cost.weight_bytes)} of weights instead of {_size(cost.float_weight_bytes)}; "
            f"max |output - {against}| {cost.max_error:.3g} on the {cost.rows} calibration rows")
    if cost.argmax_unchanged is not None:
        line += f", argmax unchanged on {100 * cost.argmax_unchanged:.2f}% of them"
    print(line)
    if cost.check_rows:
        print(check_data_line(cost.check_rows, cost.check_max_error, cost.check_argmax_unchanged, cost.accuracy,
                              cost.float_accuracy, "the float model"))
    for note in result.notes:
        print(note)


def print_summary(result, model) -> None:
    if result.integer is not None:
        print_integer_summary(result, model)
        return
    graph = result.graph
    files = result.frontend == "files"
    if not files:
        origin = f"Keras {result.keras_version}"
    elif result.reference == "keras":  # a Keras 2 file, read by kerasless and checked against tf_keras
        origin = f"written by Keras {result.keras_version}, read from the file with its own Keras's semantics"
    else:
        origin = f"written by Keras {result.keras_version}, read without TensorFlow"
    print(f"{model}: {origin}, {len(graph.layers)} layers, "
          f"{graph.parameter_count():,} parameters ({_size(4 * graph.parameter_count())} of float32 weights)")
    width = min(max((len(layer.name) for layer in graph.layers), default=0), 40)  # a long name pads no other line
    for layer in graph.layers:
        shapes = ", ".join(str(s) for s in layer.input_shapes)
        print(f"  {layer.name:<{width}}  {layer.class_name:<14} {shapes} -> {layer.output_shape}"
              + (f"  {layer.params:,} params" if layer.params else ""))
    for written in result.written:
        check = ""
        if written.judgements is not None:
            outputs = "; ".join(f"output {t.name!r} {j.describe()}" for t, j in zip(graph.outputs, written.judgements))
            if result.reference == "dequantized":
                check = (f"; self-check {written.max_error:.3g} on {result.vector_rows} test rows against the "
                         f"{result.cost.storage} model's float reference: {outputs}")
            elif result.reference == "kerasless":
                check = (f"; self-check {written.max_error:.3g} on {result.vector_rows} test rows: vectors from "
                         f"kerasless's numpy runtime, not from Keras: {outputs}")
            else:
                check = (f"; max |error| vs Keras {written.max_error:.3g} on {result.vector_rows} test rows "
                         f"({result.reference_keras}): {outputs}")
        if written.path.suffix.lower() == ".h":
            from exporter.c.buffers import scratch_floats

            check += (f"; {_size(graph.weight_bytes())} static weights, "
                      f"{_size(4 * scratch_floats(graph))} scratch per predict (on the stack, or a buffer of yours with "
                      f"{graph.name}_predict_scratch); check it with {graph.name}_selftest()")
            if result.gradient_error is not None:
                from exporter.c.gradients import gradient_floats
                from exporter.gradient_vectors import GRADIENT_ROWS

                check += (f"; {graph.name}_input_gradient: {_size(4 * gradient_floats(graph))} stack, checked by "
                          f"{graph.name}_selftest on {min(GRADIENT_ROWS, result.vector_rows)} rows "
                          + (f"(runtime_py max |error| vs TensorFlow {result.gradient_error:.3g})"
                             if result.reference == "keras" else "(gradients from kerasless's numpy runtime)"))
        if written.path.suffix.lower() == ".so":
            check += (f"; the C header compiled for this machine, kl_so_* ABI; selftest passed here; "
                      f"load it with runtime_py.load({str(written.path)!r}) (it runs compiled code: load only "
                      "libraries you built)")
        print(f"wrote {written.path} ({_size(written.size)}{check})")
    if result.cost is not None:
        print_cost(result)
    for note in result.notes:
        print(note)
    if result.reference == "kerasless":
        print("note: the embedded test vectors check the runtimes against each other, not against Keras "
              "(the files record producer reference \"kerasless\")")


def print_cost(result) -> None:
    """--weights float16|int8: what the smaller weights cost against the float model."""
    cost = result.cost
    against = "Keras's float32 model" if result.frontend == "keras" else "the float32 model (kerasless's runtime)"
    print(f"{cost.storage} weights: {_size(cost.weight_bytes)} instead of {_size(cost.float_weight_bytes)} "
          f"({cost.weight_bytes / max(cost.float_weight_bytes, 1):.2f}x); max |output - {against}| "
          f"{cost.test_max_error:.3g} on {cost.test_rows} test rows (the embedded vectors hold the {cost.storage} "
          f"model's own outputs)")
    if cost.check_rows:
        print(check_data_line(cost.check_rows, cost.check_max_error, cost.argmax_unchanged, cost.accuracy,
                              cost.float_accuracy, "float32 weights"))


def check_data_line(rows, max_error, unchanged, accuracy, float_accuracy, float_model: str) -> str:
    """The summary's --check-data line: max |error|, argmax unchanged and accuracy where known."""
    line = f"--check-data: max |error| {max_error:.3g} on {rows} rows"
    if unchanged is not None:
        line += f", argmax unchanged on {100 * unchanged:.2f}% of them"
    if accuracy is not None:
        line += f", accuracy {100 * accuracy:.2f}% ({100 * float_accuracy:.2f}% with {float_model})"
    return line


def _interrupt(signum, frame):
    raise Interrupted(signum)


def main(argv=None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a name that is not valid text must not end the program
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handlers, written = {}, False
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):  # raise Interrupted, so every temp file is removed
            handlers[signum] = signal.signal(signum, _interrupt)
    except ValueError:  # not the main thread: keep the default handlers
        pass
    try:
        from exporter.export import export

        result = export(args.model, args.output, args.name, frontend=args.frontend, gradients=args.gradients,
                        weights=args.weights, check_data=args.check_data, check_labels=args.check_labels,
                        integer=args.integer, calibrate=args.calibrate)
        written = True
        print_summary(result, args.model)
        if args.print_sha256:
            for written in result.written:
                print(f"{written.sha256}  {written.path}")
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        if written or getattr(exc, "written", False):
            print("error: interrupted after every output file was written", file=sys.stderr)
        else:
            print("error: interrupted; every output file is as it was", file=sys.stderr)
        return 128 + signum
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
