"""``python -m analysis.compare <sweep dir or run dirs…> [--out DIR]``: compare finished runs.

Reads run directories only (summary.json, plan.csv, targets.csv, monthly.csv; the plan's own
guidance tables come from the dataset each run names in its summary) and writes, into
``<sweep dir>/comparison/`` (or ``<common parent>/comparison/`` for a list of run directories):

- ``headline.csv`` / ``.md``: the headline indicators side by side, one column per run;
- ``targets.csv`` (wide: achieved per run), ``targets_long.csv`` (every target row of every run)
  and ``targets.md`` (✓ met / ✗ missed);
- ``supply_by_region_year.csv``, ``land_by_region_year.csv`` and ``plan_tables.md``: region × year
  supply (万m², as 表45) and land (公顷, as 表48), the plan's guidance first, then each run;
- ``charts/*.png`` (analysis/charts.py) and ``report.html`` (analysis/report.py).

Exit codes: 0 written; 1 nothing to compare (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from model.errors import UserError

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
OUT_DIR_NAME = "comparison"
TOTAL = "total"  # the five-year total column of the region × year tables
CITY_LABEL_ZH = "合计"


class CompareError(UserError):
    """Nothing (valid) to compare; the message is one line for the user."""


@dataclass(frozen=True)
class Run:
    """One run directory as analysis sees it: its summary and whichever tables it has."""

    run_dir: Path
    label: str
    summary: dict[str, Any]
    plan: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    monthly: pd.DataFrame | None = None

    @property
    def status(self) -> str:
        return str(self.summary.get("status"))

    @property
    def ok(self) -> bool:
        return self.status == "optimal" and self.plan is not None

    @property
    def scenario(self) -> str:
        return str(self.summary.get("scenario") or (self.summary.get("config") or {}).get(
            "scenario", "?"))


# ---------------------------------------------------------------------------------------------
# Finding and reading run directories
# ---------------------------------------------------------------------------------------------
def find_run_dirs(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """The complete run directories under ``paths`` (a run directory, or a folder holding them,
    e.g. a sweep), and the incomplete ones (Hydra wrote .hydra/ but no summary.json).

    Raises CompareError (one line) if a path does not exist or no complete run is found."""
    complete: list[Path] = []
    incomplete: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_file():
            raise CompareError(f"{raw}: a file, not a folder; expected a run folder or a "
                               f"folder of runs (a sweep)")
        if not path.is_dir():
            raise CompareError(f"{raw}: no such directory")
        if (path / SUMMARY).is_file():
            complete.append(path)
            continue
        found = sorted(p.parent for p in path.rglob(SUMMARY) if OUT_DIR_NAME not in p.parts)
        partial = sorted(
            p.parent.parent for p in path.rglob(".hydra/overrides.yaml")
            if not (p.parent.parent / SUMMARY).exists()
        )
        if not found:
            raise CompareError(
                f"{raw}: not a run directory and holds none (no summary.json found under it)"
            )
        complete.extend(found)
        incomplete.extend(partial)
    unique = list(dict.fromkeys(complete))
    return unique, incomplete


def read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json of a run directory; CompareError if unreadable."""
    try:
        return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompareError(f"{run_dir / SUMMARY}: cannot be read ({exc})") from None


def read_table(run_dir: Path, name: str) -> pd.DataFrame | None:
    """``<name>.csv`` of a run directory, or None if the run did not write it."""
    path = run_dir / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def run_labels(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """Short, unique labels: the scenario and the overrides that differ between the runs.

    ``['+scenario=tight_land', 'sim.replications=20']`` among runs that all share
    ``sim.replications=20`` is labelled ``tight_land``; a sweep of one scenario over
    ``targets.cycle_months_end`` is labelled ``cycle_months_end=15`` and so on."""
    override_sets = [
        [_canonical(o) for o in (s.get("overrides") or [])
         if not o.lstrip("+").startswith("scenario=")]
        for s in summaries
    ]
    common = set.intersection(*(set(o) for o in override_sets)) if override_sets else set()
    scenarios = [str(s.get("scenario") or "?") for s in summaries]
    vary_scenario = len(set(scenarios)) > 1
    labels = []
    for scen, overrides in zip(scenarios, override_sets):
        own = [_short_override(o) for o in overrides if o not in common]
        parts = ([scen] if vary_scenario or not own else []) + own
        labels.append(" ".join(parts))
    return _unique(labels)


def _short_override(override: str) -> str:
    """``targets.cycle_months_end=15`` → ``cycle_months_end=15`` (targets. is implied)."""
    text = override.lstrip("+~")
    return text[len("targets."):] if text.startswith("targets.") else text


def _canonical(override: str) -> str:
    """An override as written by hand or by Hydra's sweeper (``false`` / ``False``) alike."""
    key, sep, value = override.partition("=")
    return f"{key}{sep}{value.lower()}" if value in ("True", "False") else override


def _unique(labels: list[str]) -> list[str]:
    """Append #2, #3… to repeated labels."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def load_runs(run_dirs: Sequence[Path]) -> list[Run]:
    """Every run directory read once, labelled, in a stable order (by label)."""
    summaries = [read_summary(d) for d in run_dirs]
    labels = run_labels(summaries)
    runs = [
        Run(
            run_dir=d,
            label=label,
            summary=s,
            plan=read_table(d, "plan"),
            targets=read_table(d, "targets"),
            monthly=read_table(d, "monthly"),
        )
        for d, s, label in zip(run_dirs, summaries, labels)
    ]
    return sorted(runs, key=_run_order)


def _run_order(run: Run) -> tuple:
    """plan_as_written first (it is the baseline), then by label, numbers in numeric order."""
    key = []
    for part in run.label.replace("=", " ").split():
        try:
            key.append((0, float(part), ""))
        except ValueError:
            key.append((1, 0.0, part))
    return (run.scenario != "plan_as_written", key)


# ---------------------------------------------------------------------------------------------
# The headline table
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Indicator:
    """A headline indicator: where it is in summary.json, its unit, what it means, its target."""

    key: str
    path: tuple[str, ...]
    unit: str
    meaning: str
    target_key: str | None = None  # the targets.csv row whose `required` is the plan's value


INDICATORS: tuple[Indicator, ...] = (
    Indicator("cycle_months_city", ("headline", "cycle_months_city"), "months",
              "destocking cycle 2030, city (去化周期)", "cycle_months[city,2030]"),
    Indicator("cycle_months_main_city", ("headline", "cycle_months_main_city"), "months",
              "destocking cycle 2030, main city", "cycle_months[main_city,2030]"),
    Indicator("vacancy_share_city", ("headline", "vacancy_share_city"), "share",
              "vacancy 2030, city (空置率)", "vacancy_share[city,2030]"),
    Indicator("vacancy_share_main_city", ("headline", "vacancy_share_main_city"), "share",
              "vacancy 2030, main city", "vacancy_share[main_city,2030]"),
    Indicator("land_total_ha", ("headline", "land_total_ha"), "ha",
              "residential land 2026–2030 (表48)", "land_total_ha[city,2026-2030]"),
    Indicator("supply_total_10k_m2", ("headline", "supply_total_10k_m2"), "10k_m2",
              "new commercial housing supply 2026–2030 (表45)",
              "supply_total_10k_m2[city,2026-2030]"),
    Indicator("sales_total_10k_m2", ("headline", "sales_total_10k_m2"), "10k_m2",
              "sales 2026–2030"),
    Indicator("unmet_demand_10k_m2", ("headline", "unmet_demand_10k_m2"), "10k_m2",
              "demand left unmet 2026–2030"),
    Indicator("purchased_10k_m2", ("headline", "purchased_10k_m2"), "10k_m2",
              "unsold stock bought for subsidised housing (§6.1.1)"),
    Indicator("subsidised_new_10k_m2", ("headline", "subsidised_new_10k_m2"), "10k_m2",
              "subsidised housing newly built"),
    Indicator("inventory_end_city_10k_m2", ("headline", "inventory_end_city_10k_m2"), "10k_m2",
              "unsold stock end of 2030, city"),
    Indicator("public_spending_100m_yuan", ("headline", "public_spending_100m_yuan"),
              "100m_yuan", "public spending 2026–2030 (亿元)"),
    Indicator("land_revenue_100m_yuan", ("headline", "land_revenue_100m_yuan"), "100m_yuan",
              "land revenue 2026–2030 (亿元)"),
    Indicator("replay_p_cycle_le_target_city", ("replay", "city", "p_cycle_le_target_end"),
              "probability", "replay: P(city cycle ≤ target, 2030-12)"),
    Indicator("replay_cycle_end_months_p50_city", ("replay", "city", "cycle_end_months_p50"),
              "months", "replay: median city cycle 2030-12"),
    Indicator("replay_expected_unmet_demand_city",
              ("replay", "city", "expected_unmet_demand_10k_m2"), "10k_m2",
              "replay: expected unmet demand, city"),
    Indicator("replay_p_land_suspended_city", ("replay", "city", "p_land_suspended_any_year"),
              "probability", "replay: P(land rule suspends land in ≥ 1 year)"),
)


def _dig(d: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _number(x: Any) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return math.nan
    return value


def target_counts(run: Run) -> dict[str, float]:
    """Targets met / reported (land-rule rows apart) and land-rule region-years broken."""
    t = run.targets
    if t is None:
        return {"targets_met": math.nan, "targets_reported": math.nan,
                "land_rule_broken_region_years": math.nan}
    rule = t["target_id"] == "land_rule"
    met = t["met"].astype(str).str.lower() == "true"
    return {
        "targets_met": float((met & ~rule).sum()),
        "targets_reported": float((~rule).sum()),
        "land_rule_broken_region_years": float((~met & rule).sum()),
    }


def headline_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Indicators as rows, one column per run (by label), with unit, meaning and the plan's
    target (the `required` of the matching targets.csv row where all runs agree)."""
    rows: list[dict[str, Any]] = [
        {"indicator": "status", "unit": "", "meaning": "optimal, or why there is no plan",
         "plan_target": "", **{r.label: r.status for r in runs}},
        {"indicator": "scenario", "unit": "", "meaning": "conf/scenario/*.yaml",
         "plan_target": "", **{r.label: r.scenario for r in runs}},
    ]
    for ind in INDICATORS:
        values = {r.label: _number(_dig(r.summary, ind.path)) for r in runs}
        rows.append({"indicator": ind.key, "unit": ind.unit, "meaning": ind.meaning,
                     "plan_target": _common_required(runs, ind.target_key), **values})
    counts = {r.label: target_counts(r) for r in runs}
    for key, unit, meaning in (
        ("targets_met", "count", "targets met (land-rule rows apart)"),
        ("targets_reported", "count", "targets reported"),
        ("land_rule_broken_region_years", "count", "region-years breaking the land rule"),
    ):
        rows.append({"indicator": key, "unit": unit, "meaning": meaning, "plan_target": "",
                     **{label: c[key] for label, c in counts.items()}})
    return pd.DataFrame(rows)


def _common_required(runs: Sequence[Run], target_key: str | None) -> Any:
    """The `required` value of one target row if every run that reports it agrees, else ''."""
    if target_key is None:
        return ""
    values = set()
    for r in runs:
        if r.targets is not None:
            hit = r.targets.loc[r.targets["target_key"] == target_key, "required"]
            values.update(round(float(v), 6) for v in hit)
    return values.pop() if len(values) == 1 else ""


# ---------------------------------------------------------------------------------------------
# Target attainment
# ---------------------------------------------------------------------------------------------
def targets_long(runs: Sequence[Run]) -> pd.DataFrame:
    """Every targets.csv row of every run, with the run's label first."""
    frames = [r.targets.assign(run=r.label) for r in runs if r.targets is not None]
    if not frames:
        return pd.DataFrame(columns=["run", "target_key", "required", "achieved", "met"])
    long = pd.concat(frames, ignore_index=True)
    long["met"] = long["met"].astype(str).str.lower() == "true"
    return long[["run", *[c for c in long.columns if c != "run"]]]


def attainment(long: pd.DataFrame, runs: Sequence[Run]) -> pd.DataFrame:
    """One row per target (land-rule and pace rows folded into one each, ``land_rule[region-years]``,
    ``presale_ramp[region-years]``, …), one block of
    columns per run: achieved, required, met and the relative shortfall (shortfall ÷ required).

    Returned long: target_key, unit, sense, run, required, achieved, met, shortfall_rel."""
    rows = []
    folded = ("land_rule", "presale_ramp", "land_ramp", "terminal_feed")  # per region-year rules
    rule = long["target_id"].isin(folded)
    for rec in long[~rule].itertuples(index=False):
        required = _number(rec.required)
        shortfall = _number(rec.shortfall)
        rows.append({
            "target_key": rec.target_key, "unit": rec.unit, "sense": rec.sense, "run": rec.run,
            "required": required, "achieved": _number(rec.achieved), "met": bool(rec.met),
            "shortfall_rel": _relative(shortfall, required),
        })
    for tid in folded:
        for run in runs:
            sub = long[(long["target_id"] == tid) & (long["run"] == run.label)]
            if len(sub):
                broken = int((~sub["met"]).sum())
                rows.append({
                    "target_key": f"{tid}[region-years]", "unit": "region-years broken",
                    "sense": "max", "run": run.label, "required": 0.0, "achieved": float(broken),
                    "met": broken == 0, "shortfall_rel": broken / len(sub),
                })
    order = list(dict.fromkeys(r["target_key"] for r in rows))
    out = pd.DataFrame(rows)
    if len(out):
        out["target_key"] = pd.Categorical(out["target_key"], categories=order, ordered=True)
        out = out.sort_values(["target_key"], kind="stable")
        out["target_key"] = out["target_key"].astype(str)
    return out.reset_index(drop=True)


def _relative(shortfall: float, required: float) -> float:
    if math.isnan(shortfall):
        return math.nan
    if shortfall <= 0:
        return 0.0
    return shortfall / abs(required) if required else 1.0


def attainment_wide(att: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Targets as rows, one `achieved` column and one `met` column per run."""
    if att.empty:
        return pd.DataFrame(columns=["target_key", "unit"])
    keys = list(dict.fromkeys(att["target_key"]))
    base = att.drop_duplicates("target_key").set_index("target_key")[["unit", "sense"]]
    out = base.loc[keys].reset_index()
    for label in labels:
        sub = att[att["run"] == label].set_index("target_key")
        out[f"{label}: required"] = out["target_key"].map(sub["required"])
        out[f"{label}: achieved"] = out["target_key"].map(sub["achieved"])
        out[f"{label}: met"] = out["target_key"].map(sub["met"])
    return out


# ---------------------------------------------------------------------------------------------
# Tables laid out like the plan's (表45 supply, 表48 land)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Guidance:
    """The plan's own region × year guidance, from the dataset the runs used."""

    dataset_name: str
    supply_10k_m2: dict[tuple[str, int], float] = field(default_factory=dict)
    land_ha: dict[tuple[str, int], float] = field(default_factory=dict)
    names_zh: dict[str, str] = field(default_factory=dict)
    region_order: tuple[str, ...] = ()  # regions (表45/表48 rows), then districts (表46/表49)
    region_ids: tuple[str, ...] = ()  # the regions alone: they add up to the city
    years: tuple[int, ...] = ()


def load_guidance(runs: Sequence[Run]) -> Guidance | None:
    """表45/表48 (and 表46/表49 for districts) from the dataset named in the runs' summaries;
    None (with a warning) if no run names a readable dataset."""
    from model.data import DatasetError, load_dataset

    datasets = {}
    for r in runs:
        info = r.summary.get("dataset") or {}
        if info.get("path"):
            datasets.setdefault(info["path"], info.get("data_hash"))
    if not datasets:
        log.warning("no run names its dataset; the plan's guidance is left out")
        return None
    if len(datasets) > 1:
        log.warning("the runs used %d datasets; the plan's guidance is from %s",
                    len(datasets), next(iter(datasets)))
    path, data_hash = next(iter(datasets.items()))
    try:
        ds = load_dataset(path)
    except (DatasetError, OSError) as exc:
        log.warning("cannot read the dataset %s (%s); the plan's guidance is left out", path, exc)
        return None
    if data_hash and ds.data_hash != data_hash:
        log.warning("dataset %s changed since the runs (hash %s, runs %s); guidance is as now",
                    path, ds.data_hash, data_hash)
    supply = dict(ds.supply_guidance_10k_m2("region"))
    land = dict(ds.land_guidance_ha("region"))
    order = list(ds.region_ids)
    if ds.has_districts:
        supply.update(ds.supply_guidance_10k_m2("district"))
        land.update(ds.land_guidance_ha("district"))
        order += list(ds.district_ids)
    names = {rid: ds.name_zh(rid) for rid in order}
    return Guidance(ds.name, supply, land, names, tuple(order), tuple(ds.region_ids),
                    tuple(ds.plan_years))


def region_year_table(
    values: dict[tuple[str, int], float], names_zh: dict[str, str], order: Sequence[str],
    years: Sequence[int],
) -> pd.DataFrame:
    """region × year with a five-year total column and a 合计 (sum of rows) row, as 表45/表48."""
    regions = [r for r in order if any((r, y) in values for y in years)]
    rows = []
    for rid in regions:
        row = {"region": rid, "name_zh": names_zh.get(rid, rid)}
        row.update({str(y): values.get((rid, y), 0.0) for y in years})
        rows.append(row)
    table = pd.DataFrame(rows, columns=["region", "name_zh", *map(str, years)])
    table[TOTAL] = table[[str(y) for y in years]].sum(axis=1)
    sums = {"region": "total", "name_zh": CITY_LABEL_ZH,
            **{c: table[c].sum() for c in [*map(str, years), TOTAL]}}
    return pd.concat([table, pd.DataFrame([sums])], ignore_index=True)


def plan_layout(runs: Sequence[Run], guidance: Guidance | None, column: str) -> pd.DataFrame:
    """Long stack of region × year tables for one quantity (``supply_10k_m2`` or ``land_ha``):
    the plan's guidance first (source ``表45``/``表48``), then one block per run with a plan."""
    source, district_source = {"supply_10k_m2": ("表45", "表46"), "land_ha": ("表48", "表49")}[
        column]
    order: list[str] = list(guidance.region_order) if guidance else []
    names: dict[str, str] = dict(guidance.names_zh) if guidance else {}
    years: list[int] = list(guidance.years) if guidance else []
    for r in runs:
        if r.ok:
            order += [x for x in dict.fromkeys(r.plan["region"]) if x not in order]
            if "name_zh" in r.plan:
                names.update(dict(zip(r.plan["region"], r.plan["name_zh"])))
            years += [int(y) for y in sorted(r.plan["year"].unique()) if int(y) not in years]
    years = sorted(years)
    blocks = []
    if guidance is not None:
        values = guidance.supply_10k_m2 if column == "supply_10k_m2" else guidance.land_ha
        blocks.append(region_year_table(values, names, guidance.region_ids, years).assign(
            table=f"{source} plan guidance"))
        districts = [x for x in guidance.region_order if x not in guidance.region_ids]
        if any(r.ok and r.plan["region"].isin(districts).any() for r in runs):
            blocks.append(region_year_table(values, names, districts, years).assign(
                table=f"{district_source} plan guidance (main-city districts)"))
    for r in runs:
        if r.ok:
            values = {(row.region, int(row.year)): float(getattr(row, column))
                      for row in r.plan.itertuples(index=False)}
            blocks.append(region_year_table(values, names, order, years).assign(table=r.label))
    if not blocks:
        return pd.DataFrame()
    out = pd.concat(blocks, ignore_index=True)
    return out[["table", *[c for c in out.columns if c != "table"]]]


def city_by_year(runs: Sequence[Run], guidance: Guidance | None, column: str) -> pd.DataFrame:
    """City totals by year of one plan quantity: one column per run, plus the plan's guidance."""
    series = {}
    if guidance is not None:
        values = guidance.supply_10k_m2 if column == "supply_10k_m2" else guidance.land_ha
        plan_by_year: dict[int, float] = {}
        for (rid, year), v in values.items():
            if rid in guidance.region_ids:
                plan_by_year[year] = plan_by_year.get(year, 0.0) + v
        series["plan guidance"] = plan_by_year
    for r in runs:
        if r.ok:
            series[r.label] = r.plan.groupby("year")[column].sum().to_dict()
    return pd.DataFrame(series).sort_index()


def cycle_by_region_year(runs: Sequence[Run]) -> pd.DataFrame:
    """Destocking cycle (months) by run, region and year from plan.csv, with the 2025 start and
    the city aggregate (Σ stock ÷ Σ sales × 12). Columns: run, region, name_zh, year,
    cycle_months."""
    rows = []
    for r in runs:
        if not r.ok:
            continue
        plan = r.plan
        first = int(plan["year"].min())
        for row in plan.itertuples(index=False):
            name = getattr(row, "name_zh", row.region)
            if int(row.year) == first and "cycle_start_months" in plan:
                rows.append({"run": r.label, "region": row.region, "name_zh": name,
                             "year": first - 1, "cycle_months": float(row.cycle_start_months)})
            rows.append({"run": r.label, "region": row.region, "name_zh": name,
                         "year": int(row.year), "cycle_months": float(row.cycle_end_months)})
        by_year = plan.groupby("year")[["inventory_end_10k_m2", "sales_10k_m2"]].sum()
        for year, agg in by_year.iterrows():
            cycle = (agg.inventory_end_10k_m2 / agg.sales_10k_m2 * 12
                     if agg.sales_10k_m2 > 0 else math.nan)
            rows.append({"run": r.label, "region": "city", "name_zh": "全市",
                         "year": int(year), "cycle_months": cycle})
        if "inventory_start_10k_m2" in plan and "cycle_start_months" in plan:
            start = plan[plan["year"] == first]
            sales_base = (start["inventory_start_10k_m2"] / start["cycle_start_months"] * 12).sum()
            rows.append({"run": r.label, "region": "city", "name_zh": "全市", "year": first - 1,
                         "cycle_months": start["inventory_start_10k_m2"].sum() / sales_base * 12})
    return pd.DataFrame(rows, columns=["run", "region", "name_zh", "year", "cycle_months"])


def replay_city(runs: Sequence[Run]) -> pd.DataFrame:
    """The replay's monthly city-wide cycle percentiles per run (region 'city', or the main city
    when the run replayed the districts only). Columns: run, region, month, p10, p50, p90."""
    frames = []
    for r in runs:
        m = r.monthly
        if m is None or "cycle_months_p50" not in m:
            continue
        region = "city" if (m["region"] == "city").any() else "main_city"
        sub = m[m["region"] == region]
        frames.append(pd.DataFrame({
            "run": r.label, "region": region, "month": sub["month"].astype(str),
            "p10": sub["cycle_months_p10"], "p50": sub["cycle_months_p50"],
            "p90": sub["cycle_months_p90"],
        }))
    cols = ["run", "region", "month", "p10", "p50", "p90"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------
def fmt(x: Any, unit: str = "") -> str:
    """A number as the tables show it: shares as %, probabilities to 2 places, else 2 places."""
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, bool):
        return "✓" if x else "✗"
    if unit == "share":
        return f"{100 * x:.2f}%"
    if unit == "probability":
        return f"{x:.2f}"
    if unit == "count":
        return f"{x:.0f}"
    return f"{x:,.2f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame of strings as a GitHub-flavoured Markdown table."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def headline_display(head: pd.DataFrame) -> pd.DataFrame:
    """The headline table formatted for reading (units applied)."""
    labels = [c for c in head.columns if c not in ("indicator", "unit", "meaning", "plan_target")]
    rows = []
    for row in head.to_dict("records"):
        unit = row["unit"]
        rows.append({
            "indicator": row["indicator"], "meaning": row["meaning"], "unit": unit,
            "plan target": fmt(row["plan_target"], unit) if row["plan_target"] != "" else "",
            **{label: fmt(row[label], unit) for label in labels},
        })
    return pd.DataFrame(rows)


def attainment_display(att: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Targets as rows, one column per run: achieved ✓/✗ (required in brackets if it varies)."""
    if att.empty:
        return pd.DataFrame(columns=["target"])
    rows = []
    for key, sub in att.groupby("target_key", sort=False):
        unit = str(sub["unit"].iloc[0])
        required = sub["required"].round(6).unique()
        same = len(required) == 1
        row = {"target": key, "unit": unit, "sense": sub["sense"].iloc[0],
               "required": fmt(float(required[0]), unit) if same else "varies"}
        by_run = sub.set_index("run")
        for label in labels:
            if label not in by_run.index:
                row[label] = "–"
                continue
            rec = by_run.loc[label]
            text = f"{fmt(rec['achieved'], unit)} {'✓' if rec['met'] else '✗'}"
            row[label] = text if same else f"{text} (req. {fmt(rec['required'], unit)})"
        rows.append(row)
    return pd.DataFrame(rows)


def plan_layout_markdown(layout: pd.DataFrame, title: str, unit_zh: str) -> str:
    """Each block of a plan_layout stack as its own Markdown table, titled."""
    parts = []
    for table, sub in layout.groupby("table", sort=False):
        shown = sub.drop(columns=["table", "region"]).rename(
            columns={"name_zh": "区域", TOTAL: "合计 2026–2030"})
        shown = shown.map(lambda v: v if isinstance(v, str) else f"{v:,.2f}")
        parts.append(f"### {title} — {table} ({unit_zh})\n\n{markdown_table(shown)}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """Everything compare computes, for the charts and the report."""

    runs: list[Run]
    incomplete: list[Path]
    headline: pd.DataFrame
    attainment: pd.DataFrame
    supply: pd.DataFrame
    land: pd.DataFrame
    supply_by_year: pd.DataFrame
    land_by_year: pd.DataFrame
    cycles: pd.DataFrame
    replay: pd.DataFrame
    guidance: Guidance | None
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)


def compare(run_dirs: Sequence[Path], incomplete: Sequence[Path] = ()) -> Comparison:
    """Read the runs and compute every table (nothing written). CompareError if no run has a
    plan (one line: how many runs of each status)."""
    runs = load_runs(run_dirs)
    if not any(r.ok for r in runs):
        counts = pd.Series([r.status for r in runs]).value_counts()
        raise CompareError(f"none of the {len(runs)} runs has a plan ("
                           + ", ".join(f"{n} {s}" for s, n in counts.items())
                           + "); nothing to compare (each run's reason: its summary.json, or "
                             "sweep_status.csv of a sweep)")
    guidance = load_guidance(runs)
    long = targets_long(runs)
    return Comparison(
        runs=runs,
        incomplete=list(incomplete),
        headline=headline_table(runs),
        attainment=attainment(long, runs),
        supply=plan_layout(runs, guidance, "supply_10k_m2"),
        land=plan_layout(runs, guidance, "land_ha"),
        supply_by_year=city_by_year(runs, guidance, "supply_10k_m2"),
        land_by_year=city_by_year(runs, guidance, "land_ha"),
        cycles=cycle_by_region_year(runs),
        replay=replay_city(runs),
        guidance=guidance,
        out_dir=Path(),
    )


def default_out_dir(paths: Sequence[str | Path], run_dirs: Sequence[Path]) -> Path:
    """``<folder>/comparison`` for one folder of runs; else next to the runs (common parent)."""
    if len(paths) == 1 and not (Path(paths[0]) / SUMMARY).exists():
        return Path(paths[0]).resolve() / OUT_DIR_NAME
    return Path(os.path.commonpath([str(d.parent) for d in run_dirs])) / OUT_DIR_NAME


def write_tables(cmp: Comparison, out_dir: Path) -> dict[str, Path]:
    """The CSV and Markdown tables into ``out_dir``; returns the files by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [r.label for r in cmp.runs]
    files = {
        "headline.csv": cmp.headline,
        "targets.csv": attainment_wide(cmp.attainment, labels),
        "targets_long.csv": targets_long(cmp.runs),
        "supply_by_region_year.csv": cmp.supply,
        "land_by_region_year.csv": cmp.land,
        "runs.csv": runs_table(cmp),
    }
    written = {}
    for name, frame in files.items():
        path = out_dir / name
        frame.to_csv(path, index=False, encoding="utf-8", float_format="%.10g")
        written[name] = path
    md = {
        "headline.md": "# Headline indicators\n\n" + markdown_table(headline_display(cmp.headline)),
        "targets.md": "# Target attainment (✓ met, ✗ missed)\n\n"
        + markdown_table(attainment_display(cmp.attainment, labels)),
        "plan_tables.md": "# Supply and land by region and year, laid out as 表45 and 表48\n\n"
        + (plan_layout_markdown(cmp.supply, "供应 supply", "万m²") if len(cmp.supply) else "")
        + "\n\n"
        + (plan_layout_markdown(cmp.land, "用地 land", "公顷 ha") if len(cmp.land) else ""),
    }
    for name, text in md.items():
        path = out_dir / name
        path.write_text(text + "\n", encoding="utf-8")
        written[name] = path
    return written


def runs_table(cmp: Comparison) -> pd.DataFrame:
    """Which runs were compared: label, scenario, status, why not optimal, run directory."""
    from model.sweep import failure_reason  # a pure helper; imports nothing of the optimiser

    rows = [{"run": r.label, "scenario": r.scenario, "status": r.status,
             "reason": failure_reason(r.summary), "overrides": " ".join(
                 r.summary.get("overrides") or []), "run_dir": str(r.run_dir)} for r in cmp.runs]
    rows += [{"run": d.name, "scenario": "", "status": "incomplete",
              "reason": "no summary.json (the run did not finish)" if not (d / SUMMARY).exists()
              else "damaged: a file truncated or changed since the run wrote it",
              "overrides": "", "run_dir": str(d)} for d in cmp.incomplete]
    return pd.DataFrame(rows)


def _left_out_damaged(run_dirs: list[Path], incomplete: list[Path]) -> tuple[list, list]:
    """Runs whose files were truncated or changed since they were written are left out, with
    one warning line each, and listed with the incomplete runs."""
    from model.results import file_problems

    good = []
    for d in run_dirs:
        problems = file_problems(d, read_summary(d))
        if problems:
            log.warning("damaged run left out: %s", problems[0])
            incomplete = [*incomplete, d]
        else:
            good.append(d)
    return good, incomplete


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; returns the exit code."""
    from model.errors import ArgumentParser

    parser = ArgumentParser(
        prog="python -m analysis.compare",
        description="Compare finished runs: tables (CSV, Markdown), charts (PNG), report.html.",
    )
    parser.add_argument("paths", nargs="+", help="a sweep directory, or run directories")
    parser.add_argument("--out", help="output folder (default: <sweep dir>/comparison)")
    parser.add_argument("--no-charts", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_dirs, incomplete = find_run_dirs(args.paths)
    run_dirs, incomplete = _left_out_damaged(run_dirs, incomplete)
    if not run_dirs:
        raise CompareError("every run found is damaged (a file truncated or changed since the "
                           "run); nothing to compare")
    cmp = compare(run_dirs, incomplete)
    out_dir = Path(args.out).resolve() if args.out else default_out_dir(args.paths, run_dirs)
    cmp.out_dir = out_dir
    for d in incomplete:
        if not (d / SUMMARY).exists():
            log.warning("incomplete run left out (no summary.json): %s", d)
    cmp.files = write_tables(cmp, out_dir)
    if not args.no_charts:
        from analysis import charts, report

        cmp.files.update(charts.draw_all(cmp, out_dir / "charts"))
        cmp.files["report.html"] = report.write_report(cmp, out_dir / "report.html")
    print(f"compared {len(cmp.runs)} runs "
          f"({sum(r.ok for r in cmp.runs)} with a plan) → {out_dir}")
    print(markdown_table(headline_display(cmp.headline)))
    return 0


if __name__ == "__main__":
    from model.errors import cli

    cli("analysis.compare", main)
