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
   every number read back from the files above, with the charts: model/review_note.py, which
   reads what this module writes (``model.run`` calls the two in turn).

This module is the review's logic (actuals → current course → re-plan → adjustments → tables);
its words for the terminal are :func:`review_lines`. docs/review.md describes the method and
every output column.
"""

from __future__ import annotations

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
from model.csvio import write_csv
from model.data import Dataset, load_dataset
from model.errors import UserError
from model.inputs import ModelInputs, build_inputs
from model.labels import Labels
from model.pipeline import EXIT_OK, Outcome, Sweep, input_error, optimise_run, replay_plan
from model.same_plan import plan_fingerprint

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
    """The whole review but its note (see the module docstring). Returns the re-plan's Outcome,
    with the review's tables added and a ``review`` section in its summary; writes the review's
    tables into ``run_dir`` when given — the caller then writes the charts and the note
    (:func:`model.review_note.with_note`), then the run's tables and summary.json."""
    t0 = perf_counter()
    run_dir = Path(run_dir) if run_dir is not None else None
    # the re-plan is optimised whatever the scenario says about evaluating a fixed plan (with
    # +scenario=plan_as_written the adopted plan is the plan as written: the default baseline)
    settings = with_overrides(settings, {"evaluate_only": False, "fixed_plan": "none"})
    t_replan = perf_counter()
    try:  # the re-plan's inputs, built once: the re-plan, the current course and the thresholds
        inputs = build_inputs(settings, ds)
    except UserError as exc:
        return input_error(exc.problems)  # bad actuals, one line each
    replan = optimise_run(settings, ds, run_dir, t_replan, inputs=inputs)
    if replan.status != "optimal":
        return replan  # bad actuals (one line each), an infeasible or failed re-plan
    actuals = load_actuals(actuals_path(settings), ds)  # checked already by build_inputs

    original = optimise_run(original_settings(settings), ds, _subdir(run_dir, "original"))
    if original.status != "optimal":
        if original.status == "input_error":
            return original
        return input_error(
            [f"review: the adopted plan ({settings.review.original or 'the plan as written'}) "
             f"could not be evaluated ({original.status}): {'; '.join(original.messages[:1])}"]
        )
    course = None
    if settings.review.current_course:
        course = current_course(settings, ds, inputs, original.tables["plan"], run_dir)
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
        meta["thresholds"] = note_thresholds(settings, inputs)
        meta["presale_above_ready"] = {
            d["name"][len("observed_presale_above_ready_10k_m2["):-1]: d["value"]
            for d in replan.summary.get("derived_inputs", [])
            if d["name"].startswith("observed_presale_above_ready_10k_m2[")}
        # the note also reads the re-plan's plan and uncertainty table (written again, the same,
        # with the run's other files)
        own = {k: replan.tables[k] for k in ("plan", "uncertainty") if k in replan.tables}
        write_review(run_dir, {**tables, **own}, original, course, meta)
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
    settings: RunConfig, ds: Dataset, inputs: ModelInputs, original_plan: pd.DataFrame,
    run_dir: Path | None
) -> Outcome:
    """The adopted plan continued from the observed state: its land, purchases and subsidised
    building for the remaining years, and its presale *as far as the land can deliver it* under
    the timing model — the adopted schedule plus any backlog, capped by floor area that the
    pipeline at the end of the observed years (land sold before the plan and in the observed
    years) and the adopted land have made ready (model.timing.deliverable_presale). The observed
    years are fixed as in the re-plan; every target and the land rule are reported, none
    enforced. ``inputs``: the re-plan's (``settings``')."""
    folder = _subdir(run_dir, "course")
    if folder is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="course_"))
    path = folder / "original_plan_decisions.csv"
    cols = ["region", "year", "land_ha", "supply_10k_m2", "purchased_10k_m2",
            "subsidised_new_10k_m2"]
    decisions = deliverable_course(inputs, original_plan[cols])
    write_csv(decisions, path, float_format="%.12g")
    cfg = with_overrides(
        settings, {"fixed_plan": str(path), "evaluate_only": True, "review.adjust": False}
    )
    return optimise_run(cfg, ds, folder if run_dir is not None else None)


def deliverable_course(inputs: ModelInputs, decisions: pd.DataFrame) -> pd.DataFrame:
    """The adopted decisions with each remaining year's presale replaced by what its land can
    deliver from the observed state (see :func:`current_course`); ``inputs``: the re-plan's."""
    from model import timing as tm
    from model.pipeline import observed_start

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
    by_name = {row["candidate"]: row for row in rows}
    for c in cands:  # a candidate whose inputs its worker could not check (input_error): its
        # change is taken here, from inputs built again (raising, as ever, if they cannot be)
        if "target_change" not in by_name[c.name]:
            by_name[c.name].update(zip(TARGET_CHANGE_COLUMNS, target_change(
                build_inputs(base, ds), build_inputs(with_overrides(base, dict(c.overrides)),
                                                     ds))))
    order = {c.name: i for i, c in enumerate(cands)}
    frame = pd.DataFrame(rows).sort_values("candidate", key=lambda s: s.map(order))
    frame = _costs_against_keep(frame.reset_index(drop=True))
    log.info("review: %d candidates evaluated in %.1f s on %d worker(s)", len(frame),
             perf_counter() - t0, workers)
    return frame[ADJUSTMENT_COLUMNS]


TARGET_CHANGE_COLUMNS = ("target_change", "target_change_share", "target_change_zh")


def target_change(keep, other) -> tuple[str, float, str]:
    """How a candidate changes the targets, in each target's own unit, against keeping them:
    ``("cycle_months[city] 18 → 21 months (+3)", 0.1667, "全市去化周期 18 → 21 个月")`` — the text,
    the largest relative change of any target group (the size used to rank candidates), and the
    text in Chinese. Groups are a target over all its years (model.solve.target_group)."""
    from model.solve import target_group

    ZH = Labels("zh")  # target_change_zh is Chinese whatever the report language
    before = {t.key: t for t in keep.targets}
    parts, zh, share = {}, {}, 0.0
    for t in other.targets:
        old = before.get(t.key)
        group = target_group(t.target_id, t.scope)
        name, scope = ZH.target_word(t.target_id), ZH.scope_word(t.scope)
        if old is None:  # a target the candidate adds (the dataset has none): a full change
            share = 1.0
            parts.setdefault(group, f"{group} (none) → {_g(t.value)} {t.unit} (new)")
            zh.setdefault(group, f"新增{scope}{name} {ZH.figure(t.value, t.unit)}"
                                 f"{ZH.figure_unit(t.unit)}")
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
        zh.setdefault(group, f"{scope}{name} {ZH.figure(old.value, t.unit)} → "
                             f"{ZH.figure(t.value, t.unit)}{ZH.figure_unit(t.unit)}")
    return ("; ".join(parts.values()) or "none"), share, ("；".join(zh.values()) or "无")


def _evaluate_batch(base: RunConfig, dataset: Dataset | str, batch: list[Candidate]) -> list:
    """Worker: build one model (Sweep) and re-solve it for each candidate of the batch; each
    row with the candidate's change to the targets (:func:`target_change`), from the inputs the
    Sweep built for it against the base's."""
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    sweep = Sweep(base, ds)
    keep = sweep.model.inputs  # the base's: the targets as they stand
    reps = base.review.replications or base.sim.replications
    rows = []
    for c in batch:
        out = sweep.run(dict(c.overrides))
        settings = with_overrides(base, dict(c.overrides))
        # the model holds the candidate's inputs unless they failed their checks (input_error:
        # it still holds the previous candidate's, which must not describe this one)
        inputs = None if out.status == "input_error" else sweep.model.inputs
        row = _adjustment_row(c, out, settings, ds, inputs, reps)
        if inputs is not None:
            row.update(zip(TARGET_CHANGE_COLUMNS, target_change(keep, inputs)))
        rows.append(row)
    return rows


def _adjustment_row(c: Candidate, out: Outcome, settings: RunConfig, ds: Dataset, inputs,
                    replications: int) -> dict:
    """One adjustments.csv row; ``inputs`` the candidate's model inputs (None when they failed
    their checks: its targets are then left blank)."""
    row: dict[str, Any] = {"candidate": c.name, "kind": c.kind, "overrides": c.text(),
                           "status": out.status, "feasible": out.status == "optimal"}
    targets = {t.key: t for t in inputs.targets} if inputs is not None else {}
    final = inputs.final_year if inputs is not None else None
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
        plan_signature=plan_fingerprint(plan),  # equal for the same plan (model.same_plan)
        targets_missed=int((~out.tables["targets"]["met"]
                            & ~out.tables["targets"]["mode"].isin(["off", "observed"])).sum()),
        binding=binding_text(out.tables.get("duals"), out.tables["targets"]),
    )
    p_cycle, p_band, p_vac = replay_probabilities(settings, ds, inputs, plan, replications, cyc,
                                                  vac)
    row["p_cycle_target_met"], row["p_cycle_in_band"], row["p_vacancy_target_met"] = \
        p_cycle, p_band, p_vac
    return row


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


#: One part of :func:`relaxation_text`: group (target_id[scope]), required → relaxed, unit, amount.
RELAXATION_PART = re.compile(r"(\w+)\[([^\]]+)\] (\S+) → (\S+) (\S+) \(([+−-])(\S+)\)")


def relaxation_levels(text: str) -> list[tuple[str, str, float, str]]:
    """:func:`relaxation_text` read back (adjustments.csv ``relaxation``, as the note reads it):
    (target_id, scope, the relaxed level, unit) per conflicting target group, at the 4
    significant digits written; parts it cannot read are left out. The format is defined here
    beside its writer: the note (model/review_note.py) reads the run's files, where only the
    text is kept."""
    levels = []
    for m in RELAXATION_PART.finditer(text):
        target_id, scope, _required, relaxed, unit = m.group(1, 2, 3, 4, 5)
        try:
            levels.append((target_id, scope, float(relaxed), unit))
        except ValueError:
            continue
    return levels


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
    ``changes_nothing`` when its plan is the same plan (equal ``plan_signature``: every decision
    equal to 1e-6, :func:`model.same_plan.plan_fingerprint`); and, only when the targets cannot all be
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
# Terminal lines and files
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
    format as results.write_run) and review_meta.json — what the note reads back
    (model/review_note.py)."""
    results.write_run(run_dir / "original", original.tables,
                      {**original.summary, "run_dir": str(run_dir / "original")})
    if course is not None:
        results.write_run(run_dir / "course", course.tables,
                          {**course.summary, "run_dir": str(run_dir / "course")})
    for name, frame in tables.items():
        write_csv(frame, run_dir / f"{name}.csv")
    (run_dir / "review_meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                              encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Readings of the review's tables, shared with the note (model/review_note.py)
# ---------------------------------------------------------------------------------------------
#: The note names a region's land for the year after the plan (terminal_feed rows) when that land
#: makes ready less than this share of what the year needs.
TERMINAL_SHORT_SHARE = 0.5
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


def note_thresholds(settings: RunConfig, inputs: ModelInputs) -> dict:
    """The thresholds the note names, and where each comes from (review_meta.json
    ``thresholds``): the reasonable band (objective.band_low_months / band_high_months, else the
    dataset's facts, else 12–18), the land rule's suspension line (land.suspend_above_months, the
    dataset's, else the national rule's 36 months), the probability of ending in the band below
    which the note calls the re-plan fragile (robust.chance_alpha: the P(in band) a robust plan
    must reach) and the terminal-feed share (:data:`TERMINAL_SHORT_SHARE`). ``inputs``: the
    re-plan's (``settings``')."""
    return {"band_low_months": float(inputs.band_low_months),
            "band_high_months": float(inputs.band_high_months),
            "land_rule_suspend_above_months": float(inputs.suspend_above_months),
            "land_rule_source": str(inputs.land_rule_source),
            "p_band_min": float(settings.robust.chance_alpha),
            "p_band_min_key": "robust.chance_alpha",
            "terminal_short_share": TERMINAL_SHORT_SHARE}


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


if __name__ == "__main__":  # python -m model.review RUN_DIR: re-write the note (model/review_note.py)
    from model.errors import cli
    from model.review_note import main

    cli("model.review", main)
