"""Measure the header on emulated microcontrollers; write the tables of docs/embedded.md and docs/embedded.png.

    make embedded-bench                  # installs the `embedded-bench` extra, then runs this script
    python benchmarks/embedded_bench.py [--quick]

For every model and target (examples/mcu/mcu.py): program memory and static RAM attributable
to the model (the predict firmware minus the same firmware without the model, built the same
way), the stack high-water mark of one predict call (painted stack), instructions per predict
(QEMU, exact counting plugin) or cycles (simavr, Timer1), and the largest difference from
Keras's model.predict over the rows. On the Cortex-M4F the same models with every activation
removed give the dense layers' own instructions per multiply-add. The same cells for the header with
float16 and int8 weights (--weights), and for emlearn's generated network (its PyPI package) built
into the same firmware. Not a test: nothing here asserts; the targets are compared in the report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
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
STORAGES = ("float16", "int8")  # --weights variants measured next to float32

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


def measure(header, prefix, target, rows, keras_out, workdir, opt="-Os", defines=()):
    flat = rows.reshape(len(rows), -1)
    model = mcu.build(header, prefix, target, "predict", workdir, rows=flat, opt=opt, defines=defines,
                      tag="-".join(defines))
    empty = mcu.build(header, prefix, target, "empty", workdir, rows=flat, opt=opt)
    result = mcu.run(model)
    ours = result.output_array()
    return {"flash": model.text - empty.text, "ram": model.data - empty.data, "stack": result.stack,
            "instructions": result.instructions, "cycles": result.cycles,
            "max_error": float(np.max(np.abs(ours - keras_out.reshape(ours.shape))))}


def calibration_rows(model, key):
    """Representative inputs for TFLite's int8 conversion: the held-back digits, else the test rows' distribution."""
    shape = tuple(model.inputs[0].shape[1:])
    if key == "digits":
        data = np.loadtxt(ROOT / "examples" / "digits_holdout.csv", delimiter=",", skiprows=1, dtype=np.float32)
        return data[:, :64].reshape((-1, *shape))
    return np.random.default_rng(SEED + 2).uniform(-1.0, 1.0, (200, *shape)).astype(np.float32)


def tflm_x86(saved: Path, rows, calibration, folder: Path) -> dict:
    """storage -> TFLM's x86 interpreter figures (benchmarks/tflm_x86.py, in a subprocess) or why there are none."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("tflite_micro") is None:
        return {"missing": "tflite-micro is not installed (pip install -e '.[embedded-bench]')"}
    np.save(folder / "tflm_rows.npy", rows)
    np.save(folder / "tflm_calibration.npy", calibration)
    found = {}
    for storage in ("float32", "int8"):
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tflm_x86.py"), str(saved),
                               str(folder / "tflm_rows.npy"), str(folder / "tflm_calibration.npy"), storage],
                              capture_output=True, text=True, timeout=600)
        lines = done.stdout.strip().splitlines()
        found[storage] = json.loads(lines[-1]) if done.returncode == 0 and lines else \
            f"failed ({done.returncode}): {(done.stderr.strip().splitlines() or ['no output'])[-1][:120]}"
    return found


def fits(target, weight_bytes, what="float32 weights") -> str | None:
    if target.arch == "avr" and weight_bytes > 60 * 1024:
        return f"{weight_bytes // 1024} KiB of {what}: more than an AVR near pointer reaches" \
            + (" and than its flash" if weight_bytes > target.flash_bytes else "")
    return None


def header_weight_bytes(header: Path, prefix: str) -> int:
    found = re.search(rf"^#define {re.escape(prefix)}_WEIGHT_BYTES (\d+)", header.read_text(encoding="ascii"), re.M)
    return int(found.group(1))


# ---- a peer in the same firmware: emlearn ------------------------------------------------------------

EMLEARN_LAYERS = {"Dense", "Activation", "ReLU", "Softmax", "Dropout"}


def emlearn_header(keras, model, prefix: str, folder: Path) -> Path | str:
    """emlearn's network for the model behind the harness's API (PREFIX_predict_multi and the size macros),
    or the reason it cannot be built. emlearn converts Sequential stacks of Dense layers only."""
    try:
        import emlearn
    except ImportError:
        return "emlearn is not installed (pip install -e '.[embedded-bench]')"
    # a Flatten right after the input changes nothing in row-major memory: emlearn gets the flat row
    layers = list(model.layers)
    if layers and layers[0].__class__.__name__ == "Flatten":
        layers = layers[1:]
    kinds = {layer.__class__.__name__ for layer in layers}
    if model.__class__.__name__ != "Sequential" or not kinds <= EMLEARN_LAYERS:
        return f"emlearn converts Sequential Dense stacks only; this model has {', '.join(sorted(kinds - EMLEARN_LAYERS)) or 'a functional graph'}"
    n_in, n_out = int(np.prod(model.inputs[0].shape[1:])), int(model.outputs[0].shape[-1])
    generated = folder / f"{prefix}_network.h"
    with contextlib.chdir(folder):  # emlearn compiles a host copy under ./tmp
        flat = keras.Sequential([keras.Input((n_in,)), *layers])
        emlearn.convert(flat, method="loadable").save(file=str(generated), name=f"{prefix}_network")
    for header in Path(emlearn.includedir).glob("eml_*.h"):  # its runtime headers, next to the network
        shutil.copy(header, folder / header.name)
    adapter = folder / f"{prefix}.h"
    adapter.write_text(f"""/* {prefix}.h: emlearn's network ({prefix}_network.h) behind the harness's API. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include "{prefix}_network.h"
#pragma GCC diagnostic pop
#define {prefix}_INPUT_0_SIZE {n_in}
#define {prefix}_OUTPUT_0_SIZE {n_out}
static inline void {prefix}_predict_multi(const float *const *inputs, float *const *outputs)
{{
    (void)eml_error_str; /* emlearn's unused tables, referenced so -Werror builds */
    (void)eml_net_activation_function_strs;
    (void){prefix}_network_regress(inputs[0], {n_in}, outputs[0], {n_out});
}}
""", encoding="ascii")
    return adapter


def run(keys: list) -> dict:
    from exporter.export import export
    from exporter.frontend_keras import import_keras

    def export_model(model, outputs, name, weights="float32"):  # through a .keras file, as a user would
        saved = scratch / f"{name}.keras"
        model.save(saved)
        export(saved, outputs, name=name, weights=weights)

    keras = import_keras()
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
            entry = results["models"][key] = {"title": MODELS[key], "macs": dense_macs(model),
                                              "weight_bytes": weight_bytes, "cells": {}, "skipped": {}}
            contenders = [("kerasless", header, key, weight_bytes, "float32 weights")]
            for storage in STORAGES:
                stored = scratch / f"{key}_{storage}.h"
                export_model(model, [stored], name=f"{key}_{storage}", weights=storage)
                contenders.append((f"kerasless {storage}", stored, f"{key}_{storage}",
                                   header_weight_bytes(stored, f"{key}_{storage}"), f"{storage} weights"))
            entry["tflm_x86"] = tflm_x86(scratch / f"{key}.keras", rows, calibration_rows(model, key), scratch)
            print(f"{key:10s} tflm x86: {entry['tflm_x86']}", flush=True)
            peer_folder = scratch / f"{key}_emlearn"
            peer_folder.mkdir()
            peer = emlearn_header(keras, model, f"{key}_emlearn", peer_folder)
            if isinstance(peer, Path):
                contenders.append(("emlearn", peer, f"{key}_emlearn", weight_bytes, "float32 weights"))
            else:
                entry["skipped"]["emlearn"] = peer
            for target in mcu.TARGETS.values():
                for label, path, prefix, size, what in contenders:
                    column = target.name if label == "kerasless" else f"{target.name} {label}"
                    reason = mcu.missing_tools(target) or fits(target, size, what)
                    if reason:
                        entry["skipped"][column] = reason
                        continue
                    jobs[(key, column, "-Os")] = pool.submit(measure, path, prefix, target, rows, keras_out, scratch)
                if target.name == "m4f" and not mcu.missing_tools(target):
                    jobs[(key, "m4f static scratch", "-Os")] = pool.submit(  # emlearn's trade: buffers in RAM
                        measure, header, key, target, rows, keras_out, scratch, "-Os", ("KL_STATIC_SCRATCH",))
                    jobs[(key, target.name, "-O2")] = pool.submit(measure, header, key, target, rows, keras_out,
                                                                  scratch, "-O2")
                    for opt in ("-Os", "-O2"):
                        jobs[(key, "m4f-dense", opt)] = pool.submit(measure, linear_header, f"{key}_linear", target,
                                                                    rows, linear_out, scratch, opt)
        for (key, target, opt), job in jobs.items():
            try:
                results["models"][key]["cells"][f"{target} {opt}"] = job.result()
            except mcu.HarnessError as failure:  # a peer that does not fit the chip: the table says why
                results["models"][key]["skipped"][f"{target} {opt}"] = build_failure(str(failure))
                print(f"{key:10s} {target:11s} {opt}: {build_failure(str(failure))}", flush=True)
                continue
            print(f"{key:10s} {target:11s} {opt}: {job.result()}", flush=True)
    return results


def build_failure(message: str) -> str:
    """One line for a firmware that did not build or run: the linker's region overflow, else the first error."""
    if "not within region" in message or "overflowed by" in message or "will not fit in region" in message:
        return "does not link: its static data exceed the chip's SRAM"
    for line in message.splitlines():
        if "error" in line.lower():
            return line.strip()[:160]
    return message.splitlines()[0][:160]


def tool_versions() -> dict:
    import subprocess

    found = {}
    for tool in ("arm-none-eabi-gcc", "avr-gcc", "qemu-system-arm"):
        try:
            found[tool] = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            found[tool] = "missing"
    try:
        from importlib.metadata import version

        found["emlearn"] = version("emlearn")
    except Exception:  # noqa: BLE001 (not installed: the report says so)
        found["emlearn"] = "missing"
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
        "![flash and instructions per model on the Cortex-M4F, every contender](embedded.png)",
        "",
        *summary_lines(results),
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


# TensorFlow Lite Micro on the Cortex-M4F (reference kernels, -Os; flash / instructions per predict), measured
# for the microcontrollers issue from TFLM's public sources built the same way (firmware minus an empty one,
# QEMU -icount). The tflite-micro PyPI package ships an x86 interpreter, not sources, so it is not rebuilt here.
TFLM_M4F = {"tiny": {"float32": (27_068, 2_127)},
            "digits": {"float32": (34_628, 17_978), "int8": (28_976, 40_482)},
            "mnist": {"float32": (981_604, 1_466_720), "int8": (274_916, 2_658_429)}}


def _cell(model, column):
    return model["cells"].get(column)


def summary_lines(results) -> list:
    """Side by side on the Cortex-M4F and the Cortex-M0 (-Os): flash and instructions per predict."""
    lines = ["### Side by side (-Os)", "",
             "Flash attributable to the model / instructions per predict. `int8 / float32` is the flash ratio of "
             "the header's two storages; TFLM figures are quoted (below), not rebuilt here.", "",
             "| model | target | kerasless float32 | float16 | int8 | int8 / float32 | emlearn | TFLM float32 | TFLM int8 |",
             "|---|---|---|---|---|---|---|---|---|"]

    def pair(cell):
        if not cell:
            return "-"
        count = cell["instructions"] if cell["instructions"] is not None else cell["cycles"]
        return f"{cell['flash']:,} / {count:,}"

    for key, model in results["models"].items():
        for target in ("m4f", "m0", "atmega328p"):
            ours = _cell(model, f"{target} -Os")
            if ours is None:
                continue
            i8 = _cell(model, f"{target} kerasless int8 -Os")
            ratio = f"{i8['flash'] / ours['flash']:.2f}" if i8 else "-"
            peer = _cell(model, f"{target} emlearn -Os")
            reason = model["skipped"].get(f"{target} emlearn -Os", model["skipped"].get("emlearn", "-"))
            peer_text = pair(peer) if peer else ("cannot convert" if reason.startswith("emlearn converts")
                                                 else "does not link (SRAM)" if reason.startswith("does not link")
                                                 else reason)
            tflm = TFLM_M4F.get(key, {}) if target == "m4f" else {}
            quoted = [f"{tflm[s][0]:,} / {tflm[s][1]:,}" if s in tflm else "-" for s in ("float32", "int8")]
            lines.append(f"| {key} | {target}{' (cycles)' if target.startswith('atmega') else ''} | {pair(ours)} | "
                         f"{pair(_cell(model, f'{target} kerasless float16 -Os'))} | {pair(i8)} | {ratio} | "
                         f"{peer_text} | {quoted[0]} | {quoted[1]} |")
    lines += ["", "TensorFlow Lite Micro's x86-64 interpreter (the `tflite-micro` PyPI package, "
              "benchmarks/tflm_x86.py): the converted model's bytes and the arena its recording allocator used "
              "for one invoke (x86-64 arenas are about twice the on-target ones: 64-bit pointers and alignment), "
              "and the largest difference from Keras on the same rows (int8: full-integer conversion from "
              "representative rows, dequantized).", "",
              "| model | float32: model bytes / arena / max error | int8: model bytes / arena / max error |",
              "|---|---|---|"]
    for key, model in results["models"].items():
        tflm = model.get("tflm_x86", {})
        if "missing" in tflm:
            lines.append(f"| {key} | {tflm['missing']} | |")
            continue
        cells = [f"{c['model_bytes']:,} / {c['arena']:,} / {c['max_error']:.3g}" if isinstance(c, dict) else c
                 for c in (tflm.get("float32", "-"), tflm.get("int8", "-"))]
        lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
    return lines + [""]


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
    """On the Cortex-M4F (-Os): flash and instructions per predict of every contender, model by model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(results["models"])
    columns = [("m4f -Os", "kerasless float32"), ("m4f kerasless float16 -Os", "kerasless float16"),
               ("m4f kerasless int8 -Os", "kerasless int8"), ("m4f emlearn -Os", "emlearn"),
               ("tflm float32", "TFLM float32 (quoted)"), ("tflm int8", "TFLM int8 (quoted)")]

    def value(key, column, index):
        if column.startswith("tflm"):
            quoted = TFLM_M4F.get(key, {}).get(column.split()[1])
            return quoted[index] if quoted else 0
        cell = results["models"][key]["cells"].get(column)
        return (cell["flash"], cell["instructions"])[index] if cell else 0

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(columns)
    for c, (column, label) in enumerate(columns):
        positions = [i + c * width for i in range(len(keys))]
        for index, axis in enumerate(axes):
            axis.bar(positions, [value(k, column, index) for k in keys], width, label=label)
    for axis, title in zip(axes, ("Cortex-M4F: flash attributable to the model (bytes)",
                                  "Cortex-M4F: instructions per predict")):
        axis.set_yscale("log")
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], keys, rotation=20)
        axis.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "embedded.png", dpi=90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two models only")
    parser.add_argument("--models", help="comma-separated models to measure again, kept with the last run's others")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last results")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(RESULTS.read_text())
    elif args.models:
        keys = args.models.split(",")
        unknown = sorted(set(keys) - set(MODELS))
        if unknown:
            parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"models": {}}
        fresh = run(keys)
        merged = {key: fresh["models"].get(key, results["models"].get(key)) for key in MODELS}
        results = {**fresh, "models": {key: value for key, value in merged.items() if value is not None}}
    else:
        results = run(["tiny", "digits"] if args.quick else list(MODELS))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {write_report(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
