"""A researcher's first session with the model from Python (docs/api.md explains each step).

    python examples/researcher_quickstart.py [OUT_DIR]        # default OUT_DIR: runs/quickstart

1. load the bundled Chifeng dataset (validated)                    model.data.load_dataset
2. optimise the plan with the default settings                     model.run.run_model
3. the plan as a DataFrame, and supply laid out as 表45 (万㎡)      Outcome.tables["plan"]
4. change a parameter and re-solve without rebuilding the model    model.run.Sweep
5. replay the plan month by month under uncertainty                model.market.replay
6. write both runs as run directories (CSV, plan.xlsx) and compare model.results.write_run,
   them (tables, charts, report.html)                              analysis.compare.compare_runs

It takes a few seconds; tests/test_examples.py runs it so that it keeps working.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from analysis.compare import compare_runs
from model import market, results
from model.config import default_settings
from model.data import DEFAULT_DATASET, REPO_ROOT, load_dataset
from model.labels import Labels
from model.pipeline import replay_tables
from model.run import Sweep, run_model

log = logging.getLogger("quickstart")


def main(out_dir: Path) -> int:
    # 1. The dataset: every table of the plan, checked on load (a DatasetError lists each problem).
    ds = load_dataset(DEFAULT_DATASET)
    L = Labels.for_dataset(ds)  # names and units in the dataset's language (zh for Chifeng)
    log.info("dataset %s: %d regions, plan years %s–%s, 表45 main city 2026 = %s 万㎡",
             ds.name, len(ds.region_ids), ds.plan_years[0], ds.plan_years[-1],
             ds.supply_guidance_10k_m2()[("main_city", 2026)])

    # 2. One run: settings are the typed config of `python -m model.run`; dotted keys override.
    #    The replay is done separately below, so it is switched off here.
    settings = default_settings(**{"sim.enabled": False, "solver.duals": False})
    outcome = run_model(settings, dataset=ds)
    if outcome.status != "optimal":
        log.error("no plan: %s", "; ".join(outcome.messages))
        return outcome.exit_code
    head = outcome.headline
    log.info("default plan: 2030 city cycle %s, land %s, supply %s",
             L.value(head["cycle_months_city"], "months"), L.value(head["land_total_ha"], "ha"),
             L.value(head["supply_total_10k_m2"], "10k_m2"))

    # 3. The plan as a DataFrame (one row per region and year; columns carry their units), and
    #    supply by region × year as 表45 prints it.
    plan = outcome.tables["plan"]
    table_45 = plan.pivot_table(index="name_zh", columns="year", values="supply_10k_m2",
                                aggfunc="sum", sort=False).round(2)
    log.info("supply by region and year (万㎡), as 表45:\n%s", table_45.to_string())

    # 4. Change a parameter and re-solve: Sweep builds the model once, then only updates it.
    sweep = Sweep(settings, dataset=ds)
    weaker = sweep.run({"demand.multiplier": 0.9})
    log.info("demand −10%%: land %s (default %s), rebuilds %d",
             L.value(weaker.headline["land_total_ha"], "ha"),
             L.value(head["land_total_ha"], "ha"), sweep.rebuilds)

    # 5. Replay the default plan month by month: demand shocks, construction lags, seasonality.
    replayed = market.replay(plan, ds, market.ReplayParams(replications=50, seed=7))
    replay_files = replay_tables(replayed)  # monthly.csv, replay_summary.csv, replay_land.csv
    city = replay_files["replay_summary"].set_index("region").loc["city"]
    log.info("replay (50 replications): P(city cycle ≤ 18 months in 2030-12) = %s",
             L.number(city["p_cycle_le_target_end"], "probability"))

    # 6. Write both runs as run directories and compare them.
    runs = {"default": (outcome, []), "demand_0.9": (weaker, ["demand.multiplier=0.9"])}
    for name, (o, overrides) in runs.items():
        run_dir = out_dir / name
        results.write_run(run_dir, {**o.tables, **(replay_files if name == "default" else {})},
                          {**o.summary, "run_dir": str(run_dir), "overrides": overrides})
    cmp = compare_runs([out_dir / name for name in runs], out_dir / "comparison")
    for line in cmp.identical:
        log.info(line)
    log.info("comparison: %s (plan.xlsx in each run directory)", cmp.files["report.html"])
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("model", "analysis", "pyomo", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "runs" / "quickstart"
    sys.exit(main(target.resolve()))
