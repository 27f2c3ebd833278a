"""Build a generated header into firmware for an emulated microcontroller and run it (docs/embedded.md).

    python examples/mcu/mcu.py digits.h --target m4f                # selftest on the Cortex-M4F
    python examples/mcu/mcu.py digits.h --target atmega328p --mode predict --rows x.npy

As a library (tests/test_mcu.py, benchmarks/embedded_bench.py):

    import mcu
    firmware = mcu.build(header, "digits", mcu.TARGETS["m4f"], "selftest", workdir)
    result = mcu.run(firmware)          # result.selftest, result.outputs, result.instructions, ...

Targets: Cortex-M0 (soft float) on QEMU's mps2-an385, Cortex-M4F on mps2-an386, Cortex-M7 on
mps2-an500, ATmega328P and ATmega2560 under simavr. Tools are Debian's packages
(gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm, gcc-avr, avr-libc, simavr);
`missing_tools` says which are absent.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("selftest", "predict", "empty")
TIMEOUT = 600  # seconds one emulator run may take: MNIST's selftest in soft float is the slowest


@dataclass(frozen=True)
class Target:
    """One chip: how to compile for it and which emulator runs it."""

    name: str
    arch: str  # "arm" (QEMU) or "avr" (simavr)
    machine: str  # QEMU's -M board, or simavr's -m part
    cflags: tuple
    description: str
    flash_bytes: int  # a real chip's program memory, for the fit checks (QEMU's boards have 4 MiB)
    ram_bytes: int
    counts: str  # what `instructions` means on this target
    fma_instruction: bool = False  # fmaf is one exactly rounded instruction (else: the C library's software)

    @property
    def compiler(self) -> str:
        return "arm-none-eabi-gcc" if self.arch == "arm" else "avr-gcc"

    @property
    def tools(self) -> dict:
        """Executable -> the Debian package that installs it."""
        if self.arch == "arm":
            return {"arm-none-eabi-gcc": "gcc-arm-none-eabi", "qemu-system-arm": "qemu-system-arm",
                    "gcc": "gcc (for the instruction-counting QEMU plugin)"}
        return {"avr-gcc": "gcc-avr", "avr-size": "binutils-avr", "simavr": "simavr"}


ARM_COMMON = ("-mthumb", "-ffunction-sections", "-fdata-sections")
TARGETS = {
    "m0": Target("m0", "arm", "mps2-an385", ("-mcpu=cortex-m0", "-mfloat-abi=soft", *ARM_COMMON),
                 "Cortex-M0 code (ARMv6-M, soft float) on QEMU mps2-an385", 256 * 1024, 32 * 1024,
                 "instructions (QEMU plugin)"),
    "m4f": Target("m4f", "arm", "mps2-an386",
                  ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", *ARM_COMMON),
                  "Cortex-M4F (ARMv7E-M, single-precision FPU) on QEMU mps2-an386", 1024 * 1024, 192 * 1024,
                  "instructions (QEMU plugin)", fma_instruction=True),
    "m7": Target("m7", "arm", "mps2-an500",
                 ("-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", *ARM_COMMON),
                 "Cortex-M7 (ARMv7E-M, single-precision FPv5) on QEMU mps2-an500", 2048 * 1024, 512 * 1024,
                 "instructions (QEMU plugin)", fma_instruction=True),
    "atmega328p": Target("atmega328p", "avr", "atmega328p", ("-mmcu=atmega328p", "-DF_CPU=16000000UL"),
                         "ATmega328P (Arduino Uno: 32 KiB flash, 2 KiB SRAM) under simavr", 32 * 1024, 2 * 1024,
                         "cycles (Timer1)"),
    "atmega2560": Target("atmega2560", "avr", "atmega2560", ("-mmcu=atmega2560", "-DF_CPU=16000000UL"),
                         "ATmega2560 (Arduino Mega: 256 KiB flash, 8 KiB SRAM) under simavr", 256 * 1024,
                         8 * 1024, "cycles (Timer1)"),
}
AVR_COMMON = ("-ffunction-sections", "-fdata-sections")


def missing_tools(target: Target) -> str | None:
    """Say which tools this target needs and lacks (with the package to install), or None."""
    absent = [f"{tool} (apt-get install {package})" for tool, package in target.tools.items()
              if shutil.which(tool) is None]
    if target.arch == "arm" and not absent:
        libm = subprocess.run([target.compiler, *target.cflags, "-print-file-name=libm.a"], capture_output=True,
                              text=True).stdout.strip()
        if not Path(libm).is_file():
            absent.append("newlib's libm.a (apt-get install libnewlib-arm-none-eabi)")
    return f"{target.name} needs {', '.join(absent)}" if absent else None


class HarnessError(RuntimeError):
    """A build or an emulator run failed; the message holds the tool's output."""


@dataclass
class Firmware:
    path: Path
    target: Target
    mode: str
    text: int  # bytes of program memory: code, constants (weights) and .data's initial values
    data: int  # bytes of static RAM: .data + .bss
    rows: int = 0


@dataclass
class Result:
    lines: list  # the firmware's output lines
    selftest: tuple | None = None  # (failures, max abs error) in selftest mode
    outputs: list = field(default_factory=list)  # predict mode: one list of float32 bit patterns per row
    instructions: int | None = None  # predict mode, QEMU: instructions of one predict call
    cycles: int | None = None  # predict mode, AVR: cycles of one predict call
    stack: int | None = None  # predict mode: bytes of stack one predict call used (painted high-water mark)
    dense_fma: int | None = None  # the header's KERASLESS_DENSE_FMA as compiled (None: no dense layer)

    def output_array(self):
        """The outputs as a (rows, floats) float32 numpy array."""
        import numpy as np

        return np.array(self.outputs, dtype=np.uint32).view(np.float32)


# ---- building ------------------------------------------------------------------------------------


def _run(command, what: str, timeout: int = TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    if done.returncode != 0:
        raise HarnessError(f"{what} failed ({done.returncode}):\n$ {' '.join(map(str, command))}\n"
                           f"{done.stdout}{done.stderr}")
    return done


def rows_header(rows, input_sizes, output_sizes) -> str:
    """C source of rows.h: the input rows (float bits, exact) and the model's input/output sizes."""
    rows = [list(r) for r in rows]
    total_in, total_out = sum(input_sizes), sum(output_sizes)
    offsets = lambda sizes: ", ".join(str(sum(sizes[:k])) for k in range(len(sizes)))  # noqa: E731
    bits = []
    for row in rows:
        if len(row) != total_in:
            raise HarnessError(f"an input row has {len(row)} floats, the model takes {total_in}")
        bits += [f"0x{struct.unpack('<I', struct.pack('<f', float(v)))[0]:08x}u" for v in row]
    body = ",\n    ".join(", ".join(bits[k:k + 8]) for k in range(0, len(bits), 8))
    return f"""\
/* rows.h: written by examples/mcu/mcu.py. Input rows as float32 bit patterns, in program memory. */
#define HARNESS_ROWS {len(rows)}
#define HARNESS_INPUT_FLOATS {total_in}
#define HARNESS_OUTPUT_FLOATS {total_out}
#define HARNESS_NUM_INPUTS {len(input_sizes)}
#define HARNESS_NUM_OUTPUTS {len(output_sizes)}
static const uint16_t harness_input_offsets[HARNESS_NUM_INPUTS] = {{{offsets(input_sizes)}}};
static const uint16_t harness_output_offsets[HARNESS_NUM_OUTPUTS] = {{{offsets(output_sizes)}}};
#if defined(__AVR__)
#include <avr/pgmspace.h>
static const uint32_t harness_input_bits[HARNESS_ROWS * HARNESS_INPUT_FLOATS] PROGMEM = {{
#else
static const uint32_t harness_input_bits[HARNESS_ROWS * HARNESS_INPUT_FLOATS] = {{
#endif
    {body}
}};
static void harness_load_row(float *row, uint32_t index)
{{
#if defined(__AVR__)
    memcpy_P(row, &harness_input_bits[index * HARNESS_INPUT_FLOATS], sizeof(float) * HARNESS_INPUT_FLOATS);
#else
    memcpy(row, &harness_input_bits[index * HARNESS_INPUT_FLOATS], sizeof(float) * HARNESS_INPUT_FLOATS);
#endif
}}
"""


def header_sizes(header: Path, prefix: str) -> tuple:
    """(input sizes, output sizes) in floats, read from the header's NAME_INPUT_k_SIZE macros."""
    text = Path(header).read_text(encoding="ascii")

    def sizes(kind):
        found = dict(re.findall(rf"^#define {re.escape(prefix)}_{kind}_(\d+)_SIZE (\d+)", text, re.M))
        return [int(found[str(k)]) for k in range(len(found))]

    ins, outs = sizes("INPUT"), sizes("OUTPUT")
    if not ins or not outs:
        raise HarnessError(f"{header}: no {prefix}_INPUT_0_SIZE / {prefix}_OUTPUT_0_SIZE: wrong --name?")
    return ins, outs


def build(header, prefix: str, target: Target, mode: str, workdir, rows=None, opt: str = "-Os",
          defines=(), tag: str = "") -> Firmware:
    """Compile firmware.c around the header for the target; return the ELF and its sizes.

    rows (predict and empty modes): the input rows, each the concatenation of every model input.
    defines: extra -D options (e.g. a header's configuration macros); tag names the build.
    """
    if mode not in MODES:
        raise HarnessError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    header = Path(header).resolve()
    workdir = Path(workdir)
    name = f"{prefix}-{target.name}-{mode}{opt}{tag}"
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    flags = [f"-DKL_MODE_{mode.upper()}", f"-DKL_MODEL={prefix}", f'-DKL_MODEL_HEADER="{header.name}"',
             *(f"-D{d}" for d in defines)]
    if mode != "selftest":
        if rows is None:
            raise HarnessError(f"mode {mode} needs input rows")
        ins, outs = header_sizes(header, prefix)
        (folder / "rows.h").write_text(rows_header(rows, ins, outs), encoding="ascii")
    # avr-libc defines expf as exp (double is float there), so -Wdouble-promotion means nothing on AVR.
    warnings = ["-Wall", "-Wextra", "-Werror"] + (["-Wdouble-promotion"] if target.arch == "arm" else [])
    common = [target.compiler, "-std=c99", opt, "-g", *warnings, *target.cflags, f"-I{folder}", f"-I{header.parent}", f"-I{HERE}", *flags,
              HERE / "firmware.c"]
    elf = folder / "firmware.elf"
    if target.arch == "arm":
        command = [*common, HERE / "cortex_m" / "startup.c", HERE / "cortex_m" / "target.c",
                   "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-T", HERE / "cortex_m" / "mps2.ld",
                   "-Wl,--gc-sections", "-o", elf, "-lm"]
    else:
        command = [*common, *AVR_COMMON, HERE / "avr" / "target.c", "-Wl,--gc-sections", "-o", elf, "-lm"]
    _run(command, f"building {name}")
    text, data = elf_sizes(elf, target)
    return Firmware(elf, target, mode, text, data, len(rows) if rows is not None else 0)


def elf_sizes(elf: Path, target: Target) -> tuple:
    """(program memory, static RAM) bytes of an ELF, from the size tool's Berkeley format."""
    tool = "arm-none-eabi-size" if target.arch == "arm" else "avr-size"
    fields = _run([tool, "-B", elf], f"{tool} {elf.name}").stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in fields[:3])
    return text + data, data + bss


def ram_symbols(firmware: Firmware) -> dict:
    """Symbols the ELF places in static RAM (.data and .bss) -> their sizes in bytes."""
    tool = "arm-none-eabi-nm" if firmware.target.arch == "arm" else "avr-nm"
    found = {}
    for line in _run([tool, "-S", firmware.path], f"{tool} {firmware.path.name}").stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "dDbB":
            found[parts[3]] = int(parts[1], 16)
    return found


# ---- running ---------------------------------------------------------------------------------------

_PLUGIN = {}
_PLUGIN_LOCK = threading.Lock()


def counting_plugin(workdir) -> Path:
    """Compile the instruction-counting QEMU plugin (insn_count.c) once per process (thread-safe)."""
    with _PLUGIN_LOCK:
        if "path" not in _PLUGIN:
            out = Path(workdir) / "libinsn_count.so"
            partial = out.with_suffix(".so.partial")
            _run(["gcc", "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o", partial, HERE / "insn_count.c"],
                 "building the QEMU counting plugin")
            partial.replace(out)
            _PLUGIN["path"] = out
        return _PLUGIN["path"]


def symbol_address(elf: Path, symbol: str) -> int:
    """Address of a function in an ARM ELF (the Thumb bit cleared)."""
    for line in _run(["arm-none-eabi-nm", elf], "nm").stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16) & ~1
    raise HarnessError(f"{elf}: no symbol {symbol}")


def command_line(firmware: Firmware, count: bool = False) -> list:
    """The emulator command that runs the firmware (count: with the instruction-counting plugin).

    QEMU writes the firmware's semihosting output to output.txt and the plugin's marks to
    plugin.log, both beside the ELF; simavr prints the UART's lines on stderr.
    """
    target, folder = firmware.target, firmware.path.parent
    if target.arch == "avr":
        return ["simavr", "-m", target.machine, "-f", "16000000", firmware.path]
    command = ["qemu-system-arm", "-M", target.machine, "-nographic", "-monitor", "none", "-serial", "none",
               "-chardev", f"file,id=semihosting,path={folder / 'output.txt'}",
               "-semihosting-config", "enable=on,target=native,chardev=semihosting", "-kernel", firmware.path]
    if count:
        mark = symbol_address(firmware.path, "target_mark")
        command += ["-icount", "shift=0", "-plugin", f"{counting_plugin(folder.parent)},mark={mark:#x}",
                    "-d", "plugin", "-D", folder / "plugin.log"]
    return command


def run(firmware: Firmware, count: bool | None = None) -> Result:
    """Run firmware in its emulator and parse what it printed; raise HarnessError unless it finished.

    count (QEMU, predict mode; default on there): count the instructions of the first row's predict.
    """
    if count is None:
        count = firmware.mode != "selftest" and firmware.target.arch == "arm"
    folder = firmware.path.parent
    for stale in ("output.txt", "plugin.log"):
        (folder / stale).unlink(missing_ok=True)
    done = subprocess.run([str(c) for c in command_line(firmware, count)], capture_output=True, timeout=TIMEOUT)
    stderr = done.stderr.decode("ascii", errors="replace")
    if firmware.target.arch == "avr":
        # simavr prints each line the UART sent on stderr, in green, the newline shown as ".".
        stdout = "\n".join(m.group(1) for m in re.finditer(r"\x1b\[32m(.*?)\.?\n\x1b\[0m", stderr)) + "\n"
    else:
        output = folder / "output.txt"
        stdout = output.read_text(encoding="ascii", errors="replace") if output.exists() else ""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if "done" not in lines:
        raise HarnessError(f"{folder.name} did not finish (exit {done.returncode}):\n"
                           f"{stdout[-3000:]}\n{stderr[-3000:]}")
    result = Result(lines)
    outputs = {}
    for line in lines:
        label, *values = line.split()
        if label == "selftest":
            failures, err = int(values[0], 16), struct.unpack("<f", struct.pack("<I", int(values[1], 16)))[0]
            result.selftest = (failures, err)
        elif label == "out":
            outputs.setdefault(int(values[0], 16), []).extend(int(v, 16) for v in values[1:])
        elif label == "config":
            value = int(values[0], 16)
            result.dense_fma = None if value == 0xFFFFFFFF else value
        elif label == "stack":
            result.stack = int(values[0])
        elif label == "cycles" and firmware.target.arch == "avr":
            result.cycles = int(values[0]) - int(values[1])
    result.outputs = [outputs[r] for r in sorted(outputs)]
    if count:
        log = (folder / "plugin.log").read_text(encoding="ascii") if (folder / "plugin.log").exists() else ""
        marks = [int(m) for m in re.findall(r"insn-mark (\d+)", log)]
        if len(marks) != 4:
            raise HarnessError(f"expected 4 instruction marks, got {len(marks)}:\n{log[-3000:]}{stderr[-3000:]}")
        result.instructions = (marks[1] - marks[0]) - (marks[3] - marks[2])
    return result


# ---- command line ----------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("header", type=Path)
    parser.add_argument("--name", help="the header's prefix (default: the file's stem)")
    parser.add_argument("--target", choices=sorted(TARGETS), default="m4f")
    parser.add_argument("--mode", choices=MODES, default="selftest")
    parser.add_argument("--rows", type=Path, help="predict mode: a .npy of input rows (default: one row of zeros)")
    parser.add_argument("-O", dest="opt", default="s", help="optimisation level (default: s)")
    args = parser.parse_args(argv)
    target = TARGETS[args.target]
    reason = missing_tools(target)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    prefix = args.name or args.header.stem
    rows = None
    if args.mode != "selftest":
        if args.rows:
            import numpy as np

            rows = np.load(args.rows).reshape(-1, sum(header_sizes(args.header, prefix)[0]))
        else:
            rows = [[0.0] * sum(header_sizes(args.header, prefix)[0])]
    with tempfile.TemporaryDirectory() as workdir:
        try:
            firmware = build(args.header, prefix, target, args.mode, workdir, rows=rows, opt=f"-O{args.opt}")
            result = run(firmware)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"{target.description}: {firmware.text} B program memory, {firmware.data} B static RAM")
    if result.selftest is not None:
        print(f"selftest: {result.selftest[0]} failures, max abs error {result.selftest[1]:.3g}")
        return 0 if result.selftest[0] == 0 else 1
    for row in result.output_array():
        print(" ".join(f"{v:.9g}" for v in row))
    if result.instructions is not None:
        print(f"instructions per predict: {result.instructions}")
    if result.cycles is not None:
        print(f"cycles per predict: {result.cycles}")
    print(f"stack per predict: {result.stack} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
