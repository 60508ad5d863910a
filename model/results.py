"""Tidy tables in and out of a run directory.

From a solution (and the inputs it was solved for) this module makes the tables a run reports —
plan, targets (each checked ex post, met or missed and by how much, in policy units), duals with a
plain-language reading, money, the relaxation table of an infeasible run — and writes them:

    plan.csv  targets.csv  duals.csv  money.csv  relaxation.csv  plan.xlsx  summary.json

summary.json is written last: a run directory without it is incomplete. Readers (the market
replay, analysis) use :func:`read_plan` and :func:`read_summary`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from model import timing as tm
from model.csvio import read_csv, write_csv
from model.inputs import ModelInputs, TargetRow
from model.labels import Labels
from model.rundir import FILES_KEY, file_records, seal
from model.solve import Duals, Relaxation, Solution, target_group
from model.workbook import write_plan_workbook

PLAN_COLUMNS = [
    "region",
    "year",
    "land_ha",
    "supply_10k_m2",
    "sales_10k_m2",
    "unmet_demand_10k_m2",
    "purchased_10k_m2",
    "subsidised_new_10k_m2",
    "inventory_end_10k_m2",
    "cycle_end_months",
]
PLAN_EXTRA_COLUMNS = [
    "name_zh",
    "subsidised_land_ha",
    "demand_10k_m2",
    "inventory_start_10k_m2",
    "cycle_start_months",
    "presale_ready_10k_m2",
    "ready_held_end_10k_m2",
    "land_rule_state",
    "land_allowed_ha",
    "observed",  # mid-term review: the year is fixed to the actuals (unmet demand there is 0)
]
TARGET_COLUMNS = [
    "target_key",
    "target_id",
    "scope",
    "scope_zh",
    "period",
    "unit",
    "sense",
    "mode",
    "required",
    "achieved",
    "shortfall",
    "met",
    "slack",
    "slack_unit",
    "penalty",
    "source",
    "note",
    "origin",
]
MONEY_COLUMNS = [
    "region",
    "year",
    "land_revenue_100m_yuan",
    "purchase_spending_100m_yuan",
    "subsidised_build_spending_100m_yuan",
    "public_spending_100m_yuan",
    "land_forgone_100m_yuan",
    "development_finance_100m_yuan",
]
ZERO = 1e-9
CYCLE_TOL_MONTHS = 1e-4


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or zeros when a table (an older plan.csv, a fixed plan) does not have it."""
    return frame[name] if name in frame.columns else pd.Series(0.0, index=frame.index)


def _clean(x: float) -> float:
    return 0.0 if abs(x) < ZERO else float(x)


def cycle_months(inventory: float, sales: float) -> float:
    """Destocking cycle: inventory ÷ (sales ÷ 12); 0 with no stock, inf with stock and no sales."""
    if inventory <= ZERO:
        return 0.0
    if sales <= ZERO:
        return math.inf
    return 12.0 * inventory / sales


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
def plan_table(inputs: ModelInputs, sol: Solution) -> pd.DataFrame:
    """One row per region and year: the decisions, the stock and the cycle (the contract columns
    of plan.csv first), plus the land rule's state at the start of each year."""
    v = sol.values
    rows = []
    for r in inputs.regions:
        start = inputs.inventory0_10k_m2[r]
        prev_cycle = inputs.cycle0_months[r]
        ready = tm.ready_by_year(
            {y: v["land_ha"][(r, y)] for y in inputs.years},
            inputs.plot_ratio_10k_m2_per_ha[r],
            inputs.ready_shares,
            {y: inputs.pipeline_ready_10k_m2[(r, y)] for y in inputs.years},
            inputs.years,
        )
        held = 0.0
        for y in inputs.years:
            k = (r, y)
            row = {
                "region": r,
                "year": y,
                "land_ha": _clean(v["land_ha"][k]),
                "supply_10k_m2": _clean(v["supply_10k_m2"][k]),
                "sales_10k_m2": _clean(v["sales_10k_m2"][k]),
                "unmet_demand_10k_m2": _clean(v["unmet_demand_10k_m2"][k]),
                "purchased_10k_m2": _clean(v["purchased_10k_m2"][k]),
                "subsidised_new_10k_m2": _clean(v["subsidised_new_10k_m2"][k]),
                "subsidised_land_ha": _clean(v.get("subsidised_land_ha", {}).get(k, 0.0)),
                "inventory_end_10k_m2": _clean(v["inventory_end_10k_m2"][k]),
                "name_zh": inputs.names_zh.get(r, r),
                "demand_10k_m2": inputs.demand_10k_m2[k],
                "inventory_start_10k_m2": _clean(start),
                "cycle_start_months": prev_cycle,
                "presale_ready_10k_m2": _clean(ready[y]),
            }
            held += ready[y] - row["supply_10k_m2"]
            row["ready_held_end_10k_m2"] = _clean(held)
            row["cycle_end_months"] = cycle_months(row["inventory_end_10k_m2"], row["sales_10k_m2"])
            state, allowed = land_rule_state(inputs, r, y, prev_cycle)
            row["land_rule_state"], row["land_allowed_ha"] = state, allowed
            row["observed"] = y in inputs.observed_years
            rows.append(row)
            start, prev_cycle = row["inventory_end_10k_m2"], row["cycle_end_months"]
    return pd.DataFrame(rows, columns=PLAN_COLUMNS + PLAN_EXTRA_COLUMNS)


def land_rule_state(
    inputs: ModelInputs, region: str, year: int, cycle_start: float
) -> tuple[str, float]:
    """The land rule's verdict on a region-year from its start-of-year cycle: (state, allowed ha).

    §2.2.3: suspend (> 36 months, no land), revitalise (18–36, only the revitalised land), free.
    §9.3: suspend (> 18), add (< 6: the plan asks for more land; not a limit), free."""
    if inputs.land_rule == "none":
        return "none", math.inf
    if cycle_start > inputs.suspend_above_months + CYCLE_TOL_MONTHS:
        return "suspend", 0.0
    if (
        inputs.revitalise_above_months is not None
        and cycle_start > inputs.revitalise_above_months + CYCLE_TOL_MONTHS
    ):
        return "revitalise", inputs.revitalised_ha[(region, year)]
    if inputs.add_below_months is not None and cycle_start < inputs.add_below_months:
        return "add", math.inf
    return "free", math.inf


# ---------------------------------------------------------------------------------------------
# Vacancy (ex post, the same stock-flow as optimise.add_vacancy)
# ---------------------------------------------------------------------------------------------
def vacancy_path(inputs: ModelInputs, plan: pd.DataFrame) -> pd.DataFrame:
    """Dwellings, vacant dwellings and the vacancy share per scope and year (万 dwellings)."""
    rows = []
    for scope in inputs.vacancy_scopes:
        members = set(inputs.scope_members(scope))
        part = (
            plan[plan["region"].isin(members)]
            .groupby("year")[["supply_10k_m2", "subsidised_new_10k_m2"]]
            .sum()
        )
        dwellings, vacant = inputs.dwellings0_10k[scope], inputs.vacant0_10k[scope]
        for y in inputs.years:
            built = (
                part.loc[y, "supply_10k_m2"] + part.loc[y, "subsidised_new_10k_m2"]
            ) / inputs.dwelling_size_m2[scope]
            removed = inputs.removals_10k[(scope, y)]
            dwellings += built - removed
            vacant += built - inputs.household_formation_10k[(scope, y)] - removed
            rows.append(
                {
                    "scope": scope,
                    "year": y,
                    "completions_10k": built,
                    "dwellings_10k": dwellings,
                    "vacant_10k": vacant,
                    "vacancy_share": vacant / dwellings if dwellings > 0 else math.nan,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "scope",
            "year",
            "completions_10k",
            "dwellings_10k",
            "vacant_10k",
            "vacancy_share",
        ],
    )


# ---------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------
def money_table(inputs: ModelInputs, plan: pd.DataFrame) -> pd.DataFrame:
    """Money accounts per region and year, and city totals per year (亿元; 以房定钱, §9.4)."""
    k = 1e-4  # 万元 → 亿元
    p = plan.set_index(["region", "year"])
    rows = []
    for (r, y), row in p.iterrows():
        price = inputs.price_yuan_m2[r]
        purchase = row["purchased_10k_m2"] * price * inputs.purchase_price_factor * k
        build = row["subsidised_new_10k_m2"] * inputs.build_cost_yuan_m2 * k
        rows.append(
            {
                "region": r,
                "year": y,
                "land_revenue_100m_yuan": row["land_ha"] * inputs.land_price_10k_yuan_per_ha[r] * k,
                "purchase_spending_100m_yuan": purchase,
                "subsidised_build_spending_100m_yuan": build,
                "public_spending_100m_yuan": purchase + build,
                "land_forgone_100m_yuan": row.get("subsidised_land_ha", 0.0)
                * inputs.land_price_10k_yuan_per_ha[r] * k,
                "development_finance_100m_yuan": row["supply_10k_m2"]
                * price
                * inputs.dev_finance_share
                * k,
            }
        )
    frame = pd.DataFrame(rows, columns=MONEY_COLUMNS)
    city = frame.groupby("year", as_index=False)[MONEY_COLUMNS[2:]].sum()
    city.insert(0, "region", "city")
    return pd.concat([frame, city[MONEY_COLUMNS]], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Targets, checked ex post
# ---------------------------------------------------------------------------------------------
def achieved(
    inputs: ModelInputs,
    t: TargetRow,
    plan: pd.DataFrame,
    vacancy: pd.DataFrame,
    money: pd.DataFrame,
) -> tuple[float, bool, float]:
    """(achieved value in the target's unit, met?, shortfall ≥ 0 in that unit)."""
    members = set(inputs.scope_members(t.scope))
    in_scope = plan[plan["region"].isin(members)]
    tol = 1e-6 * max(1.0, abs(t.value))
    if t.target_id in ("cycle_months", "cycle_floor_months"):
        rows = in_scope[in_scope["year"] == t.year]
        inv, sales = rows["inventory_end_10k_m2"].sum(), rows["sales_10k_m2"].sum()
        value = cycle_months(inv, sales)
        if t.sense == "max":
            met = inv <= t.value / 12.0 * sales + 1e-6 * max(1.0, inv)
            return value, met, (0.0 if met else value - t.value)
        # the floor is held against demand (sales + unmet): a stock-out never meets it
        demand = rows["sales_10k_m2"].sum() + rows["unmet_demand_10k_m2"].sum()
        met = inv >= t.value / 12.0 * demand - 1e-6 * max(1.0, inv)
        return value, met, (0.0 if met else max(t.value - value, 0.0) or t.value / 12.0 * (
            demand - sales))
    if t.target_id == "vacancy_share":
        row = vacancy[(vacancy["scope"] == t.scope) & (vacancy["year"] == t.year)].iloc[0]
        value = float(row["vacancy_share"])
        met = row["vacant_10k"] <= t.value * row["dwellings_10k"] + 1e-6
        return value, met, (0.0 if met else value - t.value)
    if t.target_id == "supply_total_10k_m2":
        value = float(plan["supply_10k_m2"].sum())
    elif t.target_id == "land_total_ha":
        value = float(plan["land_ha"].sum() + _col(plan, "subsidised_land_ha").sum())
    elif t.target_id in ("subsidised_share", "subsidised_volume_10k_m2"):
        rows = in_scope[in_scope["year"] == t.year]
        provided = float(rows["subsidised_new_10k_m2"].sum() + rows["purchased_10k_m2"].sum())
        if t.target_id == "subsidised_volume_10k_m2":
            value = provided
        else:
            supply = float(rows["supply_10k_m2"].sum())
            if supply <= ZERO:
                return (math.inf if provided > ZERO else 0.0), True, 0.0
            value = provided / supply
    else:  # a money account, city total of the year
        city = money[(money["region"] == "city") & (money["year"] == t.year)]
        value = float(city[t.target_id].iloc[0])
    if t.sense == "max":
        met = value <= t.value + tol
        return value, met, (0.0 if met else value - t.value)
    met = value >= t.value - tol
    return value, met, (0.0 if met else t.value - value)


def targets_table(inputs: ModelInputs, sol: Solution, plan: pd.DataFrame) -> pd.DataFrame:
    """Every target with its required and achieved value, shortfall, slack and whether it was met,
    then every region-year in which the land rule restricts land."""
    vacancy = vacancy_path(inputs, plan)
    money = money_table(inputs, plan)
    slack = sol.values.get("slack", {})
    rows = []
    for t in inputs.targets:
        value, met, short = achieved(inputs, t, plan, vacancy, money)
        model_slack = slack.get(t.key, math.nan) if t.mode in ("soft", "hard") else math.nan
        rows.append(
            {
                "target_key": t.key,
                "target_id": t.target_id,
                "scope": t.scope,
                "scope_zh": inputs.names_zh.get(t.scope, t.scope),
                "period": t.period,
                "unit": t.unit,
                "sense": t.sense,
                "mode": t.mode,
                "required": t.value,
                "achieved": value,
                "shortfall": short,
                "met": bool(met),
                "slack": _clean(model_slack) if model_slack == model_slack else math.nan,
                "slack_unit": t.slack_unit,
                "penalty": t.penalty,
                "source": t.source,
                "note": "",
            }
        )
    rows += demand_rows(inputs, plan)
    rows += pace_rows(inputs, plan)
    rows += land_rule_rows(inputs, plan)
    frame = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    frame["origin"] = [target_origin(tid, src) for tid, src in zip(frame["target_id"],
                                                                   frame["source"])]
    return frame


def target_origin(target_id: str, source: str) -> str:
    """plan: a target the plan itself sets (a row of the dataset's targets.csv: 第五章, 表34);
    rule: the land rule or a pace rule; model: a check or default of the tool (unmet demand, the
    band floor, a subsidised volume derived because 表47 is blank, a configured limit)."""
    if target_id in ("land_rule", *PACE_IDS):
        return "rule"
    return "plan" if str(source).startswith("targets.csv") else "model"


PACE_IDS = ("presale_ramp", "land_ramp", "terminal_feed")


def _rule_row(key, target_id, scope, zh, period, unit, sense, mode, required, achieved,
              met, shortfall, source, note, penalty=math.nan) -> dict:
    return {"target_key": key, "target_id": target_id, "scope": scope, "scope_zh": zh,
            "period": str(period), "unit": unit, "sense": sense, "mode": mode,
            "required": required, "achieved": achieved, "shortfall": 0.0 if met else shortfall,
            "met": bool(met), "slack": math.nan, "slack_unit": "", "penalty": penalty,
            "source": source, "note": note}


def demand_rows(inputs: ModelInputs, plan: pd.DataFrame) -> list[dict]:
    """Demand served, city and main city over the plan: unmet demand must be 0 (a plan that
    leaves buyers without stock is reported as missing it, never met)."""
    rows = []
    scopes = [("city", inputs.regions)]
    if inputs.main_city_members:
        scopes.append(("main_city", inputs.main_city_members))
    for scope, members in scopes:
        part = plan[plan["region"].isin(members)]
        unmet = float(part["unmet_demand_10k_m2"].sum())
        tol = 1e-6 * max(1.0, float(part["demand_10k_m2"].sum()))
        years = ", ".join(str(y) for y in sorted(part.loc[
            part["unmet_demand_10k_m2"] > 1e-6, "year"].unique()))
        rows.append(_rule_row(
            f"unmet_demand_10k_m2[{scope},{inputs.period}]", "unmet_demand_10k_m2", scope,
            inputs.names_zh.get(scope, scope), inputs.period, "10k_m2", "max",
            "evaluate" if inputs.evaluate_only else "report", 0.0, unmet, unmet <= tol, unmet,
            "demand (demand.source)",
            f"unmet in {years}" if years else ""))
    return rows


def pace_rows(inputs: ModelInputs, plan: pd.DataFrame) -> list[dict]:
    """The pace rules where they bind or are broken (ramp.*, terminal.*): each ramp scope-year
    whose presale change reaches ±ramp.presale_change_share of the year before (the base-year
    presale for the first year), each region-year whose land reaches the take-up cap, and each
    region whose land sold by the last year leaves less ready for the next year than
    terminal.feed_share × its last-year demand. Computed from the plan itself, so the rows also
    judge a fixed plan (plan_as_written)."""
    rows, tol = [], 1e-6
    mode = "evaluate" if inputs.evaluate_only else inputs.ramp_mode
    share = inputs.presale_change_share
    idx = plan.set_index(["region", "year"])
    for scope, members in inputs.ramp_scopes:
        prev = inputs.presale_base_10k_m2.get(scope, 0.0)
        for y in inputs.years:
            q = float(sum(idx.loc[(r, y), "supply_10k_m2"] for r in members))
            if y not in inputs.observed_years and prev > 0:
                hi, lo = (1 + share) * prev, (1 - share) * prev
                change = q / prev - 1
                if q >= hi - tol or q <= lo + tol:
                    over = q > hi + tol * max(1, hi)
                    under = q < lo - tol * max(1, lo)
                    rows.append(_rule_row(
                        f"presale_ramp[{scope},{y}]", "presale_ramp", scope,
                        inputs.names_zh.get(scope, scope), y, "10k_m2",
                        "max" if q >= hi - tol else "min", mode, hi if q >= hi - tol else lo, q,
                        not (over or under), (q - hi) if over else (lo - q),
                        f"ramp.presale_change_share ±{share:.0%} of the year before",
                        f"presale {change:+.0%} on {y - 1}", inputs.weight_presale_ramp))
            prev = q
    for r in inputs.regions:
        cap = inputs.land_cap_ha.get(r)
        if cap is None:
            continue
        for y in inputs.years:
            land = float(idx.loc[(r, y), "land_ha"])
            if y in inputs.observed_years or land < cap - tol:
                continue
            rows.append(_rule_row(
                f"land_ramp[{r},{y}]", "land_ramp", r, inputs.names_zh.get(r, r), y, "ha", "max",
                mode, cap, land, land <= cap + tol * max(1, cap), land - cap,
                inputs.land_cap_source, "land beyond what developers took up",
                inputs.weight_land_ramp))
    tmode = "evaluate" if inputs.evaluate_only else inputs.terminal_mode
    last = inputs.final_year
    for r in inputs.regions:
        part = idx.loc[r]
        held = float(part.loc[last, "ready_held_end_10k_m2"]) \
            if "ready_held_end_10k_m2" in part.columns else 0.0
        ready_next = inputs.pipeline_ready_next_10k_m2.get(r, 0.0) + \
            inputs.plot_ratio_10k_m2_per_ha[r] * sum(
                tm.share_at(inputs.ready_shares, last + 1 - y) * float(part.loc[y, "land_ha"])
                for y in inputs.years)
        above_aim = float(part.loc[last, "inventory_end_10k_m2"]) \
            - inputs.aim_cycle_months / 12 * inputs.demand_10k_m2[(r, last)]
        have = held + ready_next + above_aim
        need = inputs.terminal_feed_share * inputs.demand_10k_m2[(r, last)]
        if have <= need + tol * max(1, need):
            rows.append(_rule_row(
                f"terminal_feed[{r},{last + 1}]", "terminal_feed", r, inputs.names_zh.get(r, r),
                last + 1, "10k_m2", "min", tmode, need, have, have >= need - 1e-4 * max(1, need),
                need - have,
                f"terminal.feed_share × {last} demand ready for {last + 1} (timing model)",
                "ready + held back + stock above the aim", inputs.weight_terminal))
    return rows


def land_rule_rows(inputs: ModelInputs, plan: pd.DataFrame) -> list[dict]:
    """The land rule as target rows: each region-year where it restricts land (suspend or
    revitalise), with the land allowed, the land used, and the breach in hectares."""
    if inputs.land_rule == "none":
        return []
    mode = "evaluate" if inputs.evaluate_only else "rule"
    source = inputs.land_rule_source
    rows = []
    for row in plan.itertuples(index=False):
        if row.land_rule_state not in ("suspend", "revitalise"):
            continue
        # mid-term review: an observed year's land is what was sold; a breach is reported
        mode_row = "observed" if row.year in inputs.observed_years else mode
        breach = max(0.0, row.land_ha - row.land_allowed_ha)
        met = breach <= 1e-6 * max(1.0, row.land_allowed_ha)
        cycle, s_bar = row.cycle_start_months, inputs.suspend_above_months
        if row.land_rule_state == "suspend":
            why = f"start-of-year cycle {cycle:.1f} months > {s_bar:g}: no new land"
        else:
            why = (
                f"start-of-year cycle {cycle:.1f} months in "
                f"({inputs.revitalise_above_months:g}, {s_bar:g}]: "
                f"land only up to the revitalised {row.land_allowed_ha:.2f} ha"
            )
        rows.append(
            {
                "target_key": f"land_rule[{row.region},{row.year}]",
                "target_id": "land_rule",
                "scope": row.region,
                "scope_zh": row.name_zh,
                "period": str(row.year),
                "unit": "ha",
                "sense": "max",
                "mode": mode_row,
                "required": row.land_allowed_ha,
                "achieved": row.land_ha,
                "shortfall": 0.0 if met else breach,
                "met": bool(met),
                "slack": math.nan,
                "slack_unit": "",
                "penalty": math.nan,
                "source": source,
                "note": why,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Duals
# ---------------------------------------------------------------------------------------------
DUAL_UNITS = {
    "aim_above": "10k_m2",
    "aim_below": "10k_m2",
    "presale_ramp_up": "10k_m2",
    "presale_ramp_down": "10k_m2",
    "land_ramp": "ha",
    "terminal_feed": "10k_m2",
    "subsidised_land": "10k_m2",
    "cycle_floor": "10k_m2",
    "inventory_balance": "10k_m2",
    "demand_balance": "10k_m2",
    "presale_ready": "10k_m2",
    "purchase_stock": "10k_m2",
    "cycle_max": "10k_m2",
    "inventory_above_band": "10k_m2",
    "inventory_below_band": "10k_m2",
    "land_rule_first_year": "ha",
    "land_rule_suspend": "ha",
    "land_rule_revitalise": "ha",
    "cycle_above_suspend": "10k_m2",
    "cycle_above_revitalise": "10k_m2",
    "supply_total_max": "10k_m2",
    "land_total_max": "ha",
    "vacancy_max": "10k_dwellings",
    "subsidised_share_min": "10k_m2",
    "subsidised_volume_min": "10k_m2",
    "money_limit": "100m_yuan",
}


def _effect(dual: float) -> str:
    return f"{'lower' if dual < 0 else 'raise'} the objective by {abs(dual):.4g} points"


TARGET_FAMILIES = (
    "cycle_max",
    "cycle_floor",
    "vacancy_max",
    "supply_total_max",
    "land_total_max",
    "subsidised_share_min",
    "subsidised_volume_min",
    "money_limit",
)


def dual_reading(
    inputs: ModelInputs, family: str, index: tuple, dual: float, plan: pd.DataFrame
) -> tuple[str, str, str]:
    """(region, year, plain-language reading) of one binding constraint's shadow price."""
    if family in TARGET_FAMILIES:
        t = next(t for t in inputs.targets if t.key == index[0])
        return t.scope, t.period, _target_reading(inputs, family, t, dual, plan)
    if family == "terminal_feed":
        region = index[0]
        where = inputs.names_zh.get(region, region)
        return (region, str(inputs.final_year),
                f"one more 万m² needed ready for {inputs.final_year + 1} in {where} (terminal "
                f"condition) would {_effect(dual)}")
    if family == "land_rule_first_year":
        region = index[0]
        where = inputs.names_zh.get(region, region)
        year = str(inputs.first_year)
        return (
            region,
            year,
            (
                f"one more hectare allowed in {where} in {year} (the land rule on the "
                f"{inputs.base_year} cycle) would {_effect(dual)}"
            ),
        )
    region, year = index[0], str(index[1])
    return region, year, _region_year_reading(inputs, family, region, int(year), dual)


def _target_reading(
    inputs: ModelInputs, family: str, t: TargetRow, dual: float, plan: pd.DataFrame
) -> str:
    eff = _effect(dual)
    where = f"{inputs.names_zh.get(t.scope, t.scope)} {t.period}"
    if family == "cycle_floor":
        return (
            f"allowing one more 万m² of stock below the {t.value:g}-month band floor ({where}) "
            f"would {eff}"
        )
    if family == "cycle_max":
        rows = plan[plan["region"].isin(inputs.scope_members(t.scope)) & (plan["year"] == t.year)]
        per_month = dual * rows["sales_10k_m2"].sum() / 12.0
        return (
            f"allowing one more 万m² of unsold stock under the {t.value:g}-month cycle target "
            f"({where}) would {eff}; ≈ {abs(per_month):.4g} points per month of cycle"
        )
    if family == "vacancy_max":
        return (
            f"one more 万 dwellings of vacancy allowed ({where}, target {t.value:.0%}) would {eff}"
        )
    if family == "supply_total_max":
        return f"one more 万m² in the {t.period} supply total ({t.value:g}) would {eff}"
    if family == "land_total_max":
        return f"one more hectare in the {t.period} land total ({t.value:g} ha) would {eff}"
    if family.startswith("subsidised"):
        return f"one more 万m² of subsidised housing required in {t.period} would {eff}"
    return f"one more 亿元 on the {t.target_id} limit in {t.period} would {eff}"


def _region_year_reading(
    inputs: ModelInputs, family: str, region: str, year: int, dual: float
) -> str:
    eff = _effect(dual)
    name = inputs.names_zh.get(region, region)
    where = f"{name} in {year}"
    stock_before = f"one more 万m² of stock allowed at the end of {year - 1} in {name}"
    texts = {
        "inventory_balance": f"one more 万m² of unsold stock appearing in {where} would {eff}",
        "demand_balance": f"one more 万m² of demand in {where} would {eff}",
        "presale_ready": f"one more 万m² ready for presale by {year} in {name} (land sold "
        f"earlier or the opening pipeline) would {eff}",
        "purchase_stock": f"one more 万m² of stock open to public purchase in {where} would {eff}",
        "inventory_above_band": f"one more 万m² of stock tolerated above the band in {where} "
        f"would {eff}",
        "inventory_below_band": f"one more 万m² of stock shortfall tolerated below the band in "
        f"{where} would {eff}",
        "land_rule_suspend": f"one more hectare in {where} (land rule, suspend) would {eff}",
        "aim_above": f"one more 万m² of stock tolerated above the aim in {where} would {eff}",
        "aim_below": f"one more 万m² of stock tolerated below the aim in {where} would {eff}",
        "presale_ramp_up": f"allowing presale to rise by one more 万m² in {where} would {eff}",
        "presale_ramp_down": f"allowing presale to fall by one more 万m² in {where} would {eff}",
        "land_ramp": f"one more hectare within the land take-up cap in {where} would {eff}",
        "subsidised_land": f"one more 万m² of subsidised floor area per its land in {where} would "
        f"{eff}",
        "land_rule_revitalise": f"one more hectare in {where} (land rule, revitalised-land cap) "
        f"would {eff}",
        "cycle_above_suspend": f"{stock_before} before the suspend threshold shuts its land in "
        f"{year} would {eff}",
        "cycle_above_revitalise": f"{stock_before} before the revitalise threshold caps its land "
        f"in {year} would {eff}",
    }
    return texts.get(family, f"one more unit on {family}[{region},{year}] would {eff}")


DUAL_COLUMNS = [
    "constraint",
    "family",
    "region",
    "year",
    "dual_points_per_unit",
    "rhs_unit",
    "rhs",
    "rhs_lower",
    "rhs_upper",
    "objective_at_rhs_lower",
    "objective_at_rhs_upper",
    "reading",
]


def duals_table(inputs: ModelInputs, duals: Duals, plan: pd.DataFrame) -> pd.DataFrame:
    """Shadow prices of the binding constraints, with units, a reading and rhs ranging; the
    largest first."""
    rows = []
    for d in duals.rows:
        region, year, reading = dual_reading(inputs, d.family, d.index, d.dual, plan)
        unit = DUAL_UNITS.get(d.family, "")
        span = f"[{_fmt(d.rhs_lower)}, {_fmt(d.rhs_upper)}] {unit}"
        rows.append(
            {
                "constraint": f"{d.family}[{','.join(map(str, d.index))}]",
                "family": d.family,
                "region": region,
                "year": year,
                "dual_points_per_unit": d.dual,
                "rhs_unit": unit,
                "rhs": d.rhs,
                "rhs_lower": d.rhs_lower,
                "rhs_upper": d.rhs_upper,
                "objective_at_rhs_lower": d.objective_at_lower,
                "objective_at_rhs_upper": d.objective_at_upper,
                "reading": f"{reading}; the answer keeps its structure for rhs in {span}",
            }
        )
    frame = pd.DataFrame(rows, columns=DUAL_COLUMNS)
    order = frame["dual_points_per_unit"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _fmt(x: float) -> str:
    if x != x:
        return "?"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.4g}"


# ---------------------------------------------------------------------------------------------
# Relaxation of an infeasible hard-target set
# ---------------------------------------------------------------------------------------------
RELAXATION_COLUMNS = [
    "target_key",
    "target_id",
    "scope",
    "period",
    "unit",
    "sense",
    "required",
    "in_conflict",
    "relaxed_to_joint",
    "relaxation_joint",
    "group",
    "relaxed_to_alone",
    "relaxation_alone",
    "note",
]


def relaxation_table(inputs: ModelInputs, relax: Relaxation | None) -> pd.DataFrame:
    """Each hard target: whether it is in the conflict, and the smallest relaxation (in its own
    policy unit) that restores feasibility — jointly with every other hard target, and with only
    its group (the same target over all its years) relaxed."""
    rows = []
    if relax is None:
        return pd.DataFrame(rows, columns=RELAXATION_COLUMNS)
    by_key = {t.key: t for t in inputs.targets}

    def evaluate(sol: Solution | None, key: str):
        if sol is None:
            return math.nan, math.nan
        plan = plan_table(inputs, sol)
        value, _met, short = achieved(
            inputs, by_key[key], plan, vacancy_path(inputs, plan), money_table(inputs, plan)
        )
        return value, short

    for key in relax.hard_keys:
        t = by_key[key]
        in_conflict = key in relax.conflict_keys
        joint_value, joint_short = evaluate(relax.joint, key)
        group = target_group(t.target_id, t.scope)
        note = ""
        alone_value = alone_short = math.nan
        if relax.joint is None:
            note = "infeasible even with every hard target relaxed"
        else:
            sol = relax.alone.get(group)
            if sol is None:
                note = f"relaxing {group} alone cannot restore feasibility"
            else:
                alone_value, alone_short = evaluate(sol, key)
        rows.append(
            {
                "target_key": key,
                "target_id": t.target_id,
                "scope": t.scope,
                "period": t.period,
                "unit": t.unit,
                "sense": t.sense,
                "required": t.value,
                "in_conflict": in_conflict,
                "relaxed_to_joint": joint_value,
                "relaxation_joint": joint_short,
                "group": group,
                "relaxed_to_alone": alone_value,
                "relaxation_alone": alone_short,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=RELAXATION_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Headline and summary
# ---------------------------------------------------------------------------------------------
def headline(inputs: ModelInputs, plan: pd.DataFrame,
             targets: pd.DataFrame | None) -> dict[str, Any]:
    """The indicators a reader looks at first (final plan year; 2030 for Chifeng). Without
    ``targets`` (an experiment's lean evaluation) ``targets_missed`` is None."""
    final = plan[plan["year"] == inputs.final_year]

    def cycle(members):
        rows = final[final["region"].isin(members)]
        return cycle_months(rows["inventory_end_10k_m2"].sum(), rows["sales_10k_m2"].sum())

    vac = vacancy_path(inputs, plan)
    vac_final = vac[vac["year"] == inputs.final_year].set_index("scope")["vacancy_share"]
    money = money_table(inputs, plan)
    city_money = money[money["region"] == "city"]
    missed = missed_targets(targets) if targets is not None else None
    return {
        "final_year": inputs.final_year,
        "cycle_months_city": cycle(inputs.regions),
        # None: the city has no main city (its outputs are omitted, not zero)
        "cycle_months_main_city": cycle(inputs.main_city_members)
        if inputs.main_city_members else None,
        "vacancy_share_city": float(vac_final["city"]) if "city" in vac_final else None,
        "vacancy_share_main_city": float(vac_final["main_city"])
        if "main_city" in vac_final
        else None,
        "land_total_ha": float(plan["land_ha"].sum() + _col(plan, "subsidised_land_ha").sum()),
        "subsidised_land_ha": float(_col(plan, "subsidised_land_ha").sum()),
        "supply_total_10k_m2": float(plan["supply_10k_m2"].sum()),
        "sales_total_10k_m2": float(plan["sales_10k_m2"].sum()),
        "unmet_demand_10k_m2": float(plan["unmet_demand_10k_m2"].sum()),
        "purchased_10k_m2": float(plan["purchased_10k_m2"].sum()),
        "subsidised_new_10k_m2": float(plan["subsidised_new_10k_m2"].sum()),
        "inventory_end_city_10k_m2": float(final["inventory_end_10k_m2"].sum()),
        "land_revenue_100m_yuan": float(city_money["land_revenue_100m_yuan"].sum()),
        "public_spending_100m_yuan": float(city_money["public_spending_100m_yuan"].sum()),
        "development_finance_100m_yuan": float(city_money["development_finance_100m_yuan"].sum()),
        "targets_missed": int(len(missed)) if missed is not None else None,
        "cycle_band_low_months": inputs.band_low_months,  # §2.4.1: the reasonable band
        "cycle_band_high_months": inputs.band_high_months,
        # the land rule's suspend line (months): 36 under the national rule, 18 under §9.3
        "land_rule_suspend_above_months": inputs.suspend_above_months,
    }


def objective_terms(inputs: ModelInputs, plan: pd.DataFrame, sol: Solution) -> dict[str, float]:
    """The objective split into its weighted terms (points)."""
    v = sol.values
    money = money_table(inputs, plan)
    public = money[money["region"] == "city"]["public_spending_100m_yuan"].sum()
    slack_pen = sum(t.penalty * v["slack"][t.key] for t in inputs.targets if t.mode == "soft")
    terms = {
        "unmet_demand": inputs.weight_unmet_demand * plan["unmet_demand_10k_m2"].sum(),
        "inventory_above_band": inputs.weight_inventory_above_band
        * sum(v["inventory_above_band_10k_m2"].values()),
        "inventory_below_band": inputs.weight_inventory_below_band
        * sum(v["inventory_below_band_10k_m2"].values()),
        "aim_below": inputs.weight_aim_below * sum(v["aim_below_10k_m2"].values()),
        "aim_above": inputs.weight_aim_above * sum(v["aim_above_10k_m2"].values()),
        "presale_ramp": inputs.weight_presale_ramp * (
            sum(v["presale_ramp_up_10k_m2"].values())
            + sum(v["presale_ramp_down_10k_m2"].values())),
        "land_ramp": inputs.weight_land_ramp * sum(v["land_ramp_ha"].values()),
        "terminal": inputs.weight_terminal * sum(v.get("terminal_short_10k_m2", {}).values()),
        "inventory_holding": inputs.weight_inventory_holding * plan["inventory_end_10k_m2"].sum(),
        "land": inputs.weight_land * (plan["land_ha"].sum() + plan["subsidised_land_ha"].sum()),
        "public_money": inputs.weight_public_money * (
            public + money[money["region"] == "city"]["land_forgone_100m_yuan"].sum()),
        "target_slacks": slack_pen,
    }
    return {k: float(v) for k, v in terms.items()}


def human_summary(
    summary: Mapping[str, Any], targets: pd.DataFrame | None, relaxation: pd.DataFrame | None,
    L: Labels | None = None,
) -> list[str]:
    """A few lines for the terminal: headline indicators and the targets missed (or the
    conflict), in the language of ``L`` (English without)."""
    L = L or Labels()
    status = summary["status"]
    if status == "optimal" and summary.get("evaluate_only"):
        status = L.pick(zh="仅评估（报告全部目标与规则，均不强制执行）",
                        en="evaluated (every target and rule reported, none enforced)")
    elif L.zh:
        status = L.status(status)
    lines = [L.pick(
        zh="情景 {scenario}：{status}（{ptype}，目标函数 {obj}，HiGHS 求解 {t} 秒）",
        en="run {scenario}: {status} ({ptype}, objective {obj}, HiGHS {t} s)",
        scenario=summary.get("scenario"), status=status, ptype=summary.get("problem_type"),
        obj=_num(summary.get("objective")), t=_num(summary.get("solve_time_s"), ".3f"))]
    h = summary.get("headline") or {}
    if h and L.zh:
        lines += _headline_lines_zh(h, L)
    elif h:
        y = h["final_year"]
        main_cycle = h.get("cycle_months_main_city")
        vacancy = [f"{name} {h[key]:.1%}" for name, key in (
            ("city", "vacancy_share_city"), ("main city", "vacancy_share_main_city"))
            if h.get(key) is not None]
        lines += [
            f"  {y} destocking cycle: city {_num(h['cycle_months_city'], '.1f')} months"
            + (f", main city {_num(main_cycle, '.1f')} months" if main_cycle is not None else ""),
            f"  {y} vacancy (as the plan measures it): "
            + (", ".join(vacancy) if vacancy else
                                  "not modelled (the dataset prints no vacancy figures)"),
            f"  land {_num(h['land_total_ha'], '.2f')} ha"
            + (f" (commercial {_num(h['land_total_ha'] - h.get('subsidised_land_ha', 0.0), '.2f')}"
               f" + subsidised {_num(h['subsidised_land_ha'], '.2f')})"
               if h.get("subsidised_land_ha") else "") + ", "
            f"supply {_num(h['supply_total_10k_m2'], '.2f')} 万m², "
            f"unmet demand {_num(h['unmet_demand_10k_m2'], '.2f')} 万m²",
            f"  public purchases {_num(h['purchased_10k_m2'], '.2f')} 万m², "
            f"public spending {_num(h['public_spending_100m_yuan'], '.2f')} 亿元, "
            f"land revenue {_num(h['land_revenue_100m_yuan'], '.2f')} 亿元",
        ]
    if targets is not None and len(targets):
        revit = next((d for d in summary.get("derived_inputs", ())
                      if isinstance(d, Mapping) and d.get("name") == "revitalised_ha_total_per_year"),
                     None)
        if (summary.get("config") or {}).get("land", {}).get("rule", "national") != "national":
            revit = None  # only the national rule has the 18–36-month revitalised band
        observed = tuple(int(y) for y in summary.get("observed_years") or ())
        lines += _missed_lines(targets, L=L, revitalised=revit, observed=observed)
    if summary.get("conflict_note"):
        lines.append(f"  {summary['conflict_note']}")  # English (summary.json's)
    elif relaxation is not None and len(relaxation):
        lines.append(L.pick(
            zh="  硬约束目标相互冲突（conflict）；恢复可行的最小放宽量（共同放宽：所有硬约束同时放宽；"
               "单独放宽：只放宽该目标的各年）：",
            en="  hard targets conflict; smallest relaxation that restores feasibility "
               "(jointly: all hard targets relaxed at once; alone: only this target, all years):"
        ))
        conflict = relaxation[relaxation["in_conflict"]]
        for group, rows in conflict.groupby("group", sort=False):
            first = rows.iloc[0]
            req = sorted(set(rows["required"].round(6)))
            req_s = _num(req[0]) if len(req) == 1 else f"{_num(req[0])}–{_num(req[-1])}"
            alone = rows["relaxation_alone"]
            unit = L.unit(first.unit) if L.zh else first.unit
            alone_s = (
                L.pick(zh="单独放宽最多 {x} {unit}", en="alone by up to {x} {unit}",
                       x=_num(alone.max()), unit=unit)
                if alone.notna().all()
                else L.pick(zh="单独放宽无法恢复可行", en="alone: cannot restore feasibility")
            )
            lines.append(L.pick(
                zh="    {name}（{group}，{periods}）：{req}{sense} {req_s} {unit} → 共同放宽最多 "
                   "{joint} {unit}；{alone_s}",
                en="    {group} ({periods}): required {sense} {req_s} {unit} → jointly by up to "
                   "{joint} {unit}; {alone_s}",
                name=L.target_key(group) if L.zh else group, group=group,
                periods=", ".join(rows["period"]), req=L.term("required"),
                sense=L.term(f"sense.{first.sense}") if L.zh else first.sense, req_s=req_s,
                unit=unit, joint=_num(rows["relaxation_joint"].max()), alone_s=alone_s))
        if conflict.empty:
            lines.append(L.pick(zh="    未发现相互冲突的硬约束目标",
                                en="    no hard target found in conflict"))
    return lines


def _headline_lines_zh(h: Mapping[str, Any], L: Labels) -> list[str]:
    """human_summary's headline block in Chinese: the same figures, rounded the same way."""
    y = h["final_year"]
    cycles = [f"{L.term('scope.' + scope)} {L.amount(h[key], 'months', '.1f')}"
              for scope, key in (("city", "cycle_months_city"),
                                 ("main_city", "cycle_months_main_city"))
              if h.get(key) is not None]
    vacancy = [f"{L.term('scope.' + scope)} {h[key]:.1%}" for scope, key in (
        ("city", "vacancy_share_city"), ("main_city", "vacancy_share_main_city"))
        if h.get(key) is not None]
    land = f"  新增住宅用地（土地供应） {L.amount(h['land_total_ha'], 'ha', '.2f')}"
    if h.get("subsidised_land_ha"):
        land += (f"（商品住宅 {L.amount(h['land_total_ha'] - h['subsidised_land_ha'], '', '.2f')}"
                 f" + 保障性住房 {L.amount(h['subsidised_land_ha'], '', '.2f')}）")
    return [
        f"  {y}年末去化周期：" + "，".join(cycles),
        f"  {y}年住房空置率（按规划口径）：" + ("，".join(vacancy) if vacancy else "未建模（数据集未给出空置率）"),
        land + f"，新建商品住宅供应（批准预售） {L.amount(h['supply_total_10k_m2'], '10k_m2', '.2f')}"
        f"，未满足需求 {L.amount(h['unmet_demand_10k_m2'], '10k_m2', '.2f')}",
        f"  收购存量商品房 {L.amount(h['purchased_10k_m2'], '10k_m2', '.2f')}"
        f"，政府住房支出 {L.amount(h['public_spending_100m_yuan'], '100m_yuan', '.2f')}"
        f"，土地出让收入 {L.amount(h['land_revenue_100m_yuan'], '100m_yuan', '.2f')}",
    ]


def missed_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """Target rows not met, leaving out those switched off (mode off: reported in targets.csv
    for information, e.g. the observed years of a mid-term review, but not a target)."""
    return targets[~targets["met"] & (targets["mode"] != "off")]


def _missed_lines(targets: pd.DataFrame, limit: int = 15, L: Labels | None = None,
                  revitalised: Mapping[str, Any] | None = None,
                  observed: tuple[int, ...] = ()) -> list[str]:
    """The targets missed, then one line on the land rule (restricted region-years, breaches);
    target keys (``cycle_months[city,2030]``) kept after the Chinese names so they can be
    searched for in targets.csv."""
    L = L or Labels()
    rule = targets[targets["target_id"] == "land_rule"]
    pace = targets[targets["target_id"].isin(PACE_IDS)]
    missed = missed_targets(targets)
    missed = missed[~missed["target_id"].isin(("land_rule", *PACE_IDS))]
    lines = [L.pick(zh="  全部目标达成", en="  every target met") if missed.empty else
             L.pick(zh="  未达成目标（{n}项）：", en="  targets missed ({n}):", n=len(missed))]
    for row in missed.head(limit).itertuples(index=False):
        lines.append(
            f"    {L.target_key(row.target_key)}（{row.target_key}，{L.mode(row.mode)}）："
            f"{_required_word(row, L)}"
            f"{L.term('sense.' + row.sense)} "
            f"{target_figure(L, row.required, row.unit)}，{L.term('achieved')} "
            f"{target_figure(L, row.achieved, row.unit)} — {'超出' if row.sense == 'max' else '不足'} "
            f"{target_figure(L, row.shortfall, row.unit, points=True)}" if L.zh else
            f"    {row.target_key} ({row.mode}"
            f"{_required_word(row, L)}): required "
            f"{row.sense} "
            f"{target_figure(L, row.required, row.unit)}, achieved {target_figure(L, row.achieved, row.unit)}"
            f" — {'over' if row.sense == 'max' else 'short'} by "
            f"{target_figure(L, row.shortfall, row.unit, points=True)}"
        )
    if len(missed) > limit:
        lines.append(L.pick(zh="    … 另有{n}项见 targets.csv", en="    … {n} more in targets.csv",
                            n=len(missed) - limit))
    if len(rule):
        broken = rule[~rule["met"]]
        source = rule["source"].iloc[0]
        lines.append(L.pick(
            zh="  住宅用地供应与去化周期挂钩规则（{source}）：约束{n}个区县·年；",
            en="  land rule ({source}): restricts {n} region-years; ", source=source, n=len(rule))
            + (
                L.pick(zh="违反{k}个，合计超出 {ha:.2f}公顷（targets.csv 的 land_rule 行）",
                       en="broken in {k}, by {ha:.2f} ha in all (land_rule rows of targets.csv)",
                       k=len(broken), ha=broken["shortfall"].sum())
                + (L.pick(zh="，其中{n}个在已观测年份（实际已出让的土地）",
                          en=", {n} of them in the observed years (land already sold)", n=past)
                   if (past := int(sum(str(p)[:4].isdigit() and int(str(p)[:4]) in observed
                                       for p in broken["period"]))) else "")
                if len(broken)
                else L.pick(zh="全部符合", en="respected in all")
            )
            + (L.pick(zh="；规则中间档（只供盘活存量用地）按假设的盘活存量用地供地，全市每年{v:.2f}公顷（{how}；"
                         "判断假设，land.revitalised_share）",
                      en="; in the rule's middle band (revitalised land only) land is allowed up to an assumed "
                         "revitalised-land allowance of {v:.2f} ha a year city-wide ({how}; a "
                         "judgement, land.revitalised_share)",
                      v=float(revitalised["value"]), how=revitalised.get("how", ""))
               if revitalised and float(revitalised.get("value") or 0) > 0 else "")
        )
    for tid, what, unit in (("presale_ramp", "presale pace", "万m²"),
                            ("land_ramp", "land take-up cap", "ha"),
                            ("terminal_feed", "land for the year after the plan", "万m²")):
        part = pace[pace["target_id"] == tid]
        if part.empty:
            continue
        broken = part[~part["met"]]
        shown = broken["target_key"].head(4)
        if L.zh:  # 主城区2026年 for presale_ramp[main_city,2026]: the line already names the family
            shown = [_region_year_zh(k, L) for k in shown]
        keys = (f"{(L.pick(zh='、', en=', ')).join(shown)}"
                f"{(L.pick(zh='等', en=' …')) if len(broken) > 4 else ''}")
        text = (L.pick(zh="违反{k}个（{keys}），合计 {x:.2f}{unit}",
                       en="broken in {k} ({keys}), by {x:.2f} {unit}", k=len(broken), keys=keys,
                       x=broken["shortfall"].sum(), unit=L.unit("ha" if unit == "ha" else "10k_m2")
                       if L.zh else unit)
                if len(broken) else L.pick(zh="均满足", en="held"))
        lines.append(L.pick(zh="  {what}（targets.csv 的 {tid} 行）：约束{n}个；{text}",
                            en="  {what} ({tid} rows): binds in {n}; {text}",
                            what=L.target_name(tid) if L.zh else what, tid=tid, n=len(part),
                            text=text))
    return lines


def _region_year_zh(key: str, L: Labels) -> str:
    """``terminal_feed[main_city,2031]`` → ``主城区2031年`` (the key itself when it has no
    [region,year] part)."""
    inside = key[key.find("[") + 1:key.rfind("]")] if "[" in key else ""
    parts = inside.split(",")
    if len(parts) != 2:
        return key
    return f"{L.region(parts[0])}{parts[1]}年"


def _required_word(row: Any, L: Labels) -> str:
    """What a target row's requirement is: the plan's own target, one converted from it (the
    plan's dwellings or households into 万m² a year: its source says how), or a check the model
    adds (the band floor, demand met). zh: the word before 不高于/不低于; en: a note after the mode."""
    origin = getattr(row, "origin", "plan")
    converted = origin != "plan" and str(getattr(row, "target_id", "")).startswith("subsidised")
    if L.zh:
        return (L.term("required") if origin == "plan" else
                "由规划目标折算" if converted else "模型检查要求")
    return "" if origin == "plan" else (", converted from the plan's target" if converted
                                        else ", model check")


def target_figure(L: Labels, x, unit: str, points: bool = False) -> str:
    """A target figure in the plan's units and rounding (万㎡ and ha to 2 decimals, months to 1,
    shares as % to 1 decimal, a difference of shares in points)."""
    if unit in ("share", "probability"):
        return L.amount(x, unit, ".1f", points=points)
    if unit in ("10k_m2", "ha", "100m_yuan"):
        return L.amount(x, unit, ".2f")
    if unit == "months":
        return L.amount(x, unit, ".1f")
    return L.amount(x, unit, ".6g")


def _num(x, fmt: str = ".4g") -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return format(x, fmt)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def write_run(
    run_dir: str | Path, tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any]
) -> None:
    """Write each table as <name>.csv (UTF-8 with BOM, 10 significant digits: model/csvio.py),
    plan.xlsx (the plan in the plan's layout, in ``summary["report_lang"]``: model/workbook.py),
    then summary.json (last: its presence marks a whole run). summary.json records each file's
    size and sha256 and its own sha256, so :func:`model.rundir.verify_run` can tell a file
    truncated, edited or deleted since."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stale = run_dir / "summary.json"
    if stale.exists():
        stale.unlink()
    for name, frame in tables.items():
        write_csv(frame, run_dir / f"{name}.csv")
    workbook = write_plan_workbook(run_dir, tables, summary)
    written = [f"{n}.csv" for n in tables] + ([workbook.name] if workbook is not None else [])
    summary = seal(_jsonable({**summary, FILES_KEY: file_records(run_dir, written)}))
    tmp = run_dir / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(run_dir / "summary.json")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if hasattr(x, "item"):
        return _jsonable(x.item())
    return x


def read_summary(run_dir: str | Path) -> dict:
    """summary.json of a run directory (raises FileNotFoundError if the run is incomplete)."""
    return json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))


def read_plan(run_dir: str | Path) -> pd.DataFrame:
    """plan.csv of a finished, optimal run; a run without a plan raises ValueError."""
    summary = read_summary(run_dir)
    if summary.get("status") != "optimal":
        raise ValueError(
            f"{run_dir}: status {summary.get('status')!r}; only an optimal run has a plan"
        )
    return read_csv(Path(run_dir) / "plan.csv")
