"""TensorFlow Lite Micro's x86 interpreter (the tflite-micro PyPI package) on one Keras model.

    python benchmarks/tflm_x86.py MODEL.keras ROWS.npy CALIBRATION.npy float32|int8

Converts the model with TFLiteConverter (int8: full-integer post-training quantization from the
calibration rows, int8 input and output), runs the rows through tflite_micro's interpreter and
prints one JSON line: the flatbuffer's bytes, the arena the interpreter allocated (its
RecordingMicroAllocator's total, read from what it prints) and the largest difference from
Keras's predict. embedded_bench.py runs it in a subprocess: the interpreter writes its allocation
report to the C stderr, and a crash there must not take the benchmark down.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ARENA = 1 << 22  # generous: the recording allocator reports what was used of it


def convert(model, calibration, storage: str) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        model.export(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if storage == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([row[None]] for row in calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()


def main(argv) -> int:
    import numpy as np
    import keras
    from tflite_micro import runtime

    source, rows_path, calibration_path, storage = argv
    model = keras.saving.load_model(source, compile=False)
    rows, calibration = np.load(rows_path), np.load(calibration_path)
    data = convert(model, calibration, storage)
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=ARENA)
    inp, out = interpreter.get_input_details(0), interpreter.get_output_details(0)
    ours = []
    for row in rows:
        x = row[None]
        if storage == "int8":
            scale, zero = inp["quantization_parameters"]["scales"][0], inp["quantization_parameters"]["zero_points"][0]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        y = interpreter.get_output(0).astype(np.float32)
        if storage == "int8":
            scale, zero = out["quantization_parameters"]["scales"][0], out["quantization_parameters"]["zero_points"][0]
            y = (y - zero) * scale
        ours.append(y.reshape(-1))
    keras_out = np.asarray(model.predict(rows, verbose=0), np.float32).reshape(len(rows), -1)
    sys.stderr.flush()
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)  # the allocation report goes to the C stderr: read it back
    interpreter.print_allocations()
    os.dup2(saved, 2)
    os.close(write)
    report = os.read(read, 1 << 16).decode("utf-8", "replace")
    total = re.search(r"Arena allocation total (\d+) bytes", report)
    print(json.dumps({"model_bytes": len(data), "arena": int(total.group(1)) if total else None,
                      "max_error": float(np.max(np.abs(np.array(ours) - keras_out)))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
