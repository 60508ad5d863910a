"""The out-of-sample check of every robust run (docs/robust.md §6): robust_vs_deterministic.csv.

The plans (robust, deterministic, mean-value) are replayed month by month by the market replay
(docs/replay.md) with ``robust.check_seed`` — never the seed the scenarios were sampled with —
over the full uncertainty: every demand case (``uncertainty.demand_cases``) × price behaviour
(``uncertainty.price_behaviours``, both signs) × ``robust.check_lag_points`` land → presale lag
means (the midpoints of equal parts of ``robust.lag_months_mean_range``), each with
``robust.check_replications`` replications of the replay's own randomness: the persistent demand
level (``sim.demand_level_sd``), monthly shocks, random lags per region, the land rule on the
simulated cycle and presale waiting for ready floor area. Every plan sees the same draws (common
random numbers), so differences between plans are the plans.

The ``all`` row weighs every cell equally — the distribution the robust plan was built for
(cases and behaviours equally likely, the lag uniform over its range); the other rows show each
demand case × price behaviour (averaged over the lags), so no blended number stands alone
(docs/uncertainty.md).
"""

from __future__ import annotations

import logging
from typing import Mapping

import pandas as pd

from model import pipeline, results, uncertainty
from model.config import RunConfig, with_overrides
from model.data import Dataset
from model.inputs import ModelInputs, build_inputs

log = logging.getLogger(__name__)

#: Replay outcomes per cell (probabilities, 万m², ha, months): the replay summary's columns.
REPLAY_METRICS = {
    "p_cycle_in_band": "p_cycle_in_band_end",
    "p_cycle_le_target": "p_cycle_le_target_end",
    "expected_unmet_demand_10k_m2": "expected_unmet_demand_10k_m2",
    "expected_land_sold_ha": "expected_land_sold_ha",
    "cycle_end_months_p50": "cycle_end_months_p50",
}
#: What each plan plans, 2026–2030 totals (ha, 亿元): the same in every cell.
PLAN_METRICS = ("land_ha", "public_spending_100m_yuan", "land_revenue_100m_yuan")
CELL_COLUMNS = ["lag_months_mean", "demand_case", "price_behaviour", "price_response", "plan",
                "scope", "replications", *REPLAY_METRICS]


def lag_grid(low: float, high: float, points: int) -> list[float]:
    """The midpoints of ``points`` equal parts of [low, high] (months)."""
    return [low + (high - low) * (i + 0.5) / points for i in range(points)]


def check_cells(settings: RunConfig, ds: Dataset, plans: Mapping[str, pd.DataFrame]
                ) -> pd.DataFrame:
    """One row per lag × demand case × price behaviour × plan × scope (city, main city): the
    replay's probabilities and expectations (robust_check_cells.csv)."""
    rob = settings.robust
    rows = []
    for lag in lag_grid(*rob.lag_months_mean_range, rob.check_lag_points):
        cfg = with_overrides(settings, {"timing.lag_months_mean": lag})
        inputs = build_inputs(cfg, ds)
        for case, (demand, _how) in uncertainty.demand_cases(cfg, ds, inputs).items():
            for behaviour, beta in uncertainty.behaviours(cfg).items():
                for name, plan in plans.items():
                    result = pipeline.replay_plan(
                        cfg, ds, inputs, plan, demand, price_response=float(beta),
                        replications=rob.check_replications, seed=rob.check_seed)
                    for scope, s in uncertainty.scope_rows(result, inputs).items():
                        rows.append({
                            "lag_months_mean": lag, "demand_case": case,
                            "price_behaviour": behaviour, "price_response": float(beta),
                            "plan": name, "scope": scope,
                            "replications": rob.check_replications,
                            **{k: float(s[col]) for k, col in REPLAY_METRICS.items()},
                        })
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def planned(inputs: ModelInputs, plan: pd.DataFrame) -> dict[str, dict[str, float]]:
    """scope → the plan's totals over the plan years: land (ha), public spending and land
    revenue (亿元, results.money_table)."""
    money = results.money_table(inputs, plan)
    out = {}
    for scope in ("city", "main_city"):
        members = set(inputs.scope_members(scope))
        part = plan[plan["region"].isin(members)]
        cash = money[money["region"].isin(members)]
        out[scope] = {"land_ha": float(part["land_ha"].sum()),
                      "public_spending_100m_yuan": float(cash["public_spending_100m_yuan"].sum()),
                      "land_revenue_100m_yuan": float(cash["land_revenue_100m_yuan"].sum())}
    return out


def comparison_table(cells: pd.DataFrame, inputs: ModelInputs,
                     plans: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """robust_vs_deterministic.csv: per scope, the ``all`` row (every cell weighed equally) and
    one row per demand case × price behaviour (mean over the lags), with each metric as
    ``<metric>_<plan>`` side by side."""
    names = list(plans)
    totals = {name: planned(inputs, plan) for name, plan in plans.items()}
    metrics = list(REPLAY_METRICS)
    rows = []
    for scope in dict.fromkeys(cells["scope"]):
        part = cells[cells["scope"] == scope]
        groups = [("all", "all", part)] + [
            (case, behaviour, g) for (case, behaviour), g in
            part.groupby(["demand_case", "price_behaviour"], sort=False)]
        for case, behaviour, g in groups:
            row = {"scope": scope, "demand_case": case, "price_behaviour": behaviour,
                   "cells": int(len(g) / len(names)),
                   "replications": int(g.groupby("plan")["replications"].sum().iloc[0])}
            for metric in metrics:
                means = g.groupby("plan")[metric].mean()
                for name in names:
                    row[f"{metric}_{name}"] = float(means[name])
            for metric in PLAN_METRICS:
                for name in names:
                    row[f"{metric}_{name}"] = totals[name][scope][metric]
            rows.append(row)
    columns = ["scope", "demand_case", "price_behaviour", "cells", "replications"] + [
        f"{metric}_{name}" for metric in metrics + list(PLAN_METRICS) for name in names]
    return pd.DataFrame(rows, columns=columns)


def check_lines(table: pd.DataFrame, plans: list[str]) -> list[str]:
    """The check's headline: the ``all`` rows, one line per scope, then the case × behaviour
    cells where the robust plan is less likely in the band than the deterministic one."""
    lines = ["Out of sample (robust.check_seed; every demand case × price behaviour × lag): "
             "P(last-December cycle in the 12–18-month band) / P(≤ target) / E[unmet demand] "
             "/ planned land"]
    for row in table[table["demand_case"] == "all"].itertuples(index=False):
        r = row._asdict()
        parts = [f"{name} {r[f'p_cycle_in_band_{name}']:.2f} / "
                 f"{r[f'p_cycle_le_target_{name}']:.2f} / "
                 f"{r[f'expected_unmet_demand_10k_m2_{name}']:.1f} 万m² / "
                 f"{r[f'land_ha_{name}']:.0f} ha" for name in plans]
        lines.append(f"  {r['scope']:<10} " + "; ".join(parts)
                     + f"  ({r['cells']} cells × {r['replications'] // max(r['cells'], 1)} "
                       f"replications)")
    if "robust" in plans and "deterministic" in plans:
        cells = table[table["demand_case"] != "all"]
        worse = cells[cells["p_cycle_in_band_robust"] < cells["p_cycle_in_band_deterministic"]
                      - 1e-9]
        if len(worse):
            lines.append("  robust less likely in the band than deterministic in: " + ", ".join(
                f"{w.scope} {w.demand_case}/{w.price_behaviour} "
                f"({w.p_cycle_in_band_robust:.2f} vs {w.p_cycle_in_band_deterministic:.2f})"
                for w in worse.itertuples(index=False)))
        else:
            lines.append("  robust at least as likely in the band as deterministic in every "
                         "demand case × price behaviour")
    return lines


def advantage(table: pd.DataFrame, scope: str = "city") -> float:
    """P(in band) of the robust plan less the deterministic plan's, ``all`` row of ``scope``."""
    row = table[(table["scope"] == scope) & (table["demand_case"] == "all")]
    if row.empty:
        return float("nan")
    r = row.iloc[0]
    return float(r["p_cycle_in_band_robust"] - r["p_cycle_in_band_deterministic"])

