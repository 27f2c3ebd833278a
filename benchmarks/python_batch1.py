"""Side by side at batch 1: runtime_py backend="python" against run.py's sum(map(mul)) reference.

    python benchmarks/python_batch1.py [--rounds 41] [--profile]

Builds digits and MNIST exactly as benchmarks/run.py does (same seeds, same inputs), then times
both contenders in interleaved rounds with time.process_time and prints min and median per
call and their ratio. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (sets the one-thread environment before numpy and Keras start)


def contenders(key, widths, acts, workdir):
    from exporter.export import export
    import runtime_py

    model = run.build_model(key, widths, acts)
    path = Path(workdir) / f"{key}.keras"
    model.save(path)
    json_path = Path(workdir) / f"{key}.json"
    export(path, [json_path], name=key)
    rng = run.np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1,) + tuple(model.inputs[0].shape[1:])).astype(run.np.float32).tolist()
    engine = runtime_py.load(json_path, backend="python")
    return x, {"runtime_py python": engine.predict, "sum(map(mul))": run.python_reference(model)}


def timed(fn, x, count) -> float:
    start = time.process_time()
    for _ in range(count):
        fn(x)
    return (time.process_time() - start) / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--profile", action="store_true", help="cProfile the engine on each model")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        cases = {key: contenders(key, widths, acts, workdir)
                 for key, _, widths, acts in run.MODELS if key in ("digits", "mnist")}
        for key, (x, fns) in cases.items():
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(lambda: [fns["runtime_py python"](x) for _ in range(2000)])
                pstats.Stats(profiler).sort_stats("tottime").print_stats(8)
            counts = {label: run.calibrate(fn, x) for label, fn in fns.items()}
            seconds = {label: [] for label in fns}
            for _ in range(args.rounds):
                for label, fn in fns.items():
                    seconds[label].append(timed(fn, x, counts[label]))
            engine, ref = seconds["runtime_py python"], seconds["sum(map(mul))"]
            print(f"{key}: runtime_py python min {min(engine) * 1e6:.1f} us median {statistics.median(engine) * 1e6:.1f}"
                  f" us; sum(map(mul)) min {min(ref) * 1e6:.1f} us median {statistics.median(ref) * 1e6:.1f} us;"
                  f" ratio min {min(engine) / min(ref):.3f} median {statistics.median(engine) / statistics.median(ref):.3f}")


if __name__ == "__main__":
    main()
