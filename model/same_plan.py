"""Runs whose plans are identical: a sweep over a lever that does not bind gives the same plan
every time, and the reader must be told so rather than left to compare identical columns.

Two plans are identical when every decision — land (公顷), supply, sales, unmet demand, public
purchases and subsidised building (万㎡) per region and year — agrees to 1e-6 (the solver's
tolerance is 1e-6 to 1e-7; plan.csv holds 10 significant digits). Used by analysis.compare (the
reading of the comparison) and at the end of a sweep (model/sweep.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from model.csvio import read_csv
from model.labels import Labels

DECISION_COLUMNS = ("land_ha", "supply_10k_m2", "sales_10k_m2", "unmet_demand_10k_m2",
                    "purchased_10k_m2", "subsidised_new_10k_m2")
DECIMALS = 6


def plan_fingerprint(plan: pd.DataFrame) -> str:
    """A hash of the plan's decisions (region, year and :data:`DECISION_COLUMNS` present, rounded
    to 1e-6, −0 as 0), independent of row order and of any other column."""
    cols = [c for c in DECISION_COLUMNS if c in plan.columns]
    frame = plan[["region", "year", *cols]].copy()
    frame[cols] = frame[cols].astype(float).round(DECIMALS) + 0.0
    frame = frame.sort_values(["region", "year"]).reset_index(drop=True)
    text = frame.to_csv(index=False, float_format=f"%.{DECIMALS}f")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def identical_plan_groups(plans: Mapping[str, pd.DataFrame]) -> list[list[str]]:
    """Groups (two or more labels, in the given order) of runs whose plans are identical."""
    by_print: dict[str, list[str]] = {}
    for label, plan in plans.items():
        by_print.setdefault(plan_fingerprint(plan), []).append(label)
    return [group for group in by_print.values() if len(group) > 1]


def identical_plans_message(labels: Sequence[str], varied_keys: Sequence[str], L: Labels) -> str:
    """One sentence: ``identical plans for A, B, C: the target does not bind`` (zh or en).
    ``varied_keys``: the override keys that differ between the runs (``targets.…`` keys are
    targets; anything else is a parameter)."""
    names = ("、" if L.zh else ", ").join(labels)
    if varied_keys and all(k.lstrip("+~").startswith("targets.") for k in varied_keys):
        return L.pick(zh="{names} 的规划方案完全相同：所改目标未起约束作用（目标不收紧方案）",
                      en="identical plans for {names}: the target does not bind", names=names)
    return L.pick(zh="{names} 的规划方案完全相同：所改参数不改变方案（仅市场模拟可能不同）",
                  en="identical plans for {names}: the change does not alter the plan "
                     "(only the replay may differ)", names=names)


def varied_override_keys(overrides: Sequence[Sequence[str]]) -> list[str]:
    """The override keys whose values differ between runs (``key=value`` lists, one per run)."""
    values: dict[str, set[str]] = {}
    for run in overrides:
        for item in run:
            key, _, value = item.partition("=")
            values.setdefault(key.lstrip("+~"), set()).add(value.lower())
    present = [set(i.partition("=")[0].lstrip("+~") for i in run) for run in overrides]
    return sorted(k for k, v in values.items()
                  if len(v) > 1 or any(k not in p for p in present))


def identical_plans_in(run_dirs: Sequence[Path], L: Labels | None = None) -> list[str]:
    """The messages for the finished, optimal runs among ``run_dirs`` (each labelled by the
    overrides that vary between them, else its folder name), e.g. at the end of a sweep. Runs
    without a plan are left out."""
    import json

    plans: dict[str, pd.DataFrame] = {}
    overrides: dict[str, list[str]] = {}
    lang = None
    for d in run_dirs:
        try:
            summary = json.loads((Path(d) / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if summary.get("status") != "optimal" or not (Path(d) / "plan.csv").is_file():
            continue
        plans[Path(d).name] = read_csv(Path(d) / "plan.csv")
        overrides[Path(d).name] = list(summary.get("overrides") or [])
        lang = lang or summary.get("report_lang")
    L = L or Labels(lang or "en")
    varied = set(varied_override_keys(list(overrides.values())))
    short = {}  # folder name → the overrides that vary across the sweep (targets.… shortened)
    for name, items in overrides.items():
        own = [i.lstrip("+~") for i in items if i.partition("=")[0].lstrip("+~") in varied]
        short[name] = " ".join(i.removeprefix("targets.") for i in own) or name
    return [identical_plans_message([short[g] for g in group],
                                    varied_override_keys([overrides[g] for g in group]), L)
            for group in identical_plan_groups(plans)]
