"""The plan as written, read honestly: its own annual arithmetic three ways, and whether its land
can deliver its presale under the timing model (docs/timing.md, "The plan as written").

* :func:`annual_path` — the plan's own arithmetic for one region: presale enters the for-sale
  stock in its own year (表45 is presale approval), sales = min(demand, stock available).
* :func:`plan_readings_table` — ``plan_readings.csv``: ``rows`` (表45/表48 rows), ``printed_totals``
  (the printed totals spread over the rows in proportion) and ``under_land_rule`` (the rows
  executed under the land rule the plan cites: land withheld where the start-of-year cycle
  forbids it, and the presale that land would have made withheld with it).
* :func:`deliverability_table` — ``deliverability.csv``: the presale a fixed plan schedules
  against what its land plus the opening pipeline can make ready in time.

Pure functions of :class:`~model.inputs.ModelInputs` and the dataset: no solver here.
"""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from model import timing as tm
from model.data import Dataset
from model.inputs import ModelInputs
from model.labels import Labels, pad

READINGS_COLUMNS = [
    "reading", "scope", "year", "cycle_end_months", "inventory_end_10k_m2", "supply_10k_m2",
    "land_ha", "unmet_demand_10k_m2", "note",
]
DELIVERABILITY_COLUMNS = [
    "region", "year", "presale_planned_10k_m2", "presale_deliverable_10k_m2", "shortfall_10k_m2",
    "backlog_end_10k_m2", "ready_10k_m2", "land_ha",
]


def cycle_months(inventory_10k_m2: float, sales_10k_m2: float) -> float:
    """Destocking cycle: stock ÷ (sales ÷ 12); 0 with no stock, inf with stock and no sales."""
    if inventory_10k_m2 <= 1e-9:
        return 0.0
    return math.inf if sales_10k_m2 <= 1e-9 else 12.0 * inventory_10k_m2 / sales_10k_m2


def annual_path(opening_10k_m2: float, supply: Mapping[int, float], demand: Mapping[int, float],
                years: tuple[int, ...],
                purchased: Mapping[int, float] | None = None) -> list[dict[str, float]]:
    """The plan's own arithmetic in one region, year by year (万m²):

        available = inventory[y−1] + supply[y];  purchased = min(planned purchases, available)
        sales = min(demand, available − purchased);  unmet = demand − sales
        inventory[y] = available − purchased − sales

    Returns one dict per year: supply, purchased, sales, unmet, inventory_end."""
    purchased = purchased or {}
    inventory, out = float(opening_10k_m2), []
    for y in years:
        available = inventory + float(supply[y])
        bought = min(float(purchased.get(y, 0.0)), available)
        sales = min(float(demand[y]), available - bought)
        inventory = available - bought - sales
        out.append({"supply": float(supply[y]), "purchased": bought, "sales": sales,
                    "unmet": float(demand[y]) - sales, "inventory_end": inventory})
    return out


# ---------------------------------------------------------------------------------------------
# Three readings
# ---------------------------------------------------------------------------------------------
def printed_total(ds: Dataset, table: str, target_id: str) -> tuple[float, str] | None:
    """The printed grand total of a guidance table (printed_totals.csv, row ALL, year ALL), else
    the dataset's target of that name; with its source. None when neither is printed."""
    if ds.has_table("printed_totals"):
        t = ds.table("printed_totals")
        hit = t[(t["table"] == table) & (t["row_id"].astype(str) == "ALL")
                & (t["year"].astype(str) == "ALL")]
        if not hit.empty:
            return float(hit["value"].iloc[0]), str(hit["source"].iloc[0])
    target = ds.target_or_none(target_id)
    return None if target is None else (target.value, target.source)


def _rule_allowance(inputs: ModelInputs, r: str, y: int, cycle_start: float,
                    land_planned: float) -> tuple[float, str]:
    """(land allowed, verdict) under the run's land rule on a start-of-year cycle."""
    if inputs.land_rule == "none":
        return land_planned, "none"
    if cycle_start > inputs.suspend_above_months:
        return 0.0, "suspend"
    if inputs.revitalise_above_months is not None and cycle_start > inputs.revitalise_above_months:
        return min(land_planned, inputs.revitalised_ha[(r, y)]), "revitalise"
    return land_planned, "free"


def _region_reading(inputs: ModelInputs, r: str, supply: Mapping[int, float],
                    land: Mapping[int, float], under_rule: bool) -> list[dict]:
    """One region's path; with ``under_rule`` the land rule cuts land (and presale in the same
    proportion: the plan's own convention, 表45 ≈ plot ratio × 表48 in the same year)."""
    years = inputs.years
    demand = {y: inputs.demand_10k_m2[(r, y)] for y in years}
    inventory, cycle, rows = inputs.inventory0_10k_m2[r], inputs.cycle0_months[r], []
    for y in years:
        s, ha, verdict = float(supply[y]), float(land[y]), ""
        if under_rule:
            allowed, verdict = _rule_allowance(inputs, r, y, cycle, ha)
            if allowed < ha - 1e-12:
                s = s * (allowed / ha) if ha > 0 else s
                ha = allowed
        step = annual_path(inventory, {y: s}, {y: demand[y]}, (y,))[0]
        inventory = step["inventory_end"]
        cycle = cycle_months(inventory, step["sales"])
        rows.append({"year": y, "supply": s, "land": ha, "sales": step["sales"],
                     "unmet": step["unmet"], "inventory_end": inventory, "verdict": verdict})
    return rows


def plan_readings_table(ds: Dataset, inputs: ModelInputs) -> pd.DataFrame:
    """plan_readings.csv: the plan as written (its 表45/表48 rows — ``inputs`` must hold them as
    the fixed plan) read three ways, for the city, the main city and each region, every plan
    year. Floor area 万m², land ha, cycle months (stock ÷ sales of the year × 12)."""
    supply = inputs.fixed_supply_10k_m2
    land = inputs.fixed_land_ha
    if supply is None or land is None:
        raise ValueError("plan_readings_table needs the plan as written as the fixed plan")
    rows_sum_s = sum(supply.values())
    rows_sum_l = sum(land.values())
    tot_s = printed_total(ds, "supply_guidance", "supply_total_10k_m2")
    tot_l = printed_total(ds, "land_guidance", "land_total_ha")
    fs = tot_s[0] / rows_sum_s if tot_s and rows_sum_s > 0 else 1.0
    fl = tot_l[0] / rows_sum_l if tot_l and rows_sum_l > 0 else 1.0
    rule = "none" if inputs.land_rule == "none" else inputs.land_rule_source
    sup, lnd = ds.cite("supply_guidance"), ds.cite("land_guidance")
    readings = {
        "rows": (1.0, 1.0, False,
                 f"supply {sup} rows ({rows_sum_s:.2f} 万m²), land {lnd} rows ({rows_sum_l:.2f} "
                 f"ha), presale enters stock in its own year, sales = min(demand, stock)"),
        "printed_totals": (
            fs, fl, False,
            (f"every row × {fs:.4f} (printed supply total {tot_s[0]:g} ÷ row sum "
             f"{rows_sum_s:.2f}) and land × {fl:.4f} ({tot_l[0]:g} ÷ {rows_sum_l:.2f}): the "
             "printed totals spread over the rows in proportion")
            if tot_s and tot_l else "no printed totals in the dataset: same as rows"),
        "under_land_rule": (
            1.0, 1.0, True,
            f"rows executed under the land rule the plan cites ({rule}): land withheld where "
            "the start-of-year cycle forbids it (above the suspend threshold none, in the "
            "revitalise band at most the revitalised land), and presale cut in the same "
            f"proportion ({sup} ≈ plot ratio × {lnd} in the same year)"),
    }
    out = []
    for name, (ks, kl, under_rule, note) in readings.items():
        per_region = {
            r: _region_reading(
                inputs, r, {y: supply[(r, y)] * ks for y in inputs.years},
                {y: land[(r, y)] * kl for y in inputs.years}, under_rule)
            for r in inputs.regions
        }
        scopes = [("city", inputs.regions)]
        if inputs.main_city_members:
            scopes.append(("main_city", inputs.main_city_members))
        scopes += [(r, (r,)) for r in inputs.regions if r not in inputs.main_city_members
                   or len(inputs.main_city_members) > 1]
        for scope, members in scopes:
            for i, y in enumerate(inputs.years):
                part = [per_region[r][i] for r in members]
                inv = sum(p["inventory_end"] for p in part)
                sales = sum(p["sales"] for p in part)
                cut = [r for r in members if per_region[r][i]["verdict"] in ("suspend",
                                                                              "revitalise")
                       and per_region[r][i]["land"] < land[(r, y)] * kl - 1e-9]
                out.append({
                    "reading": name, "scope": scope, "year": y,
                    "cycle_end_months": cycle_months(inv, sales),
                    "inventory_end_10k_m2": inv,
                    "supply_10k_m2": sum(p["supply"] for p in part),
                    "land_ha": sum(p["land"] for p in part),
                    "unmet_demand_10k_m2": sum(p["unmet"] for p in part),
                    "note": note + (f"; land cut in {', '.join(cut)}" if cut else ""),
                })
    return pd.DataFrame(out, columns=READINGS_COLUMNS)


#: the three readings (plan_readings.csv ``reading``) in Chinese; the key is kept after it
READINGS_ZH = {"rows": "按分区县数据", "printed_totals": "按规划总量", "under_land_rule": "按供地规则执行"}


def readings_lines(table: pd.DataFrame, names_zh: Mapping[str, str] | None = None,
                   L: Labels | None = None) -> list[str]:
    """The three readings' last-year city and main-city cycles as a small printed table."""
    L = L or Labels()
    last = table["year"].max()
    end = table[table["year"] == last].set_index(["reading", "scope"])
    scopes = [s for s in ("city", "main_city") if (("rows", s) in end.index)]
    if L.zh:
        lines = [f"按三种口径解读规划原文（{last}年末去化周期，个月）：",
                 "  " + pad("口径", 36) + "".join(pad(L.term(f"scope.{s}"), 12, ">")
                                                for s in scopes)]
    else:
        lines = [f"The plan as written, read three ways ({last} destocking cycle, months):",
                 "  reading            " + "".join(f"{s:>12}" for s in scopes)]
    gloss = {"rows": ("按原表各行，预售当年入库", "the rows as printed, presale in stock its own year"),
             "printed_totals": ("各行按印刷合计等比缩放", "the rows scaled to the printed totals"),
             "under_land_rule": ("扣除供地规则暂停/削减的用地及其预售（不顺延）",
                                 "less the land the rule withholds and its presale (not "
                                 "deferred)")}
    for reading in ("rows", "printed_totals", "under_land_rule"):
        cells = "".join(f"{end.loc[(reading, s), 'cycle_end_months']:>12.1f}" for s in scopes)
        if L.zh:
            lines.append(f"  {pad(f'{READINGS_ZH[reading]}（{reading}）', 36)}{cells}   "
                         f"{gloss[reading][0]}")
        else:
            lines.append(f"  {reading:<19}{cells}   {gloss[reading][1]}")
    return lines


# ---------------------------------------------------------------------------------------------
# Deliverability
# ---------------------------------------------------------------------------------------------
def deliverability_table(inputs: ModelInputs, plan: pd.DataFrame) -> pd.DataFrame:
    """deliverability.csv: for each region and year, the presale the plan schedules
    (``plan.supply_10k_m2``), the floor area its land (``plan.land_ha``) plus the opening
    pipeline makes ready under the timing model, and the presale that allows
    (:func:`model.timing.deliverable_presale`: schedule + backlog, capped by ready floor area not
    yet presold). shortfall = planned − deliverable in the year when positive (0 in a year that
    catches up a backlog); backlog_end = planned − deliverable so far. City and main-city rows add up the
    regions. 万m², ha."""
    rows = []
    idx = plan.set_index(["region", "year"])
    for r in inputs.regions:
        planned = {y: float(idx.loc[(r, y), "supply_10k_m2"]) for y in inputs.years}
        land = {y: float(idx.loc[(r, y), "land_ha"]) for y in inputs.years}
        ready = tm.ready_by_year(land, inputs.plot_ratio_10k_m2_per_ha[r], inputs.ready_shares,
                                 {y: inputs.pipeline_ready_10k_m2[(r, y)] for y in inputs.years},
                                 inputs.years)
        done = tm.deliverable_presale(planned, ready, inputs.years)
        backlog = 0.0
        for y in inputs.years:
            backlog += planned[y] - done[y]
            rows.append({"region": r, "year": y, "presale_planned_10k_m2": planned[y],
                         "presale_deliverable_10k_m2": done[y],
                         "shortfall_10k_m2": max(planned[y] - done[y], 0.0),
                         "backlog_end_10k_m2": backlog,
                         "ready_10k_m2": ready[y], "land_ha": land[y]})
    frame = pd.DataFrame(rows, columns=DELIVERABILITY_COLUMNS)
    totals = []
    scopes = [("city", inputs.regions)]
    if len(inputs.main_city_members) > 1:
        scopes.append(("main_city", inputs.main_city_members))
    for scope, members in scopes:
        part = frame[frame["region"].isin(members)].groupby("year", as_index=False).sum(
            numeric_only=True)
        totals.append(part.assign(region=scope))
    return pd.concat([frame, *totals], ignore_index=True)[DELIVERABILITY_COLUMNS]


def deliverability_lines(table: pd.DataFrame, L: Labels | None = None) -> list[str]:
    """One line per aggregate: planned vs deliverable presale in the first year and over the
    plan, and the backlog at its end."""
    L = L or Labels()
    out = []
    first, last = table["year"].min(), table["year"].max()
    for scope in ("city", "main_city"):
        part = table[table["region"] == scope].set_index("year")
        if part.empty:
            continue
        out.append(L.pick(
            zh="  可供应性（{name}）：{first}年计划批准预售 {p1:.2f}万㎡，可实现 {d1:.2f}万㎡；"
               "{period}计划 {p:.2f}万㎡，可实现 {d:.2f}万㎡（至{last}年末未能预售 {b:.2f}万㎡）",
            en="  deliverability ({scope}): {first} presale planned {p1:.2f} 万m², deliverable "
               "{d1:.2f}; {first}–{last} planned {p:.2f}, deliverable {d:.2f} (not presold by "
               "{last}: {b:.2f})",
            scope=scope, name=L.term(f"scope.{scope}"), first=first, last=last,
            period=L.period(f"{first}-{last}"),
            p1=part.loc[first, 'presale_planned_10k_m2'],
            d1=part.loc[first, 'presale_deliverable_10k_m2'],
            p=part['presale_planned_10k_m2'].sum(), d=part['presale_deliverable_10k_m2'].sum(),
            b=part.loc[last, 'backlog_end_10k_m2']))
    return out
