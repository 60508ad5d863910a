"""How likely a plan is to hold, and what that depends on (docs/uncertainty.md).

A plan (the optimiser's, or a fixed one such as the plan as written) is replayed under every
named demand case × price behaviour — never one blended number — and the two assumptions that
decide the answer are turned into break-even values:

* :func:`demand_cases` — the demand paths the plan is tested against (万m² by region and year):
  ``plan`` (表31 as printed), ``sales_base`` (the 2025 sales rate 表19 implies, held flat),
  ``sales_base_decline`` (that rate falling 3% a year), ``csv`` (a user file);
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
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy import optimize

from model import market
from model.config import RunConfig
from model.data import Dataset
from model.inputs import InputError, ModelInputs, demand_by_source
from model.labels import TERMS, Labels, pad

log = logging.getLogger(__name__)

#: replay the run's plan: (demand by (region, year) or None, **ReplayParams overrides) → result
ReplayFn = Callable[..., market.ReplayResult]

UNCERTAINTY_COLUMNS = [
    "demand_case", "demand_label", "price_behaviour", "price_response", "scope",
    "demand_total_10k_m2", "replications", "p_cycle_le_target", "p_cycle_in_band",
    "p_cycle_below_band", "p_stock_out_any_month", "cycle_end_months_p10", "cycle_end_months_p50",
    "cycle_end_months_p90", "expected_unmet_demand_10k_m2", "cycle_target_months",
    "demand_label_zh", "demand_level_sd", "part",
]
BREAKEVEN_COLUMNS = ["scope", "quantity", "edge", "edge_months", "breakeven", "searched_low",
                     "searched_high", "at_default_median_months", "at_default_p_in_band",
                     "at_default_unmet_10k_m2", "statement", "statement_zh"]
def case_label(case: str, ds: Dataset, decline_per_year: float, lang: str = "en") -> str:
    """A demand case as the tables print it, cited from the dataset: Chifeng's ``plan`` is
    '表31 forecast' (zh: '表31预测'), ``sales_base`` '2025 sales rate' (the base year's)."""
    if lang == "zh":
        return {"run": "本方案需求", "plan": f"{ds.cite('demand')}预测",
                "sales_base": f"{ds.base_year}年销售水平",
                "sales_base_decline": f"{ds.base_year}年水平逐年−{decline_per_year:.0%}",
                "csv": "用户CSV"}.get(case, case)
    return {"run": "this run's demand", "plan": f"{ds.cite('demand')} forecast",
            "sales_base": f"{ds.base_year} sales rate",
            "sales_base_decline": f"{ds.base_year} rate −{decline_per_year:.0%}/yr",
            "csv": "user CSV"}.get(case, case)


# ---------------------------------------------------------------------------------------------
# Demand cases
# ---------------------------------------------------------------------------------------------
def demand_cases(cfg: RunConfig, ds: Dataset, inputs: ModelInputs
                 ) -> dict[str, tuple[dict[tuple[str, int], float], str]]:
    """name → (demand by (region, year) in 万m², how it was made), for ``uncertainty.demand_cases``.

    run: the run's own demand (what the plan was made for); plan: 表31 (表32 for districts) as printed; sales_base: each region's 2025 sales rate implied
    by 表19 (inventory ÷ cycle × 12; 205.15 万m² a year city-wide), flat; sales_base_decline: that
    rate × (1 − ``uncertainty.decline_per_year``)^(year − base year); csv: ``uncertainty.demand_csv``.
    None of them is multiplied by ``demand.multiplier``: a case is a level, not a scaling."""
    u = cfg.uncertainty
    specs = {
        "plan": dict(source="plan", multiplier=1.0, growth=0.0),
        "sales_base": dict(source="sales_base", multiplier=1.0, growth=0.0),
        "sales_base_decline": dict(source="sales_base", multiplier=1.0,
                                   growth=-u.decline_per_year),
        "csv": dict(source="csv", multiplier=1.0, csv=u.demand_csv),
    }
    out = {}
    if "run" in u.demand_cases:
        out["run"] = (dict(inputs.demand_10k_m2), "this run's own demand (demand.*)")
    for name in u.demand_cases:
        if name == "run" or name == "plan" and not ds.has_table("demand"):
            continue  # no printed forecast: the plan case is not a case of this dataset
        if name == "csv" and not u.demand_csv:
            raise InputError(["uncertainty.demand_cases lists 'csv' but uncertainty.demand_csv "
                              "is empty; give uncertainty.demand_csv=PATH (region_id, year, "
                              "demand_10k_m2)"])
        case_cfg = dataclasses.replace(cfg, demand=dataclasses.replace(cfg.demand, **specs[name]))
        demand, how = demand_by_source(case_cfg, ds, inputs.regions, inputs.years,
                                       inputs.inventory0_10k_m2, inputs.cycle0_months)
        if "run" in out and all(abs(demand[k] - v) <= 1e-9 * max(1.0, abs(v))
                                for k, v in out["run"][0].items() if k in demand):
            del out["run"]  # the run's demand is this case: listed once, under its name
            how += " (this run's demand)"
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


def behaviours(cfg: RunConfig) -> dict[str, float]:
    """The price behaviours tested: ``uncertainty.price_behaviours``, plus the run's own
    ``sim.price_response`` when it is none of them (as ``run``)."""
    out = {k: float(v) for k, v in cfg.uncertainty.price_behaviours.items()}
    x = float(cfg.sim.price_response)
    if all(abs(x - v) > 1e-12 for v in out.values()):
        out["run"] = x
    return out


def uncertainty_table(cfg: RunConfig, ds: Dataset, inputs: ModelInputs,
                      replay_fn: ReplayFn) -> pd.DataFrame:
    """uncertainty.csv: every demand case × price behaviour (``uncertainty.price_behaviours``,
    name → coefficient; the run's own coefficient added when it is not one of them), city and main
    city: P(cycle ≤ target), P(in band), P(below band), P(some region sells out in some month),
    the last December's cycle p10/p50/p90 and expected unmet demand. Probabilities over the
    replay's replications (``uncertainty.replications``, same seed in every cell: common random
    numbers)."""
    u = cfg.uncertainty
    reps = u.replications or cfg.sim.replications
    level_sd = float(cfg.sim.demand_level_sd)
    rows = []
    cells = [(case, demand, how, behaviour, float(coefficient), level_sd, "grid")
             for case, (demand, how) in demand_cases(cfg, ds, inputs).items()
             for behaviour, coefficient in behaviours(cfg).items()]
    # the run's demand and price behaviour again at each other spread of the persistent demand
    # level (sim.demand_level_sd decides much of P(in band): shown as a range, not a default)
    own = next(((case, demand, how) for case, demand, how, *_ in cells
                if case == "run" or "this run's" in how), None)
    run_behaviour = next((b for b, c in behaviours(cfg).items()
                          if abs(c - float(cfg.sim.price_response)) <= 1e-12), None)
    if own is not None and run_behaviour is not None:
        cells += [(*own, run_behaviour, float(cfg.sim.price_response), float(sd), "level_spread")
                  for sd in u.demand_level_sds if abs(float(sd) - level_sd) > 1e-12]
    for case, demand, _how, behaviour, coefficient, sd, part in cells:
        total = sum(demand.values())
        result = replay_fn(demand, price_response=coefficient, replications=reps,
                           demand_level_sd=sd)
        for scope, s in scope_rows(result, inputs).items():
            label = case_label(case, ds, u.decline_per_year)
            label_zh = case_label(case, ds, u.decline_per_year, "zh")
            if "this run's" in _how and case != "run":
                label += " (run)"
                label_zh += "（本方案）"
            rows.append({
                "demand_case": case, "demand_label": label,
                "price_behaviour": behaviour, "price_response": float(coefficient),
                "scope": scope, "demand_total_10k_m2": total, "replications": reps,
                "p_cycle_le_target": float(s.p_cycle_le_target_end),
                "p_cycle_in_band": float(s.p_cycle_in_band_end),
                "p_cycle_below_band": float(s.p_cycle_below_band_end),
                "p_stock_out_any_month": float(s.p_stock_out_any_month),
                "cycle_end_months_p10": float(s.cycle_end_months_p10),
                "cycle_end_months_p50": float(s.cycle_end_months_p50),
                "cycle_end_months_p90": float(s.cycle_end_months_p90),
                "expected_unmet_demand_10k_m2": float(s.expected_unmet_demand_10k_m2),
                "cycle_target_months": float(s.cycle_target_months),
                "demand_label_zh": label_zh, "demand_level_sd": sd, "part": part,
            })
    return pd.DataFrame(rows, columns=UNCERTAINTY_COLUMNS)


def grid_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The demand case × price behaviour grid of an uncertainty table (without the rows that
    repeat the run's own cell at other spreads of the demand level)."""
    return table[table["part"] == "grid"] if "part" in table.columns else table


def level_spread_lines(table: pd.DataFrame, L: Labels | None = None) -> list[str]:
    """One line per scope: P(in band) of the run's own cell at each spread of the persistent
    demand level (``uncertainty.demand_level_sds`` and ``sim.demand_level_sd``)."""
    L = L or Labels()
    if "part" not in table.columns or not (table["part"] == "level_spread").any():
        return []
    spread = table[table["part"] == "level_spread"]
    case, behaviour = spread["demand_case"].iloc[0], spread["price_behaviour"].iloc[0]
    own = table[(table["part"] == "grid") & (table["demand_case"] == case)
                & (table["price_behaviour"] == behaviour)]
    both = pd.concat([own, spread])
    lines = [L.pick(zh="需求水平整体偏离本方案需求的幅度（持续需求水平的标准差，sim.demand_level_sd；"
                       "*为默认值）与处于合理区间的概率：",
                    en="P(in band) by how far demand may sit from this run's for the whole "
                       "horizon (sd of the persistent demand level, sim.demand_level_sd; the "
                       "default marked *):")]
    default = float(own["demand_level_sd"].iloc[0]) if len(own) else None
    for scope, part in both.groupby("scope", sort=False):
        part = part.sort_values("demand_level_sd")
        cells = ", ".join(
            f"{r.demand_level_sd:.2f}{'*' if default is not None and abs(r.demand_level_sd - default) < 1e-12 else ''}"
            f" → {r.p_cycle_in_band:.2f}" for r in part.itertuples(index=False))
        name = L.term(f"scope.{scope}") if L.zh and f"scope.{scope}" in TERMS else scope
        lines.append(f"  {name}: {cells}")
    return lines


# ---------------------------------------------------------------------------------------------
# Break-even
# ---------------------------------------------------------------------------------------------
def _scope_stats(replay_fn: ReplayFn, inputs: ModelInputs, **kw) -> dict[str, pd.Series]:
    result = replay_fn(kw.pop("demand", None), **kw)
    return scope_rows(result, inputs)


def _solve(f: Callable[[float], float], low: float, high: float
           ) -> tuple[float | None, bool, bool]:
    """(root of f in [low, high] by Brent or None when f keeps its sign, f(low) ≤ 0, f(high) ≤ 0)."""
    f_low, f_high = f(low), f(high)
    neg_low, neg_high = f_low <= 0, f_high <= 0
    if neg_low == neg_high:
        return None, neg_low, neg_high
    return float(optimize.brentq(f, low, high, xtol=1e-3, rtol=1e-4, maxiter=40)), neg_low, \
        neg_high


def breakeven_table(cfg: RunConfig, inputs: ModelInputs, plan: pd.DataFrame,
                    replay_fn: ReplayFn) -> pd.DataFrame:
    """breakeven.csv, city and main city: for each of the two uncertain assumptions — the price-
    response coefficient (searched over ``uncertainty.price_response_range``) and the level of
    demand as a multiple of the plan's own (``uncertainty.demand_multiple_range``), the other at
    its default — the values at which the median December cycle of the last plan year crosses
    each edge of the band: the top (the cycle target, 18 months) and the floor (12 months). The
    statement gives the interval in which the median stays in the band, with P(in band) and
    expected unmet demand at the default. Replays of ``uncertainty.breakeven_replications`` with
    one seed, so the median moves smoothly with the searched value."""
    u = cfg.uncertainty
    reps = u.breakeven_replications or u.replications or cfg.sim.replications
    base = {(r.region, int(r.year)): float(r.sales_10k_m2 + r.unmet_demand_10k_m2)
            for r in plan.itertuples(index=False)}
    default = float(cfg.sim.price_response)
    at_default = _scope_stats(replay_fn, inputs, replications=reps, price_response=default)
    target = {t.scope: t.value for t in inputs.targets
              if t.target_id == "cycle_months" and t.year == inputs.final_year}
    replayed: dict[tuple[str, float], dict[str, pd.Series]] = {}

    def stats_at(quantity: str, x: float) -> dict[str, pd.Series]:
        """Both scopes' replay statistics at one searched value, replayed once: the searches for
        each scope and edge (and Brent's repeated end points) share them; one seed, so the
        same value gives the same replay."""
        if (quantity, x) not in replayed:
            replayed[(quantity, x)] = (
                _scope_stats(replay_fn, inputs, replications=reps, price_response=x)
                if quantity == "price_response" else
                _scope_stats(replay_fn, inputs, replications=reps, price_response=default,
                             demand={k: v * x for k, v in base.items()}))
        return replayed[(quantity, x)]

    rows = []
    for scope, stats in at_default.items():
        top = target.get(scope, target.get("city", inputs.band_high_months))
        for quantity, (low, high) in (("price_response", tuple(u.price_response_range)),
                                      ("demand_multiple", tuple(u.demand_multiple_range))):
            found = {}
            for edge, months in (("top", top), ("floor", inputs.band_low_months)):
                def f(x: float, scope=scope, months=months, quantity=quantity) -> float:
                    got = stats_at(quantity, float(x))
                    return float(got[scope].cycle_end_months_p50) - months

                value, neg_low, neg_high = _solve(f, low, high)
                found[edge] = (months, value, neg_low, neg_high)
            band = (inputs.band_low_months, inputs.band_high_months)
            statement = _statement(scope, quantity, found, stats, low, high, inputs.final_year,
                                   _run_demand_note(cfg, inputs, base, scope), band=band)
            statement_zh = _statement(scope, quantity, found, stats, low, high,
                                      inputs.final_year,
                                      _run_demand_note(cfg, inputs, base, scope, Labels("zh")),
                                      Labels("zh"), band=band)
            for edge, (months, value, _nl, _nh) in found.items():
                rows.append({
                    "scope": scope, "quantity": quantity, "edge": edge, "edge_months": months,
                    "breakeven": value, "searched_low": low, "searched_high": high,
                    "at_default_median_months": float(stats.cycle_end_months_p50),
                    "at_default_p_in_band": float(stats.p_cycle_in_band_end),
                    "at_default_unmet_10k_m2": float(stats.expected_unmet_demand_10k_m2),
                    "statement": statement, "statement_zh": statement_zh,
                })
    return pd.DataFrame(rows, columns=BREAKEVEN_COLUMNS)


def _run_demand_note(cfg: RunConfig, inputs: ModelInputs,
                     demand: Mapping[tuple[str, int], float], scope: str = "city",
                     L: Labels | None = None) -> str:
    """What "this run's demand" is, in words and 万m² (the multiple of the break-even is of it,
    not of the plan's forecast unless the run uses that forecast)."""
    d = cfg.demand
    zh = L is not None and L.zh
    if zh:
        what = {"plan": "规划需求预测", "csv": "demand.csv"}.get(
            d.source, "基年销售速度（库存÷去化周期）"
            + (f"，每年{d.growth:+.0%}" if d.growth else "，保持不变"))
    else:
        what = {"plan": "the plan's forecast", "csv": "demand.csv"}.get(
            d.source,
            "the base-year sales rate (stock ÷ cycle)"
            + (f" {d.growth:+.0%}/yr" if d.growth else ", flat"))
    if d.multiplier != 1:
        what += f" × {d.multiplier:g}"
    free = [y for y in inputs.years if y not in inputs.observed_years]
    year = free[0] if free else inputs.years[0]
    members = set(inputs.scope_members(scope))
    total = sum(v for (r, y), v in demand.items() if y == year and r in members)
    return f"{what}，{year}年{total:.1f}万㎡" if zh else f"{what}: {total:.1f} 万m² in {year}"


def _statement(scope: str, quantity: str, found: dict, stats: pd.Series, low: float, high: float,
               year: int, demand_note: str = "", L: Labels | None = None,
               band: tuple[float, float] | None = None) -> str:
    """One line: the interval of the assumption in which the median December cycle stays in the
    band (between the floor's and the top's crossings), and the default's figures (in the
    language of ``L``; English without)."""
    L = L or Labels()
    what = {"price_response": "price response", "demand_multiple": "demand"}[quantity]
    unit = "" if quantity == "price_response" else (
        f"× this run's demand ({demand_note})" if demand_note else "× this run's demand")
    if L.zh:
        what = {"price_response": "价格反应系数",
                "demand_multiple": f"需求（本方案需求的倍数；本方案需求：{demand_note}）"
                if demand_note else "需求（本方案需求的倍数）"}[quantity]
        unit = ""
    top_m, top_v, top_nl, top_nh = found["top"]
    floor_m, floor_v, fl_nl, fl_nh = found["floor"]
    # the direction the median moves in as the assumption rises, from whichever edge it crosses
    # (+1 rises: below the edge at the low end, above it at the high end; −1 falls; 0 no crossing)
    def direction(neg_low: bool, neg_high: bool) -> int:
        return 1 if neg_low and not neg_high else -1 if neg_high and not neg_low else 0

    falls = (direction(top_nl, top_nh) or direction(fl_nl, fl_nh)) < 0
    if falls:  # median above the top at low values, below the floor at high values
        lo = top_v if top_v is not None else (low if top_nl else None)
        hi = floor_v if floor_v is not None else (high if not fl_nh else None)
    else:
        lo = floor_v if floor_v is not None else (low if not fl_nl else None)
        hi = top_v if top_v is not None else (high if top_nh else None)
    # P(in band) is of the band (12–18), whatever the target the top edge was searched at
    band_low, band_high = band if band is not None else (floor_m, top_m)
    fmt = {"p50": stats.cycle_end_months_p50, "floor": band_low, "top": band_high,
           "p": stats.p_cycle_in_band_end, "unmet": stats.expected_unmet_demand_10k_m2,
           "low": low, "high": high, "lo": lo, "hi": hi, "what": what, "year": year,
           "scope": L.term(f"scope.{scope}") if L.zh and f"scope.{scope}" in TERMS else scope}
    now = L.pick(zh="默认假设下中位数为{p50:.1f}个月，处于{floor:g}—{top:g}个月合理区间的概率"
                    "{p:.2f}，未满足需求期望值{unmet:.1f}万㎡",
                 en="at the default the median is {p50:.1f} months, P(in the "
                    "{floor:g}–{top:g}-month band) {p:.2f}, expected unmet demand {unmet:.1f} 万m²",
                 **fmt)
    head = L.pick(zh="{scope}，{year}年12月", en="{scope}, December {year}", **fmt)
    if lo is None or hi is None or lo >= hi:
        return L.pick(zh="{head}：{what}在[{low:g}, {high:g}]内取任何值，去化周期中位数均不在合理区间"
                         "内；{now}",
                      en="{head}: the median cycle is outside the band for every {what} in "
                         "[{low:g}, {high:g}]{unit}; {now}",
                      head=head, now=now, unit=unit and ' ' + unit, **fmt)
    edge_note = []
    if lo == low:
        edge_note.append(L.pick(zh="下限为搜索下限{low:g}", en="from the searched low {low:g}",
                                **fmt))
    if hi == high:
        edge_note.append(L.pick(zh="上限为搜索上限{high:g}", en="to the searched high {high:g}",
                                **fmt))
    extra = (L.pick(zh="（{n}）", en=" ({n})", n=L.pick(zh="；", en="; ").join(edge_note))
             if edge_note else "")
    inside = band_low <= float(stats.cycle_end_months_p50) <= band_high
    if not inside:  # the default is out of the band: say what it would take
        return L.pick(zh="{head}：仅当{what}在{lo:.2f}至{hi:.2f}之间时，去化周期中位数才处于合理区间"
                         "{extra}；{now}（默认假设下不在区间内）",
                      en="{head}: the median cycle is in the band only for {what} between "
                         "{lo:.2f} and {hi:.2f}{unit}{extra}; {now} (outside the band at the "
                         "default)",
                      head=head, now=now, unit=unit and ' ' + unit, extra=extra, **fmt)
    return L.pick(zh="{head}：{what}在{lo:.2f}至{hi:.2f}之间时，去化周期中位数保持在合理区间内{extra}；"
                     "{now}",
                  en="{head}: the median cycle stays in the band for {what} between {lo:.2f} and "
                     "{hi:.2f}{unit}{extra}; {now}",
                  head=head, now=now, unit=unit and ' ' + unit, extra=extra, **fmt)


def other_demand_lines(table: pd.DataFrame, inputs: ModelInputs,
                       L: Labels | None = None) -> list[str]:
    """For an optimised plan made for another demand than the plan's forecast: one line with the
    forecast case (no price response) right after the plan's own figure, since a plan aimed at
    the middle of the band on one demand can leave it on the other."""
    L = L or Labels()
    grid = grid_rows(table)
    if inputs.plan_fixed or "plan" not in set(grid["demand_case"]):
        return []
    own = grid[grid["demand_label"].str.endswith("(run)") | (grid["demand_case"] == "run")]
    if len(own) and (own["demand_case"] == "plan").any():
        return []                                   # the run's demand is the forecast itself
    rows = grid[(grid["demand_case"] == "plan") & (grid["price_response"].abs() < 1e-12)]
    if rows.empty:
        return []
    parts = []
    for r in rows.itertuples(index=False):
        name = (L.term(f"scope.{r.scope}") if L.zh and f"scope.{r.scope}" in TERMS else r.scope)
        parts.append(L.pick(zh="{n} 中位数{m:.1f}个月（低于合理区间概率{p:.2f}，未满足需求期望值{u:.1f}万㎡）",
                            en="{n} median {m:.1f} months (P below the band {p:.2f}, expected "
                               "unmet demand {u:.1f} 万m²)",
                            n=name, m=r.cycle_end_months_p50, p=r.p_cycle_below_band,
                            u=r.expected_unmet_demand_10k_m2))
    label = rows["demand_label_zh" if L.zh else "demand_label"].iloc[0]
    return [L.pick(zh="  同一方案按{label}需求（价格无影响）：", en="  the same plan on the {label} "
                   "demand (no price response): ", label=label)
            + L.pick(zh="；", en="; ").join(parts)]


def breakeven_lines(table: pd.DataFrame, L: Labels | None = None) -> list[str]:
    """The break-even statements, one line per scope and assumption (``statement_zh`` in
    Chinese)."""
    column = "statement_zh" if L is not None and L.zh and "statement_zh" in table else "statement"
    return [f"  {s}" for s in dict.fromkeys(table[column])]


#: price behaviours (uncertainty.price_behaviours) in Chinese; the config name is kept after it
BEHAVIOURS_ZH = {"deterring": "买涨不买跌（降价抑制购买）", "none": "价格无影响",
                 "absorbing": "降价吸引购买", "run": "本方案设定"}


def uncertainty_lines(table: pd.DataFrame, L: Labels | None = None) -> list[str]:
    """The uncertainty table as printed lines: one block per scope, a row per demand case, a
    column per price behaviour: P(in band) / P(below the band) / median last-December cycle."""
    table = grid_rows(table)
    L = L or Labels()
    reps = int(table["replications"].iloc[0]) if len(table) else 0
    lines = [L.pick(zh="规划能否兑现（市场模拟{reps}次，最后一年12月）：处于合理区间概率 / 低于合理区间"
                       "概率 / 去化周期中位数（个月），按需求情景 × 价格反应",
                    en="How likely the plan is to hold (replay, {reps} replications, last "
                       "December): P(in band) / P(below band) / median cycle in months, by "
                       "demand case × price behaviour", reps=reps)]
    names = list(dict.fromkeys(table["price_behaviour"]))
    for scope, part in table.groupby("scope", sort=False):
        def title(b: str, part: pd.DataFrame = part) -> str:
            coef = format(part[part.price_behaviour == b].price_response.iloc[0], '+g')
            return f"{BEHAVIOURS_ZH.get(b, b)}（{b} {coef}）" if L.zh else f"{b} ({coef})"

        # Chinese: padded by terminal columns (a Chinese character takes two)
        head = "".join(pad(title(b), 32, ">") if L.zh else f"{title(b):>24}" for b in names)
        if L.zh:
            name = L.term(f"scope.{scope}") if f"scope.{scope}" in TERMS else scope
            lines.append(f"  {pad(name, 22)}{head}")
        else:
            lines.append(f"  {scope:<22}{head}")
        for case, rows in part.groupby("demand_case", sort=False):
            cells = rows.set_index("price_behaviour")
            label = rows["demand_label_zh" if L.zh and "demand_label_zh" in rows
                         else "demand_label"].iloc[0]
            row = [f"{cells.loc[b, 'p_cycle_in_band']:>10.2f} / "
                   f"{cells.loc[b, 'p_cycle_below_band']:.2f}"
                   f" / {cells.loc[b, 'cycle_end_months_p50']:>5.1f}" for b in names]
            if L.zh:
                lines.append(f"    {pad(label, 20)}" + "".join(f"{c:>32}" for c in row))
            else:
                lines.append(f"    {label:<20}" + "".join(row))
    return lines


# ---------------------------------------------------------------------------------------------
# The chart
# ---------------------------------------------------------------------------------------------
def uncertainty_chart(table: pd.DataFrame, path: str | Path) -> Path:
    """uncertainty.png: one heat table per scope (demand cases × price behaviours), colour =
    P(cycle in the band), text = that probability and the median cycle."""
    from model.plotting import pyplot

    plt = pyplot()
    table = grid_rows(table)
    scopes = list(dict.fromkeys(table["scope"]))
    cases = list(dict.fromkeys(table["demand_label"]))
    behaviours = list(dict.fromkeys(table["price_behaviour"]))
    fig, axes = plt.subplots(1, len(scopes), figsize=(4.2 * len(scopes), 0.55 * len(cases) + 1.6),
                             squeeze=False)
    for ax, scope in zip(axes[0], scopes):
        part = table[table["scope"] == scope]
        grid = np.full((len(cases), len(behaviours)), np.nan)
        for row in part.itertuples(index=False):
            grid[cases.index(row.demand_label), behaviours.index(row.price_behaviour)] = \
                row.p_cycle_in_band
        ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for row in part.itertuples(index=False):
            i, j = cases.index(row.demand_label), behaviours.index(row.price_behaviour)
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


def own_arithmetic_lines(plan: pd.DataFrame, inputs: ModelInputs,
                         L: Labels | None = None, cfg: RunConfig | None = None) -> list[str]:
    """The plan's own arithmetic first: its last-year cycle for the city and the main city. For
    an optimised plan (not a fixed one) the line says so, with the demand it was made for and the
    optimiser's aim, since that cycle is largely the aim, not a finding."""
    L = L or Labels()
    optimised = cfg is not None and not inputs.plan_fixed
    table_follows = cfg is not None and cfg.sim.enabled and cfg.uncertainty.enabled
    note = ""
    if optimised:
        demand = {(r.region, int(r.year)): float(r.sales_10k_m2 + r.unmet_demand_10k_m2)
                  for r in plan.itertuples(index=False)}
        note = _run_demand_note(cfg, inputs, demand, "city", L)
    last = plan[plan["year"] == inputs.final_year]

    def cycle(members) -> float:
        part = last[last["region"].isin(members)]
        sales = part["sales_10k_m2"].sum()
        return math.inf if sales <= 0 else 12 * part["inventory_end_10k_m2"].sum() / sales

    def lowest(members) -> str:
        """The lowest year-end cycle on the way and its year: '13.4 (2029)' / '13.4个月（2029年）'."""
        part = plan[plan["region"].isin(members)].groupby("year")[
            ["inventory_end_10k_m2", "sales_10k_m2"]].sum()
        cyc = 12 * part["inventory_end_10k_m2"] / part["sales_10k_m2"].where(
            part["sales_10k_m2"] > 0)
        value, year = cyc.min(), int(cyc.idxmin())
        return f"{value:.1f}个月（{year}年）" if L.zh else f"{value:.1f} ({year})"

    members_all = [inputs.regions] + ([inputs.main_city_members] if inputs.main_city_members
                                      else [])
    at_aim = all(abs(cycle(m) - inputs.aim_cycle_months) <= 0.5 for m in members_all)
    if L.zh:
        scopes = [("全市", inputs.regions)] + (
            [(L.term("scope.main_city"), inputs.main_city_members)]
            if inputs.main_city_members else [])
        if optimised:
            return [f"优化方案（按本方案需求：{note}；不计不确定性）：{inputs.final_year}年末去化周期 "
                    + "，".join(f"{n} {cycle(m):.1f}个月" for n, m in scopes)
                    + f"（优化目标为{inputs.aim_cycle_months:g}个月，objective.aim_cycle_months；"
                    + ("故此数主要反映目标设定" if at_aim else
                       "未达到优化目标：有约束起作用，见 targets.csv 中起约束的行")
                    + ("；其他需求情景见下表" if table_follows else "")
                    + "）；期间最低年末去化周期："
                    + "，".join(f"{n} {lowest(m)}" for n, m in scopes)]
        rows_zh = "（按原表各行）" if cfg is not None and cfg.fixed_plan == "guidance" else ""
        return [f"本规划自身测算{rows_zh}：{inputs.final_year}年末去化周期 "
                + "，".join(f"{n} {cycle(m):.1f}个月" for n, m in scopes)
                + "（按规划自身需求，不计不确定性）；期间最低年末去化周期："
                + "，".join(f"{n} {lowest(m)}" for n, m in scopes)]
    parts = [f"city {cycle(inputs.regions):.1f}"]
    low = [f"city {lowest(inputs.regions)}"]
    if inputs.main_city_members:
        parts.append(f"main city {cycle(inputs.main_city_members):.1f}")
        low.append(f"main city {lowest(inputs.main_city_members)}")
    if optimised:
        return [f"The optimised plan on this run's demand ({note}), no uncertainty: "
                f"{inputs.final_year} destocking cycle " + ", ".join(parts)
                + f" months (the optimiser aims at {inputs.aim_cycle_months:g} months, "
                "objective.aim_cycle_months: "
                + ("the figure mostly restates the aim" if at_aim else
                   "it ends away from the aim because a constraint binds, see the binding rows "
                   "of targets.csv")
                + ("; other demand in the table below" if table_follows else "")
                + "); lowest year-end cycle on the way: " + ", ".join(low)]
    rows_en = (" (its rows as printed)" if cfg is not None and cfg.fixed_plan == "guidance"
               else "")
    return [f"The plan's own arithmetic{rows_en}: {inputs.final_year} destocking cycle "
            + ", ".join(parts) + " months (its demand, no uncertainty); lowest year-end cycle "
            "on the way: " + ", ".join(low)]
