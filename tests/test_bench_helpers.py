"""The pure helpers of benchmarks/run.py (make bench), imported without running the benchmark."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def _load():
    spec = importlib.util.spec_from_file_location("kerasless_bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_multiply_adds_sums_products_of_neighbouring_widths():
    bench = _load()
    assert bench.multiply_adds([784, 300, 10]) == 784 * 300 + 300 * 10
    assert bench.multiply_adds([1024, 1024, 1024, 10]) == 2 * 1024 * 1024 + 1024 * 10
    assert bench.multiply_adds([5]) == 0
    assert bench.multiply_adds((3, 4)) == 12


def test_multiply_adds_matches_the_keras_kernel_sizes():
    """Independent of the formula: the element count of each Dense kernel of the benchmark's models."""
    bench = _load()
    for key, _title, widths, acts in bench.MODELS:
        if widths is None:
            continue
        model = bench.build_model(key, widths, acts)
        kernels = [layer.get_weights()[0].size for layer in model.layers if layer.__class__.__name__ == "Dense"]
        assert bench.multiply_adds(widths) == sum(kernels)


def test_importing_the_benchmark_changes_no_environment_and_runs_nothing():
    script = ("import os, sys, importlib.util\n"
              "before = dict(os.environ)\n"
              f"spec = importlib.util.spec_from_file_location('b', {str(RUN)!r})\n"
              "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
              "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
              "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
              "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
