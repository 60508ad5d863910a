"""Cost of the market replay: 1 replication against 1,000, side by side in one run.

The replay holds its state as arrays over replications inside one SimPy environment, so the
per-event Python cost is paid once and 1,000 replications should cost far less than 1,000 single
runs. Goal (issue 4): 1,000 replications < 20 × the cost of 1 (11 regions × 60 months).

    python -m benchmarks.bench_replay            # or: python benchmarks/bench_replay.py
    python -m benchmarks.bench_replay --repeats 7 --large 2000
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model import market as mk  # noqa: E402
from model.data import load_dataset  # noqa: E402

log = logging.getLogger("bench_replay")
GOAL_RATIO = 20.0


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(sizes: tuple[int, ...], repeats: int, plan, dataset) -> dict[int, dict[str, float]]:
    """Best (least disturbed) seconds per size for the simulation alone and for simulation +
    the two output tables. Sizes are interleaved within each repeat, so a burst of load on a
    shared machine hits both sides alike."""
    cases = {}
    for size in sizes:
        params = mk.ReplayParams(replications=size).resolve(dataset)
        inputs = mk.replay_inputs(plan, dataset, params)
        mk.simulate(inputs, params)  # warm-up (imports, lag table cache)
        cases[size] = (
            lambda i=inputs, p=params: mk.simulate(i, p),
            lambda p=params: (mk.monthly_table(r := mk.replay(plan, dataset, p)),
                              mk.replay_summary(r)),
        )
    best = {size: {"simulate_s": float("inf"), "with_tables_s": float("inf")} for size in sizes}
    for _ in range(repeats):
        for size, (simulate, full) in cases.items():
            best[size]["simulate_s"] = min(best[size]["simulate_s"], timed(simulate))
            best[size]["with_tables_s"] = min(best[size]["with_tables_s"], timed(full))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per size (best is kept)")
    parser.add_argument("--large", type=int, default=1000, help="replications of the large run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("model").setLevel(logging.WARNING)

    dataset = load_dataset()
    plan = mk.plan_as_written(dataset)
    n_regions, n_months = len(dataset.region_ids), 12 * len(dataset.plan_years)
    timings = measure((1, args.large), args.repeats, plan, dataset)
    one, many = timings[1], timings[args.large]

    log.info("market replay, plan as written: %d regions x %d months, best of %d (interleaved)",
             n_regions, n_months, args.repeats)
    log.info("%-24s %14s %14s %8s", "", "1 replication", f"{args.large} replications", "ratio")
    for key, label in (("simulate_s", "simulation"), ("with_tables_s", "simulation + tables")):
        ratio = many[key] / one[key]
        log.info("%-24s %12.1f ms %12.1f ms %8.1f", label, one[key] * 1e3, many[key] * 1e3, ratio)
    ratio = many["simulate_s"] / one["simulate_s"]
    verdict = "meets" if ratio < GOAL_RATIO else "MISSES"
    log.info("%d replications cost %.1f x one replication (%s the goal of < %.0f x; "
             "%d separate runs would cost ~%.0f x)", args.large, ratio, verdict, GOAL_RATIO,
             args.large, args.large)
    return 0 if ratio < GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
