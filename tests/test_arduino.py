"""examples/arduino/digit_classifier: the sketch built with avr-gcc for an ATmega328P and run in simavr.

The Arduino core is not a Debian package, so the build uses examples/arduino/avr_shim (Serial on
UART0, a main() that runs setup() and loop() once): the sketch itself is what the Arduino IDE builds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKETCH = ROOT / "examples" / "arduino" / "digit_classifier"
SHIM = ROOT / "examples" / "arduino" / "avr_shim"
sys.path.insert(0, str(ROOT / "examples" / "mcu"))

import mcu  # noqa: E402

UNO = mcu.TARGETS["atmega328p"]
FLASH_BYTES, SRAM_BYTES = 32 * 1024, 2 * 1024


@pytest.fixture(scope="module")
def sketch(tmp_path_factory):
    """The sketch's firmware with the int8 digits header, as its comment says to make it."""
    reason = mcu.missing_tools(UNO)
    if reason:
        pytest.skip(reason)
    from exporter.export import export

    directory = tmp_path_factory.mktemp("arduino")
    header = directory / "digits.h"
    export(ROOT / "examples" / "digits.keras", [header], name="digits", weights="int8")
    elf = directory / "digit_classifier.elf"
    command = ["avr-g++", "-mmcu=atmega328p", "-DF_CPU=16000000UL", "-Os", "-std=c++11", "-Wall", "-Wextra",
               "-Werror", "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", f"-I{SHIM}",
               f"-I{directory}", "-x", "c++", str(SKETCH / "digit_classifier.ino"), "-x", "none",
               str(SHIM / "main.cpp"), "-o", str(elf), "-lm"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    return elf


def test_sketch_fits_an_arduino_uno(sketch):
    text, data, bss = (int(v) for v in subprocess.run(["avr-size", sketch], capture_output=True, text=True,
                                                        check=True).stdout.splitlines()[1].split()[:3])
    assert text + data <= FLASH_BYTES, f"{text + data} B of program memory"
    assert data + bss <= SRAM_BYTES // 8, f"{data + bss} B of static RAM: the weights must stay in flash"


def test_sketch_classifies_the_digit_in_simavr(sketch):
    done = subprocess.run(["simavr", "-m", "atmega328p", "-f", "16000000", str(sketch)], capture_output=True,
                          timeout=120)
    lines = re.findall(r"\x1b\[32m(.*?)\.?\n", done.stderr.decode("ascii", errors="replace"))
    assert "selftest failures: 0" in lines, lines
    assert "digit: 6" in lines, lines  # the held-back digit in the sketch is a 6
