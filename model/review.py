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
from model.data import Dataset, DatasetError, load_dataset
from model.run import EXIT_OK, Outcome, Sweep, _input_error, optimise_run, replay_plan

log = logging.getLogger(__name__)

PATHS = ("original", "actual", "course", "replan")
PATH_LABELS = {
    "original": "original plan",
    "actual": "actual",
    "course": "current course",
    "replan": "re-plan",
}
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
    "feasible",
    "status",
    "relaxation",
    "relaxation_alone",
    "objective_points",
    "cost_vs_keep_points",
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
    "cycle_target_months",
    "cycle_months_city_2030",
    "vacancy_target_city",
    "vacancy_share_city_2030",
    "targets_missed",
    "binding",
    "p_cycle_target_met",
    "p_vacancy_target_met",
    "cheapest_feasible",
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
    replan = optimise_run(settings, ds, run_dir)
    if replan.status != "optimal":
        return replan  # bad actuals (one line each), an infeasible or failed re-plan
    actuals = load_actuals(actuals_path(settings), ds)  # checked already by build_inputs

    plain = with_overrides(settings, {"review.enabled": False, "review.adjust": False})
    original = optimise_run(plain, ds, _subdir(run_dir, "original"))
    if original.status != "optimal":
        return _input_error(
            [f"review: the original plan (same config, no actuals) is {original.status}; "
             f"fix the config first ({'; '.join(original.messages[:1])})"]
        )
    course = None
    if settings.review.current_course:
        course = current_course(settings, ds, original.tables["plan"], run_dir)
    tables = review_tables(original, replan, course, actuals, ds)
    adjustments = None
    if settings.review.adjust:
        adjustments = evaluate_adjustments(settings, ds)
        tables["adjustments"] = adjustments
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
        "cheapest_feasible": _cheapest(adjustments),
        "review_time_s": perf_counter() - t0,
    }
    messages = list(replan.messages) + review_lines(tables)
    if run_dir is not None:
        meta = {k: summary["review"][k] for k in ("actuals", "observed_years", "future_demand")}
        meta["hard"] = list(settings.review.hard)
        write_review(run_dir, tables, original, course, meta)
        summary["review"]["files"] = sorted(p.name for p in run_dir.glob("review_*")) + (
            ["adjustments.csv", "adjustments.png"] if adjustments is not None else []
        )
        messages.append(f"  officials' note: {run_dir / 'review_note.html'}")
    return Outcome(
        replan.status,
        EXIT_OK,
        replan.problem_type,
        replan.headline,
        {**replan.tables, **tables},
        summary,
        tuple(messages),
    )


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
    """The original plan's land, supply, purchases and subsidised building for the remaining
    years, from the observed state (observed years fixed as in the re-plan), evaluated: every
    target and the land rule reported, none enforced (like plan_as_written)."""
    folder = _subdir(run_dir, "course")
    if folder is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="course_"))
    path = folder / "original_plan_decisions.csv"
    cols = ["region", "year", "land_ha", "supply_10k_m2", "purchased_10k_m2",
            "subsidised_new_10k_m2"]
    original_plan[cols].to_csv(path, index=False, float_format="%.12g")
    cfg = with_overrides(
        settings, {"fixed_plan": str(path), "evaluate_only": True, "review.adjust": False}
    )
    return optimise_run(cfg, ds, folder if run_dir is not None else None)


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
            "achieved", "shortfall", "met"]
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
    for field_ in ("target_id", "scope", "period", "unit", "sense", "required"):
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
    table["at_risk"] = course_missed & ~table["observed_year"]
    table["replan_fixes"] = table["at_risk"] & table["met_replan"].eq(True)
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
            ("p_cycle_le_target_2030", "probability", "replay: P(cycle ≤ 18-month target, end)"),
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


def candidate_list(settings: RunConfig) -> list[Candidate]:
    """The targets as they stand (``keep_targets``), every candidate, then every combination."""
    r = settings.review
    singles = {n: tuple(parse_override(i) for i in items) for n, items in r.candidates.items()}
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
    cands = candidate_list(settings)
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
    frame = _costs_against_keep(frame.reset_index(drop=True))
    log.info("review: %d candidates evaluated in %.1f s on %d worker(s)", len(frame),
             perf_counter() - t0, workers)
    return frame[ADJUSTMENT_COLUMNS]


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
        cycle_months_city_2030=h["cycle_months_city"],
        vacancy_share_city_2030=h["vacancy_share_city"],
        targets_missed=int((~out.tables["targets"]["met"]
                            & ~out.tables["targets"]["mode"].isin(["off", "observed"])).sum()),
        binding=binding_text(out.tables.get("duals"), out.tables["targets"]),
    )
    p_cycle, p_vac = replay_probabilities(settings, ds, inputs, plan, replications, cyc, vac)
    row["p_cycle_target_met"], row["p_vacancy_target_met"] = p_cycle, p_vac
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
                         replications: int, cycle_target, vacancy_target) -> tuple[float, float]:
    """The replay of a candidate's plan: P(city cycle ≤ the candidate's cycle target) and
    P(city vacancy ≤ its vacancy target) at the end of the final year."""
    sim = with_overrides(settings, {"sim.enabled": True, "sim.replications": replications})
    try:
        result = replay_plan(sim, ds, inputs, plan)
    except ValueError as exc:
        log.warning("review: replay failed (%s)", exc)
        return np.nan, np.nan
    end = result.inputs.n_months - 1
    p_cycle = np.nan
    if cycle_target is not None:
        cycle = market.aggregate_series(result)["cycle_months"][end]
        p_cycle = float(np.mean(cycle <= cycle_target.value + 1e-9))
    p_vac = np.nan
    city = ds.city.region_id
    for i, scope in enumerate(result.inputs.scopes):
        if scope.scope_id == city and vacancy_target is not None:
            p_vac = float(np.mean(result.vacancy["vacancy_share"][end, :, i]
                                  <= vacancy_target.value + 1e-12))
    return p_cycle, p_vac


def _costs_against_keep(frame: pd.DataFrame) -> pd.DataFrame:
    """Costs relative to keeping the targets as they stand, and the cheapest feasible
    adjustment (the feasible candidate, other than keep_targets, with the lowest objective)."""
    for col in ADJUSTMENT_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    keep = frame[frame["candidate"] == KEEP]
    keep_ok = len(keep) and bool(keep["feasible"].iloc[0])
    for col, delta in (("objective_points", "cost_vs_keep_points"),
                       ("unmet_demand_10k_m2", "delta_unmet_demand_10k_m2"),
                       ("land_total_ha", "delta_land_ha"),
                       ("public_spending_100m_yuan", "delta_public_spending_100m_yuan")):
        frame[delta] = frame[col] - (float(keep[col].iloc[0]) if keep_ok else np.nan)
    frame["cheapest_feasible"] = False
    adj = frame[(frame["candidate"] != KEEP) & frame["feasible"]]
    if len(adj):
        frame.loc[adj["objective_points"].astype(float).idxmin(), "cheapest_feasible"] = True
    return frame


def _cheapest(adjustments: pd.DataFrame | None) -> str | None:
    if adjustments is None:
        return None
    hit = adjustments[adjustments["cheapest_feasible"]]
    return None if hit.empty else str(hit["candidate"].iloc[0])


# ---------------------------------------------------------------------------------------------
# Terminal lines, files, charts
# ---------------------------------------------------------------------------------------------
def review_lines(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """A few lines for the terminal: targets at risk, and the adjustments."""
    t = tables["review_targets"]
    risk = t[t["at_risk"]]
    lines = [f"Mid-term review: {len(risk)} target rows at risk on the current course"]
    for row in risk.head(10).itertuples(index=False):
        lines.append(
            f"    {row.target_key}: required {row.sense} {_g(row.required)} {row.unit}, "
            f"course {_g(row.achieved_course)}, re-plan {_g(row.achieved_replan)}"
            f" ({'met' if row.met_replan else 'missed'} in the re-plan)"
        )
    adj = tables.get("adjustments")
    if adj is not None:
        n_ok = int(adj["feasible"].sum())
        lines.append(f"  adjustments: {n_ok} of {len(adj)} candidates feasible")
        best = adj[adj["cheapest_feasible"]]
        if len(best):
            b = best.iloc[0]
            lines.append(f"  cheapest feasible adjustment: {b.candidate} ({b.overrides}), "
                         f"objective {b.objective_points:.2f} points")
    return lines


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
        frame.to_csv(run_dir / f"{name}.csv", index=False, encoding="utf-8", float_format="%.10g")
    (run_dir / "review_meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                              encoding="utf-8")
    paths_chart(run_dir)
    if "adjustments" in tables:
        adjustments_chart(run_dir)
    write_note(run_dir)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [n for n in ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "SimHei")
           if n in names]
    plt.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    return plt


PATH_STYLE = {"original": ("tab:blue", "--"), "actual": ("black", "-"),
              "course": ("tab:orange", ":"), "replan": ("tab:green", "-")}


def paths_chart(run_dir: Path) -> Path:
    """review_paths.png: city land, supply, sales and end-of-year stock and cycle by year on the
    four paths (read from review_comparison.csv)."""
    plt = _plt()
    comp = pd.read_csv(run_dir / "review_comparison.csv")
    city = comp[comp["region"] == "city"].sort_values("year")
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, (q, title) in zip(axes, (("land_ha", "land sold, ha"),
                                     ("sales_10k_m2", "sales, 10k m²"),
                                     ("inventory_end_10k_m2", "unsold stock, end of year, 10k m²"),
                                     ("cycle_end_months", "destocking cycle, months"))):
        for path in PATHS:
            col = f"{q}_{path}"
            if col in city and city[col].notna().any():
                color, style = PATH_STYLE[path]
                ax.plot(city["year"], city[col], style, color=color, marker="o", ms=3,
                        label=PATH_LABELS[path])
        ax.set_title(title, fontsize=9)
        ax.set_xticks(sorted(city["year"]))
        ax.tick_params(labelsize=8)
    axes[-1].axhline(18, color="grey", lw=0.8)
    axes[0].legend(fontsize=7)
    fig.suptitle("City: original plan, actual, current course and re-plan", fontsize=10)
    fig.tight_layout()
    out = run_dir / "review_paths.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def adjustments_chart(run_dir: Path) -> Path:
    """adjustments.png: cost against keeping the targets (feasible candidates) and the replay's
    probability of meeting the cycle target; infeasible candidates marked (from adjustments.csv)."""
    plt = _plt()
    adj = pd.read_csv(run_dir / "adjustments.csv")
    n = len(adj)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.45 * n + 1.6), sharey=True)
    y = np.arange(n)[::-1]
    cost = adj["objective_points"].fillna(0.0)
    colors = ["tab:green" if c else ("tab:blue" if f else "lightgrey")
              for c, f in zip(adj["cheapest_feasible"], adj["feasible"])]
    ax1.barh(y, cost, color=colors)
    for yi, f, c in zip(y, adj["feasible"], cost):
        if not f:
            ax1.text(0, yi, "  infeasible (see relaxation)", va="center", fontsize=7)
        else:
            ax1.text(c, yi, f" {c:.1f}", va="center", fontsize=7)
    ax1.set_yticks(y)
    ax1.set_yticklabels(adj["candidate"], fontsize=8)
    ax1.set_xlabel("objective, points (1 point = 1 亿元 of public money)", fontsize=8)
    ax1.set_title("cost of each adjustment (green: cheapest feasible)", fontsize=9)
    p = adj["p_cycle_target_met"]
    ax2.barh(y, p.fillna(0.0), color=["tab:blue" if f else "lightgrey" for f in adj["feasible"]])
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("replay: P(city cycle ≤ the candidate's target, end 2030)", fontsize=8)
    ax2.set_title("probability of meeting the cycle target", fontsize=9)
    fig.tight_layout()
    out = run_dir / "adjustments.png"
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
    return f"{x:,.{digits}f}"


def _pct(x: Any) -> str:
    try:
        return "–" if x != x else f"{float(x):.1%}"
    except (TypeError, ValueError):
        return str(x)


def _row(frame: pd.DataFrame, **match) -> pd.Series:
    hit = frame
    for k, v in match.items():
        hit = hit[hit[k] == v]
    if hit.empty:
        raise FileNotFoundError(f"no row {match} in the review files")
    return hit.iloc[0]


def note_blocks(run_dir: Path) -> list[tuple]:
    """The note as blocks — ("h1"|"h2"|"p", text), ("ul", [items]), ("table", frame, caption),
    ("img", file, alt) — built only from the CSV files of ``run_dir``."""
    comp = pd.read_csv(run_dir / "review_comparison.csv")
    changes = pd.read_csv(run_dir / "review_changes.csv")
    targets = pd.read_csv(run_dir / "review_targets.csv")
    head = pd.read_csv(run_dir / "review_headline.csv")
    meta = json.loads((run_dir / "review_meta.json").read_text(encoding="utf-8"))
    adj_path = run_dir / "adjustments.csv"
    adj = pd.read_csv(adj_path) if adj_path.exists() else None

    obs_years = sorted(comp.loc[comp["observed"], "year"].unique())
    all_years = sorted(comp["year"].unique())
    rest = [y for y in all_years if y not in obs_years]
    p_obs, p_rest = _period(obs_years), _period(rest)
    final = all_years[-1]
    def ch(q, period=p_obs, region="city"):
        return _row(changes, region=region, period=period, quantity=q)

    blocks: list[tuple] = [("h1", "Mid-term review of the housing plan: a reading for officials")]
    blocks.append(("p", f"Observed years {p_obs} ({Path(meta['actuals']).name}); years re-planned "
                        f"{p_rest}, with demand '{meta['future_demand']}'. Every figure below is "
                        f"read from this run's files, named under each table. Floor area in 万m² "
                        f"(10,000 m²), land in hectares, money in 亿元."))
    # 1. what happened
    land, sales, stock, cyc = ch("land_ha"), ch("sales_10k_m2"), ch("inventory_end_10k_m2"), \
        ch("cycle_end_months")
    supply = ch("supply_10k_m2")
    blocks.append(("h2", f"1. What happened in {p_obs}"))
    blocks.append(("p", (
        f"The city sold {_f(land['actual'], 2)} ha of residential land against "
        f"{_f(land['original'], 2)} ha in the original plan, put {_f(supply['actual'])} 万m² of "
        f"new housing on the market (plan {_f(supply['original'])}) and sold "
        f"{_f(sales['actual'])} 万m² (plan {_f(sales['original'])}). At the end of "
        f"{obs_years[-1]} the unsold stock is {_f(stock['actual'])} 万m², a "
        f"{_f(cyc['actual'])}-month destocking cycle, against {_f(stock['original'])} 万m² and "
        f"{_f(cyc['original'])} months in the original plan.")))
    reg = changes[(changes["region"] != "city") & (changes["period"] == p_obs)]
    s = reg[reg["quantity"] == "sales_10k_m2"].set_index("region")
    weak = s[s["actual"] < 0.9 * s["original"]]
    items = [f"{r} ({row['name_zh']}): sold {_f(row['actual'])} 万m² against "
             f"{_f(row['original'])} planned ({_f(100 * row['actual'] / row['original'], 0)}%)"
             for r, row in weak.iterrows() if row["original"] > 0]
    if items:
        blocks.append(("p", "Sales fell more than 10% short of the plan in:"))
        blocks.append(("ul", items))
    # 2. targets at risk
    blocks.append(("h2", "2. Targets at risk if nothing changes"))
    risk = targets[targets["at_risk"]]
    blocks.append(("p", (
        "The current course keeps the original plan's land, supply and purchases for "
        f"{p_rest} and starts from the observed stock (course/targets.csv). "
        + (f"{len(risk)} target rows would be missed:" if len(risk) else
           "No target would be missed."))))
    if len(risk):
        items = []
        for row in risk[risk["target_id"] != "land_rule"].itertuples(index=False):
            fix = ("the re-plan meets it" if row.met_replan else
                   f"the re-plan reaches {_g(row.achieved_replan)} (still missed)")
            items.append(f"{row.target_key}: required {row.sense} {_g(row.required)} "
                         f"{row.unit}; current course {_g(row.achieved_course)}; {fix}")
        rule = risk[risk["target_id"] == "land_rule"]
        for region, rows in rule.groupby("scope", sort=False):
            excess = (rows["achieved_course"] - rows["required"]).sum()
            fixed = "the re-plan keeps to it" if rows["met_replan"].all() else "still broken"
            items.append(
                f"land rule in {region}: the original plan's land in "
                f"{', '.join(map(str, rows['period']))} exceeds what the rule now allows, by "
                f"{_f(excess, 2)} ha in all; {fixed}")
        blocks.append(("ul", items))
    # 3. re-plan
    blocks.append(("h2", f"3. The re-plan for {p_rest}"))
    h = head.set_index("indicator")
    blocks.append(("p", (
        f"Re-optimised from the observed stock, the plan ends {final} at a city cycle of "
        f"{_f(h.loc['cycle_months_city', 'replan'])} months (original plan "
        f"{_f(h.loc['cycle_months_city', 'original'])}, current course "
        f"{_f(h.loc['cycle_months_city', 'course'])}), with "
        f"{_f(h.loc['land_total_ha', 'replan'], 2)} ha of land over {all_years[0]}–{final} "
        f"(original {_f(h.loc['land_total_ha', 'original'], 2)}) and {_f(h.loc['unmet_demand_10k_m2', 'replan'])} 万m² of unmet demand. "
        f"The land rule applies to the observed end-{obs_years[-1]} cycles.")))
    shown = head[["indicator", "unit", "original", "course", "replan"]].copy()
    blocks.append(("table", shown, "review_headline.csv"))
    lr = changes[(changes["region"] != "city") & (changes["period"] == p_rest)
                 & (changes["quantity"] == "land_ha")].copy()
    lr = lr.reindex(lr["change"].abs().sort_values(ascending=False).index).head(6)
    blocks.append(("p", f"Largest changes in land for {p_rest}, re-plan against the original:"))
    blocks.append(("table", lr[["region", "name_zh", "original", "course", "replan", "change"]],
                   "review_changes.csv (quantity land_ha)"))
    # 4. adjustments
    if adj is not None:
        blocks.append(("h2", "4. Target adjustments tested"))
        keep = adj[adj["candidate"] == KEEP]
        n_ok = int(adj["feasible"].sum())
        text = (f"{len(adj)} cases were solved with the targets of review.hard as hard limits; "
                f"{n_ok} are feasible. ")
        if len(keep):
            k = keep.iloc[0]
            text += ("Keeping the targets as they stand is feasible"
                     f" (objective {_f(k['objective_points'], 2)} points). "
                     if k["feasible"] else
                     f"Keeping the targets as they stand is infeasible: {k['relaxation']}. ")
        best = adj[adj["cheapest_feasible"]]
        if len(best):
            b = best.iloc[0]
            text += (f"The cheapest feasible adjustment is {b['candidate']} ({b['overrides']}): "
                     f"objective {_f(b['objective_points'], 2)} points"
                     + (f" ({_f(b['cost_vs_keep_points'], 2)} against keeping the targets)"
                        if b["cost_vs_keep_points"] == b["cost_vs_keep_points"] else "")
                     + f", unmet demand {_f(b['unmet_demand_10k_m2'])} 万m², land "
                     f"{_f(b['land_total_ha'], 2)} ha, public spending "
                     f"{_f(b['public_spending_100m_yuan'], 2)} 亿元; the replay meets its cycle "
                     f"target with probability {_f(b['p_cycle_target_met'], 2)}.")
        else:
            text += "No adjustment tested is feasible."
        blocks.append(("p", text))
        bad = adj[~adj["feasible"]]
        if len(bad):
            blocks.append(("p", "Infeasible, with the smallest relaxation of the hard targets "
                                "that would make them feasible:"))
            blocks.append(("ul", [f"{r.candidate}: {r.relaxation}" for r in
                                  bad.itertuples(index=False)]))
        cols = ["candidate", "feasible", "cost_vs_keep_points", "delta_unmet_demand_10k_m2",
                "delta_land_ha", "delta_public_spending_100m_yuan", "p_cycle_target_met",
                "binding"]
        blocks.append(("table", adj[cols], "adjustments.csv"))
    # 5. evidence
    blocks.append(("h2", "Evidence"))
    for name, alt in (("review_paths.png", "city paths: original, actual, course, re-plan"),
                      ("adjustments.png", "cost and replay probability of each adjustment")):
        if (run_dir / name).exists():
            blocks.append(("img", name, alt))
    blocks.append(("ul", [
        "review_comparison.csv: original plan, actual, current course and re-plan per region "
        "and year, side by side",
        "review_changes.csv, review_targets.csv, review_headline.csv: what changed, every "
        "target on each path, headline indicators",
        "plan.csv, targets.csv, duals.csv: the re-plan; original/ and course/: the other paths",
        "adjustments.csv: every candidate adjustment",
    ]))
    blocks.append(("p", "Caveats: the actuals record sales, not demand, so unmet demand in the "
                        "observed years is unknown and counted as 0; the market replay "
                        "re-simulates the observed years around what was sold; the shipped "
                        "actuals are an illustrative example, not observed data."))
    return blocks


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
        elif kind == "p":
            out.append(f"{b[1]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in b[1]) + "\n")
        elif kind == "table":
            frame, caption = b[1], b[2]
            lines = ["| " + " | ".join(frame.columns) + " |",
                     "|" + "---|" * len(frame.columns)]
            lines += ["| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |"
                      for row in frame.itertuples(index=False)]
            out.append("\n".join(lines) + f"\n\n*Source: {caption}*\n")
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
    return "\n".join(out)


def render_html(blocks: list[tuple], run_dir: Path) -> str:
    """A self-contained page: the same blocks, images embedded as base64."""
    body = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{escape(b[1])}</{kind}>")
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
                        f"<p class='src'>Source: {escape(caption)}</p>")
        elif kind == "img":
            body.append(f"<figure><img src='{image_data_uri(run_dir / b[1])}' "
                        f"alt='{escape(b[2])}'><figcaption>{escape(b[2])} ({escape(b[1])})"
                        f"</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}th{background:#f0f0f0}img{max-width:100%}"
             ".src{font-size:0.8em;color:#666}")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Mid-term review</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_note(run_dir: Path) -> tuple[Path, Path]:
    """review_note.md and review_note.html from the run's files."""
    blocks = note_blocks(run_dir)
    md, page = run_dir / "review_note.md", run_dir / "review_note.html"
    md.write_text(render_markdown(blocks), encoding="utf-8")
    page.write_text(render_html(blocks, run_dir), encoding="utf-8")
    return md, page


def main(argv: list[str] | None = None) -> int:
    """``python -m model.review RUN_DIR``: re-generate the officials' note of a review run."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m model.review RUN_DIR (a run of +scenario=midterm_2028)",
              file=sys.stderr)
        return 1
    try:
        md, page = write_note(Path(args[0]))
    except (FileNotFoundError, DatasetError) as exc:
        print(f"review note: {exc}", file=sys.stderr)
        return 1
    print(md)
    print(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
