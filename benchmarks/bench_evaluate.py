"""One experiment evaluation against its core, side by side: how close the evaluation path of
sweeps and the sensitivity analysis comes to the work that matters.

    .venv/bin/python benchmarks/bench_evaluate.py [--samples 12] [--rounds 3] [--seed 1] [KEY=VALUE ...]

For K rows drawn at random (``--seed``) from the Sobol design with 1,024 base samples of the
sensitivity inputs (conf/sensitivity/default.yaml, its base model), with HiGHS on one thread as
in the analysis' processes, each round times, in rotating order:

  evaluation  ``Sweep.run(sample, outputs="outcomes")``: overrides, inputs, parameter update,
              HiGHS, the plan and headline, the replay and its summary — what a sample costs
  core        on the same built model and the same inputs: ``PlanModel.update`` + HiGHS ``run()``
              (``PlanModel.solve``) and the replay's ``simulate`` on inputs prepared beforehand

Reported: median ms of each and the ratio evaluation ÷ core (goal ≤ 2); JSON in
runs/bench_evaluate/<timestamp>.json; exit 1 if the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path
from time import perf_counter

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import sensitivity as sa  # noqa: E402
from model import market, results  # noqa: E402
from model.config import default_settings, fast_overrides  # noqa: E402
from model.data import REPO_ROOT  # noqa: E402
from model.inputs import build_inputs  # noqa: E402
from model.pipeline import Sweep, replay_params  # noqa: E402
from model.solve import single_thread_highs  # noqa: E402

GOAL = 2.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1, help="which rows of the design are drawn")
    ap.add_argument("overrides", nargs="*", help="sensitivity.KEY=VALUE, as for the analysis")
    args = ap.parse_args()

    cfg = sa.load_config(None, ["sensitivity.progress=false", *args.overrides])
    problem = sa.problem_of(cfg.inputs)
    # rows drawn at random from the design of Sobol with 1,024 base samples (not one block's
    # rows, which all lie near one point)
    X = sa.make_samples(problem, "sobol", 1024, cfg.seed)
    X = X[np.random.default_rng(args.seed).choice(len(X), size=args.samples, replace=False)]
    samples = [dict(zip(problem["names"], map(float, r))) for r in X]
    base = default_settings(**sa.base_overrides(cfg))
    single_thread_highs()  # as in the analysis' processes (analysis.sensitivity._sweep_for)
    sweep = Sweep(base, reuse_solves=False)  # every evaluation solves, as the core does
    ds = sweep.dataset

    # the core's inputs, prepared outside the timing: settings, model inputs, the replay's inputs
    prepared = []
    for s in samples:
        settings = fast_overrides(base, s)
        inputs = build_inputs(settings, ds)
        sweep.model.update(inputs)
        plan = results.plan_table(inputs, sweep.model.solve())
        params = replay_params(settings, ds, inputs).resolve(ds, inputs.level)
        rin = market.replay_inputs(plan, ds, params, inputs.level, inputs.revitalised_ha,
                                   inputs.plot_ratio_10k_m2_per_ha, inputs.pipeline)
        prepared.append((inputs, params, rin))
    sweep.run(samples[0], outputs="outcomes")  # warm-up

    def evaluation() -> list[float]:
        out = []
        for s in samples:
            t = perf_counter()
            sweep.run(s, outputs="outcomes")
            out.append(perf_counter() - t)
        return out

    def core() -> list[float]:
        out = []
        for inputs, params, rin in prepared:
            t = perf_counter()
            sweep.model.update(inputs)
            sweep.model.solve()
            market.simulate(rin, params)
            out.append(perf_counter() - t)
        return out

    timings: dict[str, list[float]] = {"evaluation": [], "core": []}
    for i in range(args.rounds):
        order = ("evaluation", "core") if i % 2 == 0 else ("core", "evaluation")
        for name in order:
            timings[name] += (evaluation if name == "evaluation" else core)()
    med = {k: statistics.median(v) for k, v in timings.items()}
    ratio = med["evaluation"] / med["core"]
    print(f"evaluation {med['evaluation'] * 1e3:.1f} ms, core (HiGHS run + simulate) "
          f"{med['core'] * 1e3:.1f} ms, ratio {ratio:.2f} (goal <= {GOAL})")
    out = REPO_ROOT / "runs" / "bench_evaluate"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    path.write_text(json.dumps({"median_s": med, "ratio": ratio, "goal": GOAL,
                                "samples": args.samples, "rounds": args.rounds,
                                "timings_s": timings}, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
