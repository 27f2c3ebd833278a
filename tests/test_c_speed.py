"""The header's fast paths give the documented results: NAME_predict_batch, and the dense clones.

* NAME_predict_batch matches Keras at batch 1 and 1024, and equals NAME_predict row for row,
  bit for bit (same kernels, same fmaf order; only more rows per call).
* -O2 (run-time dispatch to the AVX2+FMA clone), -O2 without dispatch and -O3 -march=native
  give the same bits: fmaf is exactly rounded on every path.
* The -O2 build really contains a vectorized FMA clone (objdump), where the toolchain makes one.

Speed is measured by benchmarks/run.py, never asserted here.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess

import numpy as np
import pytest

from cbuild import build, float32_bytes, read_float32, run
from parity import assert_parity

MODELS = ("mnist", "digits", "regressor", "no_bias", "chain_functional")

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "HEADER"

/* stdin: n, then n rows of input; stdout: n rows from P_predict_batch, then n rows from P_predict. */
int main(void)
{
    int n = 0;
    if (fread(&n, sizeof n, 1, stdin) != 1 || n < 0) return 2;
    float *in = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1) * P_INPUT_SIZE);
    float *batch = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1) * P_OUTPUT_SIZE);
    float *single = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1) * P_OUTPUT_SIZE);
    if (fread(in, sizeof(float) * P_INPUT_SIZE, (size_t)n, stdin) != (size_t)n) return 3;
    P_predict_batch(in, batch, n);
    for (int r = 0; r < n; r++) {
        P_predict(in + (size_t)r * P_INPUT_SIZE, single + (size_t)r * P_OUTPUT_SIZE);
    }
    fwrite(batch, sizeof(float) * P_OUTPUT_SIZE, (size_t)n, stdout);
    fwrite(single, sizeof(float) * P_OUTPUT_SIZE, (size_t)n, stdout);
    free(in);
    free(batch);
    free(single);
    return 0;
}
"""

VARIANTS = {
    "O2": dict(opt="-O2"),
    "O2-no-dispatch": dict(opt="-O2", flags=["-DKERASLESS_NO_TARGET_CLONES"]),
    "O2-no-blocks": dict(opt="-O2", flags=["-DKERASLESS_DENSE_BLOCKS=0"]),  # AVR's default loop
    "O3-native": dict(opt="-O3", flags=["-march=native"]),
    "clang-O2": dict(cc="clang", opt="-O2"),
    "sanitize": dict(opt="-O1", flags=["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]),
}


@pytest.fixture(scope="module")
def drivers(zoo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("c_speed")
    made = {}

    def get(name, variant="O2"):
        if (name, variant) not in made:
            header = zoo.exported(name, "keras", ".h")
            local = folder / f"{name}.h"
            shutil.copy(header, local)
            source = folder / f"{name}_driver.c"
            source.write_text(DRIVER.replace("HEADER", local.name).replace("P_", f"{name}_"))
            options = dict(VARIANTS[variant])
            made[(name, variant)] = build([source], folder / f"{name}_{variant}", include=[folder], **options)
        return made[(name, variant)]

    return get


def run_driver(exe, x, out_size):
    rows = x.shape[0]
    done = run(exe, stdin=np.int32(rows).tobytes() + float32_bytes(x))
    both = read_float32(done.stdout, (2, rows, out_size))
    return both[0], both[1]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("rows", [1, 3, 7, 25, 1024])  # 25: a chunk of 24 and one row; 12-row blocks and their rest
def test_predict_batch_matches_keras_and_predict(zoo, drivers, name, rows):
    x = zoo.inputs(name, rows=rows, seed=rows)
    want = zoo.keras_predict(name, x)[0]
    batch, single = run_driver(drivers(name), x[0].reshape(rows, -1), int(np.prod(want.shape[1:])))
    assert batch.tobytes() == single.tobytes(), f"{name}: NAME_predict_batch differs from NAME_predict"
    assert_parity(batch.reshape(want.shape), want, f"{name} predict_batch rows={rows}")


@pytest.mark.parametrize("variant", ["O2-no-dispatch", "O2-no-blocks", "O3-native", "clang-O2"])
def test_every_build_gives_the_same_bits(zoo, drivers, variant):
    x = zoo.inputs("mnist", rows=1024, seed=9, scale=3.0)[0]
    reference = run_driver(drivers("mnist", "O2"), x, 10)
    other = run_driver(drivers("mnist", variant), x, 10)
    assert reference[0].tobytes() == other[0].tobytes(), f"-O2 and {variant} disagree (batch)"
    assert reference[1].tobytes() == other[1].tobytes(), f"-O2 and {variant} disagree (single)"


def test_sanitizers_clean_on_batch_remainders(zoo, drivers):
    for rows in (0, 1, 5, 9, 13, 25, 37):  # chunk (8 or 24 rows) and 4- or 12-row block remainders
        x = zoo.inputs("regressor", rows=max(rows, 1), seed=rows)[0][:rows]
        batch, single = run_driver(drivers("regressor", "sanitize"), x.reshape(rows, 33), 1)
        assert batch.tobytes() == single.tobytes()


def disassembled(exe, symbol):
    """The body of function `symbol` in exe, as objdump prints it (skips without objdump)."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed (apt-get install binutils)")
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(exe)], capture_output=True, text=True,
                          check=True).stdout
    parts = text.split(f"<{symbol}>:", 1)
    assert len(parts) == 2, f"no {symbol} in {exe.name}"
    return parts[1].split("\n\n", 1)[0]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="target_clones dispatch is x86-64 only")
def test_O2_build_holds_a_vectorized_fma_clone(drivers):
    body = disassembled(drivers("mnist", "O2"), "kl_dense_forward_blocked.arch_x86_64_v3")  # the x86-64-v3 clone
    assert "vfmadd" in body and "ymm" in body, "the x86-64-v3 clone does not use vector FMA instructions"


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the AVX-512 batch kernel is x86-64 only")
def test_O2_build_holds_the_avx512_batch_kernel(drivers):
    body = disassembled(drivers("mnist", "O2"), "kl_dense_forward_wide")
    # the 12-row block keeps 24 sums in zmm registers: 24 distinct accumulators in one loop body
    accumulators = set(re.findall(r"vfmadd231ps %zmm\d+,%zmm\d+,(%zmm\d+)", body))
    assert len(accumulators) >= 24, f"the AVX-512 kernel keeps {len(accumulators)} zmm sums, not 24"
