"""How likely a plan is to hold, and what that depends on (docs/uncertainty.md).

A plan (the optimiser's, or a fixed one such as the plan as written) is replayed under every
named demand case × price behaviour — never one blended number — and the two assumptions that
decide the answer are turned into break-even values:

* :func:`demand_cases` — the demand paths the plan is tested against (万m² by region and year):
  ``plan`` (表31 as printed), ``sales_2025`` (the 2025 sales rate 表19 implies, held flat),
  ``sales_2025_decline`` (that rate falling 3% a year), ``csv`` (a user file);
* :func:`uncertainty_table` — ``uncertainty.csv``: per case × behaviour, city and main city:
  P(cycle ≤ target), P(in band), p10/p50/p90 of the last December's cycle, expected unmet demand;
* :func:`breakeven_table` — ``breakeven.csv``: the price-response coefficient, and the multiple of
  the plan's demand, at which the median last-December cycle meets the target;
* :func:`uncertainty_chart` — ``uncertainty.png``, the table as a heat table.

The replay itself is passed in (``replay_fn``), so this module depends on the market stage's
outputs only, never on how a run is wired.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize

from model import market
from model.config import RunConfig
from model.data import Dataset
from model.inputs import InputError, ModelInputs, demand_by_source

log = logging.getLogger(__name__)

UNCERTAINTY_COLUMNS = [
    "demand_case", "price_behaviour", "price_response", "scope", "demand_total_10k_m2",
    "p_cycle_le_target", "p_cycle_in_band", "cycle_end_months_p10", "cycle_end_months_p50",
    "cycle_end_months_p90", "expected_unmet_demand_10k_m2", "cycle_target_months",
]
BREAKEVEN_COLUMNS = ["scope", "quantity", "breakeven", "searched_low", "searched_high",
                     "at_default", "target_months", "statement"]
#: ReplayFn(demand or None for the plan's own, **replay parameter overrides) → ReplayResult
ReplayFn = Callable[..., market.ReplayResult]


# ---------------------------------------------------------------------------------------------
# Demand cases
# ---------------------------------------------------------------------------------------------
def demand_cases(cfg: RunConfig, ds: Dataset, inputs: ModelInputs
                 ) -> dict[str, tuple[dict[tuple[str, int], float], str]]:
    """name → (demand by (region, year) in 万m², how it was made), for ``uncertainty.demand_cases``.

    plan: 表31 (表32 for districts) as printed; sales_2025: each region's 2025 sales rate implied
    by 表19 (inventory ÷ cycle × 12; 205.15 万m² a year city-wide), flat; sales_2025_decline: that
    rate × (1 − ``uncertainty.decline_per_year``)^(year − base year); csv: ``uncertainty.demand_csv``.
    None of them is multiplied by ``demand.multiplier``: a case is a level, not a scaling."""
    u = cfg.uncertainty
    specs = {
        "plan": dict(source="plan", multiplier=1.0, growth=0.0),
        "sales_2025": dict(source="sales_2025", multiplier=1.0, growth=0.0),
        "sales_2025_decline": dict(source="sales_2025", multiplier=1.0,
                                   growth=-u.decline_per_year),
        "csv": dict(source="csv", multiplier=1.0, csv=u.demand_csv),
    }
    out = {}
    for name in u.demand_cases:
        if name == "csv" and not u.demand_csv:
            raise InputError(["uncertainty.demand_cases lists 'csv' but uncertainty.demand_csv "
                              "is empty; give uncertainty.demand_csv=PATH (region_id, year, "
                              "demand_10k_m2)"])
        case_cfg = dataclasses.replace(cfg, demand=dataclasses.replace(cfg.demand, **specs[name]))
        demand, how = demand_by_source(case_cfg, ds, inputs.regions, inputs.years,
                                       inputs.inventory0_10k_m2, inputs.cycle0_months)
        out[name] = (demand, how)
    return out


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def scope_rows(result: market.ReplayResult, inputs: ModelInputs) -> dict[str, pd.Series]:
    """The replay summary rows of the city and (where it is tracked) the main city."""
    summary = market.replay_summary(result).set_index("region")
    out = {"city": summary.loc[result.inputs.aggregate_id]}
    main = result.inputs.main_city_id
    if main in summary.index:
        out["main_city"] = summary.loc[main]
    return out


def uncertainty_table(cfg: RunConfig, ds: Dataset, inputs: ModelInputs,
                      replay_fn: ReplayFn) -> pd.DataFrame:
    """uncertainty.csv: every demand case × price behaviour (``uncertainty.price_behaviours``,
    name → coefficient), city and main city. Probabilities over the replay's replications
    (``uncertainty.replications``, same seed in every cell: common random numbers)."""
    u = cfg.uncertainty
    reps = u.replications or cfg.sim.replications
    rows = []
    for case, (demand, _how) in demand_cases(cfg, ds, inputs).items():
        total = sum(demand.values())
        for behaviour, coefficient in u.price_behaviours.items():
            result = replay_fn(demand, price_response=float(coefficient), replications=reps)
            for scope, s in scope_rows(result, inputs).items():
                rows.append({
                    "demand_case": case, "price_behaviour": behaviour,
                    "price_response": float(coefficient), "scope": scope,
                    "demand_total_10k_m2": total,
                    "p_cycle_le_target": float(s.p_cycle_le_target_2030),
                    "p_cycle_in_band": float(s.p_cycle_in_band_end),
                    "cycle_end_months_p10": float(s.cycle_end_months_p10),
                    "cycle_end_months_p50": float(s.cycle_end_months_p50),
                    "cycle_end_months_p90": float(s.cycle_end_months_p90),
                    "expected_unmet_demand_10k_m2": float(s.expected_unmet_demand_10k_m2),
                    "cycle_target_months": float(s.cycle_target_months),
                })
    return pd.DataFrame(rows, columns=UNCERTAINTY_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Break-even
# ---------------------------------------------------------------------------------------------
def _median_cycles(replay_fn: ReplayFn, inputs: ModelInputs, **kw) -> dict[str, float]:
    result = replay_fn(kw.pop("demand", None), **kw)
    return {scope: float(s.cycle_end_months_p50) for scope, s in scope_rows(result, inputs).items()}


def _solve(f: Callable[[float], float], low: float, high: float
           ) -> tuple[float | None, bool, bool]:
    """(root of f in [low, high] by Brent or None when f keeps its sign, met at low, met at high)
    where "met" is f ≤ 0 (the median cycle at or under the target)."""
    f_low, f_high = f(low), f(high)
    met_low, met_high = f_low <= 0, f_high <= 0
    if met_low == met_high:
        return None, met_low, met_high
    return float(optimize.brentq(f, low, high, xtol=1e-3, rtol=1e-4, maxiter=40)), met_low, \
        met_high


def breakeven_table(cfg: RunConfig, inputs: ModelInputs, plan: pd.DataFrame,
                    replay_fn: ReplayFn) -> pd.DataFrame:
    """breakeven.csv, city and main city: the price-response coefficient (searched over
    ``uncertainty.price_response_range``) and the multiple of the plan's own demand (over
    ``uncertainty.demand_multiple_range``) at which the median last-December cycle equals the
    cycle target, each with the other held at its default (sim.price_response; the plan's
    demand). The replays use ``uncertainty.breakeven_replications`` and one seed, so the median
    moves smoothly with the searched value."""
    u = cfg.uncertainty
    reps = u.breakeven_replications
    base = {(r.region, int(r.year)): float(r.sales_10k_m2 + r.unmet_demand_10k_m2)
            for r in plan.itertuples(index=False)}
    default = float(cfg.sim.price_response)
    at_default = _median_cycles(replay_fn, inputs, replications=reps, price_response=default)
    target = {t.scope: t.value for t in inputs.targets
              if t.target_id == "cycle_months" and t.year == inputs.final_year}
    rows = []
    for scope in at_default:
        goal = target.get(scope, target.get("city", 18.0))

        def by_response(x: float, scope=scope, goal=goal) -> float:
            return _median_cycles(replay_fn, inputs, replications=reps,
                                  price_response=x)[scope] - goal

        def by_demand(m: float, scope=scope, goal=goal) -> float:
            scaled = {k: v * m for k, v in base.items()}
            return _median_cycles(replay_fn, inputs, demand=scaled, replications=reps,
                                  price_response=default)[scope] - goal

        for quantity, f, (low, high) in (
            ("price_response", by_response, tuple(u.price_response_range)),
            ("demand_multiple", by_demand, tuple(u.demand_multiple_range)),
        ):
            value, met_low, met_high = _solve(f, low, high)
            rows.append({
                "scope": scope, "quantity": quantity, "breakeven": value,
                "searched_low": low, "searched_high": high,
                "at_default": at_default[scope], "target_months": goal,
                "statement": _statement(scope, quantity, value, met_low, met_high,
                                        at_default[scope], goal, low, high, inputs.final_year),
            })
    return pd.DataFrame(rows, columns=BREAKEVEN_COLUMNS)


def _statement(scope: str, quantity: str, value: float | None, met_low: bool, met_high: bool,
               now: float, goal: float, low: float, high: float, year: int) -> str:
    """One line: "met only if …" (not met at the default) or "met unless …"."""
    what = {"price_response": "the price-response coefficient",
            "demand_multiple": "demand (× the plan's)"}[quantity]
    where = (f"{scope}: median December {year} cycle {now:.1f} months at the default, target "
             f"≤ {goal:g}")
    if value is None:
        verdict = "met" if met_low else "not met"
        return f"{where}; {verdict} for every value of {what} in [{low:g}, {high:g}]"
    side = "at least" if met_high else "at most"
    if quantity == "price_response":
        meaning = (" (falling prices drawing buyers)" if met_high and value > 0 else
                   " (falling prices deterring buyers no more than that)" if met_high else "")
        cond = f"{what} is {side} {value:.2f}{meaning}"
    else:
        cond = f"demand is {side} {value:.2f}× the plan's ({value - 1:+.0%})"
    return f"{where}; met only if {cond}" if now > goal else f"{where}; met as long as {cond}"


def breakeven_lines(table: pd.DataFrame) -> list[str]:
    """The break-even statements, one line each."""
    return [f"  {s}" for s in table["statement"]]


def uncertainty_lines(table: pd.DataFrame) -> list[str]:
    """The uncertainty table as printed lines: one block per scope, a row per demand case, a
    column per price behaviour: P(in band) / median last-December cycle."""
    lines = ["How likely the plan is to hold (replay, last December): P(cycle in the band) / "
             "median cycle in months, by demand case × price behaviour"]
    behaviours = list(dict.fromkeys(table["price_behaviour"]))
    for scope, part in table.groupby("scope", sort=False):
        lines.append(f"  {scope:<20}" + "".join(
            f"{b + ' (' + format(part[part.price_behaviour == b].price_response.iloc[0], '+g') + ')':>22}"
            for b in behaviours))
        for case, rows in part.groupby("demand_case", sort=False):
            cells = rows.set_index("price_behaviour")
            lines.append(f"    {case:<18}" + "".join(
                f"{cells.loc[b, 'p_cycle_in_band']:>13.2f} / {cells.loc[b, 'cycle_end_months_p50']:>5.1f}"
                for b in behaviours))
    return lines


# ---------------------------------------------------------------------------------------------
# The chart
# ---------------------------------------------------------------------------------------------
def uncertainty_chart(table: pd.DataFrame, path: str | Path) -> Path:
    """uncertainty.png: one heat table per scope (demand cases × price behaviours), colour =
    P(cycle in the band), text = that probability and the median cycle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scopes = list(dict.fromkeys(table["scope"]))
    cases = list(dict.fromkeys(table["demand_case"]))
    behaviours = list(dict.fromkeys(table["price_behaviour"]))
    fig, axes = plt.subplots(1, len(scopes), figsize=(4.2 * len(scopes), 0.55 * len(cases) + 1.6),
                             squeeze=False)
    for ax, scope in zip(axes[0], scopes):
        part = table[table["scope"] == scope]
        grid = np.full((len(cases), len(behaviours)), np.nan)
        for row in part.itertuples(index=False):
            grid[cases.index(row.demand_case), behaviours.index(row.price_behaviour)] = \
                row.p_cycle_in_band
        ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for row in part.itertuples(index=False):
            i, j = cases.index(row.demand_case), behaviours.index(row.price_behaviour)
            ax.text(j, i, f"{row.p_cycle_in_band:.2f}\n{row.cycle_end_months_p50:.1f} mo",
                    ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(behaviours)), [
            f"{b}\n({part[part.price_behaviour == b].price_response.iloc[0]:+g})"
            for b in behaviours], fontsize=8)
        ax.set_yticks(range(len(cases)), cases, fontsize=8)
        ax.set_title(f"{scope}: P(cycle in band), median months", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def own_arithmetic_lines(plan: pd.DataFrame, inputs: ModelInputs) -> list[str]:
    """The plan's own arithmetic first: its last-year cycle for the city and the main city."""
    last = plan[plan["year"] == inputs.final_year]

    def cycle(members) -> float:
        part = last[last["region"].isin(members)]
        sales = part["sales_10k_m2"].sum()
        return math.inf if sales <= 0 else 12 * part["inventory_end_10k_m2"].sum() / sales

    parts = [f"city {cycle(inputs.regions):.1f}"]
    if inputs.main_city_members:
        parts.append(f"main city {cycle(inputs.main_city_members):.1f}")
    return [f"The plan's own arithmetic: {inputs.final_year} destocking cycle "
            + ", ".join(parts) + " months (its demand, no uncertainty)"]
