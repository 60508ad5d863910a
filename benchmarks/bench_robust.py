"""Scenario count against time for the robust plan's extensive form (docs/robust.md §5).

For each scenario count (default 50, 100, 200, 400) on the bundled Chifeng data the benchmark
times, in one process:

  sample     drawing the scenarios and building the optimiser's inputs per lag;
  build      the scenario model, moving it to every scenario (PlanModel.update) and stacking the
             rows into one HiGHS model (ExtensiveForm);
  solve      HiGHS: the land rule's binaries from the MILP over robust.binary_scenarios
             scenarios spanning the demand range, then the whole extensive form as an LP with
             them fixed (robust.binaries=subsample, the default);

and, with ``--full N``, the whole extensive form of N scenarios as one MILP (robust.binaries=full)
to measure what the subsample costs in objective. Goal: 200 scenarios, sample + build + solve
≤ 60 s. The deterministic plan and the reference price path are computed once, untimed.

    python benchmarks/bench_robust.py [--counts 50 100 200 400] [--full 50] [--full-gap 1e-3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path
from time import perf_counter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.config import default_settings  # noqa: E402
from model.data import load_dataset  # noqa: E402
from model.inputs import build_inputs  # noqa: E402
from model.robust import scenarios as sc  # noqa: E402
from model.robust.extensive import ExtensiveForm  # noqa: E402

GOAL_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--full", type=int, nargs="*", default=[50],
                        help="scenario counts to solve as one MILP as well")
    parser.add_argument("--gap", type=float, default=1e-6, help="solver.mip_rel_gap")
    parser.add_argument("--full-gap", type=float, default=1e-3,
                        help="solver.mip_rel_gap of the full MILP (--full)")
    args = parser.parse_args()

    settings = default_settings(**{"robust.enabled": True, "solver.mip_rel_gap": args.gap,
                                   "solver.time_limit_s": 900})
    ds = load_dataset()
    ref = sc.reference_plan(settings, ds, build_inputs(settings, ds))
    rows = []
    for n in args.counts:
        for binaries in ["subsample"] + (["full"] if n in args.full else []):
            rob = dataclasses.replace(settings.robust, scenarios=n, binaries=binaries)
            t0 = perf_counter()
            scen = ref.sample(n)
            sample_s = perf_counter() - t0
            solver = settings.solver if binaries == "subsample" else dataclasses.replace(
                settings.solver, mip_rel_gap=args.full_gap)
            ef = ExtensiveForm(scen, rob, solver)
            sol = ef.solve()
            total = sample_s + ef.build_time_s + sol.solve_time_s
            row = {**ef.size, "scenarios": n, "method": binaries, "status": sol.status,
                   "objective": sol.objective, "mip_gap": sol.mip_gap,
                   "sample_s": round(sample_s, 2), "build_s": round(ef.build_time_s, 2),
                   "solve_s": round(sol.solve_time_s, 2),
                   "subsample_milp_s": round(sol.subsample_solve_time_s, 2),
                   "total_s": round(total, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = REPO / "runs" / "bench_robust" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_robust.json").write_text(json.dumps(rows, indent=2))
    print(f"{'scenarios':>9} {'binaries':>9} {'columns':>8} {'rows':>8} {'sample':>7} "
          f"{'build':>6} {'solve':>7} {'total':>7} {'objective':>11}")
    for r in rows:
        print(f"{r['scenarios']:>9} {r['method']:>9} {r['columns']:>8} {r['rows']:>8} "
              f"{r['sample_s']:>7.1f} {r['build_s']:>6.1f} {r['solve_s']:>7.1f} "
              f"{r['total_s']:>7.1f} {r['objective'] or float('nan'):>11.3f}")
    at_200 = [r for r in rows if r["scenarios"] == 200 and r["method"] == "subsample"]
    if at_200:
        ok = at_200[0]["total_s"] <= GOAL_S
        print(f"200 scenarios: {at_200[0]['total_s']:.1f} s (goal ≤ {GOAL_S:.0f} s): "
              f"{'met' if ok else 'missed'}; results in {out}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
