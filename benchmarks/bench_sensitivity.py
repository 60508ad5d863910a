"""Cost of the sensitivity harness: per-evaluation overhead and the speed-up from 1 to 2 workers.

    .venv/bin/python benchmarks/bench_sensitivity.py [--samples 24] [--rounds 3] [KEY=VALUE ...]

For K samples of the configured inputs (conf/sensitivity/default.yaml, the first K rows of its
Sobol sample), each round times, in rotating order on the same samples:

  bare       ``Sweep.run(sample)`` on a built model in this process: one evaluation, nothing else
  harness-1  ``run_samples(ModelEvaluator, samples, workers=1)``: the same through the harness
             (sample dict → overrides, outcome extraction, status, timing), in this process
  harness-2  the same with 2 joblib (loky) workers, each with its own built model

All models are built and the workers started before timing (a warm-up round). Reported: median
per-evaluation time of each, harness-1 ÷ bare (goal < 1.5) and harness-1 ÷ harness-2 wall time
(goal ≥ 1.6), and the implied wall time of Sobol with 1,024 base samples over the configured
inputs at 2 workers. Writes runs/bench_sensitivity/<timestamp>.json; exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import datetime
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import sensitivity as sa  # noqa: E402
from model.config import default_settings  # noqa: E402
from model.data import REPO_ROOT  # noqa: E402
from model.run import Sweep  # noqa: E402

GOAL_OVERHEAD, GOAL_SPEEDUP = 1.5, 1.6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", default=None)
    ap.add_argument("overrides", nargs="*", help="sensitivity.KEY=VALUE, as for the analysis")
    args = ap.parse_args()

    cfg = sa.load_config(args.config, ["sensitivity.progress=false", *args.overrides])
    sa.check_against_model(cfg)
    problem = sa.problem_of(cfg.inputs)
    X = sa.make_samples(problem, "sobol", 64, cfg.seed)[: args.samples]
    samples = [dict(zip(problem["names"], map(float, r))) for r in X]
    ev = sa.ModelEvaluator.from_config(cfg)
    sweep = Sweep(default_settings(**sa.base_overrides(cfg)))

    def bare():
        for s in samples:
            sweep.run(s)

    def harness(workers):
        return lambda: sa.run_samples(ev, samples, "joblib", workers)

    runs = {"bare": bare, "harness-1": harness(1), "harness-2": harness(2)}
    for fn in runs.values():  # warm-up: build the models, start the loky workers
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for r in range(args.rounds):
        for name in names[r % 3:] + names[: r % 3]:  # rotate the order each round
            t = perf_counter()
            runs[name]()
            times[name].append(perf_counter() - t)
    per_eval = {k: statistics.median(v) / len(samples) for k, v in times.items()}
    overhead = per_eval["harness-1"] / per_eval["bare"]
    speedup = per_eval["harness-1"] / per_eval["harness-2"]
    d = problem["num_vars"]
    sobol_1024 = 1024 * ((2 * d + 2) if cfg.second_order else (d + 2))
    est_s = sobol_1024 * per_eval["harness-2"]

    print(f"{len(samples)} samples × {args.rounds} rounds, {d} inputs, "
          f"{cfg.replications} replay replications, cpus={os.cpu_count()}")
    for k in names:
        print(f"  {k:10s} median {per_eval[k] * 1000:7.1f} ms per evaluation "
              f"(rounds: {', '.join(f'{t / len(samples) * 1000:.0f}' for t in times[k])})")
    print(f"harness overhead  harness-1 ÷ bare      = {overhead:.3f}  (goal < {GOAL_OVERHEAD})")
    print(f"speed-up          harness-1 ÷ harness-2 = {speedup:.3f}  (goal ≥ {GOAL_SPEEDUP})")
    print(f"Sobol, 1,024 base samples: {sobol_1024} evaluations ≈ {est_s / 60:.1f} min at 2 "
          f"workers (extrapolated from harness-2)")
    out = REPO_ROOT / "runs" / "bench_sensitivity"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    path.write_text(json.dumps({
        "samples": len(samples), "rounds": args.rounds, "inputs": d,
        "replications": cfg.replications, "times_s": times, "per_eval_s": per_eval,
        "overhead": overhead, "speedup": speedup, "sobol_1024_evaluations": sobol_1024,
        "sobol_1024_estimate_s": est_s}, indent=2) + "\n")
    print(f"written {path}")
    return 0 if overhead < GOAL_OVERHEAD and speedup >= GOAL_SPEEDUP else 1


if __name__ == "__main__":
    sys.exit(main())
