"""How far a sensitivity run is from the solver alone: evaluations and the HiGHS time inside
them, measured together, extrapolated to Sobol with 1,024 base samples.

    .venv/bin/python benchmarks/bench_solver_floor.py [--blocks 40] [--n 1024] [--workers 2]
                                                       [--seed 1] [--try OPTIONS ...] [KEY=VALUE ...]
    .venv/bin/python benchmarks/bench_solver_floor.py --blocks 10 \
        --try lp mip_allow_restart=false mip_pscost_minreliable=0,mip_allow_restart=false

Draws ``--blocks`` Saltelli blocks (A, AB_1 … AB_D, B: D + 2 rows each) at random from the design
of Sobol with ``--n`` base samples over the configured inputs (conf/sensitivity/default.yaml and
any ``sensitivity.*`` override), and evaluates them here exactly as one worker of the analysis
does: ``ModelEvaluator`` (one HiGHS thread, the built model re-solved, the replay, the
outcomes), a block's rows in order so that the rows of replay-only inputs read their plan back.
For every row it records the evaluation's wall time and the time of HiGHS's ``run()`` inside it
(``Solution.solve_time_s``; 0 for a row that read its plan back).

Prints, and writes to runs/bench_solver_floor/<timestamp>.json:

- evaluations, the rows that ran HiGHS, the total time of the evaluations and of HiGHS's
  ``run()`` inside them (and per solve);
- **evaluation ÷ HiGHS**, the two totals over the same rows (goal ≤ 2: the evaluation path at
  the speed of the solver; exit 1 if missed);
- both extrapolated to the whole design on ``--workers`` workers with a perfect speed-up, each
  ± one standard error from the spread between the drawn blocks: the analysis' projected wall
  time, and the **floor HiGHS alone sets** — no replay, no Python, no start-up — next to issue
  16's goal of 5 minutes (printed for n = 1,024 on 2 workers only).

``--try``: other HiGHS settings for the same solves, side by side. Each row that ran HiGHS has
its model (as HiGHS held it) solved again by a fresh HiGHS instance with the run's options
(``base``) and with each setting given — comma-separated ``option=value`` pairs added to the
run's options, or ``lp`` for the LP relaxation (the binaries relaxed: the root LP's cost) —
in rotating order; the mean and median solve and the largest relative objective difference
against ``base`` are printed and kept in the JSON (``tried``).

The extrapolation assumes the drawn blocks are typical of the design (their mean times carry
over) and ignores the start of the workers (seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import highspy
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import sensitivity as sa  # noqa: E402
from model.data import REPO_ROOT  # noqa: E402
from model.solve import quiet_highs, run_within  # noqa: E402

GOAL_RATIO = 2.0
GOAL_WALL_S = 300.0  # issue 16: Sobol with 1,024 base samples on 2 workers in 5 minutes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40, help="Saltelli blocks drawn (default 40)")
    ap.add_argument("--n", type=int, default=1024, help="Sobol base samples of the design")
    ap.add_argument("--workers", type=int, default=2, help="workers of the extrapolation")
    ap.add_argument("--seed", type=int, default=1, help="which blocks are drawn")
    ap.add_argument("--try", dest="tries", nargs="+", default=[], metavar="OPTIONS",
                    help="other HiGHS settings: option=value[,option=value] or lp")
    ap.add_argument("overrides", nargs="*", help="sensitivity.KEY=VALUE, as for the analysis")
    args = ap.parse_args()

    cfg = sa.load_config(None, ["sensitivity.progress=false", "sensitivity.method=sobol",
                                f"sensitivity.n={args.n}", *args.overrides])
    problem = sa.problem_of(cfg.inputs)
    X = sa.make_samples(problem, "sobol", cfg.n, cfg.seed, cfg.second_order)
    size = sa.block_size("sobol", problem["num_vars"], cfg.second_order)
    drawn = np.random.default_rng(args.seed).choice(
        len(X) // size, size=min(args.blocks, len(X) // size), replace=False)

    evaluate = sa.ModelEvaluator.from_config(cfg)
    _, sweep = sa._sweep_for(evaluate.base)  # one HiGHS thread, the model built (untimed)
    rows, lps = [], []
    for b in sorted(drawn):
        for x in X[b * size:(b + 1) * size]:
            reused = sweep.reused
            row = evaluate(dict(zip(problem["names"], map(float, x))))
            solved = sweep.reused == reused  # else the row read its plan back
            rows.append({"block": int(b), "status": row["status"], "eval_s": row["eval_time_s"],
                         "highs_s": sweep.model.last.solve_time_s if solved else 0.0})
            if solved and args.tries:
                lps.append(sweep.model.matrix())
    tried = try_settings(lps, sweep.settings.solver, args.tries) if args.tries else {}

    eval_s = np.array([r["eval_s"] for r in rows])
    highs_s = np.array([r["highs_s"] for r in rows])
    n_solved = int((highs_s > 0).sum())
    ratio = eval_s.sum() / highs_s.sum()
    total = len(X)
    # per block (the unit drawn): its mean times; the spread between blocks gives the
    # extrapolation's standard error (the drawn blocks are a sample of the design's)
    blocks = np.array([r["block"] for r in rows])
    per_block = [(eval_s[blocks == b].mean(), highs_s[blocks == b].mean()) for b in sorted(drawn)]
    k = len(per_block)
    se = [np.std([p[i] for p in per_block], ddof=1) / np.sqrt(k) if k > 1 else math.nan
          for i in (0, 1)]
    scale = total / args.workers
    projected, floor = eval_s.mean() * scale, highs_s.mean() * scale
    goal_applies = cfg.n == 1024 and args.workers == 2
    result = {
        "design": {"n": cfg.n, "inputs": problem["num_vars"], "evaluations": total,
                   "workers": args.workers},
        "blocks": len(drawn), "evaluations": len(rows), "solved": n_solved,
        "total_eval_s": float(eval_s.sum()), "total_highs_s": float(highs_s.sum()),
        "mean_eval_s": float(eval_s.mean()),
        "mean_highs_s_per_evaluation": float(highs_s.mean()),
        "mean_highs_s_per_solve": float(highs_s.sum() / max(n_solved, 1)),
        "ratio_eval_to_highs": float(ratio), "goal_ratio": GOAL_RATIO,
        "projected_wall_s": float(projected), "projected_wall_s_se": float(se[0] * scale),
        "highs_floor_wall_s": float(floor), "highs_floor_wall_s_se": float(se[1] * scale),
        "goal_wall_s": GOAL_WALL_S if goal_applies else None,
        "status_counts": {s: sum(r["status"] == s for r in rows)
                          for s in sorted({r["status"] for r in rows})},
        "tried": tried,
        "rows": rows,
    }
    print(f"{len(rows)} evaluations in {len(drawn)} Saltelli blocks, {n_solved} of which ran "
          f"HiGHS (the others read their plan back): {eval_s.sum():.1f} s of evaluations, "
          f"{highs_s.sum():.1f} s of it in HiGHS run() ({highs_s.sum() / max(n_solved, 1) * 1e3:.1f}"
          f" ms a solve)")
    print(f"evaluation / HiGHS {ratio:.2f} (goal <= {GOAL_RATIO})")
    goal = f"; issue 16's goal {GOAL_WALL_S:.0f} s" if goal_applies else ""
    print(f"Sobol n = {cfg.n} ({total:,} evaluations) on {args.workers} workers, if these "
          f"blocks are typical: {projected:.0f} ± {se[0] * scale:.0f} s; HiGHS alone "
          f"{floor:.0f} ± {se[1] * scale:.0f} s (± one standard error between blocks){goal}")
    for name, t in tried.items():
        print(f"  {name}: mean {t['mean_s'] * 1e3:.1f} ms, median {t['median_s'] * 1e3:.1f} ms a "
              f"solve ({len(lps)} models); objective within {t['max_rel_objective_diff']:.1e} "
              f"of base; {t['not_optimal']} not optimal")
    out = REPO_ROOT / "runs" / "bench_solver_floor"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {path}")
    return 0 if ratio <= GOAL_RATIO else 1


def parse_setting(text: str) -> dict[str, Any]:
    """``"mip_allow_restart=false,mip_pscost_minreliable=0"`` → HiGHS option values (YAML)."""
    out = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--try {text!r}: expected option=value[,option=value] or lp")
        out[key.strip()] = yaml.safe_load(value)
    return out


def try_settings(lps: list, solver, tries: list[str]) -> dict[str, dict]:
    """Solve each model in ``lps`` (``highspy.HighsLp``) with the run's options (``base``) and
    with each of ``tries``, rotating the order per model; times of ``run()`` only."""
    base = {"mip_rel_gap": float(solver.mip_rel_gap), **dict(solver.options)}
    settings = {"base": (base, False)}
    for text in tries:
        settings[text] = (base, True) if text == "lp" else ({**base, **parse_setting(text)}, False)
    h = quiet_highs()
    times = {name: [] for name in settings}
    objectives = {name: [] for name in settings}
    names = list(settings)
    for i, lp in enumerate(lps):
        for name in names[i % len(names):] + names[:i % len(names)]:
            options, relax = settings[name]
            h.clear()
            h.resetOptions()
            h.setOptionValue("output_flag", False)
            for key, value in options.items():
                h.setOptionValue(str(key), value)
            h.passModel(lp)
            if relax:
                n = lp.num_col_
                h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
            t = perf_counter()
            run_within(h, solver.time_limit_s)  # one instance, many runs (its docstring)
            times[name].append(perf_counter() - t)
            ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            objectives[name].append(h.getInfo().objective_function_value if ok else math.nan)
    ref = np.array(objectives["base"])
    out = {}
    for name in names:
        obj = np.array(objectives[name])
        diff = np.abs(obj - ref) / np.maximum(1.0, np.abs(ref))
        out[name] = {"mean_s": statistics.mean(times[name]),
                     "median_s": statistics.median(times[name]),
                     "max_rel_objective_diff": float(np.nanmax(diff)) if len(diff) else 0.0,
                     "not_optimal": int(np.isnan(obj).sum())}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
