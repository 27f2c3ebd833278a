"""Run the conformance suite against any runtime: `python tests/conformance/run.py COMMAND [ARG ...]`.

For each case the runner calls `COMMAND ARG ... FILE`. The command must load FILE, run its test
vectors one row at a time and apply the parity judge of docs/format.md, then exit 0 when every
value passes; it must exit with another status when it refuses the file (malformed) or when a
value fails. Model files (tests/conformance/models) must give 0, malformed files
(tests/conformance/malformed) must not. Prints one line per failing case and a summary; exits 0
when every case behaves as required, 1 otherwise. Standard library only.

    python tests/conformance/run.py node my-runtime/verify.js
    python tests/conformance/run.py python tests/conformance/runtime_py_verify.py --backend python
    python tests/conformance/run.py --cases dense,unknown_op ./verify   # only these cases
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cases(only=None, versions=(1, 2)) -> list:
    """(kind, path, what) for every case, in order; only: a set of stems to keep; versions: the format
    versions of the model files to run (integer models are version 2)."""
    index = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))
    found = []
    for path in sorted((HERE / "models").iterdir()):
        case = index["models"][path.stem]
        if case.get("format_version", 1) in versions:
            found.append(("model", path, case["covers"]))
    for name, reason in sorted(index["malformed"].items()):
        found.append(("malformed", HERE / "malformed" / name, reason))
    return [c for c in found if only is None or c[1].stem in only]


def run(command: list, only=None, timeout: float = 120.0, versions=(1, 2)) -> int:
    failures = 0
    selected = cases(only, versions)
    for kind, path, what in selected:
        try:
            done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=timeout)
            status, said = done.returncode, (done.stderr or done.stdout).strip().splitlines()
        except subprocess.TimeoutExpired:
            status, said = None, [f"no answer within {timeout:g} s"]
        ok = status == 0 if kind == "model" else status not in (0, None)
        if not ok:
            failures += 1
            expected = "must pass" if kind == "model" else "must be refused"
            print(f"FAIL {kind} {path.name} ({what}): {expected}, exit status {status}: "
                  f"{said[-1] if said else 'no message'}")
    print(f"{len(selected) - failures} of {len(selected)} conformance cases pass")
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (file stems) to run instead of all")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case (default 120)")
    parser.add_argument("--format-versions", default="1,2",
                        help="format versions of the model files to run (default 1,2; 1 for a reader of float "
                             "models only)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the runtime's verify command")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give the command that verifies one model file")
    only = set(args.cases.split(",")) if args.cases else None
    versions = tuple(int(v) for v in args.format_versions.split(","))
    return run(args.command, only, args.timeout, versions)


if __name__ == "__main__":
    sys.exit(main())
