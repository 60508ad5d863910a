"""Re-solve without rebuilding vs bare HiGHS, side by side in one run.

For each of N parameter sets (demand multiplier, 2030 cycle target, land total, revitalised land
share — all changes of mutable parameters, no change of shape) the benchmark times

  ours    PlanModel.update(inputs) + PlanModel.solve(): writing the new Params into the built
          Pyomo model, pushing the changes to the persistent HiGHS instance, HiGHS's run() and
          reading the solution back — what a sweep pays per point;
  bare    highspy alone on the same model: the model HiGHS held is written to MPS (untimed), read
          into a fresh highspy.Highs (untimed), and only run() is timed, with the same options;
  rebuild for reference, a new PlanModel (Pyomo build + translation) + solve, as a naive sweep
          would.

Both solves must reach the same objective. Goal: median(ours) ≤ 2 × median(bare).

    python benchmarks/bench_resolve.py [--n 30] [--variant milp|lp] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from time import perf_counter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.config import default_settings  # noqa: E402
from model.data import load_dataset  # noqa: E402
from model.inputs import build_inputs, with_targets  # noqa: E402
from model.solve import PlanModel, quiet_highs  # noqa: E402


def parameter_sets(base, n: int, seed: int):
    """N random parameter changes of the same model shape."""
    rng = random.Random(seed)
    for _ in range(n):
        mult = rng.uniform(0.8, 1.2)
        cycle = rng.uniform(12.0, 24.0)
        land = rng.uniform(450.0, 650.0)
        revit = rng.uniform(0.5, 1.5)
        inputs = dataclasses.replace(
            base,
            demand_10k_m2={k: v * mult for k, v in base.demand_10k_m2.items()},
            revitalised_ha={
                k: min(v * revit, base.land_max_ha[k]) for k, v in base.revitalised_ha.items()
            },
        )
        changes = {t.key: {"value": cycle} for t in base.targets if t.target_id == "cycle_months"}
        changes.update(
            {t.key: {"value": land} for t in base.targets if t.target_id == "land_total_ha"}
        )
        yield (
            {
                "demand_multiplier": mult,
                "cycle_months": cycle,
                "land_total_ha": land,
                "revitalised_scale": revit,
            },
            with_targets(inputs, changes),
        )


def bare_highs_time(mps: Path, settings) -> tuple[float, float]:
    h = quiet_highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(mps))
    h.setOptionValue("time_limit", float(settings.solver.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(settings.solver.mip_rel_gap))
    t0 = perf_counter()
    h.run()
    return perf_counter() - t0, h.getInfo().objective_function_value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument(
        "--variant",
        choices=("milp", "lp"),
        default="milp",
        help="milp: the default model with the §2.2.3 land rule; lp: land.rule=none",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = ap.parse_args(argv)

    settings = default_settings(**({"land.rule": "none"} if args.variant == "lp" else {}))
    ds = load_dataset()
    base = build_inputs(settings, ds)
    pm = PlanModel(base, settings.solver)
    assert pm.solve().ok
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mps = Path(tmp) / "model.mps"
        for params, inputs in parameter_sets(base, args.n, args.seed):
            t0 = perf_counter()
            pm.update(inputs)
            sol = pm.solve()
            ours = perf_counter() - t0
            if not sol.ok:
                raise SystemExit(f"re-solve not optimal for {params}: {sol.model_status}")
            pm.write_mps(mps)
            bare, bare_obj = bare_highs_time(mps, settings)
            t1 = perf_counter()
            fresh = PlanModel(inputs, settings.solver).solve()
            rebuild = perf_counter() - t1
            for other in (bare_obj, fresh.objective):
                if abs(other - sol.objective) > 1e-6 * max(1.0, abs(sol.objective)):
                    raise SystemExit(f"objectives differ for {params}: {sol.objective} vs {other}")
            rows.append(
                {
                    **params,
                    "objective": sol.objective,
                    "ours_s": ours,
                    "highs_run_in_ours_s": sol.solve_time_s,
                    "bare_highs_s": bare,
                    "rebuild_s": rebuild,
                }
            )

    med = {
        k: statistics.median(r[k] for r in rows)
        for k in ("ours_s", "highs_run_in_ours_s", "bare_highs_s", "rebuild_s")
    }
    ratio = med["ours_s"] / med["bare_highs_s"]
    size = pm.size
    print(
        f"model: Chifeng default ({pm.problem_type}), {size['columns']} columns, "
        f"{size['rows']} rows, {size['binaries']} binaries; {len(rows)} parameter sets "
        f"(seed {args.seed})"
    )
    print(f"{'':34s}{'median ms':>10s}{'mean ms':>10s}{'max ms':>10s}")
    for label, key in (
        ("re-solve (update + solve + read)", "ours_s"),
        ("  of which HiGHS run()", "highs_run_in_ours_s"),
        ("bare highspy run() on the MPS", "bare_highs_s"),
        ("rebuild + solve (reference)", "rebuild_s"),
    ):
        vals = [r[key] * 1e3 for r in rows]
        print(
            f"{label:34s}{statistics.median(vals):10.2f}{statistics.mean(vals):10.2f}{max(vals):10.2f}"
        )
    verdict = "met" if ratio <= 2 else "NOT met"
    print(f"ratio re-solve / bare HiGHS (medians): {ratio:.2f}  (goal ≤ 2.00: {verdict})")
    print(f"ratio rebuild / re-solve (medians):   {med['rebuild_s'] / med['ours_s']:.2f}")
    out = (
        args.out
        or REPO
        / "runs"
        / "bench_resolve"
        / f"{args.variant}_{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "variant": args.variant,
                "model_size": size,
                "problem_type": pm.problem_type,
                "medians_s": med,
                "ratio_resolve_over_bare": ratio,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"results: {out}")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
