"""The comparison's tables, computed from finished run directories (nothing written here).

Reads run directories only (summary.json, plan.csv, targets.csv, monthly.csv; the plan's own
guidance tables come from the dataset each run names in its summary). :func:`compare` returns a
:class:`Comparison` holding every table; :mod:`analysis.charts` draws it, :mod:`analysis.report`
writes the page, :mod:`analysis.compare` is the command. Imports go one way:
``tables ← charts ← report ← compare``.

Names, units and headings come from :class:`model.labels.Labels` in the report language (zh for
Chifeng); every table or section cited is the dataset's, from the runs' summary.json
``citations`` (model/citations.py), and target names are the dataset's own
(``target_names_zh``). CSV tables keep machine column names and full precision; the display
tables (``*_display``, Markdown, HTML) are rounded as the plan prints.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from model.csvio import read_csv
from model.errors import UserError
from model.labels import Labels, check_lang
from model.rundir import verify_run
from model.same_plan import identical_plan_groups, identical_plans_message, varied_override_keys

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
OUT_DIR_NAME = "comparison"
TOTAL = "total"  # the five-year total column of the region × year tables
CITY_LABEL_ZH = "合计"
BAND_MONTHS = (12.0, 18.0)  # when the runs do not record their band


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
        if (path / ".hydra").is_dir():  # a run folder named on its own, not finished
            raise CompareError(verify_run(path)[0])
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


#: What the refusal of a damaged run adds: how to go on.
DAMAGED_HINT = "run it again, or leave damaged runs out (--skip-damaged)"


def verify_runs(run_dirs: Sequence[Path], skip_damaged: bool = False
                ) -> tuple[list[Path], dict[Path, list[str]]]:
    """The runs whose files are as their run wrote them (:func:`model.rundir.verify_run`:
    size and sha256 of every file summary.json records, and summary.json's own), and the
    damaged ones with their problems.

    A damaged run is refused — CompareError, one line per file naming it and what differs
    (size, sha256, missing) — unless ``skip_damaged``: then it is left out with one warning
    line, and listed in runs.csv and the report. CompareError if no run is left."""
    good: list[Path] = []
    damaged: dict[Path, list[str]] = {}
    for d in run_dirs:
        problems = verify_run(d)
        if problems:
            damaged[d] = problems
        else:
            good.append(d)
    if damaged and not skip_damaged:
        raise CompareError([f"{p}; {DAMAGED_HINT}" for ps in damaged.values() for p in ps])
    for d, problems in damaged.items():
        log.warning("damaged run left out: %s", "; ".join(problems))
    if not good:
        raise CompareError(f"every run found ({len(damaged)}) is damaged (a file changed or "
                           f"missing since the run); nothing to compare")
    return good, damaged


def read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json of a run directory; CompareError if unreadable."""
    try:
        return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompareError(f"{run_dir / SUMMARY}: cannot be read ({exc})") from None


def read_table(run_dir: Path, name: str) -> pd.DataFrame | None:
    """``<name>.csv`` of a run directory (UTF-8, with or without BOM), or None if absent."""
    path = run_dir / f"{name}.csv"
    return read_csv(path) if path.is_file() else None


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
    """A headline indicator: where it is in summary.json, its unit, its target. Its name is
    :meth:`model.labels.Labels.indicator` of ``key``."""

    key: str
    path: tuple[str, ...]
    unit: str
    target_key: str | None = None  # the targets.csv row whose `required` is the plan's value


INDICATORS: tuple[Indicator, ...] = (
    Indicator("cycle_months_city", ("headline", "cycle_months_city"), "months",
              "cycle_months[city,{year}]"),
    Indicator("cycle_months_main_city", ("headline", "cycle_months_main_city"), "months",
              "cycle_months[main_city,{year}]"),
    Indicator("vacancy_share_city", ("headline", "vacancy_share_city"), "share",
              "vacancy_share[city,{year}]"),
    Indicator("vacancy_share_main_city", ("headline", "vacancy_share_main_city"), "share",
              "vacancy_share[main_city,{year}]"),
    Indicator("land_total_ha", ("headline", "land_total_ha"), "ha",
              "land_total_ha[city,{period}]"),
    Indicator("supply_total_10k_m2", ("headline", "supply_total_10k_m2"), "10k_m2",
              "supply_total_10k_m2[city,{period}]"),
    Indicator("sales_total_10k_m2", ("headline", "sales_total_10k_m2"), "10k_m2"),
    Indicator("unmet_demand_10k_m2", ("headline", "unmet_demand_10k_m2"), "10k_m2"),
    Indicator("purchased_10k_m2", ("headline", "purchased_10k_m2"), "10k_m2"),
    Indicator("subsidised_new_10k_m2", ("headline", "subsidised_new_10k_m2"), "10k_m2"),
    Indicator("inventory_end_city_10k_m2", ("headline", "inventory_end_city_10k_m2"), "10k_m2"),
    Indicator("public_spending_100m_yuan", ("headline", "public_spending_100m_yuan"),
              "100m_yuan"),
    Indicator("land_revenue_100m_yuan", ("headline", "land_revenue_100m_yuan"), "100m_yuan"),
    Indicator("replay_p_cycle_le_target_city", ("replay", "city", "p_cycle_le_target_end"),
              "probability"),
    Indicator("replay_cycle_end_months_p50_city", ("replay", "city", "cycle_end_months_p50"),
              "months"),
    Indicator("replay_expected_unmet_demand_city",
              ("replay", "city", "expected_unmet_demand_10k_m2"), "10k_m2"),
    Indicator("replay_p_land_suspended_city", ("replay", "city", "p_land_suspended_any_year"),
              "probability"),
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


def plan_years(runs: Sequence[Run]) -> tuple[int | None, str]:
    """The final plan year and the plan period (``2026-2030``) of the runs with a plan."""
    years = sorted({int(y) for r in runs if r.ok for y in r.plan["year"].unique()})
    if not years:
        return None, ""
    return years[-1], f"{years[0]}-{years[-1]}"


def common_targets(runs: Sequence[Run]) -> list[str]:
    """The target keys every run with targets reports (land-rule rows and targets switched off
    apart): the set on which runs are compared."""
    sets = []
    for r in runs:
        if r.targets is None or not r.ok:
            continue
        t = r.targets
        keep = (t["target_id"] != "land_rule") & (t["mode"].astype(str) != "off")
        sets.append(list(dict.fromkeys(t.loc[keep, "target_key"])))
    if not sets:
        return []
    shared = set.intersection(*(set(s) for s in sets))
    return [k for k in sets[0] if k in shared]


def target_counts(run: Run, common: Sequence[str]) -> dict[str, float]:
    """Share of the common targets met, targets reported (land-rule rows apart) and land-rule
    region-years broken."""
    t = run.targets
    if t is None:
        return {"targets_met_share": math.nan, "targets_reported": math.nan,
                "land_rule_broken_region_years": math.nan}
    rule = t["target_id"] == "land_rule"
    met = t["met"].astype(str).str.lower() == "true"
    on_common = t["target_key"].isin(list(common)) & ~rule
    return {
        "targets_met_share": float((met & on_common).sum()) / len(common) if common else math.nan,
        "targets_reported": float((~rule).sum()),
        "land_rule_broken_region_years": float((~met & rule).sum()),
    }


def headline_table(runs: Sequence[Run], L: Labels | None = None) -> pd.DataFrame:
    """Indicators as rows, one column per run (by label), with unit, meaning (in the report
    language) and the plan's target (the `required` of the matching targets.csv row where all
    runs agree). Target counts are on the targets every run reports (share met)."""
    L = L or Labels()
    year, period = plan_years(runs)
    rows: list[dict[str, Any]] = [
        {"indicator": "status", "unit": "", "meaning": L.indicator("status"),
         "plan_target": "", **{r.label: r.status for r in runs}},
        {"indicator": "scenario", "unit": "", "meaning": L.indicator("scenario"),
         "plan_target": "", **{r.label: r.scenario for r in runs}},
    ]
    for ind in INDICATORS:
        values = {r.label: _number(_dig(r.summary, ind.path)) for r in runs}
        if "main_city" in ind.key and all(v is None or v != v for v in values.values()):
            continue                      # a dataset without a main city: no row pretends to one
        key = ind.target_key.format(year=year, period=period) if ind.target_key else None
        rows.append({"indicator": ind.key, "unit": ind.unit,
                     "meaning": L.indicator(ind.key, year=year or "", period=period),
                     "plan_target": _common_required(runs, key), **values})
    common = common_targets(runs)
    counts = {r.label: target_counts(r, common) for r in runs}
    for key, unit in (("targets_met_share", "share"), ("targets_reported", "count"),
                      ("land_rule_broken_region_years", "count")):
        rows.append({"indicator": key, "unit": unit, "meaning": L.indicator(key, n=len(common)),
                     "plan_target": "", **{label: c[key] for label, c in counts.items()}})
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
        return pd.DataFrame(columns=["run", "target_key", "target_id", "scope", "mode",
                                     "required", "achieved", "met"])
    long = pd.concat(frames, ignore_index=True)
    long["met"] = long["met"].astype(str).str.lower() == "true"
    return long[["run", *[c for c in long.columns if c != "run"]]]


def attainment(long: pd.DataFrame, runs: Sequence[Run]) -> pd.DataFrame:
    """One row per target (the per-region-year rules folded into one row each:
    ``land_rule[region-years]``, ``presale_ramp[region-years]``, …), one block of rows per run:
    achieved, required, met and the relative shortfall (shortfall ÷ required).

    Returned long: target_key, target_id, scope, unit, sense, run, required, achieved, met,
    shortfall_rel."""
    rows = []
    rule = long["target_id"].isin(FOLDED)
    for rec in long[~rule].itertuples(index=False):
        required = _number(rec.required)
        shortfall = _number(rec.shortfall)
        rows.append({
            "target_key": rec.target_key, "target_id": rec.target_id, "scope": rec.scope,
            "unit": rec.unit, "sense": rec.sense, "run": rec.run,
            "required": required, "achieved": _number(rec.achieved), "met": bool(rec.met),
            "shortfall_rel": _relative(shortfall, required),
        })
    for tid in FOLDED:
        for run in runs:
            sub = long[(long["target_id"] == tid) & (long["run"] == run.label)]
            if len(sub):
                broken = int((~sub["met"]).sum())
                rows.append({
                    "target_key": f"{tid}[region-years]", "target_id": tid,
                    "scope": "regions", "unit": "region-years", "sense": "max", "run": run.label,
                    "required": 0.0, "achieved": float(broken), "met": broken == 0,
                    "shortfall_rel": broken / len(sub),
                })
    order = list(dict.fromkeys(r["target_key"] for r in rows))
    out = pd.DataFrame(rows)
    if len(out):
        out["target_key"] = pd.Categorical(out["target_key"], categories=order, ordered=True)
        out = out.sort_values(["target_key"], kind="stable")
        out["target_key"] = out["target_key"].astype(str)
    return out.reset_index(drop=True)


FOLDED = ("land_rule", "presale_ramp", "land_ramp", "terminal_feed")  # per region-year rules


def _relative(shortfall: float, required: float) -> float:
    if math.isnan(shortfall):
        return math.nan
    if shortfall <= 0:
        return 0.0
    return shortfall / abs(required) if required else 1.0


def attainment_wide(att: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Targets as rows, one `required`, `achieved` and `met` column per run."""
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


def scope_class(scope: str, target_id: str) -> str:
    """city | main_city | regions: how the target heatmap groups a target's scope."""
    if target_id == "land_rule":
        return "regions"
    return scope if scope in ("city", "main_city") else "regions"


def attainment_groups(long: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Targets grouped by family (target_id) × scope (city, main city, the regions), per run:
    how many of the group's rows the run reports and meets (targets switched off apart; the
    land rule counts restricted region-years). Columns: target_id, scope_class, run, n, met,
    share_met, worst_shortfall_rel."""
    cols = ["target_id", "scope_class", "run", "n", "met", "share_met", "worst_shortfall_rel"]
    if long.empty:
        return pd.DataFrame(columns=cols)
    t = long[long["mode"].astype(str) != "off"].copy()
    t["scope_class"] = [scope_class(s, i) for s, i in zip(t["scope"], t["target_id"])]
    short = pd.to_numeric(t.get("shortfall"), errors="coerce")
    req = pd.to_numeric(t.get("required"), errors="coerce").abs().replace(0, math.nan)
    t["shortfall_rel"] = (short / req).fillna(0.0)
    rows = []
    order = list(dict.fromkeys(zip(t["target_id"], t["scope_class"])))
    for (tid, sc) in order:
        for label in labels:
            sub = t[(t["target_id"] == tid) & (t["scope_class"] == sc) & (t["run"] == label)]
            if sub.empty:
                continue
            n, met = len(sub), int(sub["met"].sum())
            rows.append({"target_id": tid, "scope_class": sc, "run": label, "n": n, "met": met,
                         "share_met": met / n,
                         "worst_shortfall_rel": float(sub["shortfall_rel"].max())})
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# Runs with identical plans
# ---------------------------------------------------------------------------------------------
def identical_plans(runs: Sequence[Run], L: Labels | None = None) -> list[str]:
    """One sentence per group of runs with identical plans (model/same_plan.py)."""
    L = L or Labels()
    ok = {r.label: r for r in runs if r.ok}
    notes = []
    for group in identical_plan_groups({label: r.plan for label, r in ok.items()}):
        keys = varied_override_keys([ok[g].summary.get("overrides") or [] for g in group])
        notes.append(identical_plans_message(group, keys, L))
    return notes


# ---------------------------------------------------------------------------------------------
# Tables laid out like the plan's guidance tables (Chifeng: 表45 supply, 表48 land)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Guidance:
    """The plan's own region × year guidance, from the dataset the runs used."""

    dataset_name: str
    supply_10k_m2: dict[tuple[str, int], float] = field(default_factory=dict)
    land_ha: dict[tuple[str, int], float] = field(default_factory=dict)
    names_zh: dict[str, str] = field(default_factory=dict)
    region_order: tuple[str, ...] = ()  # regions, then districts (Chifeng: 表45, then 表46)
    region_ids: tuple[str, ...] = ()  # the regions alone: they add up to the city
    years: tuple[int, ...] = ()
    title: str = ""  # the plan's title (manifest.yaml)
    lang: str | None = None  # the manifest's report language


def load_guidance(runs: Sequence[Run]) -> Guidance | None:
    """The supply and land guidance (and the districts') from the dataset named in the runs'
    summaries (Chifeng: 表45/表48, 表46/表49);
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
    names = {rid: ds.name_zh(rid) for rid in (ds.city.region_id, *order)}
    return Guidance(ds.name, supply, land, names, tuple(order), tuple(ds.region_ids),
                    tuple(ds.plan_years), str(ds.manifest.get("title") or ""),
                    ds.manifest.get("lang"))


def region_year_table(
    values: dict[tuple[str, int], float], names_zh: dict[str, str], order: Sequence[str],
    years: Sequence[int],
) -> pd.DataFrame:
    """region × year with a plan-period total column and a 合计 (sum of rows) row, as the plan
    prints its guidance (Chifeng: 表45/表48)."""
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


def plan_layout(runs: Sequence[Run], guidance: Guidance | None, column: str,
                L: Labels | None = None) -> pd.DataFrame:
    """Long stack of region × year tables for one quantity (``supply_10k_m2`` or ``land_ha``):
    the plan's guidance first (table ``<citation> 规划指引`` / ``<citation> plan guidance``, the
    citation being the dataset's for the table — Chifeng: ``表45 规划指引`` — or none), then one
    block per run with a plan (table = the run's label)."""
    L = L or Labels()
    roles = {"supply_10k_m2": ("supply_guidance", "district_supply_guidance"),
             "land_ha": ("land_guidance", "district_land_guidance")}[column]
    source, district_source = (
        " ".join(filter(None, (L.cite_first(role), L.term("plan_guidance")))) for role in roles)
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
            table=source))
        districts = [x for x in guidance.region_order if x not in guidance.region_ids]
        if any(r.ok and r.plan["region"].isin(districts).any() for r in runs):
            blocks.append(region_year_table(values, names, districts, years).assign(
                table=district_source
                      + L.pick(zh="（主城区各片区）", en=" (main-city districts)")))
    for r in runs:
        if r.ok:
            values = {(row.region, int(row.year)): float(getattr(row, column))
                      for row in r.plan.itertuples(index=False)}
            blocks.append(region_year_table(values, names, order, years).assign(table=r.label))
    if not blocks:
        return pd.DataFrame()
    out = pd.concat(blocks, ignore_index=True)
    return out[["table", *[c for c in out.columns if c != "table"]]]


GUIDANCE_COLUMN = "plan guidance"


def plan_layout_heading(L: Labels) -> str:
    """The heading of the region × year tables: ``供应与用地（按表45、表48格式）`` / ``Supply and
    land by region and year, as 表45 and 表48`` with the dataset's citations of its guidance
    tables; without the layout clause when it cites none."""
    cited = [c for c in (L.cite_first("supply_guidance"), L.cite_first("land_guidance")) if c]
    if not cited:
        return L.pick(zh="供应与用地", en="Supply and land by region and year")
    return L.pick(zh="供应与用地（按{t}格式）", en="Supply and land by region and year, as {t}",
                  t="、".join(cited) if L.zh else " and ".join(cited))


def city_by_year(runs: Sequence[Run], guidance: Guidance | None, column: str) -> pd.DataFrame:
    """City totals by year of one plan quantity: one column per run, plus the plan's guidance
    (column :data:`GUIDANCE_COLUMN`)."""
    series = {}
    if guidance is not None:
        values = guidance.supply_10k_m2 if column == "supply_10k_m2" else guidance.land_ha
        plan_by_year: dict[int, float] = {}
        for (rid, year), v in values.items():
            if rid in guidance.region_ids:
                plan_by_year[year] = plan_by_year.get(year, 0.0) + v
        series[GUIDANCE_COLUMN] = plan_by_year
    for r in runs:
        if r.ok:
            series[r.label] = r.plan.groupby("year")[column].sum().to_dict()
    return pd.DataFrame(series).sort_index()


def cycle_by_region_year(runs: Sequence[Run]) -> pd.DataFrame:
    """Destocking cycle (months) and unmet demand (万㎡) by run, region and year from plan.csv,
    with the 2025 start and the city aggregate (region ``city``: Σ stock ÷ Σ sales × 12).
    Columns: run, region, name_zh, year, cycle_months, unmet_demand_10k_m2."""
    cols = ["run", "region", "name_zh", "year", "cycle_months", "unmet_demand_10k_m2"]
    rows = []
    for r in runs:
        if not r.ok:
            continue
        plan = r.plan
        first = int(plan["year"].min())
        unmet_col = "unmet_demand_10k_m2" in plan
        for row in plan.itertuples(index=False):
            name = getattr(row, "name_zh", row.region)
            if int(row.year) == first and "cycle_start_months" in plan:
                rows.append({"run": r.label, "region": row.region, "name_zh": name,
                             "year": first - 1, "cycle_months": float(row.cycle_start_months),
                             "unmet_demand_10k_m2": 0.0})
            rows.append({"run": r.label, "region": row.region, "name_zh": name,
                         "year": int(row.year), "cycle_months": float(row.cycle_end_months),
                         "unmet_demand_10k_m2": float(row.unmet_demand_10k_m2)
                         if unmet_col else 0.0})
        agg_cols = ["inventory_end_10k_m2", "sales_10k_m2"] + (
            ["unmet_demand_10k_m2"] if unmet_col else [])
        by_year = plan.groupby("year")[agg_cols].sum()
        for year, agg in by_year.iterrows():
            cycle = (agg.inventory_end_10k_m2 / agg.sales_10k_m2 * 12
                     if agg.sales_10k_m2 > 0 else math.nan)
            rows.append({"run": r.label, "region": "city", "name_zh": "全市",
                         "year": int(year), "cycle_months": cycle,
                         "unmet_demand_10k_m2": float(agg.get("unmet_demand_10k_m2", 0.0))})
        if "inventory_start_10k_m2" in plan and "cycle_start_months" in plan:
            start = plan[plan["year"] == first]
            sales_base = (start["inventory_start_10k_m2"] / start["cycle_start_months"] * 12).sum()
            rows.append({"run": r.label, "region": "city", "name_zh": "全市", "year": first - 1,
                         "cycle_months": start["inventory_start_10k_m2"].sum() / sales_base * 12,
                         "unmet_demand_10k_m2": 0.0})
    return pd.DataFrame(rows, columns=cols)


def land_rule_months(runs: Sequence[Run]) -> float | None:
    """The land rule's suspend line (months) the runs share; None when they differ or when no
    run records it (then no line is drawn)."""
    values = {float(v) for r in runs
              if (v := (r.summary.get("headline") or {}).get("land_rule_suspend_above_months"))
              is not None}
    return values.pop() if len(values) == 1 else None


def cycle_band(runs: Sequence[Run]) -> tuple[float, float]:
    """The reasonable cycle band (months) the runs used, else 12–18."""
    for r in runs:
        head = r.summary.get("headline") or {}
        low, high = head.get("cycle_band_low_months"), head.get("cycle_band_high_months")
        if low is not None and high is not None:
            return float(low), float(high)
    return BAND_MONTHS


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
# Display tables (rounded as the plan prints, in the report language)
# ---------------------------------------------------------------------------------------------
def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame of strings as a GitHub-flavoured Markdown table."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def headline_display(head: pd.DataFrame, L: Labels | None = None) -> pd.DataFrame:
    """The headline table for reading: indicator name, unit, the plan's target, one column per
    run, figures rounded as the plan prints them."""
    L = L or Labels()
    labels = [c for c in head.columns if c not in ("indicator", "unit", "meaning", "plan_target")]
    rows = []
    for row in head.to_dict("records"):
        unit = row["unit"]
        values = {label: (L.status(row[label]) if row["indicator"] == "status" else
                          L.number(row[label], unit)) for label in labels}
        rows.append({
            L.term("indicator"): row["meaning"],
            L.term("unit"): L.unit(unit) if unit else "",
            L.term("required"): L.number(row["plan_target"], unit)
            if row["plan_target"] != "" else "",
            **values,
        })
    return pd.DataFrame(rows)


def attainment_display(att: pd.DataFrame, labels: Sequence[str], L: Labels | None = None
                       ) -> pd.DataFrame:
    """Targets as rows, one column per run: achieved ✓/✗ (the target in brackets if it varies
    between runs)."""
    L = L or Labels()
    if att.empty:
        return pd.DataFrame(columns=[L.term("indicator")])
    rows = []
    for key, sub in att.groupby("target_key", sort=False):
        unit = str(sub["unit"].iloc[0])
        required = sub["required"].round(6).unique()
        same = len(required) == 1
        family = key.partition("[")[0]
        name = (L.target_name(family) + L.pick(zh="（违反的区县·年）", en=" (region-years broken)")
                if key.endswith("[region-years]") else L.target_key(key))
        row = {L.term("indicator"): name, L.term("unit"): L.unit(unit),
               L.term("required"): (L.term("sense." + str(sub["sense"].iloc[0])) + " "
                                    + L.number(float(required[0]), unit)) if same else "…"}
        by_run = sub.set_index("run")
        for label in labels:
            if label not in by_run.index:
                row[label] = "–"
                continue
            rec = by_run.loc[label]
            text = f"{L.number(rec['achieved'], unit)} {'✓' if rec['met'] else '✗'}"
            row[label] = text if same else (
                f"{text} ({L.term('required')} {L.number(rec['required'], unit)})")
        rows.append(row)
    return pd.DataFrame(rows)


def groups_display(groups: pd.DataFrame, labels: Sequence[str], L: Labels | None = None
                   ) -> pd.DataFrame:
    """The grouped attainment (family × scope) as a table: met / reported per run, ✓ when all."""
    L = L or Labels()
    if groups.empty:
        return pd.DataFrame(columns=[L.term("indicator")])
    rows = []
    for (tid, sc), sub in groups.groupby(["target_id", "scope_class"], sort=False):
        row = {L.term("indicator"): L.target_name(tid), L.term("scope"): L.term(f"scope.{sc}")}
        by_run = sub.set_index("run")
        for label in labels:
            if label not in by_run.index:
                row[label] = "–"
                continue
            rec = by_run.loc[label]
            mark = "✓" if rec["met"] == rec["n"] else "✗"
            row[label] = f"{int(rec['met'])}/{int(rec['n'])} {mark}"
        rows.append(row)
    return pd.DataFrame(rows)


def plan_layout_display(sub: pd.DataFrame, L: Labels | None = None, unit_code: str = "10k_m2"
                        ) -> pd.DataFrame:
    """One block of a plan_layout stack for reading: region names, year columns, 合计."""
    L = L or Labels()
    shown = sub.drop(columns=["table"])
    shown[L.term("region")] = [L.term("total") if rid == "total" else
                               (name if L.zh else L.region(rid))
                               for rid, name in zip(shown["region"], shown["name_zh"])]
    years = [c for c in shown.columns if str(c).isdigit()]
    period = f"{years[0]}-{years[-1]}" if years else ""
    out = shown[[L.term("region"), *years, TOTAL]].rename(
        columns={**{y: L.year(y) for y in years},
                 TOTAL: L.pick(zh="{p}合计", en="Total {p}", p=L.period(period))})
    return out.map(lambda v: v if isinstance(v, str) else L.number(v, unit_code))


def plan_layout_markdown(layout: pd.DataFrame, title: str, unit_code: str,
                         L: Labels | None = None) -> str:
    """Each block of a plan_layout stack as its own Markdown table, titled."""
    L = L or Labels()
    parts = []
    for table, sub in layout.groupby("table", sort=False):
        unit = L.pick(zh="（{u}）", en=" ({u})", u=L.unit(unit_code))
        parts.append(f"### {title} — {table}{unit}\n\n"
                     f"{markdown_table(plan_layout_display(sub, L, unit_code))}")
    return "\n\n".join(parts)


def runs_table(cmp: "Comparison") -> pd.DataFrame:
    """Which runs were compared: label, scenario, status, why not optimal, run directory."""
    from model.sweep import failure_reason  # a pure helper; imports nothing of the optimiser

    rows = [{"run": r.label, "scenario": r.scenario, "status": r.status,
             "reason": failure_reason(r.summary), "overrides": " ".join(
                 r.summary.get("overrides") or []), "run_dir": str(r.run_dir)} for r in cmp.runs]
    rows += [{"run": d.name, "scenario": "", "status": "incomplete",
              "reason": "no summary.json (the run did not finish)", "overrides": "",
              "run_dir": str(d)} for d in cmp.incomplete]
    rows += [{"run": d.name, "scenario": "", "status": "damaged",
              "reason": "; ".join(problems), "overrides": "", "run_dir": str(d)}
             for d, problems in cmp.damaged.items()]
    return pd.DataFrame(rows, columns=["run", "scenario", "status", "reason", "overrides",
                                       "run_dir"])


# ---------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """Everything compare computes, for the charts and the report."""

    runs: list[Run]
    incomplete: list[Path]
    headline: pd.DataFrame
    attainment: pd.DataFrame
    groups: pd.DataFrame  # attainment by target family × scope (attainment_groups)
    supply: pd.DataFrame
    land: pd.DataFrame
    supply_by_year: pd.DataFrame
    land_by_year: pd.DataFrame
    cycles: pd.DataFrame
    replay: pd.DataFrame
    guidance: Guidance | None
    labels: Labels
    identical: list[str]  # one sentence per group of runs with identical plans
    band_months: tuple[float, float]
    out_dir: Path
    rule_months: float | None = None  # the land rule's suspend line, when the runs share one
    files: dict[str, Path] = field(default_factory=dict)
    #: runs left out because a file changed or went missing since the run (verify_runs)
    damaged: dict[Path, list[str]] = field(default_factory=dict)


def report_lang(runs: Sequence[Run], guidance: Guidance | None, lang: str | None = None) -> str:
    """The comparison's language: ``lang`` if given; else the runs' ``report_lang`` (their
    report.lang, or their dataset's); else the dataset manifest's ``lang``; else en."""
    if lang:
        return check_lang(lang, "--lang")
    for r in runs:
        if r.summary.get("report_lang") in ("zh", "en"):
            return str(r.summary["report_lang"])
    if guidance is not None and guidance.lang in ("zh", "en"):
        return str(guidance.lang)
    return "en"


def summary_citations(runs: Sequence[Run]) -> dict[str, Any]:
    """What the runs' summaries record for citing (model/citations.py): the ``citations`` of the
    first run that has them, and every run's ``target_names_zh``."""
    citations = next((r.summary["citations"] for r in runs
                      if isinstance(r.summary.get("citations"), dict)), None)
    names: dict[str, str] = {}
    for r in runs:
        if isinstance(r.summary.get("target_names_zh"), dict):
            names.update(r.summary["target_names_zh"])
    return {"citations": citations, "target_names_zh": names}


def compare(run_dirs: Sequence[Path], incomplete: Sequence[Path] = (),
            lang: str | None = None, damaged: dict[Path, list[str]] | None = None
            ) -> Comparison:
    """Read the runs and compute every table (nothing written). CompareError if no run has a
    plan (one line: how many runs of each status). The runs are read as they are: check them
    with :func:`verify_runs` first (``damaged``: the runs it left out, for runs.csv)."""
    runs = load_runs(run_dirs)
    if not any(r.ok for r in runs):
        counts = pd.Series([r.status for r in runs]).value_counts()
        raise CompareError(f"none of the {len(runs)} runs has a plan ("
                           + ", ".join(f"{n} {s}" for s, n in counts.items())
                           + "); nothing to compare (each run's reason: its summary.json, or "
                             "sweep_status.csv of a sweep)")
    guidance = load_guidance(runs)
    names = dict(guidance.names_zh) if guidance else {}
    for r in runs:
        if r.plan is not None and "name_zh" in r.plan:
            names.update(zip(r.plan["region"], r.plan["name_zh"]))
        if r.targets is not None and "scope_zh" in r.targets:
            names.update(zip(r.targets["scope"], r.targets["scope_zh"]))
    L = Labels(report_lang(runs, guidance, lang), names).for_run(summary_citations(runs))
    long = targets_long(runs)
    labels = [r.label for r in runs]
    return Comparison(
        runs=runs,
        incomplete=list(incomplete),
        headline=headline_table(runs, L),
        attainment=attainment(long, runs),
        groups=attainment_groups(long, labels),
        supply=plan_layout(runs, guidance, "supply_10k_m2", L),
        land=plan_layout(runs, guidance, "land_ha", L),
        supply_by_year=city_by_year(runs, guidance, "supply_10k_m2"),
        land_by_year=city_by_year(runs, guidance, "land_ha"),
        cycles=cycle_by_region_year(runs),
        replay=replay_city(runs),
        guidance=guidance,
        labels=L,
        identical=identical_plans(runs, L),
        band_months=cycle_band(runs),
        rule_months=land_rule_months(runs),
        out_dir=Path(),
        damaged=dict(damaged or {}),
    )
