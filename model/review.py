"""The mid-term review (§10.2): feed in what happened, re-plan the rest, test target adjustments.

``python -m model.run +scenario=midterm_2028 [review.actuals=PATH]`` runs, in one run directory:

1. **the re-plan** — the optimiser with the observed years fixed to the actuals (land, supply,
   purchases, sales; the stock follows), the later years re-optimised from the observed stock and
   cycle, so the land rule of the first re-planned year applies to what actually happened
   (``model.inputs.observed_fields``). Its plan.csv, targets.csv … are the run's own files;
2. **the original plan** — the same config without actuals (``original/``);
3. **the current course** — the original plan's decisions for the remaining years evaluated from
   the observed state: which targets will be missed if nothing changes (``course/``);
4. **the comparison** — ``review_comparison.csv`` (original, actual, course and re-plan side by
   side per region and year), ``review_changes.csv`` (what changed for the remaining years),
   ``review_targets.csv`` (every target on the three paths, ``at_risk``), ``review_headline.csv``
   and the chart ``review_paths.png``;
5. **target adjustments** (``review.adjust=true``) — every candidate of ``review.candidates``
   and ``review.combinations`` re-solved on one built model per worker (:class:`model.run.Sweep`,
   the machinery of the sweeps, in parallel with joblib), with the groups of ``review.hard`` hard:
   ``adjustments.csv`` and ``adjustments.png``;
6. **the note for officials** — ``review_note.md`` and a self-contained ``review_note.html``,
   every number read back from the files above.

docs/review.md describes the method and every output column.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from model import market, results
from model.actuals import EXAMPLE_ACTUALS, load_actuals
from model.config import ConfigError, RunConfig, with_overrides
from model.csvio import read_csv, write_csv
from model.data import Dataset, DatasetError, load_dataset
from model.inputs import build_inputs
from model.labels import Labels
from model.pipeline import EXIT_OK, Outcome, Sweep, _input_error, optimise_run, replay_plan

log = logging.getLogger(__name__)

PATHS = ("original", "actual", "course", "replan")
QUANTITIES = (
    ("demand_10k_m2", "万m²"),
    ("land_ha", "ha"),
    ("supply_10k_m2", "万m²"),
    ("sales_10k_m2", "万m²"),
    ("unmet_demand_10k_m2", "万m²"),
    ("purchased_10k_m2", "万m²"),
    ("inventory_end_10k_m2", "万m²"),
    ("cycle_end_months", "months"),
)
FLOWS = ("demand_10k_m2", "land_ha", "supply_10k_m2", "sales_10k_m2", "unmet_demand_10k_m2",
         "purchased_10k_m2")
BINDING_FAMILIES = (
    "cycle_max",
    "vacancy_max",
    "supply_total_max",
    "land_total_max",
    "subsidised_volume_min",
    "subsidised_share_min",
    "money_limit",
    "land_rule_suspend",
    "land_rule_revitalise",
    "cycle_above_suspend",
    "cycle_above_revitalise",
    "purchase_stock",
    "land_to_supply",
)
TARGET_FAMILIES = ("cycle_max", "vacancy_max", "supply_total_max", "land_total_max",
                   "subsidised_volume_min", "subsidised_share_min", "money_limit")
ADJUSTMENT_COLUMNS = [
    "candidate",
    "kind",
    "overrides",
    "target_change",
    "target_change_zh",
    "target_change_share",
    "feasible",
    "status",
    "changes_nothing",
    "rank",
    "smallest_change",
    "relaxation",
    "relaxation_alone",
    "unmet_demand_10k_m2",
    "land_total_ha",
    "land_remaining_ha",
    "supply_total_10k_m2",
    "public_spending_100m_yuan",
    "land_revenue_100m_yuan",
    "purchased_10k_m2",
    "delta_unmet_demand_10k_m2",
    "delta_land_ha",
    "delta_public_spending_100m_yuan",
    "delta_cycle_months_city",
    "cycle_target_months",
    "cycle_months_city_end",
    "cycle_months_main_city_end",
    "vacancy_target_city",
    "vacancy_share_city_end",
    "targets_missed",
    "binding",
    "p_cycle_target_met",
    "p_cycle_in_band",
    "p_vacancy_target_met",
    "plan_signature",
]
KEEP = "keep_targets"


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------
def run_review(settings: RunConfig, ds: Dataset, run_dir: str | Path | None = None) -> Outcome:
    """The whole review (see the module docstring). Returns the re-plan's Outcome, with the
    review's tables added and a ``review`` section in its summary; writes the review's files into
    ``run_dir`` when given (the caller then writes the run's tables and summary.json)."""
    t0 = perf_counter()
    run_dir = Path(run_dir) if run_dir is not None else None
    # the re-plan is optimised whatever the scenario says about evaluating a fixed plan (with
    # +scenario=plan_as_written the adopted plan is the plan as written: the default baseline)
    settings = with_overrides(settings, {"evaluate_only": False, "fixed_plan": "none"})
    replan = optimise_run(settings, ds, run_dir)
    if replan.status != "optimal":
        return replan  # bad actuals (one line each), an infeasible or failed re-plan
    actuals = load_actuals(actuals_path(settings), ds)  # checked already by build_inputs

    original = optimise_run(original_settings(settings), ds, _subdir(run_dir, "original"))
    if original.status != "optimal":
        if original.status == "input_error":
            return original
        return _input_error(
            [f"review: the adopted plan ({settings.review.original or 'the plan as written'}) "
             f"could not be evaluated ({original.status}): {'; '.join(original.messages[:1])}"]
        )
    course = None
    if settings.review.current_course:
        course = current_course(settings, ds, original.tables["plan"], run_dir)
    tables = review_tables(original, replan, course, actuals, ds)
    adjustments = None
    if settings.review.adjust:
        adjustments = evaluate_adjustments(settings, ds)
        tables["adjustments"] = adjustments
    tables["review_headline"]["adjustment_needed"] = adjustment_needed(adjustments)
    summary = dict(replan.summary)
    summary["review"] = {
        "actuals": str(actuals.path),
        "observed_years": list(actuals.years),
        "future_demand": settings.review.future_demand,
        "original_objective": original.summary.get("objective"),
        "course_status": course.status if course is not None else None,
        "targets_at_risk": tables["review_targets"]
        .loc[tables["review_targets"]["at_risk"], "target_key"]
        .tolist(),
        "adjustments": None if adjustments is None else int(len(adjustments)),
        "adjustment_needed": adjustment_needed(adjustments),
        "smallest_change": _smallest(adjustments),
        "review_time_s": perf_counter() - t0,
    }
    L = Labels.for_dataset(ds, settings.report.lang)  # the printed summary's language
    messages = list(replan.messages) + review_lines(tables, L)
    if run_dir is not None:
        meta = {k: summary["review"][k] for k in ("actuals", "observed_years", "future_demand")}
        meta["hard"] = list(settings.review.hard)
        meta["main_city_id"] = ds.main_city_id
        meta["final_year"] = int(ds.plan_years[-1])
        meta["cite"] = {t: ds.cite(t) for t in ("supply_guidance", "land_guidance")}
        meta["replications"] = settings.sim.replications
        meta["original"] = settings.review.original
        meta["thresholds"] = note_thresholds(settings, ds)
        meta["presale_above_ready"] = {
            d["name"][len("observed_presale_above_ready_10k_m2["):-1]: d["value"]
            for d in replan.summary.get("derived_inputs", [])
            if d["name"].startswith("observed_presale_above_ready_10k_m2[")}
        # the note also reads the re-plan's plan and uncertainty table (written again, the same,
        # with the run's other files)
        own = {k: replan.tables[k] for k in ("plan", "uncertainty") if k in replan.tables}
        write_review(run_dir, {**tables, **own}, original, course, meta)
        summary["review"]["files"] = sorted(p.name for p in run_dir.glob("review_*")) + (
            ["adjustments.csv", "adjustments.png", "adjustments_en.png"]
            if adjustments is not None else []
        )
        messages.append(L.pick(zh="  评估说明（供审阅）：{p}", en="  officials' note: {p}",
                               p=run_dir / "review_note.html"))
    return Outcome(
        replan.status,
        EXIT_OK,
        replan.problem_type,
        replan.headline,
        {**replan.tables, **tables},
        summary,
        tuple(messages),
    )


def original_settings(settings: RunConfig) -> RunConfig:
    """The baseline: the plan the city adopted — the plan as written (表45/表48 rows) or
    ``review.original`` (a CSV of land and presale) — evaluated over all plan years without the
    actuals: every target and rule reported, none enforced."""
    overrides = {"review.enabled": False, "review.adjust": False, "evaluate_only": True,
                 "fixed_plan": settings.review.original or "guidance"}
    if not settings.review.original:
        overrides["demand.source"] = "plan"  # the plan as written with its own forecast (表31)
    return with_overrides(settings, overrides)


def actuals_path(settings: RunConfig) -> Path:
    """review.actuals, or the shipped worked example."""
    return Path(settings.review.actuals) if settings.review.actuals else EXAMPLE_ACTUALS


def _subdir(run_dir: Path | None, name: str) -> Path | None:
    if run_dir is None:
        return None
    sub = run_dir / name
    sub.mkdir(parents=True, exist_ok=True)
    return sub


def current_course(
    settings: RunConfig, ds: Dataset, original_plan: pd.DataFrame, run_dir: Path | None
) -> Outcome:
    """The adopted plan continued from the observed state: its land, purchases and subsidised
    building for the remaining years, and its presale *as far as the land can deliver it* under
    the timing model — the adopted schedule plus any backlog, capped by floor area that the
    pipeline at the end of the observed years (land sold before the plan and in the observed
    years) and the adopted land have made ready (model.timing.deliverable_presale). The observed
    years are fixed as in the re-plan; every target and the land rule are reported, none
    enforced."""
    folder = _subdir(run_dir, "course")
    if folder is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="course_"))
    path = folder / "original_plan_decisions.csv"
    cols = ["region", "year", "land_ha", "supply_10k_m2", "purchased_10k_m2",
            "subsidised_new_10k_m2"]
    decisions = deliverable_course(settings, ds, original_plan[cols])
    write_csv(decisions, path, float_format="%.12g")
    cfg = with_overrides(
        settings, {"fixed_plan": str(path), "evaluate_only": True, "review.adjust": False}
    )
    return optimise_run(cfg, ds, folder if run_dir is not None else None)


def deliverable_course(settings: RunConfig, ds: Dataset, decisions: pd.DataFrame) -> pd.DataFrame:
    """The adopted decisions with each remaining year's presale replaced by what its land can
    deliver from the observed state (see :func:`current_course`)."""
    from model import timing as tm
    from model.pipeline import observed_start

    inputs = build_inputs(settings, ds)
    observed = pd.DataFrame([
        {"region": r, "year": y, "land_ha": inputs.fixed_land_ha[(r, y)],
         "sales_10k_m2": inputs.fixed_sales_10k_m2[(r, y)],
         "inventory_end_10k_m2": np.nan}
        for r in inputs.regions for y in inputs.observed_years])
    _start, pipe = observed_start(inputs, observed.assign(inventory_end_10k_m2=0.0))
    rest = tuple(y for y in inputs.years if y not in inputs.observed_years)
    out = decisions.copy()
    idx = out.set_index(["region", "year"])
    for r in inputs.regions:
        land = {y: float(idx.loc[(r, y), "land_ha"]) for y in rest}
        ready = tm.ready_by_year(land, inputs.plot_ratio_10k_m2_per_ha[r], inputs.ready_shares,
                                 {y: pipe.ready.get((r, y), 0.0) for y in rest}, rest)
        planned = {y: float(idx.loc[(r, y), "supply_10k_m2"]) for y in rest}
        done = tm.deliverable_presale(planned, ready, rest)
        for y in rest:
            out.loc[(out["region"] == r) & (out["year"] == y), "supply_10k_m2"] = done[y]
    return out


# ---------------------------------------------------------------------------------------------
# Comparison tables
# ---------------------------------------------------------------------------------------------
def _with_city(plan: pd.DataFrame) -> pd.DataFrame:
    """A plan's region rows plus city-total rows (cycle of the sums)."""
    cols = [q for q, _ in QUANTITIES if q != "cycle_end_months" and q in plan.columns]
    city = plan.groupby("year", as_index=False)[cols].sum()
    city["region"] = "city"
    city["cycle_end_months"] = [
        results.cycle_months(i, s) for i, s in zip(city["inventory_end_10k_m2"],
                                                   city["sales_10k_m2"])
    ]
    return pd.concat([plan, city], ignore_index=True)


def actual_path(actuals, ds: Dataset) -> pd.DataFrame:
    """The actuals as a plan-shaped table (region, year, quantities); demand and unmet demand are
    unknown (NaN): the actuals record what was sold, not what was wanted."""
    t = actuals.table().rename(columns={"region_id": "region"})
    t["unmet_demand_10k_m2"] = np.nan
    t["demand_10k_m2"] = np.nan
    t["cycle_end_months"] = [
        results.cycle_months(i, s) for i, s in zip(t["inventory_end_10k_m2"], t["sales_10k_m2"])
    ]
    keep = ["region", "year"] + [q for q, _ in QUANTITIES] + ["vacancy_share"]
    t = t[keep]
    city = _with_city(t.drop(columns=["vacancy_share"]))
    city = city[city["region"] == "city"].copy()
    city["demand_10k_m2"] = city["unmet_demand_10k_m2"] = np.nan
    main = t[t["region"] == ds.main_city_id][["year", "vacancy_share"]]
    city = city.merge(main.rename(columns={"vacancy_share": "_v"}), on="year", how="left")
    city["vacancy_share"] = np.nan  # the actuals give vacancy per region (main city) only
    return pd.concat([t, city.drop(columns=["_v"])], ignore_index=True)


def review_tables(
    original: Outcome, replan: Outcome, course: Outcome | None, actuals, ds: Dataset
) -> dict[str, pd.DataFrame]:
    """review_comparison, review_changes, review_targets, review_headline (see docs/review.md)."""
    plans = {
        "original": _with_city(original.tables["plan"]),
        "actual": actual_path(actuals, ds),
        "replan": _with_city(replan.tables["plan"]),
    }
    if course is not None and course.status == "optimal":
        plans["course"] = _with_city(course.tables["plan"])
    observed = set(actuals.years)
    keys = plans["original"][["region", "year"]]
    comp = keys.copy()
    comp.insert(1, "name_zh", [ds.name_zh(r) if r != "city" else ds.city.name_zh
                               for r in comp["region"]])
    comp["observed"] = comp["year"].isin(observed)
    for q, _unit in QUANTITIES:
        for path in PATHS:
            if path not in plans:
                continue
            frame = plans[path].set_index(["region", "year"])[q]
            comp[f"{q}_{path}"] = [frame.get((r, y), np.nan) for r, y in zip(keys["region"],
                                                                              keys["year"])]
    comp["vacancy_share_actual"] = [
        plans["actual"].set_index(["region", "year"])["vacancy_share"].get((r, y), np.nan)
        for r, y in zip(keys["region"], keys["year"])
    ]
    tables = {
        "review_comparison": comp,
        "review_changes": changes_table(plans, observed, ds),
        "review_targets": targets_comparison(original, course, replan, observed),
        "review_headline": headline_comparison(original, course, replan),
    }
    return tables


def changes_table(plans: Mapping[str, pd.DataFrame], observed, ds: Dataset) -> pd.DataFrame:
    """What changed for the years still to plan, per region and the city: flows summed over the
    remaining years, and the final year's stock and cycle; original, current course, re-plan and
    the change (re-plan − original). Also the observed years: actual against the original plan."""
    years = sorted(plans["original"]["year"].unique())
    remaining = [y for y in years if y not in observed]
    obs = [y for y in years if y in observed]
    rows = []
    regions = list(dict.fromkeys(plans["original"]["region"]))
    for r in regions:
        name = ds.city.name_zh if r == "city" else ds.name_zh(r)
        for period, ys, paths in (
            (_period(obs), obs, ("original", "actual")),
            (_period(remaining), remaining, ("original", "course", "replan")),
        ):
            if not ys:
                continue
            for q, unit in QUANTITIES:
                row = {"region": r, "name_zh": name, "period": period, "quantity": q,
                       "unit": unit}
                for path in ("original", "actual", "course", "replan"):
                    row[path] = np.nan
                    if path in paths and path in plans:
                        p = plans[path]
                        p = p[(p["region"] == r) & p["year"].isin(ys)]
                        if q in FLOWS:
                            row[path] = float(p[q].sum(min_count=1))
                        else:  # stock and cycle at the end of the period
                            last = p[p["year"] == ys[-1]]
                            row[path] = float(last[q].iloc[0]) if len(last) else np.nan
                other = row["replan"] if period == _period(remaining) else row["actual"]
                row["change"] = other - row["original"]
                rows.append(row)
    return pd.DataFrame(rows, columns=["region", "name_zh", "period", "quantity", "unit",
                                       "original", "actual", "course", "replan", "change"])


def _period(years) -> str:
    return f"{years[0]}-{years[-1]}" if years else ""


def _span(years, lang: str) -> str:
    """Years as the note prints them: '2026—2027' (2026–2027 in English), '2026' for one."""
    if not years:
        return ""
    if years[0] == years[-1]:
        return str(years[0])
    return f"{years[0]}{'—' if lang == 'zh' else '–'}{years[-1]}"


def targets_comparison(
    original: Outcome, course: Outcome | None, replan: Outcome, observed
) -> pd.DataFrame:
    """Every target (and each land-rule row of a remaining year) on the three paths. ``at_risk``:
    missed on the current course in a year still to plan (or a period total) — what will be
    missed if nothing changes; ``replan_fixes`` says whether the re-plan meets it."""
    cols = ["target_key", "target_id", "scope", "period", "unit", "sense", "required",
            "achieved", "shortfall", "met", "origin"]
    frames = {}
    for name, out in (("original", original), ("course", course), ("replan", replan)):
        if out is None or out.status != "optimal":
            continue
        frames[name] = out.tables["targets"][cols].set_index("target_key")
    keys = list(frames["replan"].index)
    for name in ("original", "course"):
        if name in frames:
            keys += [k for k in frames[name].index if k not in keys]
    table = pd.DataFrame({"target_key": keys})
    for field_ in ("target_id", "scope", "period", "unit", "sense", "required", "origin"):
        values = []
        for k in keys:
            src = next(f for f in (frames.get("replan"), frames.get("course"),
                                   frames.get("original")) if f is not None and k in f.index)
            values.append(src.loc[k, field_])
        table[field_] = values

    def year_of(period: str) -> int | None:
        return int(period) if str(period).isdigit() else None

    table["observed_year"] = [year_of(p) in observed for p in table["period"]]
    for name in ("original", "course", "replan"):
        f = frames.get(name)
        for field_ in ("achieved", "shortfall", "met"):
            table[f"{field_}_{name}"] = [
                f.loc[k, field_] if f is not None and k in f.index else np.nan for k in keys
            ]
    course_missed = table["met_course"].eq(False) if "course" in frames else table[
        "met_replan"].eq(False)
    # a target is one of the plan's own goals (origin plan: 第五章, 表34); checks are the tool's
    # (unmet demand, the band floor, a default subsidised volume); rules (the land rule, pace and
    # terminal rows) are how a plan may get there — each reported in its own column
    table["kind"] = np.where(table["origin"] == "rule", "rule",
                             np.where(table["origin"] == "plan", "target", "check"))
    open_year = course_missed & ~table["observed_year"]
    table["at_risk"] = open_year & (table["kind"] == "target")
    table["check_failed"] = open_year & (table["kind"] == "check")
    table["rule_broken"] = open_year & (table["kind"] == "rule")
    table["replan_fixes"] = (open_year & table["met_replan"].eq(True))
    return table


HEADLINE_ROWS = (
    ("cycle_months_city", "months", "destocking cycle, city, final year"),
    ("cycle_months_main_city", "months", "destocking cycle, main city, final year"),
    ("vacancy_share_city", "share", "vacancy, city, final year"),
    ("vacancy_share_main_city", "share", "vacancy, main city, final year"),
    ("land_total_ha", "ha", "new residential land, all plan years"),
    ("supply_total_10k_m2", "万m²", "new commercial supply, all plan years"),
    ("sales_total_10k_m2", "万m²", "sales, all plan years"),
    ("unmet_demand_10k_m2", "万m²", "unmet demand, all plan years (0 in observed years)"),
    ("purchased_10k_m2", "万m²", "public purchases of unsold stock"),
    ("public_spending_100m_yuan", "亿元", "public spending"),
    ("land_revenue_100m_yuan", "亿元", "land revenue"),
    ("inventory_end_city_10k_m2", "万m²", "unsold stock, city, end of final year"),
    ("targets_missed", "rows", "target and land-rule rows missed"),
)


def headline_comparison(
    original: Outcome, course: Outcome | None, replan: Outcome
) -> pd.DataFrame:
    """The headline indicators and the replay's probabilities on the three paths."""
    rows = []
    outs = {"original": original, "course": course, "replan": replan}
    for key, unit, meaning in HEADLINE_ROWS:
        row = {"indicator": key, "unit": unit, "meaning": meaning}
        for name, out in outs.items():
            ok = out is not None and out.status == "optimal"
            row[name] = out.headline.get(key, np.nan) if ok else np.nan
        rows.append(row)
    for scope in ("city", "main_city"):
        for col, unit, meaning in (
            ("p_cycle_le_target_end", "probability", "replay: P(cycle ≤ 18-month target, end)"),
            ("p_cycle_in_band_end", "probability", "replay: P(cycle in the 12–18-month band, end)"),
            ("p_vacancy_le_target_end", "probability", "replay: P(vacancy ≤ target, end)"),
        ):
            row = {"indicator": f"{col}[{scope}]", "unit": unit, "meaning": meaning}
            for name, out in outs.items():
                row[name] = np.nan
                if out is not None and "replay_summary" in out.tables:
                    s = out.tables["replay_summary"].set_index("region")
                    if scope in s.index:
                        row[name] = float(s.loc[scope, col])
            rows.append(row)
    frame = pd.DataFrame(rows, columns=["indicator", "unit", "meaning", "original", "course",
                                        "replan"])
    frame["change"] = frame["replan"] - frame["original"]
    return frame


# ---------------------------------------------------------------------------------------------
# Target adjustments
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One target adjustment: a name, its kind, and dotted overrides of the review config."""

    name: str
    kind: str  # keep | single | combined
    overrides: tuple[tuple[str, Any], ...]

    def text(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.overrides) or "(targets as they stand)"


def parse_override(item: str) -> tuple[str, Any]:
    """``key=value`` as on the command line; the value is read as YAML (21 → int, hard → str)."""
    key, _, raw = str(item).partition("=")
    key = key.strip().lstrip("+")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"review.candidates: {item!r}: {str(exc).splitlines()[0]}") from None
    return key, value


#: Keys a candidate may set relative to the target as it stands (``x0.8`` = 0.8 × it).
RELATIVE_KEYS = {"targets.land_total_ha": "land_total_ha",
                 "targets.supply_total_10k_m2": "supply_total_10k_m2",
                 "targets.cycle_months_end": "cycle_months",
                 "targets.subsidised_volume_10k_m2_per_year": "subsidised_volume_10k_m2"}


def resolve_relative(key: str, value: Any, settings: RunConfig, ds: Dataset | None) -> Any:
    """A candidate value ``x0.8`` (or ``×0.8``) → 0.8 × the target as it stands: the config's
    value when set, else the dataset's (land and supply totals, the end-of-plan cycle, the
    subsidised volume a year), so one scenario file serves any city. Other values unchanged;
    ConfigError for a relative value on a key without a target to scale."""
    if not (isinstance(value, str) and value[:1] in ("x", "×")):
        return value
    try:
        factor = float(value[1:])
    except ValueError:
        raise ConfigError(f"review.candidates: {key}={value}: expected a number after "
                          f"'x' (x0.8 = 0.8 × the target as it stands)") from None
    if key not in RELATIVE_KEYS:
        raise ConfigError(f"review.candidates: {key}={value}: a relative value needs one of "
                          f"{', '.join(RELATIVE_KEYS)}")
    from model.inputs import subsidised_volume

    field = key.split(".", 1)[1]
    current = getattr(settings.targets, field, None)
    if current is None and ds is not None:
        if field == "subsidised_volume_10k_m2_per_year":
            current = subsidised_volume(settings, ds, ds.plan_years)[0]
        else:
            hit = ds.target_or_none(RELATIVE_KEYS[key])
            current = None if hit is None else hit.value
    if current is None:
        raise ConfigError(f"review.candidates: {key}={value}: the dataset has no "
                          f"{RELATIVE_KEYS[key]} target to scale; give a number")
    return round(float(current) * factor, 6)


def candidate_list(settings: RunConfig, ds: Dataset | None = None) -> list[Candidate]:
    """The targets as they stand (``keep_targets``), every candidate, then every combination;
    relative values (``x0.8``) resolved against ``ds`` (:func:`resolve_relative`)."""
    r = settings.review
    singles = {}
    for n, items in r.candidates.items():
        pairs = (parse_override(i) for i in items)
        singles[n] = tuple((k, resolve_relative(k, v, settings, ds)) for k, v in pairs)
    out = [Candidate(KEEP, "keep", ())]
    out += [Candidate(n, "single", o) for n, o in singles.items()]
    for combo in r.combinations:
        merged: dict[str, Any] = {}
        for part in combo.split("+"):
            merged.update(dict(singles[part]))
        out.append(Candidate(combo, "combined", tuple(merged.items())))
    return out


def adjustment_base(settings: RunConfig) -> RunConfig:
    """The review config every candidate starts from: review.hard groups hard, duals and the
    relaxation on, the replay off (the review replays each feasible candidate itself)."""
    overrides: dict[str, Any] = {f"targets.{g}.mode": "hard" for g in settings.review.hard}
    overrides.update({"sim.enabled": False, "solver.duals": True, "solver.relaxation": True,
                      "review.adjust": False, "evaluate_only": False, "fixed_plan": "none"})
    return with_overrides(settings, overrides)


def evaluate_adjustments(settings: RunConfig, ds: Dataset) -> pd.DataFrame:
    """adjustments.csv: every candidate re-solved (in parallel, one built model per worker)."""
    cands = candidate_list(settings, ds)
    base = adjustment_base(settings)
    for c in cands:  # fail fast, in the parent, on an override the schema rejects
        with_overrides(base, dict(c.overrides))
    workers = max(1, min(settings.review.workers, len(cands)))
    batches = [cands[i::workers] for i in range(workers)]
    t0 = perf_counter()
    if workers == 1:
        rows = _evaluate_batch(base, ds, batches[0])
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=workers)(
            delayed(_evaluate_batch)(base, str(ds.root), batch) for batch in batches
        )
        rows = [row for part in parts for row in part]
    order = {c.name: i for i, c in enumerate(cands)}
    frame = pd.DataFrame(rows).sort_values("candidate", key=lambda s: s.map(order))
    keep_inputs = build_inputs(base, ds)
    changes = {c.name: target_change(keep_inputs, build_inputs(with_overrides(
        base, dict(c.overrides)), ds)) for c in cands}
    frame["target_change"] = frame["candidate"].map(lambda n: changes[n][0])
    frame["target_change_share"] = frame["candidate"].map(lambda n: changes[n][1])
    frame["target_change_zh"] = frame["candidate"].map(lambda n: changes[n][2])
    frame = _costs_against_keep(frame.reset_index(drop=True))
    log.info("review: %d candidates evaluated in %.1f s on %d worker(s)", len(frame),
             perf_counter() - t0, workers)
    return frame[ADJUSTMENT_COLUMNS]


def target_change(keep, other) -> tuple[str, float, str]:
    """How a candidate changes the targets, in each target's own unit, against keeping them:
    ``("cycle_months[city] 18 → 21 months (+3)", 0.1667, "全市去化周期 18 → 21 个月")`` — the text,
    the largest relative change of any target group (the size used to rank candidates), and the
    text in Chinese. Groups are a target over all its years (model.solve.target_group)."""
    from model.solve import target_group

    before = {t.key: t for t in keep.targets}
    parts, zh, share = {}, {}, 0.0
    for t in other.targets:
        old = before.get(t.key)
        group = target_group(t.target_id, t.scope)
        name = TARGET_NAMES.get(t.target_id, (t.target_id, t.target_id))[0]
        scope = NOTE_TEXT["zh"]["scopes"].get(t.scope, t.scope)
        if old is None:  # a target the candidate adds (the dataset has none): a full change
            share = 1.0
            parts.setdefault(group, f"{group} (none) → {_g(t.value)} {t.unit} (new)")
            zh.setdefault(group, f"新增{scope}{name} {_v(t.value, t.unit)}{_unit(t.unit, 'zh')}")
            continue
        if abs(t.value - old.value) <= 1e-9 * max(1.0, abs(old.value)):
            if old.mode != t.mode:
                parts.setdefault(group, f"{t.target_id}[{t.scope}] {old.mode} → {t.mode}")
                zh.setdefault(group, f"{scope}{name}改为{'硬约束' if t.mode == 'hard' else t.mode}")
            continue
        delta = t.value - old.value
        rel = abs(delta) / abs(old.value) if old.value else 1.0
        if rel > share:
            share = rel
        parts.setdefault(group, f"{group} {_g(old.value)} → {_g(t.value)} {t.unit} "
                                f"({delta:+.4g})")
        zh.setdefault(group, f"{scope}{name} {_v(old.value, t.unit)} → {_v(t.value, t.unit)}"
                             f"{_unit(t.unit, 'zh')}")
    return ("; ".join(parts.values()) or "none"), share, ("；".join(zh.values()) or "无")


def _evaluate_batch(base: RunConfig, dataset: Dataset | str, batch: list[Candidate]) -> list:
    """Worker: build one model (Sweep) and re-solve it for each candidate of the batch."""
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    sweep = Sweep(base, ds)
    reps = base.review.replications or base.sim.replications
    rows = []
    for c in batch:
        out = sweep.run(dict(c.overrides))
        settings = with_overrides(base, dict(c.overrides))
        rows.append(_adjustment_row(c, out, settings, ds, sweep.model.inputs, reps))
    return rows


def _adjustment_row(c: Candidate, out: Outcome, settings: RunConfig, ds: Dataset, inputs,
                    replications: int) -> dict:
    row: dict[str, Any] = {"candidate": c.name, "kind": c.kind, "overrides": c.text(),
                           "status": out.status, "feasible": out.status == "optimal"}
    targets = {t.key: t for t in inputs.targets}
    final = inputs.final_year
    cyc = targets.get(f"cycle_months[city,{final}]")
    vac = targets.get(f"vacancy_share[city,{final}]")
    row["cycle_target_months"] = cyc.value if cyc else np.nan
    row["vacancy_target_city"] = vac.value if vac else np.nan
    if out.status == "infeasible":
        relax = out.tables["relaxation"]
        row["relaxation"] = relaxation_text(relax, "joint")
        row["relaxation_alone"] = relaxation_text(relax, "alone")
        return row
    if out.status != "optimal":
        row["relaxation"] = "; ".join(out.messages[:1])
        return row
    h, plan = out.headline, out.tables["plan"]
    row.update(
        relaxation="none needed",
        relaxation_alone="",
        objective_points=out.summary.get("objective"),
        unmet_demand_10k_m2=h["unmet_demand_10k_m2"],
        land_total_ha=h["land_total_ha"],
        land_remaining_ha=float(plan.loc[~plan["observed"], "land_ha"].sum()),
        supply_total_10k_m2=h["supply_total_10k_m2"],
        public_spending_100m_yuan=h["public_spending_100m_yuan"],
        land_revenue_100m_yuan=h["land_revenue_100m_yuan"],
        purchased_10k_m2=h["purchased_10k_m2"],
        cycle_months_city_end=h["cycle_months_city"],
        cycle_months_main_city_end=h["cycle_months_main_city"],
        vacancy_share_city_end=h["vacancy_share_city"],
        plan_signature=plan_signature(plan),
        targets_missed=int((~out.tables["targets"]["met"]
                            & ~out.tables["targets"]["mode"].isin(["off", "observed"])).sum()),
        binding=binding_text(out.tables.get("duals"), out.tables["targets"]),
    )
    p_cycle, p_band, p_vac = replay_probabilities(settings, ds, inputs, plan, replications, cyc,
                                                  vac)
    row["p_cycle_target_met"], row["p_cycle_in_band"], row["p_vacancy_target_met"] = \
        p_cycle, p_band, p_vac
    return row


def plan_signature(plan: pd.DataFrame) -> str:
    """A short hash of a plan's decisions (land, presale, purchases, subsidised building by
    region and year, to 0.001): equal signatures = the same plan."""
    import hashlib

    cols = ["land_ha", "supply_10k_m2", "purchased_10k_m2", "subsidised_new_10k_m2"]
    text = plan.sort_values(["region", "year"])[cols].round(3).to_csv(index=False)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def relaxation_text(relax: pd.DataFrame, how: str) -> str:
    """The smallest relaxation, per conflicting target group, in its policy unit:
    ``cycle_months[city] 18 → 23.4 months (+5.4)``. ``how``: joint or alone."""
    if relax is None or relax.empty:
        return "not computed"
    conflict = relax[relax["in_conflict"]]
    if conflict.empty:
        return "no hard target found in conflict"
    parts = []
    for group, rows in conflict.groupby("group", sort=False):
        amount = rows[f"relaxation_{how}"]
        if amount.isna().all():
            if how == "alone":
                parts.append(f"{group}: cannot restore feasibility alone")
            continue
        i = amount.idxmax()
        r = rows.loc[i]
        if amount.max() <= 1e-9:
            continue
        parts.append(
            f"{group} {_g(r['required'])} → {_g(r[f'relaxed_to_{how}'])} {r['unit']} "
            f"({'+' if r['sense'] == 'max' else '−'}{_g(amount.max())})"
        )
    return "; ".join(parts) if parts else "no relaxation needed"


def _g(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) and math.isfinite(x) else str(x)


def binding_text(duals: pd.DataFrame | None, targets: pd.DataFrame | None = None,
                 limit: int = 3) -> str:
    """The binding hard-target and land-rule constraints with the largest shadow prices (a soft
    target's row, when missed, only carries its penalty and is left out)."""
    if duals is None or duals.empty:
        return ""
    d = duals[duals["family"].isin(BINDING_FAMILIES)]
    if targets is not None:
        hard = set(targets.loc[targets["mode"] == "hard", "target_key"])
        target_row = d["family"].isin(TARGET_FAMILIES)
        key = [c[len(f) + 1:-1] for c, f in zip(d["constraint"], d["family"])]
        d = d[~target_row | pd.Series([k in hard for k in key], index=d.index)]
    d = d.reindex(d["dual_points_per_unit"].abs().sort_values(ascending=False).index)
    return "; ".join(
        f"{row.constraint} {row.dual_points_per_unit:+.3g} pts/{row.rhs_unit}"
        for row in d.head(limit).itertuples(index=False)
    )


def replay_probabilities(settings: RunConfig, ds: Dataset, inputs, plan: pd.DataFrame,
                         replications: int, cycle_target, vacancy_target
                         ) -> tuple[float, float, float]:
    """The replay of a candidate's plan from the observed state: P(city cycle ≤ the candidate's
    cycle target), P(city cycle in the 12–18-month band) and P(city vacancy ≤ its vacancy
    target) at the end of the final year."""
    sim = with_overrides(settings, {"sim.enabled": True, "sim.replications": replications})
    try:
        result = replay_plan(sim, ds, inputs, plan)
    except ValueError as exc:
        log.warning("review: replay failed (%s)", exc)
        return np.nan, np.nan, np.nan
    end = result.inputs.n_months - 1
    p_cycle = np.nan
    cycle = market.aggregate_series(result)["cycle_months"][end]
    band = (inputs.band_low_months, inputs.band_high_months)
    p_band = float(np.mean((cycle >= band[0]) & (cycle <= band[1])))
    if cycle_target is not None:
        p_cycle = float(np.mean(cycle <= cycle_target.value + 1e-9))
    p_vac = np.nan
    city = ds.city.region_id
    for i, scope in enumerate(result.inputs.scopes):
        if scope.scope_id == city and vacancy_target is not None:
            p_vac = float(np.mean(result.vacancy["vacancy_share"][end, :, i]
                                  <= vacancy_target.value + 1e-12))
    return p_cycle, p_band, p_vac


def _costs_against_keep(frame: pd.DataFrame) -> pd.DataFrame:
    """Each candidate against keeping the targets as they stand, in policy units (unmet demand
    万m², land ha, public spending 亿元, the final city cycle in months — never objective points);
    ``changes_nothing`` when its plan is the same plan; and, only when the targets cannot all be
    kept, ``rank``: feasible candidates by the size of the change they make to the targets
    (``target_change_share``), smallest first — ``smallest_change`` marks the first."""
    for col in ADJUSTMENT_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    keep = frame[frame["candidate"] == KEEP]
    keep_ok = bool(len(keep)) and bool(keep["feasible"].iloc[0])
    for col, delta in (("unmet_demand_10k_m2", "delta_unmet_demand_10k_m2"),
                       ("land_total_ha", "delta_land_ha"),
                       ("public_spending_100m_yuan", "delta_public_spending_100m_yuan"),
                       ("cycle_months_city_end", "delta_cycle_months_city")):
        frame[delta] = frame[col] - (float(keep[col].iloc[0]) if keep_ok else np.nan)
    signature = keep["plan_signature"].iloc[0] if keep_ok else None
    frame["changes_nothing"] = (frame["candidate"] != KEEP) & frame["feasible"].astype(bool) & (
        frame["plan_signature"] == signature)
    frame["rank"] = np.nan
    frame["smallest_change"] = False
    if not keep_ok:
        ok = frame[(frame["candidate"] != KEEP) & frame["feasible"].astype(bool)]
        order = ok.sort_values(["target_change_share", "delta_unmet_demand_10k_m2"]).index
        frame.loc[order, "rank"] = np.arange(1, len(order) + 1)
        if len(order):
            frame.loc[order[0], "smallest_change"] = True
    return frame


def adjustment_needed(adjustments: pd.DataFrame | None) -> bool | None:
    """True when the targets of review.hard cannot all be kept by any re-plan from the observed
    state (keep_targets infeasible); None when the adjustments were not evaluated."""
    if adjustments is None:
        return None
    keep = adjustments[adjustments["candidate"] == KEEP]
    return bool(len(keep)) and not bool(keep["feasible"].iloc[0])


def _smallest(adjustments: pd.DataFrame | None) -> str | None:
    if adjustments is None:
        return None
    hit = adjustments[adjustments["smallest_change"].astype(bool)]
    return None if hit.empty else str(hit["candidate"].iloc[0])


# ---------------------------------------------------------------------------------------------
# Terminal lines, files, charts
# ---------------------------------------------------------------------------------------------
def review_lines(tables: Mapping[str, pd.DataFrame], L: Labels | None = None) -> list[str]:
    """A few lines for the terminal, the answer first: targets at risk on the current course,
    whether an adjustment is needed, then the candidates (policy units only); in the language of
    ``L`` (English without), target keys and candidate names kept as they are."""
    L = L or Labels()
    t = tables["review_targets"]
    risk = t[t["at_risk"]]
    groups = at_risk_groups(t)
    lines = [L.pick(zh="中期评估：按当前趋势有{n}项目标存在风险", en="Mid-term review: {n} target(s) "
                    "at risk on the current course", n=len(groups))
             + (L.pick(zh="：{z}", en=" ({g})", g=", ".join(groups),
                       z="；".join(f"{L.target_key(g)}（{g}）" for g in groups)) if groups else "")]
    for row in risk.head(8).itertuples(index=False):
        lines.append(
            f"    {L.target_key(row.target_key)}（{row.target_key}）：{L.term('required')}"
            f"{L.term('sense.' + row.sense)} {results.target_figure(L, row.required, row.unit)}，按当前趋势 "
            f"{results.target_figure(L, row.achieved_course, row.unit)}，重新规划 "
            f"{results.target_figure(L, row.achieved_replan, row.unit)}（重新规划"
            f"{L.term('met') if row.met_replan else L.term('missed')}）" if L.zh else
            f"    {row.target_key}: required {row.sense} {_g(row.required)} {row.unit}, "
            f"course {_g(row.achieved_course)}, re-plan {_g(row.achieved_replan)}"
            f" ({'met' if row.met_replan else 'missed'} in the re-plan)"
        )
    adj = tables.get("adjustments")
    if adj is not None:
        needed = adjustment_needed(adj)
        keep = adj[adj["candidate"] == KEEP].iloc[0]
        if not needed:
            lines.append(L.pick(zh="  目标是否需要调整：否——在 review.hard 所列目标作为硬约束时，从实际状态重新"
                                   "规划仍可行（keep_targets）；候选方案仅作权衡参考",
                                en="  targets need adjusting: no — a re-plan from the observed "
                                   "state with the targets of review.hard held hard is feasible "
                                   "(keep_targets); the candidates are a trade-off table only"))
            if len(risk):
                lines.append(L.pick(
                    zh="  年度安排是否需要调整：是——按现行路径有{n}项目标存在风险，剩余年份的供地与批准预售"
                       "须按重新规划调整",
                    en="  yearly land and presale need adjusting: yes — on the current course "
                       "{n} target(s) are at risk; the remaining years follow the re-plan",
                    n=len(groups)))
        else:
            lines.append(L.pick(zh="  是否需要调整：是——无法同时保持全部目标（{r}）",
                                en="  adjustment needed: yes — keeping the targets is infeasible "
                                   "({r})", r=keep["relaxation"]))
            best = adj[adj["smallest_change"].astype(bool)]
            if len(best):
                b = best.iloc[0]
                lines.append(L.pick(
                    zh="  恢复可行的最小调整：{c}（{change}）；未满足需求 {u}，新增住宅用地 {ha}",
                    en="  smallest change that restores feasibility: {c} ({change}); unmet "
                       "demand {u} 万m², land {ha} ha",
                    c=b.candidate,
                    change=b.target_change_zh if L.zh and isinstance(
                        getattr(b, "target_change_zh", None), str) else b.target_change,
                    u=L.amount(b.unmet_demand_10k_m2, "10k_m2") if L.zh
                    else _g(b.unmet_demand_10k_m2),
                    ha=L.amount(b.land_total_ha, "ha") if L.zh else _g(b.land_total_ha)))
        kinds = candidate_groups(adj, t)
        for kind, zh, en in (
                ("same", "  不改变方案的候选（与保持目标的重新规划相同）：{c}",
                 "  candidates that change nothing (the same plan): {c}"),
                ("same_value", "  与现行目标取值相同的候选：{c}",
                 "  candidates that keep the present values: {c}"),
                ("not_applicable", "  不适用的候选（本数据集未模拟该目标）：{c}",
                 "  candidates not applicable (not modelled for this dataset): {c}")):
            if len(kinds[kind]):
                lines.append(L.pick(zh=zh, en=en, c=", ".join(kinds[kind]["candidate"])))
    status = replan_status(t)
    missed = status[~status["met"]]
    if len(missed):
        lines.append(L.pick(zh="  重新规划（按配置的目标设定）未满足：", en="  the re-plan (targets as "
                            "configured) misses: ") + L.pick(zh="；", en="; ").join(
            f"{L.target_key(r.target_key)}（{r.target_key}）：{L.term('required')}"
            f"{L.term('sense.' + r.sense)} {L.amount(r.required, r.unit, '.4g')}，重新规划 "
            f"{L.amount(r.achieved_replan, r.unit, '.4g')}" if L.zh else
            f"{r.target_key} required {r.sense} {_g(r.required)} {r.unit}, achieved "
            f"{_g(r.achieved_replan)}" for r in missed.itertuples(index=False)))
    return lines


def at_risk_groups(targets: pd.DataFrame) -> list[str]:
    """The targets at risk, one name per target over all its years (``cycle_months[city]``)."""
    risk = targets[targets["at_risk"]]
    return list(dict.fromkeys(f"{r.target_id}[{r.scope}]" for r in risk.itertuples(index=False)))


def write_review(run_dir: Path, tables: Mapping[str, pd.DataFrame], original: Outcome,
                 course: Outcome | None, meta: Mapping[str, Any]) -> None:
    """The review's files: the original and course sub-runs, the review tables (the same CSV
    format as results.write_run), the charts and the note (which reads the CSVs back)."""
    results.write_run(run_dir / "original", original.tables,
                      {**original.summary, "run_dir": str(run_dir / "original")})
    if course is not None:
        results.write_run(run_dir / "course", course.tables,
                          {**course.summary, "run_dir": str(run_dir / "course")})
    for name, frame in tables.items():
        write_csv(frame, run_dir / f"{name}.csv")
    (run_dir / "review_meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                              encoding="utf-8")
    for lang in ("zh", "en"):
        paths_chart(run_dir, lang)
        if "adjustments" in tables:
            adjustments_chart(run_dir, lang)
    write_note(run_dir)


def _plt():
    from model.plotting import pyplot

    return pyplot()


PATH_STYLE = {"original": ("tab:blue", "--"), "actual": ("black", "-"),
              "course": ("tab:orange", ":"), "replan": ("tab:green", "-")}


CHART_TEXT = {
    "zh": {"land_ha": "住宅用地出让（公顷）", "supply_10k_m2": "商品住宅预售（万㎡）",
           "inventory_end_10k_m2": "年末库存（万㎡）", "cycle_end_months": "去化周期（个月）",
           "original": "原规划", "actual": "实际", "course": "现行路径", "replan": "重新规划",
           "paths": "全市：原规划、实际、现行路径与重新规划",
           "p_band": "重放：{final}年12月全市去化周期处于12—18个月的概率",
           "delta_unmet": "用地变化（公顷，相对保持目标）", "infeasible": "不可行",
           "adjust": "各项目标调整：相对保持目标的变化"},
    "en": {"land_ha": "land sold, ha", "supply_10k_m2": "presale, 万m²",
           "inventory_end_10k_m2": "unsold stock, end of year, 万m²",
           "cycle_end_months": "destocking cycle, months",
           "original": "adopted plan", "actual": "actual", "course": "current course",
           "replan": "re-plan", "paths": "City: adopted plan, actual, current course, re-plan",
           "p_band": "replay: P(city cycle in 12–18 months, December {final})",
           "delta_unmet": "change in land, ha (against keeping the targets)",
           "infeasible": "infeasible",
           "adjust": "each adjustment against keeping the targets"},
}


def paths_chart(run_dir: Path, lang: str = "zh") -> Path:
    """review_paths.png (review_paths_en.png): city land, presale, end-of-year stock and cycle by
    year on the four paths (read from review_comparison.csv); Chinese labels by default."""
    plt = _plt()
    text = CHART_TEXT[lang]
    comp = read_csv(run_dir / "review_comparison.csv")
    city = comp[comp["region"] == "city"].sort_values("year")
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, q in zip(axes, ("land_ha", "supply_10k_m2", "inventory_end_10k_m2",
                            "cycle_end_months")):
        for path in PATHS:
            col = f"{q}_{path}"
            if col in city and city[col].notna().any():
                color, style = PATH_STYLE[path]
                ax.plot(city["year"], city[col], style, color=color, marker="o", ms=3,
                        label=text[path])
        ax.set_title(text[q], fontsize=9)
        ax.set_xticks(sorted(city["year"]))
        ax.tick_params(labelsize=8)
    axes[-1].axhspan(12, 18, color="green", alpha=0.08)
    axes[0].legend(fontsize=7)
    fig.suptitle(text["paths"], fontsize=10)
    fig.tight_layout()
    out = run_dir / ("review_paths.png" if lang == "zh" else "review_paths_en.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def adjustments_chart(run_dir: Path, lang: str = "zh") -> Path:
    """adjustments.png (adjustments_en.png): for each candidate, the change in unmet demand
    against keeping the targets (万m²) and the replay's probability that the city ends December
    of the last year in the 12–18-month band; infeasible candidates marked."""
    plt = _plt()
    text = CHART_TEXT[lang]
    adj = read_csv(run_dir / "adjustments.csv")
    n = len(adj)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.42 * n + 1.6), sharey=True)
    y = np.arange(n)[::-1]
    feasible = adj["feasible"].astype(bool)
    delta = adj["delta_land_ha"].fillna(0.0)
    colors = ["tab:green" if bool(s) else ("tab:blue" if f else "lightgrey")
              for s, f in zip(adj["smallest_change"], feasible)]
    ax1.barh(y, delta, color=colors)
    for yi, f, d in zip(y, feasible, delta):
        ax1.text(0, yi, f"  {text['infeasible']}" if not f else f" {d:+.1f}", va="center",
                 fontsize=7)
    ax1.axvline(0, color="grey", lw=0.6)
    ax1.set_yticks(y)
    ax1.set_yticklabels(adj["candidate"], fontsize=8)
    ax1.set_xlabel(text["delta_unmet"], fontsize=8)
    ax1.set_title(text["adjust"], fontsize=9)
    ax2.barh(y, adj["p_cycle_in_band"].fillna(0.0),
             color=["tab:blue" if f else "lightgrey" for f in feasible])
    ax2.set_xlim(0, 1)
    final = int(json.loads((run_dir / "review_meta.json").read_text(encoding="utf-8"))
                ["final_year"]) if (run_dir / "review_meta.json").exists() else ""
    ax2.set_xlabel(text["p_band"].format(final=final), fontsize=8)
    fig.tight_layout()
    out = run_dir / ("adjustments.png" if lang == "zh" else "adjustments_en.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def image_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def escape(text: Any) -> str:
    return html.escape(str(text))


# ---------------------------------------------------------------------------------------------
# The note for officials (every number read back from the run's files)
# ---------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 1) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "–" if math.isnan(x) else "∞"
    text = f"{x:,.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0.0"


NOTE_TEXT = {
    "zh": {
        "title": "住房发展规划中期评估：供会议使用的要点",
        "years": "{obs}年为实际数据（{file}），{rest}年重新规划；比较基准为{base}。面积单位万㎡，用地单位"
                 "公顷，金额单位亿元；所有数字均取自本次运行的文件（见附件）。",
        "base_plan": "已通过规划（{sup}批准预售、{land}用地各行）",
        "base_file": "基准方案（{file}）",
        "risk": "按现行路径（{rest}年沿用{base_short}的用地，批准预售以其用地能形成的可售面积为限），"
                "{n}项规划目标存在风险：{items}。",
        "norisk": "按现行路径（{rest}年沿用{base_short}的用地与批准预售），规划目标均无风险。",
        "noadj": "目标不需调整，但{rest}年的年度供地与批准预售安排须调整（见下）：从{last}年末实际状态"
                 "重新规划满足{met}",
        "noadj_keep": "从可行性看目标不需调整：{hard}作为硬约束时，从{last}年末实际状态重新规划仍有可行"
                      "方案（adjustments.csv中的keep_targets：用地总量{land}公顷，{final}年全市去化周期{c}"
                      "个月，未满足需求{unmet}万㎡）。但下文的重新规划（规划目标按软约束处理，超出时"
                      "计入代价而不禁止）未满足：{missed}；满足：{met}",
        "all_met": "，规划目标与模型检查均已满足",
        "missed": "；未满足：{items}",
        "spend": "。重新规划需公共收购存量{buy}万㎡、公共支出{spend}亿元。",
        "met_none": "（无）",
        "noadj_risk": "按市场重放，{final}年12月全市去化周期处于{lo_band}—{hi_band}个月合理区间的概率为"
                      "{p}（各需求情景{lo}—{hi}），低于{pmin}（即每10次重放中不到{n10}次落在区间内；"
                      "{pmin}为稳健方案要求达到的概率，配置项{pkey}）：结果对需求水平敏感，{next}年"
                      "以后须按年复核。",
        "adj": "需要调整目标：保持现有目标不可行（最小放宽：{relax}）；能恢复可行的最小调整为：{change}。",
        "item_met": "{name}{sense}{req}（{got}）",
        "item_missed": "{name}要求{sense}{req}，重新规划{got}（{gap}）",
        "over": "超出{x}", "short": "差{x}", "points": "个百分点",
        "unmet_met": "{scope}无未满足需求（{period}）",
        "unmet_missed": "{scope}未满足需求{got}（{period}）",
        "floor_note": "，低于{lo_band}—{hi_band}个月合理区间的下限：库存偏紧",
        "sold_out": "{region}{year}年末库存售罄",
        "per_year": "每年",
        "per_year_after": "",
        "land_rule_obs": "{obs}年实际出让在{n}个区域·年份超出土地规则允许的面积（共{x}公顷；"
                         "{items}）",
        "land_rule_obs_item": "{region}{year}年超出{x}公顷",
        "above_line": "{final}年末去化周期仍高于{line}个月（土地规则：高于此线的区域暂停新增住宅用地出让，"
                      "{src}）的区域：{items}个月",
        "feed_short": "为{next}年准备的可售面积（期末供地）不足所需一半的区域：{items}（所需量为"
                      "{final}年需求×terminal.feed_share）",
        "feed_item": "{region}{got}/{req}万㎡",
        "notested": "本次未评估目标调整（review.adjust=false）。",
        "replan": "重新规划：{rest}年新增住宅用地分别为{land}公顷（{base_short}{oland}），批准预售"
                  "（新增供应）面积分别为{sale}万㎡（{base_short}{osale}）。",
        "happened": "{obs}年实际出让住宅用地{land}公顷，为{base_short}（{oland}公顷）的{pct}；{last}年末"
                    "库存{stock}万㎡，去化周期{cyc}个月（{base_short}为{ocyc}个月）。",
        "vacancy": "空置率目标（全市{vc}、主城区{vm}）在任何供应方案下都无法实现：需要租赁转化、拆除等"
                   "供应以外的手段（本模型未模拟）。",
        "s1": "一、{obs}年实际情况与{base_short}",
        "s2": "二、不作调整时的风险",
        "s3": "三、{rest}年重新规划",
        "s4": "四、目标调整的取舍",
        "annex": "附件",
        "cols_happened": ["范围", "指标", "{base_short}", "实际"],
        "cols_replan": ["年份", "范围", "出让用地（公顷）", "批准预售（万㎡）", "销售（万㎡）",
                        "年末库存（万㎡）", "去化周期（个月）"],
        "cols_adj": ["候选调整", "目标变化", "可行", "与保持目标相同", "未满足需求变化（万㎡）",
                     "用地变化（公顷）", "公共支出变化（亿元）", "全市{final}年去化周期（个月）",
                     "P({lo_band}—{hi_band}个月)"],
        "infeasible": "否；最小可行：{relax}",
        "risk_item": "{t}：要求{sense}{req}{unit}，现行路径{course}，重新规划{replan}",
        "checks": "模型检查（非规划目标）：{items}。",
        "rules": "规则：现行路径下土地规则、供应节奏或期末供地在{n}个区域·年份不满足（见"
                 "review_targets.csv，kind = rule）。",
        "replay": "市场重放（{reps}次重复，从{last}年末实际状态起）：{final}年12月全市去化周期处于{lo_band}—{hi_band}个月"
                  "的概率为{p}；按需求情景为{lo}—{hi}（uncertainty.csv）。",
        "same": "以下候选调整与保持目标得到同一方案（调整后的目标在重新规划中不起约束作用）：",
        "same_value": "以下候选调整的取值与现有目标相同，方案不变：",
        "not_applicable": "以下候选调整不适用（本数据集未模拟该目标）：",
        "quantities": {"land_ha": "出让用地（公顷）", "supply_10k_m2": "批准预售（万㎡）",
                       "sales_10k_m2": "销售（万㎡）", "inventory_end_10k_m2": "年末库存（万㎡）",
                       "cycle_end_months": "去化周期（个月）"},
        "scopes": {"city": "全市", "main_city": "主城区"},
        "caveats": "说明：实际数据只记录销售、不记录需求，因此已观测年份的未满足需求记为0。",
        "example": "本次使用的是随附的示例实际数据，并非统计数据。",
        "presale_above": "实际批准预售超过时序模型由已出让土地形成的可售面积（共{x}万㎡，{where}），"
                         "期初在途面积可能被低估。",
        "files": ["review_comparison.csv：基准、实际、现行路径、重新规划，按区域和年份对照",
                  "review_targets.csv：每项目标在各路径上的结果（at_risk为风险目标）",
                  "review_headline.csv、review_changes.csv：主要指标与变化",
                  "plan.csv、targets.csv、uncertainty.csv：重新规划；original/、course/：基准与现行路径",
                  "adjustments.csv：每项候选调整（均以万㎡、公顷、亿元计）"],
        "yes": "是", "no": "否", "max": "不高于", "min": "不低于", "sep": "、",
        "none": "无",
    },
    "en": {
        "title": "Mid-term review of the housing plan: points for the meeting",
        "years": "{obs} observed ({file}); {rest} re-planned; the baseline is {base}. Floor area in "
                 "万m², land in hectares, money in 亿元; every number is read from this run's files "
                 "(see the annex).",
        "base_plan": "the adopted plan ({sup} presale approvals and {land} land, rows)",
        "base_file": "the baseline plan ({file})",
        "risk": "On the current course ({base_short}'s land for {rest}, its presale approvals as "
                "far as that land can make floor area ready), {n} of the plan's target(s) are at "
                "risk: {items}.",
        "norisk": "On the current course ({base_short}'s land and presale for {rest}), none of "
                  "the plan's targets is at risk.",
        "noadj": "No target needs adjusting, but the yearly land and presale for {rest} do (see "
                 "below): a re-plan from the observed end of {last} meets {met}",
        "noadj_keep": "No target needs adjusting for feasibility: with {hard} held as hard limits "
                      "a re-plan from the observed end of {last} still exists (adjustments.csv, "
                      "keep_targets: land {land} ha, city cycle {c} months in {final}, unmet demand "
                      "{unmet} 万m²). But the re-plan below (the plan's targets soft: a miss is costed, not "
                      "forbidden) misses {missed}; it meets {met}",
        "all_met": "; every plan target and tool check is met",
        "missed": "; it misses {items}",
        "spend": ". The re-plan needs {buy} 万m² of unsold stock bought by the public and {spend} "
                 "亿元 of public spending.",
        "met_none": "(none)",
        "noadj_risk": " In the market replay the city cycle ends December {final} in the "
                      "{lo_band}–{hi_band}-month band with probability {p} (across demand cases "
                      "{lo}–{hi}), below {pmin} (fewer than {n10} in 10 replays in the band; {pmin} "
                      "is the probability a robust plan must reach, config key {pkey}): the result "
                      "depends on the level of demand; review it every year from {next}.",
        "adj": "An adjustment is needed: keeping the targets is infeasible (smallest relaxation: "
               "{relax}); the smallest change that restores feasibility: {change}.",
        "item_met": "{name} {sense} {req} ({got})",
        "item_missed": "{name}: required {sense} {req}, re-plan {got} ({gap})",
        "over": "over by {x}", "short": "short by {x}", "points": " percentage points",
        "unmet_met": "no unmet demand, {scope} ({period})",
        "unmet_missed": "unmet demand {got}, {scope} ({period})",
        "floor_note": ", below the floor of the {lo_band}–{hi_band}-month band: stock runs short",
        "sold_out": "{region} sold out at the end of {year}",
        "per_year": "",
        "per_year_after": " a year",
        "land_rule_obs": "In {obs} land sold broke the land rule in {n} region-years ({x} ha above "
                         "what it allowed in all; {items})",
        "land_rule_obs_item": "{region} {year} by {x} ha",
        "above_line": "Regions still above {line} months at the end of {final} (the land rule "
                      "suspends new residential land above that line, {src}): {items} months",
        "feed_short": "regions whose land makes ready less than half of what {next} needs (the "
                      "terminal feed, {final} demand × terminal.feed_share): {items}",
        "feed_item": "{region} {got} of {req} 万m²",
        "notested": "Target adjustments were not evaluated (review.adjust=false).",
        "replan": "The re-plan: new residential land {land} ha in {rest} ({base_short} {oland}), "
                  "presale approvals (new supply) {sale} 万m² ({base_short} {osale}).",
        "happened": "In {obs} the city sold {land} ha of residential land, {pct} of {base_short}'s "
                    "{oland} ha; at the end of {last} the stock is {stock} 万m², a {cyc}-month "
                    "cycle ({base_short} {ocyc} months).",
        "vacancy": "The vacancy targets (city {vc}, main city {vm}) are out of reach of any supply "
                   "plan: they need instruments beyond supply (conversion to rental, demolition; "
                   "not modelled).",
        "s1": "1. What happened in {obs}, against {base_short}",
        "s2": "2. Risks if nothing changes",
        "s3": "3. The re-plan for {rest}",
        "s4": "4. Adjusting targets: the trade-offs",
        "annex": "Annex",
        "cols_happened": ["scope", "indicator", "{base_short}", "actual"],
        "cols_replan": ["year", "scope", "land sold, ha", "presale approvals, 万m²", "sales, 万m²",
                        "stock at year end, 万m²", "cycle, months"],
        "cols_adj": ["candidate", "target change", "feasible", "same plan as keeping targets",
                     "Δ unmet demand, 万m²", "Δ land, ha", "Δ public spending, 亿元",
                     "city cycle {final}, months", "P({lo_band}–{hi_band} months)"],
        "infeasible": "no; feasible from {relax}",
        "risk_item": "{t}: required {sense} {req}{unit}, current course {course}, re-plan {replan}",
        "checks": "The tool's checks (not plan targets): {items}.",
        "rules": "Rules: on the current course the land rule, the pace or the land for the year "
                 "after the plan are not met in {n} region-years (review_targets.csv, kind = rule).",
        "replay": "Market replay ({reps} replications, from the observed end of {last}): P(city "
                  "cycle in {lo_band}–{hi_band} months, December {final}) = {p}; {lo}–{hi} across demand cases "
                  "(uncertainty.csv).",
        "same": "These candidates give the same plan as keeping the targets (the changed target "
                "does not bind in the re-plan):",
        "same_value": "These candidates set the targets to their present values (the same plan):",
        "not_applicable": "These candidates are not applicable (not modelled for this dataset):",
        "quantities": {"land_ha": "land sold, ha", "supply_10k_m2": "presale approvals, 万m²",
                       "sales_10k_m2": "sales, 万m²",
                       "inventory_end_10k_m2": "stock at year end, 万m²",
                       "cycle_end_months": "cycle, months"},
        "scopes": {"city": "city", "main_city": "main city"},
        "caveats": "Caveats: the actuals record sales, not demand, so unmet demand in the observed "
                   "years counts as 0.",
        "example": "This run uses the shipped actuals, an illustrative example, not statistics.",
        "presale_above": "Observed presale approvals exceed the floor area the timing model makes "
                         "ready from land sold ({x} 万m² in all; {where}): the opening pipeline may "
                         "be understated.",
        "files": ["review_comparison.csv: baseline, actual, current course and re-plan per "
                  "region and year",
                  "review_targets.csv: every target on each path (at_risk)",
                  "review_headline.csv, review_changes.csv: headline indicators and changes",
                  "plan.csv, targets.csv, uncertainty.csv: the re-plan; original/, course/: the "
                  "baseline and the current course",
                  "adjustments.csv: every candidate, in 万m², ha and 亿元"],
        "yes": "yes", "no": "no", "max": "at most", "min": "at least", "sep": ", ",
        "none": "none",
    },
}
BASE_SHORT = {"zh": ("已通过规划", "基准方案"), "en": ("the adopted plan", "the baseline")}


def _join(values, digits: int = 2) -> str:
    return " / ".join(_f(v, digits) for v in values)


#: The note names a region's land for the year after the plan (terminal_feed rows) when that land
#: makes ready less than this share of what the year needs.
TERMINAL_SHORT_SHARE = 0.5
#: A region whose stock at a year end is below this (万m²) is sold out.
SOLD_OUT_10K_M2 = 0.05
#: The config group of each target id (review.hard names groups).
TARGET_GROUP = {"cycle_months": "cycle", "cycle_floor_months": "cycle_floor",
                "vacancy_share": "vacancy", "land_total_ha": "land_total",
                "supply_total_10k_m2": "supply_total", "subsidised_volume_10k_m2": "subsidised",
                "subsidised_share": "subsidised"}
#: The target ids a candidate's override key touches (``targets.vacancy.mode`` → vacancy_share).
OVERRIDE_TARGETS = (("targets.vacancy", ("vacancy_share",)),
                    ("targets.cycle_floor", ("cycle_floor_months",)),
                    ("targets.cycle", ("cycle_months",)),
                    ("targets.land_total", ("land_total_ha",)),
                    ("targets.supply_total", ("supply_total_10k_m2",)),
                    ("targets.subsidised", ("subsidised_volume_10k_m2", "subsidised_share")))


def note_thresholds(settings: RunConfig, ds: Dataset) -> dict:
    """The thresholds the note names, and where each comes from (review_meta.json
    ``thresholds``): the reasonable band (objective.band_low_months / band_high_months, else the
    dataset's facts, else 12–18), the land rule's suspension line (land.suspend_above_months, the
    dataset's, else the national rule's 36 months), the probability of ending in the band below
    which the note calls the re-plan fragile (robust.chance_alpha: the P(in band) a robust plan
    must reach) and the terminal-feed share (:data:`TERMINAL_SHORT_SHARE`)."""
    inputs = build_inputs(settings, ds)
    return {"band_low_months": float(inputs.band_low_months),
            "band_high_months": float(inputs.band_high_months),
            "land_rule_suspend_above_months": float(inputs.suspend_above_months),
            "land_rule_source": str(inputs.land_rule_source),
            "p_band_min": float(settings.robust.chance_alpha),
            "p_band_min_key": "robust.chance_alpha",
            "terminal_short_share": TERMINAL_SHORT_SHARE}


def _thresholds(meta: Mapping[str, Any]) -> dict:
    """review_meta.json's thresholds, with the defaults for a run directory written before."""
    out = {"band_low_months": 12.0, "band_high_months": 18.0,
           "land_rule_suspend_above_months": 36.0, "land_rule_source": "",
           "p_band_min": 0.8, "p_band_min_key": "robust.chance_alpha",
           "terminal_short_share": TERMINAL_SHORT_SHARE}
    out.update(meta.get("thresholds") or {})
    return out


def _bool(x: Any) -> bool | None:
    """A met_* cell read back from CSV: True, False or None (not evaluated)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, str):
        return {"true": True, "false": False}.get(x.strip().lower())
    return bool(x)


def replan_status(targets: pd.DataFrame) -> pd.DataFrame:
    """The re-plan against every plan target and tool check (unmet demand, the band floor, a
    derived subsidised volume) of the years still to plan, as review_targets.csv records it:
    one row per target over its years (target_id, scope) — ``met`` when every year is met; a
    missed one keeps its year with the largest shortfall. Targets the dataset does not have have
    no rows, so they can never be listed as kept."""
    t = targets[targets["kind"].isin(["target", "check"])
                & ~targets["observed_year"].map(_bool).fillna(False).astype(bool)].copy()
    t["_met"] = t["met_replan"].map(_bool)
    t = t[t["_met"].notna()]
    rows = []
    for (_tid, _scope), part in t.groupby(["target_id", "scope"], sort=False):
        met = part["_met"].astype(bool)
        if met.all():
            r = part.iloc[-1].copy()
        else:
            miss = part[~met]
            r = miss.loc[miss["shortfall_replan"].astype(float).idxmax()].copy()
        r["met"] = bool(met.all())
        r["years"] = len(part)
        r["periods"] = _period([str(p) for p in part["period"]]) if len(part) > 1 else str(
            r["period"])
        r["group"] = TARGET_GROUP.get(r["target_id"])
        rows.append(r)
    return pd.DataFrame(rows).reset_index(drop=True) if rows else t.iloc[:0].assign(
        met=[], years=[], periods=[], group=[])


def sold_out(plan: pd.DataFrame) -> list[tuple[str, int]]:
    """(region, first year) for each region whose stock the re-plan runs out in a year still to
    plan (below :data:`SOLD_OUT_10K_M2` at the year end)."""
    p = plan[~plan["observed"].map(_bool).fillna(False).astype(bool)]
    p = p[p["inventory_end_10k_m2"].astype(float) < SOLD_OUT_10K_M2].sort_values("year")
    return [(r, int(g["year"].iloc[0])) for r, g in p.groupby("region", sort=False)]


def _scope_text(scope: str, comp: pd.DataFrame, lang: str) -> str:
    if scope in NOTE_TEXT[lang]["scopes"]:
        return NOTE_TEXT[lang]["scopes"][scope]
    return _region_name(comp, scope, lang)


def _period_text(period: str, lang: str) -> str:
    return str(period).replace("-", "—" if lang == "zh" else "–")


def status_items(status: pd.DataFrame, comp: pd.DataFrame, meta: Mapping[str, Any],
                 lang: str) -> tuple[list[str], list[str]]:
    """(met, missed): the re-plan's targets and checks as the note prints them. Met ones are
    merged across scopes with the same requirement (去化周期（2030）不高于18.0个月（全市15.8、
    主城区13.9）); each missed one names its requirement, the re-plan's value and the gap."""
    tx, th = NOTE_TEXT[lang], _thresholds(meta)
    sep = tx["sep"]
    met, missed = [], []
    done = status[status["met"]]
    for _key, part in done.groupby(["target_id", "periods", "required", "unit", "sense"],
                                   sort=False):
        r = part.iloc[0]
        scopes = [_scope_text(s, comp, lang) for s in part["scope"]]
        period = _period_text(r["periods"], lang)
        if r["target_id"] == "unmet_demand_10k_m2":
            met.append(tx["unmet_met"].format(scope=sep.join(scopes), period=period))
            continue
        zh, en = TARGET_NAMES.get(r["target_id"], (r["target_id"], r["target_id"]))
        name = f"{zh}（{period}）" if lang == "zh" else f"{en} ({period})"
        many = r["years"] > 1
        req = (f"{_v(r['required'], r['unit'])}{_unit(r['unit'], lang)}"
               f"{tx['per_year_after'] if many else ''}")
        if many:
            got = sep.join(scopes)
        else:
            got = sep.join(f"{s}{'' if lang == 'zh' else ' '}{_v(a, r['unit'])}"
                           for s, a in zip(scopes, part["achieved_replan"]))
        sense = (tx["per_year"] if many else "") + tx[r["sense"]]
        met.append(tx["item_met"].format(name=name, sense=sense, req=req, got=got))
    for r in status[~status["met"]].itertuples(index=False):
        scope = _scope_text(r.scope, comp, lang)
        period = _period_text(r.period, lang)
        got = f"{_v(r.achieved_replan, r.unit)}{_unit(r.unit, lang)}"
        if r.target_id == "unmet_demand_10k_m2":
            missed.append(tx["unmet_missed"].format(scope=scope, got=got, period=period))
            continue
        zh, en = TARGET_NAMES.get(r.target_id, (r.target_id, r.target_id))
        name = f"{scope}{zh}（{period}）" if lang == "zh" else f"{en}, {scope} ({period})"
        x = (f"{_v(r.shortfall_replan, r.unit)}{_unit(r.unit, lang)}" if r.unit != "share" else
             f"{float(r.shortfall_replan) * 100:.1f}{tx['points']}")
        gap = tx["over" if r.sense == "max" else "short"].format(x=x)
        text = tx["item_missed"].format(name=name, sense=tx[r.sense],
                                        req=f"{_v(r.required, r.unit)}{_unit(r.unit, lang)}",
                                        got=got, gap=gap)
        if r.target_id == "cycle_floor_months":
            text = text[:-1] + tx["floor_note"].format(
                lo_band=_g(th["band_low_months"]), hi_band=_g(th["band_high_months"])) + text[-1]
        missed.append(text)
    return met, missed


def verdict_text(targets: pd.DataFrame, plan: pd.DataFrame, comp: pd.DataFrame,
                 adj: pd.DataFrame, head: pd.DataFrame, meta: Mapping[str, Any], lang: str,
                 rest: str, last: int, final: int) -> str:
    """The answer when keeping the targets is feasible (``keep_targets`` in adjustments.csv):
    no target needs adjusting — then exactly what the re-plan the note shows meets and misses,
    read from review_targets.csv (achieved against required, the band floor and unmet demand
    included) and plan.csv (regions sold out). Only targets with rows are named, so a target the
    dataset does not have is never said to be kept; when the re-plan misses a target of
    review.hard that keeping is feasible for, the keep_targets plan's land, cycle and unmet
    demand are given beside it."""
    tx = NOTE_TEXT[lang]
    status = replan_status(targets)
    met, missed = status_items(status, comp, meta, lang)
    missed += [tx["sold_out"].format(region=_region_name(comp, r, lang), year=y)
               for r, y in sold_out(plan)]
    hard = [g for g in meta.get("hard", []) if g in set(status["group"].dropna())]
    hard_missed = status[~status["met"] & status["group"].isin(hard)]
    met_text = tx["sep"].join(met) or tx["met_none"]
    if len(hard_missed):
        keep = adj[adj["candidate"] == KEEP].iloc[0]
        text = tx["noadj_keep"].format(
            hard=tx["sep"].join(GROUP_NAMES.get(g, (g, g))[0 if lang == "zh" else 1]
                                for g in hard),
            last=last, final=final, land=_f(keep["land_total_ha"], 2),
            c=_f(keep["cycle_months_city_end"]), unmet=_f(keep["unmet_demand_10k_m2"], 2),
            missed=tx["sep"].join(missed), met=met_text)
    else:
        text = tx["noadj"].format(rest=rest, last=last, met=met_text)
        text += tx["missed"].format(items=tx["sep"].join(missed)) if missed else tx["all_met"]
    h = head.set_index("indicator")
    return text + tx["spend"].format(buy=_f(h.loc["purchased_10k_m2", "replan"]),
                                     spend=_f(h.loc["public_spending_100m_yuan", "replan"], 2))


RELAXATION_PART = re.compile(r"(\w+)\[([^\]]+)\] (\S+) → (\S+) (\S+) \(([+−-])(\S+)\)")


def relaxation_note(text: Any, comp: pd.DataFrame, lang: str) -> str:
    """adjustments.csv's ``relaxation`` (``vacancy_share[city] 0.2 → 0.2923 share (+0.09235)``)
    as the smallest feasible level of each conflicting target, in the note's language: 全市空置率
    29.2% / city vacancy 29.2%. Text it cannot read is returned as it is."""
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    parts = []
    for m in RELAXATION_PART.finditer(text):
        tid, scope, _old, new, unit = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
        unit = {"months": "months", "share": "share", "ha": "ha"}.get(unit, unit)
        try:
            value = float(new)
        except ValueError:
            continue
        zh, en = TARGET_NAMES.get(tid, (tid, tid))
        where = _scope_text(scope, comp, lang)
        level = f"{value:.2%}" if unit == "share" else f"{_v(value, unit)}{_unit(unit, lang)}"
        parts.append(f"{where}{zh}{level}" if lang == "zh" else f"{where} {en} {level}")
    return NOTE_TEXT[lang]["sep"].join(parts) if parts else text


def _override_targets(overrides: str) -> set[str]:
    """The target ids a candidate's overrides (adjustments.csv ``overrides``) touch."""
    out: set[str] = set()
    for item in str(overrides).split(";"):
        key = item.split("=")[0].strip()
        for prefix, ids in OVERRIDE_TARGETS:
            if key.startswith(prefix):
                out.update(ids)
                break
    return out


def _override_text(overrides: str, lang: str, has_main: bool = True) -> str:
    """A candidate's overrides in words (空置率改为硬约束；全市空置率 22.0%), for a candidate that
    changes no target of this dataset and so has no target_change text; main-city values are
    left out for a dataset without a main city."""
    out = []
    scopes = NOTE_TEXT[lang]["scopes"]
    for item in str(overrides).split(";"):
        key, _, value = item.strip().partition("=")
        field_ = key.split(".")
        if len(field_) == 3 and field_[0] == "targets" and field_[2] == "mode":
            g = GROUP_NAMES.get(field_[1], (field_[1], field_[1]))
            out.append(f"{g[0]}目标改为{'硬约束' if value == 'hard' else value}" if lang == "zh"
                       else f"{g[1]} target {value}")
            continue
        name = field_[-1]
        for tid, unit in (("vacancy_share", "share"), ("cycle_months", "months"),
                          ("land_total_ha", "ha"), ("supply_total_10k_m2", "10k_m2"),
                          ("subsidised_volume_10k_m2", "10k_m2")):
            if name.startswith(tid.split("_10k")[0].replace("_ha", "").replace("_share", "")):
                scope = ("main_city" if "main_city" in name else "city")
                if scope == "main_city" and not has_main:
                    break
                try:
                    v = _v(float(value), unit) + _unit(unit, lang)
                except ValueError:
                    v = value
                zh, en = TARGET_NAMES[tid]
                out.append(f"{scopes[scope]}{zh} {v}" if lang == "zh" else
                           f"{en}, {scopes[scope]} {v}")
                break
        else:
            out.append(item.strip())
    return ("；" if lang == "zh" else "; ").join(o for o in out if o)


def candidate_groups(adj: pd.DataFrame, targets: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The candidates other than keep_targets, in four groups: ``not_applicable`` (they change
    only targets this dataset does not model — no rows in review_targets.csv, e.g. vacancy
    without vacancy figures), ``same_value`` (they set targets to their present values),
    ``same`` (a changed target that does not bind: the very same plan) and ``shown`` (the
    trade-off table)."""
    shown = adj[adj["candidate"] != KEEP]
    present = set(targets["target_id"])
    no_change = shown["target_change"].fillna("none").astype(str).isin(["none", ""])
    touched = shown["overrides"].map(_override_targets)
    same_plan = shown["changes_nothing"].map(_bool).fillna(False).astype(bool)
    absent = no_change & same_plan & touched.map(lambda ids: bool(ids) and not (ids & present))
    same_value = no_change & same_plan & ~absent
    same = same_plan & ~no_change & ~same_value
    return {"not_applicable": shown[absent], "same_value": shown[same_value],
            "same": shown[same], "shown": shown[~(absent | same_value | same)]}


def candidate_bullet(row, lang: str, has_main: bool = True) -> str:
    """One candidate as a bullet: its change in words, its id in brackets."""
    text = str(row.get("target_change_zh" if lang == "zh" else "target_change", "") or "")
    if text in ("", "无", "none", "nan"):
        text = _override_text(row["overrides"], lang, has_main)
    elif lang == "zh":
        text = text.replace("；", "，")
    return f"{text}（{row['candidate']}）" if lang == "zh" else f"{text} ({row['candidate']})"


def land_rule_observed(targets: pd.DataFrame, comp: pd.DataFrame, main_id: str | None,
                       lang: str, obs: str) -> str:
    """The observed years' land-rule breaches (land_rule rows of an observed year the actuals
    miss): how many region-years, the hectares above what the rule allowed, the largest three
    (the main city first)."""
    t = targets[(targets["target_id"] == "land_rule")
                & targets["observed_year"].map(_bool).fillna(False).astype(bool)]
    t = t[t["met_replan"].map(_bool).eq(False)]
    if t.empty:
        return ""
    t = t.assign(_main=t["scope"].eq(main_id)).sort_values(["_main", "shortfall_replan"],
                                                             ascending=False)
    tx = NOTE_TEXT[lang]
    items = tx["sep"].join(tx["land_rule_obs_item"].format(
        region=_scope_text(r.scope, comp, lang), year=r.period, x=_f(r.shortfall_replan, 2))
        for r in t.head(3).itertuples(index=False))
    if len(t) > 3:
        items += "等" if lang == "zh" else " and others"
    return tx["land_rule_obs"].format(obs=obs, n=len(t), x=_f(t["shortfall_replan"].sum(), 2),
                                      items=items)


def replan_rules(targets: pd.DataFrame, plan: pd.DataFrame, comp: pd.DataFrame,
                 meta: Mapping[str, Any], lang: str, final: int) -> list[str]:
    """After the re-plan: regions still above the land rule's suspension line at the end of the
    final year (plan.csv), and regions whose land makes ready less than
    :data:`TERMINAL_SHORT_SHARE` of what the year after the plan needs (terminal_feed rows)."""
    tx, th = NOTE_TEXT[lang], _thresholds(meta)
    out = []
    line = float(th["land_rule_suspend_above_months"])
    end = plan[(plan["year"] == final) & (plan["cycle_end_months"].astype(float) > line)]
    if len(end):
        out.append(tx["above_line"].format(
            final=final, line=_g(line), src=th["land_rule_source"] or "land.rule",
            items=tx["sep"].join(f"{_region_name(comp, r.region, lang)} {_f(r.cycle_end_months)}"
                                 for r in end.itertuples(index=False))))
    feed = targets[(targets["target_id"] == "terminal_feed")
                   & targets["achieved_replan"].notna()]
    feed = feed[feed["achieved_replan"].astype(float)
                < th["terminal_short_share"] * feed["required"].astype(float)]
    if len(feed):
        feed = feed.assign(_gap=feed["required"].astype(float)
                           - feed["achieved_replan"].astype(float)).sort_values(
            "_gap", ascending=False)
        items = tx["sep"].join(tx["feed_item"].format(
            region=_scope_text(r.scope, comp, lang), got=_f(max(r.achieved_replan, 0.0)),
            req=_f(r.required)) for r in feed.head(3).itertuples(index=False))
        if len(feed) > 3:
            items += "等" if lang == "zh" else " and others"
        out.append(tx["feed_short"].format(next=final + 1, final=final, items=items))
    return out


def note_blocks(run_dir: Path, lang: str = "zh") -> list[tuple]:
    """The note as blocks — ("h1"|"h2"|"p"|"key", text), ("ul", [items]), ("table", frame,
    caption), ("img", file, alt), ("annex",) — built only from the files of ``run_dir``. The first
    paragraphs (at most five) are the answer; tables follow; charts and files go to the annex."""
    tx = NOTE_TEXT[lang]
    def read(name: str) -> pd.DataFrame:
        return read_csv(run_dir / name)

    comp, targets, head = read("review_comparison.csv"), read("review_targets.csv"), \
        read("review_headline.csv")
    meta = json.loads((run_dir / "review_meta.json").read_text(encoding="utf-8"))
    adj = read("adjustments.csv") if (run_dir / "adjustments.csv").exists() else None
    unc = read("uncertainty.csv") if (run_dir / "uncertainty.csv").exists() else None
    plan = read("plan.csv")

    obs_years = sorted(comp.loc[comp["observed"], "year"].unique())
    all_years = sorted(comp["year"].unique())
    rest = [y for y in all_years if y not in obs_years]
    p_obs, p_rest = _span(obs_years, lang), _span(rest, lang)
    final, last = all_years[-1], obs_years[-1]
    city = comp[comp["region"] == "city"].set_index("year")
    main_id = meta.get("main_city_id")
    h = head.set_index("indicator")
    original = meta.get("original")
    base_short = BASE_SHORT[lang][1 if original else 0]
    cite = meta.get("cite") or {}
    base = (tx["base_file"].format(file=Path(original).name) if original else
            tx["base_plan"].format(sup=cite.get("supply_guidance", "supply_guidance"),
                                   land=cite.get("land_guidance", "land_guidance")))
    fmt = dict(base_short=base_short)
    th = _thresholds(meta)
    band = {"lo_band": _g(th["band_low_months"]), "hi_band": _g(th["band_high_months"])}

    blocks: list[tuple] = [("h1", tx["title"]),
                           ("p", tx["years"].format(obs=p_obs, rest=p_rest, base=base,
                                                    file=Path(meta["actuals"]).name))]
    # -- the answer: at most five paragraphs ---------------------------------------------------
    groups = at_risk_groups(targets)
    risk = targets[targets["at_risk"]]
    if groups:
        items = []
        for g in groups:
            r = risk[[f"{x.target_id}[{x.scope}]" == g for x in risk.itertuples(index=False)]
                     ].iloc[-1]
            value = f"{_v(r.achieved_course, r.unit)}{_unit(r.unit, lang)}"
            items.append(f"{_target_name(r, lang)}（{value}）" if lang == "zh" else
                         f"{_target_name(r, lang)} ({value})")
        blocks.append(("key", tx["risk"].format(rest=p_rest, n=len(groups),
                                                items=tx["sep"].join(items), **fmt)))
    else:
        blocks.append(("key", tx["norisk"].format(rest=p_rest, **fmt)))
    needed = adjustment_needed(adj)
    p_band = h["replan"].get("p_cycle_in_band_end[city]", np.nan)
    spread = _case_spread(unc)
    if needed is None:
        status = replan_status(targets)
        missed = status_items(status, comp, meta, lang)[1] + [
            tx["sold_out"].format(region=_region_name(comp, r, lang), year=y)
            for r, y in sold_out(plan)]
        blocks.append(("key", tx["notested"] + (
            tx["missed"].format(items=tx["sep"].join(missed)).lstrip("；; ") + ("。" if lang == "zh" else ".")
            if missed else "")))
    elif not needed:
        text = verdict_text(targets, plan, comp, adj, head, meta, lang, p_rest, last, final)
        if p_band == p_band and p_band < th["p_band_min"]:
            text += tx["noadj_risk"].format(
                final=final, p=_f(p_band, 2), lo=spread[0], hi=spread[1],
                next=rest[0] if rest else final, pmin=_g(th["p_band_min"]),
                n10=_g(th["p_band_min"] * 10), pkey=th["p_band_min_key"], **band)
        blocks.append(("key", text))
    else:
        keep = adj[adj["candidate"] == KEEP].iloc[0]
        best = adj[adj["smallest_change"].astype(bool)]
        change = (_change_text(best.iloc[0], lang) if len(best) else tx["none"])
        blocks.append(("key", tx["adj"].format(
            relax=relaxation_note(keep["relaxation"], comp, lang), change=change)))
    text = tx["replan"].format(
        rest=p_rest, land=_join(city.loc[rest, "land_ha_replan"]),
        oland=_join(city.loc[rest, "land_ha_original"]),
        sale=_join(city.loc[rest, "supply_10k_m2_replan"]),
        osale=_join(city.loc[rest, "supply_10k_m2_original"]), **fmt)
    for extra in replan_rules(targets, plan, comp, meta, lang, final):
        text += f"{extra}。" if lang == "zh" else f" {extra[0].upper()}{extra[1:]}."
    blocks.append(("key", text))
    land_obs = city.loc[obs_years, "land_ha_actual"].sum()
    land_orig = city.loc[obs_years, "land_ha_original"].sum()
    text = tx["happened"].format(
        obs=p_obs, land=_f(land_obs, 2), oland=_f(land_orig, 2),
        pct=f"{land_obs / land_orig:.0%}" if land_orig else "–", last=last,
        stock=_f(city.loc[last, "inventory_end_10k_m2_actual"]),
        cyc=_f(city.loc[last, "cycle_end_months_actual"]),
        ocyc=_f(city.loc[last, "cycle_end_months_original"]), **fmt)
    breaches = land_rule_observed(targets, comp, main_id, lang, p_obs)
    if breaches:
        text += (breaches + "。") if lang == "zh" else (" " + breaches + ".")
    blocks.append(("key", text))
    vac = risk[(risk["target_id"] == "vacancy_share") & ~risk["met_replan"].astype(bool)]
    if len(vac):
        req = vac.set_index("scope")["required"]
        blocks.append(("key", tx["vacancy"].format(vc=_v(req.get("city"), "share"),
                                                   vm=_v(req.get("main_city"), "share"))))
    # -- 1. what happened --------------------------------------------------------------------
    blocks.append(("h2", tx["s1"].format(obs=p_obs, **fmt)))
    rows = []
    for scope in ("city", main_id):
        part = comp[comp["region"] == scope].set_index("year") if scope else None
        if part is None or part.empty:
            continue
        name = tx["scopes"]["city" if scope == "city" else "main_city"]
        for q in ("land_ha", "supply_10k_m2", "sales_10k_m2"):
            rows.append([name, tx["quantities"][q], _f(part.loc[obs_years, f"{q}_original"].sum()),
                         _f(part.loc[obs_years, f"{q}_actual"].sum())])
        for q in ("inventory_end_10k_m2", "cycle_end_months"):
            rows.append([name, f"{tx['quantities'][q]} {last}", _f(part.loc[last, f"{q}_original"]),
                         _f(part.loc[last, f"{q}_actual"])])
    columns = [c.format(**fmt) for c in tx["cols_happened"]]
    blocks.append(("table", pd.DataFrame(rows, columns=columns), "review_comparison.csv"))
    above = meta.get("presale_above_ready") or {}
    if above:
        where = tx["sep"].join(f"{_region_name(comp, r, lang)} {_f(v)}" for r, v in above.items())
        blocks.append(("p", tx["presale_above"].format(x=_f(sum(above.values())), where=where)))
    # -- 2. risks ----------------------------------------------------------------------------
    blocks.append(("h2", tx["s2"]))
    items = [tx["risk_item"].format(t=_target_name(r, lang), sense=tx[r.sense],
                                    req=_v(r.required, r.unit), unit=_unit(r.unit, lang),
                                    course=_v(r.achieved_course, r.unit),
                                    replan=_v(r.achieved_replan, r.unit))
             for r in risk.itertuples(index=False)]
    blocks.append(("ul", items or [tx["norisk"].format(rest=p_rest, **fmt)]))
    checks = targets[targets["check_failed"]] if "check_failed" in targets else targets.iloc[:0]
    if len(checks):
        blocks.append(("p", tx["checks"].format(items=tx["sep"].join(
            f"{_target_name(r, lang)} {_v(r.achieved_course, r.unit)}{_unit(r.unit, lang)}"
            for r in checks.drop_duplicates("target_id").itertuples(index=False)))))
    rules = targets[targets["rule_broken"]] if "rule_broken" in targets else targets.iloc[:0]
    if len(rules):
        blocks.append(("p", tx["rules"].format(n=len(rules))))
    # -- 3. the re-plan ----------------------------------------------------------------------
    blocks.append(("h2", tx["s3"].format(rest=p_rest)))
    rows = []
    for y in rest:
        for scope in ("city", main_id):
            part = comp[(comp["region"] == scope) & (comp["year"] == y)] if scope else None
            if part is None or part.empty:
                continue
            r = part.iloc[0]
            rows.append([y, tx["scopes"]["city" if scope == "city" else "main_city"],
                         _f(r["land_ha_replan"], 2), _f(r["supply_10k_m2_replan"]),
                         _f(r["sales_10k_m2_replan"]), _f(r["inventory_end_10k_m2_replan"]),
                         _f(r["cycle_end_months_replan"])])
    blocks.append(("table", pd.DataFrame(rows, columns=tx["cols_replan"]),
                   "review_comparison.csv (re-plan)"))
    if p_band == p_band:
        blocks.append(("p", tx["replay"].format(reps=meta.get("replications", ""), last=last,
                                                final=final, p=_f(p_band, 2), lo=spread[0],
                                                hi=spread[1], **band)))
    # -- 4. adjustments ----------------------------------------------------------------------
    if adj is not None:
        blocks.append(("h2", tx["s4"]))
        kinds = candidate_groups(adj, targets)
        for kind in ("same", "same_value", "not_applicable"):
            if len(kinds[kind]):
                blocks.append(("p", tx[kind]))
                blocks.append(("ul", [candidate_bullet(r, lang, bool(main_id))
                                      for _i, r in kinds[kind].iterrows()]))
        shown = kinds["shown"]
        frame = pd.DataFrame({
            c.format(final=final, **band): v for c, v in zip(tx["cols_adj"], (
                shown["candidate"], [_change_text(r, lang) for _i, r in shown.iterrows()],
                [tx["yes"] if f else tx["infeasible"].format(
                    relax=relaxation_note(x, comp, lang))
                 for f, x in zip(shown["feasible"].map(_bool).fillna(False),
                                 shown["relaxation"])],
                [tx["no"]] * len(shown),
                shown["delta_unmet_demand_10k_m2"].map(lambda x: _f(x, 1)),
                shown["delta_land_ha"].map(lambda x: _f(x, 1)),
                shown["delta_public_spending_100m_yuan"].map(lambda x: _f(x, 2)),
                shown["cycle_months_city_end"].map(lambda x: _f(x, 1)),
                shown["p_cycle_in_band"].map(lambda x: _f(x, 2))))})
        blocks.append(("table", frame.drop(columns=[tx["cols_adj"][3]]),
                       "adjustments.csv"))
    # -- annex -------------------------------------------------------------------------------
    blocks.append(("annex",))
    blocks.append(("h2", tx["annex"]))
    suffix = "" if lang == "zh" else "_en"
    for name in (f"review_paths{suffix}.png", f"adjustments{suffix}.png"):
        if (run_dir / name).exists():
            blocks.append(("img", name, name))
    blocks.append(("ul", tx["files"]))
    shipped = "actuals" in meta and Path(str(meta["actuals"])).name == EXAMPLE_ACTUALS.name
    blocks.append(("p", tx["caveats"] + (tx["example"] if shipped else "")))
    return blocks


def _case_spread(unc: pd.DataFrame | None) -> tuple[str, str]:
    """The lowest and highest city P(in band) across demand cases, price response 0."""
    if unc is not None and "part" in unc.columns:
        unc = unc[unc["part"] == "grid"]
    if unc is None or unc.empty:
        return "–", "–"
    part = unc[(unc["scope"] == "city") & (unc["price_response"].abs() < 1e-12)]
    if part.empty:
        part = unc[unc["scope"] == "city"]
    return _f(part["p_cycle_in_band"].min(), 2), _f(part["p_cycle_in_band"].max(), 2)


def _region_name(comp: pd.DataFrame, region: str, lang: str) -> str:
    """A region's name in the note: regions.csv's name_zh, or the id written out in English
    (``bairin_left`` → ``Bairin Left``, model.labels)."""
    if lang != "zh":
        return Labels("en").region(region)
    hit = comp.loc[comp["region"] == region, "name_zh"]
    return str(hit.iloc[0]) if len(hit) else region


def _change_text(row, lang: str) -> str:
    """A candidate's change to the targets, in the note's language."""
    text = str(row.get("target_change", ""))
    if lang != "zh":
        if text in ("", "none"):
            return (f"{row['candidate']} (changes no target: absent from this dataset or the "
                    f"same value)")
        return f"{row['candidate']}: {text}"
    zh = str(row.get("target_change_zh", "") or text)
    if zh in ("", "无", "none"):
        return f"{row['candidate']}（未改变任何目标：本数据集无此目标或取值相同）"
    return zh


TARGET_NAMES = {
    "cycle_months": ("去化周期", "destocking cycle"),
    "cycle_floor_months": ("去化周期下限", "cycle floor"),
    "vacancy_share": ("空置率", "vacancy"),
    "supply_total_10k_m2": ("商品住宅供应总量", "supply total"),
    "land_total_ha": ("住宅用地总量", "land total"),
    "subsidised_volume_10k_m2": ("保障性住房", "subsidised housing"),
    "subsidised_share": ("保障性住房占比", "subsidised share"),
    "unmet_demand_10k_m2": ("未满足需求", "unmet demand"),
}
UNITS_ZH = {"months": "个月", "share": "", "10k_m2": "万㎡", "ha": "公顷", "100m_yuan": "亿元"}


def _target_name(row, lang: str) -> str:
    zh, en = TARGET_NAMES.get(row.target_id, (row.target_id, row.target_id))
    scope = NOTE_TEXT[lang]["scopes"].get(row.scope, row.scope)
    period = str(row.period)
    return f"{scope}{zh}（{period}）" if lang == "zh" else f"{en}, {scope} ({period})"


UNITS_EN = {"months": " months", "share": "", "10k_m2": " 万m²", "ha": " ha",
            "100m_yuan": " 亿元"}


def _unit(unit: str, lang: str) -> str:
    return UNITS_ZH.get(unit, unit) if lang == "zh" else UNITS_EN.get(unit, f" {unit}")


def _v(value: Any, unit: str) -> str:
    """A target value as officials write it: shares as percentages, months to 0.1, 万m² and ha
    to 0.01."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or value != value:
        return "–"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:.1f}" if unit == "months" else f"{value:.2f}"


GROUP_NAMES = {"cycle": ("去化周期", "cycle"), "land_total": ("用地总量", "land total"),
               "supply_total": ("供应总量", "supply total"),
               "subsidised": ("保障性住房", "subsidised housing"),
               "vacancy": ("空置率", "vacancy"), "cycle_floor": ("去化周期下限", "cycle floor")}


def _cell(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        if x != x:
            return "–"
        return f"{x:.3g}" if abs(x) < 1 else f"{x:,.2f}"
    return str(x)


def render_markdown(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out.append(f"# {b[1]}\n")
        elif kind == "h2":
            out.append(f"## {b[1]}\n")
        elif kind == "key":
            out.append(f"**{b[1]}**\n")
        elif kind == "p":
            out.append(f"{b[1]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in b[1]) + "\n")
        elif kind == "table":
            frame, caption = b[1], b[2]
            lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
                     "|" + "---|" * len(frame.columns)]
            lines += ["| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |"
                      for row in frame.itertuples(index=False)]
            out.append("\n".join(lines) + f"\n\n*{caption}*\n")
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
        elif kind == "annex":
            out.append("---\n")
    return "\n".join(out)


def render_html(blocks: list[tuple], run_dir: Path, lang: str = "zh") -> str:
    """A self-contained page (images embedded); printed, the body fits two A4 pages and the
    annex starts on a new page; wide tables wrap instead of being cut off."""
    body = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{escape(b[1])}</{kind}>")
        elif kind == "key":
            body.append(f"<p class='key'>{escape(b[1])}</p>")
        elif kind == "p":
            body.append(f"<p>{escape(b[1])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            frame, caption = b[1], b[2]
            head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
            rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row)
                           + "</tr>" for row in frame.itertuples(index=False))
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                        f"<p class='src'>{escape(caption)}</p>")
        elif kind == "img":
            body.append(f"<figure><img src='{image_data_uri(run_dir / b[1])}' "
                        f"alt='{escape(b[2])}'><figcaption>{escape(b[1])}</figcaption></figure>")
        elif kind == "annex":
            body.append("<div class='annex'></div>")
    style = ("body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',"
             "'PingFang SC',sans-serif;max-width:1000px;margin:1.5em auto;line-height:1.45;"
             "font-size:14px}h1{font-size:1.35em}h2{font-size:1.1em;margin:1em 0 .3em}"
             ".key{margin:.25em 0;font-weight:600}"
             "table{border-collapse:collapse;font-size:.8em;width:100%;table-layout:auto}"
             "td,th{border:1px solid #ccc;padding:2px 4px;text-align:right;word-break:break-word}"
             "td:first-child,td:nth-child(2),th{text-align:left}"
             "th{background:#f0f0f0}img{max-width:100%}.src{font-size:.75em;color:#666;margin:0}"
             "@page{size:A4;margin:14mm}@media print{body{font-size:11px;margin:0}"
             ".annex{page-break-before:always}figure{page-break-inside:avoid}}")
    title = NOTE_TEXT[lang]["title"]
    return (f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
            f"<meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_note(run_dir: Path) -> tuple[Path, Path]:
    """review_note.md / review_note.html (Chinese) and review_note_en.md / review_note_en.html
    (English), from the run's files."""
    for lang, suffix in (("zh", ""), ("en", "_en")):
        blocks = note_blocks(run_dir, lang)
        (run_dir / f"review_note{suffix}.md").write_text(render_markdown(blocks), encoding="utf-8")
        (run_dir / f"review_note{suffix}.html").write_text(render_html(blocks, run_dir, lang),
                                                           encoding="utf-8")
    return run_dir / "review_note.md", run_dir / "review_note.html"


REVIEW_FILES = ("review_comparison.csv", "review_changes.csv", "review_targets.csv",
                "review_headline.csv", "review_meta.json")


def main(argv: list[str] | None = None) -> int:
    """``python -m model.review RUN_DIR``: re-generate the officials' note of a review run."""
    import sys

    from model.errors import RunDirError, UserError

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        raise UserError("usage: python -m model.review RUN_DIR (the folder of a run of "
                        "python -m model.run +scenario=midterm_2028)")
    run_dir = Path(args[0])
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder (expected the folder of a run of "
                        f"python -m model.run +scenario=midterm_2028)")
    if (run_dir / "summary.json").exists() or (run_dir / ".hydra").is_dir():
        from model.rundir import verify_run

        # the note is written from the run's files: refuse them if they changed since the run
        subs = [run_dir / sub for sub in ("original", "course")
                if (run_dir / sub / "summary.json").exists()]
        problems = [p for d in (run_dir, *subs) for p in verify_run(d)]
        if problems:
            raise UserError([f"{p}; run the review again" for p in problems])
    missing = [f for f in REVIEW_FILES if not (run_dir / f).is_file()]
    if missing:
        raise UserError(f"{run_dir} is not a finished mid-term review run (no {missing[0]}); "
                        f"a review run comes from python -m model.run +scenario=midterm_2028")
    try:
        md, page = write_note(run_dir)
    except DatasetError as exc:
        raise UserError([f"review note: {p}" for p in exc.problems]) from None
    except (ValueError, KeyError, IndexError, pd.errors.ParserError) as exc:
        raise UserError(f"{run_dir}: the review files cannot be read ({type(exc).__name__}: "
                        f"{exc}); they may be truncated — run the review again") from None
    except OSError as exc:
        raise RunDirError(f"{run_dir}: the note cannot be written ({exc.strerror or exc})") \
            from None
    print(md)
    print(page)
    return 0


if __name__ == "__main__":
    from model.errors import cli

    cli("model.review", main)
