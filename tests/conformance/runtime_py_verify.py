"""runtime_py as a conformance command: `python tests/conformance/runtime_py_verify.py [--backend B] FILE`.

Loads FILE with runtime_py and runs its test vectors under the parity judge (Model.verify):
exit 0 when every value passes, 1 when one fails, 2 when the file is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

import runtime_py  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=runtime_py.BACKENDS, default=None)
    parser.add_argument("file")
    args = parser.parse_args(argv)
    try:
        model = runtime_py.load(args.file, backend=args.backend)
    except runtime_py.ModelFormatError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    try:
        model.verify()
    except runtime_py.VerificationError as exc:
        print(f"fails: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
