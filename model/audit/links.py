"""After the checks have run: say why each finding differs (verdict), how much it matters
(severity), which finding it follows from (caused_by), and number the findings.

Verdicts, in the order they are tried on a finding whose check family gave none:
- typo: a one-character slip (a digit changed, dropped, added or two swapped) turns the printed
  figure into the computed one, or turns one of the summed rows into the value that would make
  the printed total right;
- copy error: the printed figure (four or more significant digits) is printed elsewhere in the
  plan as a different quantity (another unit), and the plan shows which unit the number belongs
  to (it is a target in that unit, or the text derives another figure of that unit from it, e.g.
  §7.4's 278.55 ha = 574.93 × 48.45 %) and this printing is in the other unit. The printing in
  the unit the number belongs to is not the copy (unclear, with the evidence in the note); when
  the plan does not show which unit it belongs to, unclear as well (one of the two is a copy);
- unclear: otherwise. A family may also say ``different quantity`` (the two figures measure
  different things) or ``method`` (how the plan built its numbers: supply = demand split by a
  fixed profile, no stock netted, land = supply ÷ one plot ratio).
A comparison finding that follows from others inherits their verdict when it has no reason of its
own and they agree; any finding whose causes all go back to ``method`` findings is ``method``.

Causes, besides those the families set from the structure they know (a grand total that is the
sum of printed column totals, a share that fits the rows but not the printed total, ...): a
ratio whose one side follows a fixed yearly profile (a ``supply profile`` finding) and whose
other side does not; a printed figure that is another finding's printed figure times a printed
share (it was derived from it); an earlier finding with the same check, scope, printed figure and
difference (the same error printed twice); an earlier finding on a shared table with the same
difference (0.5 or more); an earlier copy error of the same number in the same unit.

One inconsistency seen year by year is reported once: the yearly findings of one comparison
(same check, tables and scope, one plan year each, same verdict, not a typo or copy error of one
figure) become one finding over the years, shown at its largest gap with every year in the note;
the yearly checks keep their rows in audit_checks.csv with status ``merged``.
"""
from __future__ import annotations

import math
import re

import pandas as pd

from model.audit.core import (
    ALL, COPY, FINDING, MATERIAL, MERGED, METHOD, MINOR, PRINTED, ROUNDING, TYPO,
    UNCLEAR, Check, Dataset, column_decimals, column_unit, decimals, fact_decimals, missing,
    scope_label, severity_of, source_of, years_label,
)
from model.labels import Labels

TYPO_CHECKS = {"printed total", "same quantity", "districts vs main city"}
# Comparisons of printed figures: the checks whose errors propagate to one another (causes by
# equal differences, inherited verdicts). Projections and rules have their own causes.
LINKABLE = TYPO_CHECKS | {"derived figure", "printed share"}
# Comparisons made once per plan year: one inconsistency seen in several years is one finding.
SERIES_CHECKS = {"districts vs main city", "same quantity", "implied ratio"}
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
    _CACHE.clear()
    checks = _unique_keys(checks)
    checks = [_classify(ds, c) if c.status == FINDING and not c.verdict and not c.caused_by
              else c for c in checks]
    checks = _link_profiles(checks)
    checks = _link_derived(ds, checks)
    checks = _link_scaled(checks)
    checks = _link_generic(checks)
    checks = _prune_causes(checks)
    checks = _inherit_verdicts(checks)
    checks = [c.with_(severity=c.severity or severity_of(c.printed, c.computed, c.step, c.decision))
              if c.status == FINDING else c.with_(severity="", verdict="", caused_by=())
              for c in checks]
    checks = _merge_series(ds, checks)
    _CACHE.clear()
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
    # The printed figure itself can only be a slip when it is printed (not a sum of rows).
    if c.printed_as == PRINTED and abs(c.computed - round(c.computed, d)) < 1e-6 and one_edit(
            _fmt(c.printed, d), _fmt(c.computed, d)):
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


# the kind of quantity a figure is ("belongs to hectares (land)", "本是公顷数"): model.labels
ZH, EN = Labels("zh"), Labels("en")


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
    return sorted({(f"{where} ({unit})", f"{where_zh}（{ZH.unit_kind(unit)}）")
                   for value, unit, where, where_zh in _value_index(ds)
                   if abs(value - c.printed) < 1e-9 and unit
                   and _base_unit(unit) != _base_unit(c.unit)})


def _printed_shares(ds: Dataset) -> list[tuple[float, str, str, float, str]]:
    key = ("shares", id(ds))
    if key not in _CACHE:
        _CACHE[key] = _printed_shares_uncached(ds)
    return _CACHE[key]


# Lookups that depend only on the dataset, kept for one finalise() call (cleared at its start).
_CACHE: dict = {}


def _printed_shares_uncached(ds: Dataset) -> list[tuple[float, str, str, float, str]]:
    """(share, where, where in Chinese, the row's own value, table label) of every printed share
    below 100 %. The row's value (its printed total, else the sum of its rows) is what the share
    was computed from: a figure equal to it is not derived from the share."""
    if not ds.has_table("printed_shares"):
        return []
    from model.audit.core import printed_total, table_value
    out = []
    for r in ds.table("printed_shares").itertuples(index=False):
        if r.row_id != ALL and 0 < float(r.share) < 1:
            src = source_of(ds, r.table)
            own = printed_total(ds, r.table, r.column, r.row_id, r.year)
            if missing(own):
                own, _ = table_value(ds, r.table, r.column, r.row_id, r.year)
            out.append((float(r.share), f"{src} {ds.name_zh(r.row_id)} share",
                        f"{src}{ds.name_zh(r.row_id)}占比", float(own), src))
    return out


def _matching_share(ds: Dataset, figure: float, base: float, tol: float, prefer=()):
    """A printed share s with figure = base × s (within tol) that was not computed from the figure
    itself; shares of the tables in ``prefer`` first. (share, where, where in Chinese) or None."""
    hits = [(s, w, wz) for s, w, wz, own, src in
            sorted(_printed_shares(ds), key=lambda x: x[4] not in prefer)
            if abs(figure - base * s) <= tol and abs(own - figure) > tol]
    return hits[0] if hits else None


def _figures(ds: Dataset) -> list[tuple[float, str, int, str, str]]:
    """(value, unit, decimals, where, where in Chinese) of every fact and target."""
    key = ("figures", id(ds))
    if key in _CACHE:
        return _CACHE[key]
    out = []
    for r in ds.table("facts").itertuples(index=False):
        out.append((float(r.value), str(r.unit), fact_decimals(ds, r.fact, r.scope, r.period),
                    f"{r.source} {r.fact}", f"{r.source}（{r.fact}）"))
    for r in ds.table("targets").itertuples(index=False):
        out.append((float(r.value), str(r.unit), decimals(float(r.value)),
                    f"{r.source} target {r.target_id}", f"{r.source}目标“{r.indicator_zh}”"))
    _CACHE[key] = out
    return out


def derived_from(ds: Dataset, base: float) -> list[tuple[float, str, tuple, str, str]]:
    """Printed figures (facts, targets; four or more significant digits) that equal ``base`` ×
    a printed share to their last digit: (figure, unit, (share en, share zh), where, where zh)."""
    if missing(base) or _significant(base) < 4:
        return []
    # Shares of a table whose printed total is the base first (the share the text multiplied).
    prefer = tuple(source_of(ds, r.table) for r in ds.table("printed_totals").itertuples(index=False)
                   if abs(float(r.value) - base) < 1e-9) if ds.has_table("printed_totals") else ()
    out = []
    for value, unit, d, where, where_zh in _figures(ds):
        if _significant(value) < 4:
            continue
        hit = _matching_share(ds, value, base, 0.5 * 10 ** -d + 1e-9, prefer)
        if hit is not None:
            out.append((value, unit, (f"{hit[0]:.2%} ({hit[1]})", f"{hit[0]:.2%}（{hit[2]}）"),
                        where, where_zh))
    return out


def home_units(ds: Dataset, value: float) -> dict[str, list[tuple[str, str]]]:
    """The units the plan shows a number belongs to, with the evidence (en, zh): a target of that
    value in that unit; a figure of that unit the text derives from it (value × a printed share)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in ds.table("targets").itertuples(index=False):
        if abs(float(r.value) - value) < 1e-9 and r.unit:
            out.setdefault(_base_unit(str(r.unit)), []).append(
                (f"{r.source} target {r.target_id}", f"{r.source}目标“{r.indicator_zh}”"))
    for fig, unit, share, where, where_zh in derived_from(ds, value):
        out.setdefault(_base_unit(unit), []).append(
            (f"{where} {fig:g} = {value:g} × {share[0]}", f"{where_zh} {fig:g} = {value:g} × {share[1]}"))
    return out


def _classify(ds: Dataset, c: Check) -> Check:
    slips = typo_candidates(ds, c)
    if slips:
        return c.with_(verdict=TYPO, note=c.note + "; a one-character slip explains it: "
                       + " or ".join(slips),
                       note_zh=c.note_zh + "；一处笔误即可解释：" + "，或 ".join(slips))
    places = copy_places(ds, c)
    if places:
        v = f"{c.printed:g}"
        also = f"; {v} is also printed as " + ", ".join(p[0] for p in places)
        also_zh = f"；{v} 同时是" + "、".join(p[1] for p in places) + "的数值"
        homes = home_units(ds, c.printed)
        mine = _base_unit(c.unit)
        if len(homes) == 1:
            home, evidence = next(iter(homes.items()))
            why = "; ".join(e[0] for e in evidence)
            why_zh = "；".join(e[1] for e in evidence)
            home_en, home_zh = EN.unit_kind(home), ZH.unit_kind(home)
            if home == mine:
                return c.with_(verdict=UNCLEAR, note=c.note + also + (
                    f"; but {v} belongs to {home_en} ({why}): this printing is consistent with "
                    f"the text and the printings in other units are the copies; why it differs "
                    f"from the rows is not shown"), note_zh=c.note_zh + also_zh + (
                    f"；但 {v} 本是{home_zh}数（{why_zh}），此处与正文一致，别处以其他单位印出的才是"
                    f"抄录错误；与各行之和不符的原因不明"))
            return c.with_(verdict=COPY, note=c.note + also + (
                f"; {v} belongs to {home_en} ({why}), so this printing is the copy"),
                note_zh=c.note_zh + also_zh + f"；{v} 本是{home_zh}数（{why_zh}），此处为抄录错误")
        return c.with_(verdict=UNCLEAR, note=c.note + also + (
            "; one of the printings is a copy, and the plan does not show which unit the number "
            "belongs to"), note_zh=c.note_zh + also_zh + "；其中一处为抄录，规划未显示该数原属何种单位")
    return c.with_(verdict=UNCLEAR)


def _tables(c: Check) -> set[str]:
    parts = re.split(r";|÷", c.tables)
    return {p.replace("(printed)", "").strip() for p in parts if p.strip()}


def _link_profiles(checks: list[Check]) -> list[Check]:
    """A yearly ratio finding whose one side follows a fixed yearly profile (a ``supply profile``
    finding's) while the other does not follows from that profile: the ratio moves with it."""
    profiles = [(c.key, c.extra["profile"], c.tables.split(";")[0].strip())
                for c in checks if c.status == FINDING and c.check == "supply profile"
                and c.extra.get("profile")]
    profiles.sort(key=lambda p: bool(next(c for c in checks if c.key == p[0]).caused_by))
    if not profiles:
        return checks
    out = []
    for c in checks:
        shares = c.extra.get("yearly_shares") or {}
        if c.status == FINDING and shares and c.year not in ("", ALL):
            for key, profile, src in profiles:
                def gap(side):
                    series = shares[side]
                    return max(abs(series.get(y, 0.0) - p) for y, p in profile.items())
                follows = {side: gap(side) < 0.005 for side in ("num", "den")}
                differs = {side: gap(side) > 0.02 for side in ("num", "den")}
                side = ("num" if follows["num"] and differs["den"] else
                        "den" if follows["den"] and differs["num"] else None)
                if side is None:
                    continue
                num_t, den_t = c.extra.get("tables_num_den", ("numerator", "denominator"))
                which, other = (num_t, den_t) if side == "num" else (den_t, num_t)
                spread = "/".join(f"{p:.0%}" for p in profile.values())
                c = c.with_(caused_by=tuple(dict.fromkeys((*c.caused_by, key))),
                            note=c.note + f"; the {'numerator' if side == 'num' else 'denominator'}"
                            f" follows the fixed yearly profile {spread} of {src} while the other "
                            f"side does not: the ratio moves with that profile",
                            note_zh=c.note_zh + f"；分子/分母之一按 {src} 的固定比例 {spread} 分年，"
                            f"另一项不是，比值随之起落")
                break
        out.append(c)
    return out


def _link_derived(ds: Dataset, checks: list[Check]) -> list[Check]:
    """A printed figure that is another finding's printed figure × a printed share was derived
    from it, and follows from it (e.g. §7.4's 278.55 ha = 表48's printed total 574.93 × 48.45 %)."""
    findings = [c for c in checks if c.status == FINDING and c.printed_as == PRINTED
                and not missing(c.printed) and _significant(c.printed) >= 4]
    out = []
    for c in checks:
        if c in findings and c.check in LINKABLE:
            d = _decimals_of_step(c.step)
            sources = sorted((r for r in findings if r.key != c.key and r.unit
                              and _base_unit(r.unit) == _base_unit(c.unit)
                              and abs(r.printed - c.printed) > 1e-9),
                             key=lambda r: bool(r.caused_by))
            for r in sources:
                hit = _matching_share(ds, c.printed, r.printed, 0.5 * 10 ** -d + 1e-9,
                                      tuple(t.strip() for t in _tables(r)))
                if hit is None:
                    continue
                s, where, where_zh = hit
                c = c.with_(caused_by=tuple(dict.fromkeys((*c.caused_by, r.key))),
                            note=c.note + f"; {c.printed:g} = {r.printed:g} × {s:.2%} ({where}): it "
                            f"is derived from {r.tables}'s {r.printed:g} and follows from its gap",
                            note_zh=c.note_zh + f"；{c.printed:g} = {r.printed:g} × {s:.2%}（{where_zh}），"
                            f"由{r.tables}的 {r.printed:g} 推得，随其差异而差")
                break
        out.append(c)
    return out


def _link_scaled(checks: list[Check]) -> list[Check]:
    """Where one table is another divided by one common ratio (every row-year within 5 % of it,
    e.g. land = supply ÷ a plot ratio of 2.03), a gap in the divided table that is the other
    table's gap at the same scope and year divided by that ratio follows from it."""
    ratios = {}
    for c in checks:
        if c.key.startswith("ratio:") and c.extra.get("uniform") and c.extra.get("sources_num_den"):
            ratios[c.extra["sources_num_den"]] = c.extra["typical"]
    if not ratios:
        return checks
    findings = [c for c in checks if c.status == FINDING and c.check in LINKABLE
                and not missing(c.difference)]
    out = []
    for c in checks:
        if c in findings and not c.caused_by:
            for (num_src, den_src), ratio in ratios.items():
                if den_src not in _tables(c):
                    continue
                r = next((r for r in findings if r.key != c.key and num_src in _tables(r)
                          and r.scope_id == c.scope_id and r.year == c.year
                          and abs(c.difference * ratio - r.difference)
                          <= 0.01 * abs(r.difference) + 0.5 * (r.step if not missing(r.step) else 0)
                          and abs(r.difference) >= 0.5), None)
                if r is None:
                    continue
                c = c.with_(caused_by=(r.key,),
                            note=c.note + f"; {c.difference:+.2f} × {ratio:.2f} (every row of "
                            f"{den_src} is {num_src} ÷ about {ratio:.2f}) = {c.difference * ratio:+.2f}, "
                            f"the gap of {r.tables} {r.scope}: it follows from the same figure",
                            note_zh=c.note_zh + f"；差额 {c.difference:+.2f} × {ratio:.2f} = "
                            f"{c.difference * ratio:+.2f}，即{r.tables}同一处的差额，源于同一数字")
                break
        out.append(c)
    return out


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
        if c.status == FINDING and c.verdict in ("", UNCLEAR) and c.caused_by:
            roots = root_verdicts(c)
            if c.check in LINKABLE:
                c = c.with_(verdict=roots.pop() if len(roots) == 1 else UNCLEAR)
            elif roots == {METHOD}:   # a consequence of how the plan built its numbers
                c = c.with_(verdict=METHOD)
            else:
                c = c.with_(verdict=c.verdict or UNCLEAR)
        elif c.status == FINDING and not c.verdict:
            c = c.with_(verdict=UNCLEAR)
        out.append(c)
    return out


def _plan_year(ds: Dataset, year: str) -> bool:
    return str(year).isdigit() and int(year) in set(ds.plan_years)


def _merge_series(ds: Dataset, checks: list[Check]) -> list[Check]:
    """One finding for one inconsistency seen year by year (see the module docstring)."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(checks):
        series_kind = c.check in SERIES_CHECKS or c.extra.get("split_total") is not None
        # A slip in one figure (typo, copy error) is its own finding, not part of a series.
        if (c.status == FINDING and series_kind and _plan_year(ds, c.year)
                and c.verdict not in (TYPO, COPY)):
            groups.setdefault((c.check, c.tables, c.scope_id, c.unit, c.verdict), []).append(i)
    renamed: dict[str, str] = {}
    replace_at: dict[int, list[Check]] = {}
    for (check, tables, scope_id, unit, _), idx in groups.items():
        if len(idx) < 2:
            continue
        members = [checks[i] for i in idx]
        keys = {m.key for m in members}
        worst = max(members, key=lambda m: abs(m.difference) if not missing(m.difference) else -1)
        years = sorted(int(m.year) for m in members)
        # The whole series (every plan year of this comparison, findings or not) for the note.
        series = sorted((c for c in checks if (c.check, c.tables, c.scope_id, c.unit)
                         == (check, tables, scope_id, unit) and _plan_year(ds, c.year)),
                        key=lambda c: int(c.year))
        d = _decimals_of_step(worst.step) if unit not in ("share",) else 4
        d = min(d, 2) if unit not in ("share",) else d
        trail = ", ".join(f"{c.year}: {c.printed:.{d}f} vs {c.computed:.{d}f} "
                          f"({c.difference:+.{d}f})" for c in series)
        trail_zh = "，".join(f"{c.year}年 {c.printed:.{d}f}／{c.computed:.{d}f}" for c in series)
        first, last = series[0], series[-1]
        note = (f"{worst.note.split('; ')[0]} — one inconsistency seen in {len(members)} years "
                f"({', '.join(map(str, years))}), shown at its largest gap ({worst.year}); printed "
                f"vs computed by year: {trail}")
        if abs(first.printed - last.printed) > 1e-9:
            note += (f"; the printed side goes {first.printed:.{d}f} → {last.printed:.{d}f}, the "
                     f"computed side {first.computed:.{d}f} → {last.computed:.{d}f}")
        whole = next((c for c in checks if (c.check, c.tables, c.scope_id, c.unit)
                      == (check, tables, scope_id, unit) and c.year in ("", ALL)
                      and not missing(c.difference)), None)
        spread = sum(abs(c.difference) for c in series if not missing(c.difference))
        if whole is not None and abs(whole.difference) < 0.5 * spread:
            note += (f"; over all years the two differ by only {whole.difference:+.{d}f}: they "
                     f"spread nearly the same total differently over the years")
        rest = "; ".join(worst.note.split("; ")[1:])
        if rest:
            note += f"; {rest}"
        note_zh = (f"{worst.note_zh.split('；')[0]}——同一不一致见于 {len(members)} 个年份，"
                   f"此处列差异最大的{worst.year}年；各年规划所印／复核计算：{trail_zh}")
        causes = tuple(dict.fromkeys(k for m in members for k in m.caused_by if k not in keys))
        order = {s: n for n, s in enumerate((MATERIAL, MINOR, ROUNDING))}
        severity = min((m.severity for m in members), key=lambda s: order.get(s, 3))
        merged_key = f"series:{worst.key}"
        merged = worst.with_(
            key=merged_key, scope=scope_label(ds, scope_id, years_label(years)),
            year=years_label(years), note=note, note_zh=note_zh, severity=severity,
            caused_by=causes, extra={**worst.extra, "series_year": worst.year,
                                     "members": tuple(m.key for m in members)})
        for i, m in zip(idx, members):
            renamed[m.key] = merged_key
            member = m.with_(status=MERGED, caused_by=(merged_key,))
            replace_at[i] = [merged, member] if i == idx[0] else [member]
    if not renamed:
        return checks
    out = [c for i, c0 in enumerate(checks) for c in replace_at.get(i, [c0])]
    # Whatever followed from a yearly finding now follows from the merged one.
    fixed = []
    for c in out:
        if c.status == FINDING and any(k in renamed for k in c.caused_by):
            causes = tuple(dict.fromkeys(renamed.get(k, k) for k in c.caused_by))
            c = c.with_(caused_by=tuple(k for k in causes if k != c.key))
        fixed.append(c)
    return fixed


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
