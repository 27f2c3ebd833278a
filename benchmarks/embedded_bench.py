"""Measure the header on emulated microcontrollers; write the tables of docs/embedded.md and docs/embedded.png.

    make embedded-bench                  # installs the `embedded-bench` extra, then runs this script
    python benchmarks/embedded_bench.py [--quick]

For every model and target (examples/mcu/mcu.py): program memory and static RAM attributable
to the model (the predict firmware minus the same firmware without the model, built the same
way), the stack high-water mark of one predict call (painted stack), instructions per predict
(QEMU, exact counting plugin) or cycles (simavr, Timer1), and the largest difference from
Keras's model.predict over the rows. On the Cortex-M4F the same models with every activation
removed give the dense layers' own instructions per multiply-add. Not a test: nothing here
asserts; the targets are compared in the report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "build" / "embedded-bench" / "results.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "mcu"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import mcu  # noqa: E402

SEED = 20261201
ROWS = 8  # input rows per firmware: the first is measured, all are compared with Keras

# key -> (title, builder). Weights are seeded, biases made non-zero; digits is the shipped trained model.
MODELS = {
    "tiny": "tiny 2-4-1 (relu, sigmoid)",
    "xor_skip": "XOR 2-1-1 with a skip (concatenate)",
    "sine": "TFLite hello-world sine 1-16-16-1 (relu, relu, linear)",
    "digits": "digits 64-32-10 (examples/digits.h5: sigmoid, softmax)",
    "regressor": "regressor 33-64-32-1 (relu)",
    "mnist": "MNIST 784-300-10 (sigmoid, softmax)",
}


def build_model(keras, key):
    """The Keras model of a benchmark row."""
    if key == "digits":
        return keras.saving.load_model(ROOT / "examples" / "digits.keras", compile=False)
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    if key == "xor_skip":
        inp = keras.Input((2,), name="x")
        hidden = L.Dense(1, activation="tanh", name="hidden")(inp)
        out = L.Dense(1, activation="sigmoid", name="out")(L.Concatenate(name="skip")([inp, hidden]))
        model = keras.Model(inp, out, name="xor_skip")
    else:
        widths, acts = {"tiny": ([2, 4, 1], ["relu", "sigmoid"]),
                        "sine": ([1, 16, 16, 1], ["relu", "relu", "linear"]),
                        "regressor": ([33, 64, 32, 1], ["relu", "relu", "relu"]),
                        "mnist": ([784, 300, 10], ["sigmoid", "softmax"])}[key]
        model = keras.Sequential([keras.Input((widths[0],))] +
                                 [L.Dense(w, activation=a) for w, a in zip(widths[1:], acts)], name=key)
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:
            layer.set_weights([weights[0], rng.normal(0, 0.2, weights[1].shape).astype(np.float32)])
    return model


def linear_copy(keras, model):
    """The same layers and weights with every activation linear: what the dense layers alone cost."""
    config = model.get_config()
    for layer in config["layers"]:
        if "activation" in layer.get("config", {}):
            layer["config"]["activation"] = "linear"
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def dense_macs(model) -> int:
    return sum(int(np.prod(layer.get_weights()[0].shape)) for layer in model.layers
               if layer.__class__.__name__ == "Dense")


def test_rows(model, key):
    rng = np.random.default_rng(SEED + 1)
    shape = tuple(model.inputs[0].shape[1:])
    if key == "digits":  # held-back digits, the model's real inputs
        data = np.loadtxt(ROOT / "examples" / "digits_holdout.csv", delimiter=",", skiprows=1, dtype=np.float32)
        return data[:ROWS, :64].reshape((ROWS, *shape))
    return rng.uniform(-1.0, 1.0, (ROWS, *shape)).astype(np.float32)


# ---- one cell: a model on a target ------------------------------------------------------------------


def measure(header, prefix, target, rows, keras_out, workdir, opt="-Os"):
    flat = rows.reshape(len(rows), -1)
    model = mcu.build(header, prefix, target, "predict", workdir, rows=flat, opt=opt)
    empty = mcu.build(header, prefix, target, "empty", workdir, rows=flat, opt=opt)
    result = mcu.run(model)
    ours = result.output_array()
    return {"flash": model.text - empty.text, "ram": model.data - empty.data, "stack": result.stack,
            "instructions": result.instructions, "cycles": result.cycles,
            "max_error": float(np.max(np.abs(ours - keras_out.reshape(ours.shape))))}


def fits(target, weight_bytes) -> str | None:
    if target.arch == "avr" and weight_bytes > 60 * 1024:
        return f"{weight_bytes // 1024} KiB of float32 weights: more than an AVR near pointer reaches" \
            + (" and than its flash" if weight_bytes > target.flash_bytes else "")
    return None


def run(quick: bool) -> dict:
    from exporter.export import export
    from exporter.frontend_keras import import_keras

    def export_model(model, outputs, name):  # through a .keras file, as a user would
        saved = scratch / f"{name}.keras"
        model.save(saved)
        export(saved, outputs, name=name)

    keras = import_keras()
    keys = ["tiny", "digits"] if quick else list(MODELS)
    results = {"date": datetime.date.today().isoformat(), "models": {}, "targets": {},
               "tools": tool_versions()}
    for target in mcu.TARGETS.values():
        results["targets"][target.name] = {"description": target.description, "counts": target.counts,
                                           "missing": mcu.missing_tools(target)}
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=2) as pool:
        scratch = Path(scratch)
        jobs = {}
        for key in keys:
            model = build_model(keras, key)
            rows = test_rows(model, key)
            keras_out = np.asarray(model.predict(rows, verbose=0), dtype=np.float32)
            header = scratch / f"{key}.h"
            export_model(model, [header], name=key)
            linear = linear_copy(keras, model)
            linear_header = scratch / f"{key}_linear.h"
            export_model(linear, [linear_header], name=f"{key}_linear")
            linear_out = np.asarray(linear.predict(rows, verbose=0), dtype=np.float32)
            weight_bytes = 4 * model.count_params()
            results["models"][key] = {"title": MODELS[key], "macs": dense_macs(model), "weight_bytes": weight_bytes,
                                      "cells": {}, "skipped": {}}
            for target in mcu.TARGETS.values():
                reason = mcu.missing_tools(target) or fits(target, weight_bytes)
                if reason:
                    results["models"][key]["skipped"][target.name] = reason
                    continue
                jobs[(key, target.name, "-Os")] = pool.submit(measure, header, key, target, rows, keras_out, scratch)
                if target.name == "m4f":
                    jobs[(key, target.name, "-O2")] = pool.submit(measure, header, key, target, rows, keras_out,
                                                                  scratch, "-O2")
                    for opt in ("-Os", "-O2"):
                        jobs[(key, "m4f-dense", opt)] = pool.submit(measure, linear_header, f"{key}_linear", target,
                                                                    rows, linear_out, scratch, opt)
        for (key, target, opt), job in jobs.items():
            results["models"][key]["cells"][f"{target} {opt}"] = job.result()
            print(f"{key:10s} {target:11s} {opt}: {job.result()}", flush=True)
    return results


def tool_versions() -> dict:
    import subprocess

    found = {}
    for tool in ("arm-none-eabi-gcc", "avr-gcc", "qemu-system-arm"):
        try:
            found[tool] = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            found[tool] = "missing"
    return found


# ---- the report --------------------------------------------------------------------------------------


def count_text(cell) -> str:
    if cell["instructions"] is not None:
        return f"{cell['instructions']:,}"
    return f"{cell['cycles']:,} cycles" if cell["cycles"] is not None else "-"


START, END = "<!-- embedded-bench: start -->", "<!-- embedded-bench: end -->"


def report_lines(results) -> list:
    lines = [
        f"Written by `make embedded-bench` (benchmarks/embedded_bench.py) on {results['date']}. Flash and "
        "static RAM are what the model adds to the same firmware built without it; stack is one predict call's "
        "painted high-water mark; instructions are QEMU's exact count of one predict call (AVR: Timer1 cycles); "
        "max error is against Keras's `model.predict` on the same rows. `-Os` unless stated; `m4f-dense` is the "
        "same network with every activation linear, the dense layers' own cost.",
        "",
        "Tools: " + "; ".join(f"{k}: {v}" for k, v in results["tools"].items()) + ".",
        "",
        "![flash and instructions per model and target](embedded.png)",
        "",
    ]
    for model in results["models"].values():
        lines += [f"### {model['title']}", "",
                  f"{model['macs']:,} multiply-adds, {model['weight_bytes']:,} bytes of float32 weights.", "",
                  "| target | flash (B) | static RAM (B) | stack (B) | instructions per predict | per multiply-add "
                  "| max error vs Keras |",
                  "|---|---|---|---|---|---|---|"]
        for name, cell in model["cells"].items():
            per_mac = f"{cell['instructions'] / model['macs']:.2f}" if cell["instructions"] else "-"
            lines.append(f"| {name} | {cell['flash']:,} | {cell['ram']:,} | {cell['stack']:,} | {count_text(cell)} | "
                         f"{per_mac} | {cell['max_error']:.3g} |")
        for name, reason in model["skipped"].items():
            lines.append(f"| {name} | not run: {reason} | | | | | |")
        lines.append("")
    return lines


def write_report(results) -> Path:
    """Replace the generated part of docs/embedded.md (between the markers) with this run's tables."""
    path = DOCS / "embedded.md"
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path} lacks the {START} / {END} markers")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + START + "\n" + "\n".join(report_lines(results)) + END + tail, encoding="utf-8")
    plot(results)
    return path


def plot(results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(results["models"])
    columns = ["m0 -Os", "m4f -Os", "m7 -Os", "atmega328p -Os", "atmega2560 -Os"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(columns)
    for c, column in enumerate(columns):
        flash = [results["models"][k]["cells"].get(column, {}).get("flash", 0) for k in keys]
        count = [(results["models"][k]["cells"].get(column, {}).get("instructions")
                  or results["models"][k]["cells"].get(column, {}).get("cycles") or 0) for k in keys]
        positions = [i + c * width for i in range(len(keys))]
        axes[0].bar(positions, flash, width, label=column)
        axes[1].bar(positions, count, width, label=column)
    for axis, title in zip(axes, ("flash attributable to the model (bytes)",
                                  "per predict: instructions (ARM) / cycles (AVR)")):
        axis.set_yscale("log")
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], keys, rotation=20)
        axis.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "embedded.png", dpi=90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two models only")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last results")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(RESULTS.read_text())
    else:
        results = run(args.quick)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {write_report(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
