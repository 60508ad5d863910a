"""After the checks have run: say why each finding differs (verdict), how much it matters
(severity), which finding it follows from (caused_by), and number the findings.

Verdicts, in the order they are tried on a finding whose check family gave none:
- typo: a one-character slip (a digit changed, dropped, added or two swapped) turns the printed
  figure into the computed one, or turns one of the summed rows into the value that would make
  the printed total right;
- copy error: the printed figure (four or more significant digits) is printed elsewhere in the
  plan as a different quantity (another unit);
- unclear: otherwise. A family may also say ``different quantity`` (the two figures measure
  different things) where the plan's words show it.
A finding that follows from another inherits its verdict when it has no reason of its own.

Causes, besides those the families set from the structure they know (a grand total that is the
sum of printed column totals, a share that fits the rows but not the printed total, ...): an
earlier finding with the same check, scope, printed figure and difference (the same error printed
twice); an earlier finding on a shared table with the same difference (0.5 or more); an earlier
copy error of the same number in the same unit.
"""
from __future__ import annotations

import math
import re

import pandas as pd

from model.audit.core import (
    ALL, COPY, FINDING, MATERIAL, MINOR, ROUNDING, TYPO, UNCLEAR, Check, Dataset, column_decimals,
    column_unit, missing, severity_of, source_of,
)

TYPO_CHECKS = {"printed total", "same quantity", "districts vs main city"}
# Comparisons of printed figures: the checks whose errors propagate to one another (causes by
# equal differences, inherited verdicts). Projections and rules have their own causes.
LINKABLE = TYPO_CHECKS | {"derived figure", "printed share"}
SEVERITY_ORDER = {MATERIAL: 0, MINOR: 1, ROUNDING: 2}

# Themes in the order an official should read them: how the plan was built and what it does to
# the stock first, then its rules and forecasts, then the arithmetic of its tables and text.
THEME_ORDER = [
    "supply method", "supply profile", " cycle from the plan's tables", " cycle at ",
    "peak cycle on the plan's path", "land rule", "district land directive", "forecast vs",
    "claim: forecast matches market", "forecast uplift vs stock", "target vs flows",
    "stock-flow history", "implied sales", "plot ratio", "same quantity",
    "districts vs main city", "printed total", "derived figure", "implied ratio",
    "printed share", "target vs current level", "stated growth rate", "stated range",
]


def theme_rank(check: str) -> int:
    for i, key in enumerate(THEME_ORDER):
        if check.startswith(key) or (key.startswith(" ") and key in check):
            return i
    return len(THEME_ORDER)


def finalise(ds: Dataset, checks: list[Check]) -> list[Check]:
    """Verdicts, causes, severities and ids for every finding (returns new Checks)."""
    checks = _unique_keys(checks)
    checks = [_classify(ds, c) if c.status == FINDING and not c.verdict and not c.caused_by
              else c for c in checks]
    checks = _link_generic(checks)
    checks = _prune_causes(checks)
    checks = _inherit_verdicts(checks)
    checks = [c.with_(severity=c.severity or severity_of(c.printed, c.computed, c.step, c.decision))
              if c.status == FINDING else c.with_(severity="", verdict="", caused_by=())
              for c in checks]
    return _number(checks)


# ---------------------------------------------------------------------------------------------
def _unique_keys(checks: list[Check]) -> list[Check]:
    seen: dict[str, int] = {}
    out = []
    for i, c in enumerate(checks):
        key = c.key or f"check:{i}"
        if key in seen:
            seen[key] += 1
            key = f"{key}#{seen[key]}"
        else:
            seen[key] = 0
        out.append(c.with_(key=key))
    return out


def _decimals_of_step(step: float) -> int:
    if missing(step) or step <= 0:
        return 2
    return max(0, round(-math.log10(step)))


def _fmt(value: float, d: int) -> str:
    return f"{value:.{d}f}"


def one_edit(a: str, b: str) -> bool:
    """True when b is a with one character changed, dropped, added, or two neighbours swapped."""
    if a == b:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                   and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    if abs(len(a) - len(b)) == 1:
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
    return False


def typo_candidates(ds: Dataset, c: Check) -> list[str]:
    """One-character slips that explain a finding.

    First the printed figure itself (printed for computed). Failing that, one summed row: a row
    whose value, changed by the difference, is one slip away and would then sit with the other
    rows (an odd one out made regular, e.g. 1.19 → 10.19 among 10.17s); a single such row is
    also accepted alone. Ambiguous cases (several rows would do) are not called typos.
    """
    if c.check not in TYPO_CHECKS or missing(c.printed) or missing(c.computed):
        return []
    d = _decimals_of_step(c.step)
    if abs(c.computed - round(c.computed, d)) < 1e-6 and one_edit(_fmt(c.printed, d),
                                                                 _fmt(c.computed, d)):
        return [f"{_fmt(c.printed, d)} printed for {_fmt(c.computed, d)}"]
    table, column = c.extra.get("table"), c.extra.get("column")
    if not (table and column):
        return []
    frame = ds.table(table)
    key = "region_id" if "region_id" in frame.columns else "housing_type"
    rows = frame
    if c.scope_id and c.scope_id != ALL:
        rows = rows[rows[key] == c.scope_id]
    if c.year and c.year != ALL:
        rows = rows[rows["year"] == int(c.year)]
    rows = rows[rows[column].notna()]
    cd = column_decimals(ds, table, column)
    diff = c.printed - c.computed
    values = [float(v) for v in rows[column]]
    raw, regular = [], []
    for i, r in enumerate(rows.itertuples(index=False)):
        v = values[i]
        v2 = v + diff
        if v2 <= 0 or not one_edit(_fmt(v, cd), _fmt(v2, cd)):
            continue
        where = getattr(r, key) + (f" {r.year}" if "year" in frame.columns else "")
        text = f"{where} {_fmt(v, cd)} → {_fmt(v2, cd)}"
        raw.append(text)
        others = values[:i] + values[i + 1:]
        if others:
            med = float(pd.Series(others).median())
            if med and abs(v2 - med) <= 0.2 * med < abs(v - med):
                regular.append(text)
    return regular or (raw if len(raw) == 1 else [])


UNIT_ZH = {"10k_m2": "万㎡", "ha": "公顷", "months": "个月", "dwellings": "套", "share": "比例"}


def _value_index(ds: Dataset) -> list[tuple[float, str, str, str]]:
    """(value, unit, where, where in Chinese) of every printed total, target and fact."""
    out = []
    if ds.has_table("printed_totals"):
        for r in ds.table("printed_totals").itertuples(index=False):
            row = "" if r.row_id == ALL else f" {ds.name_zh(r.row_id)}"
            year = "" if r.year == ALL else f" {r.year}"
            src = source_of(ds, r.table)
            out.append((float(r.value), column_unit(ds, r.table, r.column),
                        f"{src} total{row}{year}", f"{src}{row.strip()}{year.strip()}合计"))
    targets = ds.table("targets")
    for r in targets.itertuples(index=False):
        out.append((float(r.value), str(r.unit), f"{r.source} target {r.target_id}",
                    f"{r.source}目标“{r.indicator_zh}”"))
    for r in ds.table("facts").itertuples(index=False):
        out.append((float(r.value), str(r.unit), f"{r.source} {r.fact}", f"{r.source}（{r.fact}）"))
    return out


def _significant(value: float) -> int:
    digits = re.sub(r"[^0-9]", "", f"{abs(value):.10g}").lstrip("0")
    return len(digits)


def _base_unit(unit: str) -> str:
    return unit.removesuffix("_per_year")


def copy_places(ds: Dataset, c: Check) -> list[tuple[str, str]]:
    """Where else the printed figure is printed as another quantity (another unit): (en, zh)."""
    if missing(c.printed) or _significant(c.printed) < 4 or not c.unit:
        return []
    return sorted({(f"{where} ({unit})", f"{where_zh}（{UNIT_ZH.get(unit, unit)}）")
                   for value, unit, where, where_zh in _value_index(ds)
                   if abs(value - c.printed) < 1e-9 and unit
                   and _base_unit(unit) != _base_unit(c.unit)})


def _classify(ds: Dataset, c: Check) -> Check:
    slips = typo_candidates(ds, c)
    if slips:
        return c.with_(verdict=TYPO, note=c.note + "; a one-character slip explains it: "
                       + " or ".join(slips),
                       note_zh=c.note_zh + "；一处笔误即可解释：" + "，或 ".join(slips))
    places = copy_places(ds, c)
    if places:
        return c.with_(verdict=COPY, note=c.note + f"; {c.printed:g} is also printed as "
                       + ", ".join(p[0] for p in places),
                       note_zh=c.note_zh + f"；{c.printed:g} 同时是" + "、".join(p[1] for p in places)
                       + "的数值")
    return c.with_(verdict=UNCLEAR)


def _tables(c: Check) -> set[str]:
    parts = re.split(r";|÷", c.tables)
    return {p.replace("(printed)", "").strip() for p in parts if p.strip()}


def _link_generic(checks: list[Check]) -> list[Check]:
    out = list(checks)
    findings = [(i, c) for i, c in enumerate(out) if c.status == FINDING]
    for n, (i, c) in enumerate(findings):
        if missing(c.difference):
            continue
        causes = list(c.caused_by)
        for _, r in findings[:n]:
            if missing(r.difference) or r.key in causes:
                continue
            step = c.step if not missing(c.step) and c.step > 0 else 0.01
            same_diff = abs(r.difference - c.difference) <= max(2 * step, 1e-3 * abs(c.difference))
            if (r.check == c.check and r.scope == c.scope and abs(r.printed - c.printed) < 1e-9
                    and same_diff):
                causes.append(r.key)
                break
            if (same_diff and abs(c.difference) >= 0.5 and _tables(r) & _tables(c)
                    and r.check in LINKABLE and c.check in LINKABLE and r.unit == c.unit
                    and (r.check, r.scope) != (c.check, c.scope)):
                causes.append(r.key)
                break
            if (c.verdict == COPY and r.verdict == COPY and abs(r.printed - c.printed) < 1e-9
                    and r.unit == c.unit and _significant(c.printed) >= 4):
                causes.append(r.key)
                break
        if causes != list(c.caused_by):
            out[i] = c.with_(caused_by=tuple(dict.fromkeys(causes)))
    return out


def _prune_causes(checks: list[Check]) -> list[Check]:
    """Keep causes that are findings; drop any link that would close a loop."""
    findings = {c.key for c in checks if c.status == FINDING}
    graph = {c.key: [k for k in c.caused_by if k in findings and k != c.key] for c in checks}

    def reaches(start: str, goal: str, seen: set) -> bool:
        if start == goal:
            return True
        seen.add(start)
        return any(reaches(n, goal, seen) for n in graph.get(start, []) if n not in seen)

    out = []
    for c in checks:
        kept = []
        for k in graph[c.key]:
            if not reaches(k, c.key, set()):
                kept.append(k)
        graph[c.key] = kept
        out.append(c.with_(caused_by=tuple(kept)))
    return out


def _inherit_verdicts(checks: list[Check]) -> list[Check]:
    """A comparison finding with no reason of its own takes the verdict of the findings it
    follows from, when they agree on one."""
    by_key = {c.key: c for c in checks}

    def root_verdicts(c: Check, seen: frozenset = frozenset()) -> set[str]:
        out = set()
        for k in c.caused_by:
            if k in seen:
                continue
            r = by_key[k]
            if r.verdict not in ("", UNCLEAR) or not r.caused_by:
                out.add(r.verdict or UNCLEAR)
            else:
                out |= root_verdicts(r, seen | {c.key})
        return out

    out = []
    for c in checks:
        if (c.status == FINDING and c.verdict in ("", UNCLEAR) and c.caused_by
                and c.check in LINKABLE):
            roots = root_verdicts(c)
            c = c.with_(verdict=roots.pop() if len(roots) == 1 else UNCLEAR)
        elif c.status == FINDING and not c.verdict:
            c = c.with_(verdict=UNCLEAR)
        out.append(c)
    return out


def _number(checks: list[Check]) -> list[Check]:
    """Ids F001, F002, ... for the findings: material first, then minor, then rounding; within
    each, in the order an official should read them (THEME_ORDER), then as the checks ran."""
    order = sorted((i for i, c in enumerate(checks) if c.status == FINDING),
                   key=lambda i: (SEVERITY_ORDER.get(checks[i].severity, 3),
                                  theme_rank(checks[i].check), i))
    width = max(2, len(str(len(order))))
    ids = {checks[i].key: f"F{n + 1:0{width}d}" for n, i in enumerate(order)}
    return [c.with_(extra={**c.extra, "id": ids.get(c.key, ""),
                           "caused_by_ids": tuple(ids[k] for k in c.caused_by if k in ids)})
            for c in checks]


__all__ = ["finalise", "one_edit", "typo_candidates", "copy_places", "UNCLEAR", "MINOR"]
