"""The generated header on emulated microcontrollers: every zoo model's selftest on every target.

Targets (examples/mcu/mcu.py): Cortex-M0 code in soft float on QEMU mps2-an385, Cortex-M4F on
mps2-an386, Cortex-M7 on mps2-an500, ATmega328P and ATmega2560 under simavr. Each model is
compiled once per target; the emulators run two at a time in the background while the tests
collect their results. A missing tool skips with the package to install.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cbuild import build, run_rows
from parity import assert_parity
from test_c_header import driver_source, model_arity, output_shapes
from zoo import MODELS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "mcu"))

import mcu  # noqa: E402

AVR_DATA_LIMIT = 64 * 1024  # bytes of program-memory data a near pointer reaches (pgm_read_*)


def fit_problem(zoo, name, target):
    """Why the model cannot run on the target (a real chip's memory), or None."""
    weight_bytes = 4 * zoo.model(name).count_params()
    if target.arch == "avr" and weight_bytes > target.flash_bytes:  # QEMU's boards have 4 MiB for code
        return f"{weight_bytes // 1024} KiB of float32 weights exceed the {target.name}'s " \
               f"{target.flash_bytes // 1024} KiB of flash"
    if target.arch == "avr" and weight_bytes > AVR_DATA_LIMIT:
        return f"{weight_bytes // 1024} KiB of weights: AVR program memory above 64 KiB needs far reads"
    return None


class Runs:
    """Build and run firmware in a thread pool; results are collected by key."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures = {}

    def submit(self, key, header, prefix, target, mode, **kwargs):
        if key not in self.futures:
            def job():
                firmware = mcu.build(header, prefix, target, mode, self.workdir, **kwargs)
                return firmware, mcu.run(firmware)
            self.futures[key] = self.pool.submit(job)

    def result(self, key):
        try:
            return self.futures[key].result()
        except mcu.HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def selftests(zoo, tmp_path_factory):
    """Export every zoo model (main thread: Keras), then queue every runnable (model, target) selftest."""
    runs = Runs(tmp_path_factory.mktemp("mcu"))
    for name in sorted(MODELS):
        header = zoo.exported(name, "keras", ".h")
        for target in mcu.TARGETS.values():
            if mcu.missing_tools(target) is None and fit_problem(zoo, name, target) is None:
                runs.submit((name, target.name), header, name, target, "selftest")
    yield runs
    runs.pool.shutdown(cancel_futures=True)


def skip_unless_runnable(zoo, name, target):
    reason = mcu.missing_tools(target) or fit_problem(zoo, name, target)
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("target_name", sorted(mcu.TARGETS))
def test_selftest_on_target(zoo, selftests, zoo_name, target_name):
    target = mcu.TARGETS[target_name]
    skip_unless_runnable(zoo, zoo_name, target)
    firmware, result = selftests.result((zoo_name, target_name))
    failures, err = result.selftest
    assert failures == 0, f"{zoo_name} on {target.description}: {failures} values off, max error {err}"


# ---- the same bits as the host, and a deterministic instruction count -----------------------------

# The regressor is Dense + ReLU only: fmaf, additions and comparisons are exactly rounded on every
# target, so the outputs must be the host's bits. (Models with sigmoid or softmax go through each
# libm's expf, which newlib, avr-libc and glibc round differently in the last place.)
EXACT_MODEL = "regressor"
EXACT_ROWS = 5


@pytest.fixture(scope="module")
def exact_rows(zoo):
    return zoo.inputs(EXACT_MODEL, rows=EXACT_ROWS, seed=23, scale=2.0)[0]


@pytest.fixture(scope="module")
def host_outputs(zoo, tmp_path_factory, exact_rows):
    """The header's outputs on the host (gcc -O2)."""
    header = zoo.exported(EXACT_MODEL, "keras", ".h")
    directory = tmp_path_factory.mktemp("host")
    source = directory / "driver.c"
    source.write_text(driver_source(header.name, EXACT_MODEL, *model_arity(zoo, EXACT_MODEL)))
    exe = build([source], directory / "driver", include=[header.parent])
    return run_rows(exe, [], [exact_rows], output_shapes(zoo, EXACT_MODEL))[0].reshape(EXACT_ROWS, -1)


# Builds that must give the host's bits: every target as it is (fmaf where the core has FMA
# instructions), and the Cortex-M0 with KERASLESS_DENSE_FMA=1 (newlib's software fmaf).
EXACT_BUILDS = {name: (name, ()) for name in mcu.TARGETS}
EXACT_BUILDS["m0-fmaf"] = ("m0", ("KERASLESS_DENSE_FMA=1",))


@pytest.fixture(scope="module")
def predictions(zoo, tmp_path_factory, exact_rows):
    runs = Runs(tmp_path_factory.mktemp("mcu-predict"))
    header = zoo.exported(EXACT_MODEL, "keras", ".h")
    for key, (name, defines) in EXACT_BUILDS.items():
        target = mcu.TARGETS[name]
        if mcu.missing_tools(target) is None and fit_problem(zoo, EXACT_MODEL, target) is None:
            runs.submit(key, header, EXACT_MODEL, target, "predict", rows=exact_rows, defines=defines,
                        tag="-fmaf" if defines else "")
    yield runs
    runs.pool.shutdown(cancel_futures=True)


def uses_fmaf(firmware) -> bool:
    """Whether the dense kernel was built with fmaf: the default except on ARM cores without FMA."""
    return firmware.target.name != "m0" or "-fmaf" in firmware.path.parent.name


@pytest.mark.parametrize("build_name", sorted(EXACT_BUILDS))
def test_target_computes_the_host_bits(zoo, predictions, host_outputs, exact_rows, build_name):
    """With fmaf the bits are the host's; with x * w + s (the Cortex-M0's default) Keras's within the judge."""
    target = mcu.TARGETS[EXACT_BUILDS[build_name][0]]
    skip_unless_runnable(zoo, EXACT_MODEL, target)
    firmware, result = predictions.result(build_name)
    ours = result.output_array()
    if uses_fmaf(firmware):
        assert ours.tobytes() == np.ascontiguousarray(host_outputs, dtype=np.float32).tobytes(), \
            f"{target.description}: {np.abs(ours - host_outputs).max()} from the host's outputs"
    else:
        keras_out = zoo.keras_predict(EXACT_MODEL, [exact_rows])[0].reshape(ours.shape)
        assert_parity(ours, keras_out, f"{EXACT_MODEL} on {target.description} with x * w + s")


@pytest.mark.parametrize("target_name", sorted(mcu.TARGETS))
def test_counts_are_deterministic(zoo, predictions, target_name):
    """A second run of the same firmware counts exactly the same instructions (QEMU) or cycles (AVR)."""
    target = mcu.TARGETS[target_name]
    skip_unless_runnable(zoo, EXACT_MODEL, target)
    firmware, first = predictions.result(target_name)
    second = mcu.run(firmware)
    count = first.instructions if target.arch == "arm" else first.cycles
    macs = 33 * 64 + 64 * 32 + 32
    assert count > macs, f"{count} per predict is less than one per multiply-add"
    assert 4 * 64 <= first.stack < 4096, f"stack high-water {first.stack} B: the scratch alone is 256 B"
    assert (second.instructions, second.cycles, second.stack) == (first.instructions, first.cycles, first.stack)


# ---- weights in program memory ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_builds(zoo, tmp_path_factory):
    """The digits header in predict firmware and in the same firmware without the model, per target."""
    runs = Runs(tmp_path_factory.mktemp("mcu-ram"))
    header = zoo.exported("digits", "keras", ".h")
    rows = zoo.inputs("digits", rows=1, seed=2)[0].reshape(1, -1)
    built = {}
    for target in mcu.TARGETS.values():
        if mcu.missing_tools(target) is None:
            built[target.name] = [runs.pool.submit(mcu.build, header, "digits", target, mode, runs.workdir, rows=rows)
                                  for mode in ("predict", "empty")]
    yield built
    runs.pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("target_name", sorted(mcu.TARGETS))
def test_weights_take_no_static_ram(zoo, digits_builds, target_name):
    """No array of the header lands in .data or .bss, AVR included (PROGMEM): they are all in flash."""
    skip_unless_runnable(zoo, "digits", mcu.TARGETS[target_name])
    model, empty = (future.result() for future in digits_builds[target_name])
    in_ram = {name: size for name, size in mcu.ram_symbols(model).items() if name.startswith("digits_")}
    assert not in_ram, f"header arrays in static RAM: {in_ram}"
    assert model.text - empty.text > 4 * zoo.model("digits").count_params()
    if mcu.TARGETS[target_name].arch == "avr":  # everything the model adds to RAM: nothing at all
        assert model.data == empty.data, f"{model.data - empty.data} B of static RAM with the model"
