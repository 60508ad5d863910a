"""What every audit check shares: the Check record, statuses, printed precision, and selectors.

A *selector* names one figure of the dataset, in the manifest's relations:

    {table, column, row, year, printed}   a table's rows summed (row/year ALL = all), or its
                                          printed total (printed: true, from printed_totals.csv)
    {fact, scope, period}                 one figure printed in the text (facts.csv)
    {target, scope}                       one target (targets.csv)
    {constant}                            a number

with optional ``sign``, ``scale`` and ``per`` (divide by another selector). Years and periods may
name a role of the manifest instead of a calendar year, so relations stay year-neutral:
``BASE`` (base_year), ``PLAN`` (first–last plan year), ``HISTORY`` (first–last history year),
``PLAN_FIRST``, ``PLAN_LAST``, ``HISTORY_FIRST``, ``HISTORY_LAST``; a table year may also be
``EACH`` (one check per plan year).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd

from model.data import ALL, TABLE_ALIASES, Dataset

OK, ROUNDING, FINDING, INFO = "ok", "rounding", "finding", "info"
# A yearly finding reported in audit.csv as part of one finding over the years (its caused_by
# names that finding): one inconsistency seen year by year is reported once.
MERGED = "merged"
MATERIAL, MINOR = "material", "minor"                  # severity (and ROUNDING)
TYPO, COPY, DIFFERENT, UNCLEAR = "typo", "copy error", "different quantity", "unclear"
# How the plan built its numbers (supply = demand split by a fixed profile, no stock netted, land
# = supply ÷ one plot ratio, ...), as opposed to a slip in one figure.
METHOD = "method"
SEVERITIES = (MATERIAL, MINOR, ROUNDING)
VERDICTS = (TYPO, COPY, DIFFERENT, METHOD, UNCLEAR)
# What a check's ``printed`` figure is: a figure as the plan prints it, a sum of the plan's rows
# (not printed anywhere as such), or a figure derived from printed ones (a share, a ratio).
PRINTED, ROW_SUM, DERIVED = "printed", "row sum", "derived"
PRINTED_AS = (PRINTED, ROW_SUM, DERIVED)
# Where a check's relation came from: the dataset's manifest, or the default relations the audit
# derives from the tables the dataset has (model/audit/defaults.py).
MANIFEST, DEFAULT = "manifest", "default"


class RelationError(Exception):
    """A manifest relation that cannot be evaluated (a malformed selector)."""


@dataclass(frozen=True)
class Check:
    """One comparison of a printed figure with the figure the plan's own rows or rules give.

    ``status`` is ok, rounding (within printed precision), info (listed, not a contradiction),
    finding, or merged (a yearly finding reported as part of one finding over the years). A
    finding carries a ``severity`` (material / minor / rounding), a ``verdict`` (typo, copy
    error, different quantity, method, unclear) and, when it follows from another finding, the
    keys of that finding in ``caused_by``. ``step`` is one unit of the printed figure's last digit
    (0.01 for 574.93), in the check's ``unit``; ``decision`` marks figures the plan's supply,
    land and targets rest on (as opposed to background statistics). ``printed_as`` says what the
    ``printed`` figure is: printed (as the plan prints it), row sum (the sum of the plan's rows,
    printed nowhere as such) or derived (computed from printed figures). ``origin`` says whether
    the relation was listed in the manifest or is a default derived from the dataset's tables.
    """

    check: str
    tables: str
    scope: str
    printed: float
    computed: float
    note: str
    status: str
    key: str = ""
    unit: str = ""
    note_zh: str = ""
    severity: str = ""
    verdict: str = ""
    caused_by: tuple[str, ...] = ()
    scope_id: str = ""
    year: str = ""
    step: float = math.nan
    decision: bool = True
    printed_as: str = PRINTED
    origin: str = MANIFEST
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def difference(self) -> float:
        if missing(self.printed) or missing(self.computed):
            return math.nan
        return self.printed - self.computed

    def with_(self, **changes) -> "Check":
        return replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Numbers and precision
# ---------------------------------------------------------------------------------------------
def missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def decimals(value: float) -> int:
    """Decimals of a number as Python prints it (trailing zeros are lost: use printed_decimals)."""
    text = f"{value:.10g}"
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def text_decimals(text: str) -> int:
    text = str(text).strip()
    return len(text.split(".")[1]) if "." in text else 0


def rounding_tolerance(values, n_terms: int = 1) -> float:
    """Half a unit in the last printed digit, once per summed term."""
    digits = max((decimals(v) for v in values if not missing(v)), default=0)
    return max(n_terms, 1) * 0.5 * 10 ** (-digits) + 1e-9


def status_of(printed: float, computed: float, tolerance: float) -> str:
    if missing(printed) or missing(computed):
        return FINDING
    diff = abs(printed - computed)
    if diff <= 1e-6:
        return OK
    return ROUNDING if diff <= tolerance else FINDING


def severity_of(printed: float, computed: float, step: float, decision: bool = True) -> str:
    """material / minor / rounding for a finding.

    rounding: at most one unit of the printed last digit, or at most five units and under 1 %
    (a truncated or slipped last digit). material: a figure the plan's decisions rest on, off by
    1 % or more. minor: the rest (background statistics, text, small differences).
    """
    if missing(printed) or missing(computed):
        return MINOR
    diff = abs(printed - computed)
    rel = diff / max(abs(printed), abs(computed), 1e-12)
    if not missing(step) and (diff <= step * 1.0001 or (diff <= 5 * step and rel < 0.01)):
        return ROUNDING
    return MATERIAL if decision and rel >= 0.01 else MINOR


#: A ratio (supply ÷ land, ...) is uniform when every row-year is within this share of its median.
UNIFORM_SHARE = 0.05


def uniform_ratio(ratios: pd.Series) -> float | None:
    """The median of ``ratios`` when every one is within UNIFORM_SHARE (5 %) of it — one table is
    the other times one ratio — else None (also for no ratios or a zero median)."""
    if ratios.empty:
        return None
    median = float(ratios.median())
    if not median:
        return None
    return median if ((ratios / median - 1).abs() <= UNIFORM_SHARE).all() else None


# ---------------------------------------------------------------------------------------------
# The dataset's figures as printed (text), for their precision
# ---------------------------------------------------------------------------------------------
def table_file(ds: Dataset, table: str) -> Path:
    table = TABLE_ALIASES.get(table, table)
    entry = (ds.manifest.get("tables") or {}).get(table) or {}
    name = entry.get("file", f"{table}.csv") if isinstance(entry, dict) else f"{table}.csv"
    path = Path(ds.root) / name
    if not path.is_file() and not entry:   # the loader's fallback to an old default file name
        for old in (a for a, new in TABLE_ALIASES.items() if new == table):
            if (Path(ds.root) / f"{old}.csv").is_file():
                return Path(ds.root) / f"{old}.csv"
    return path


@lru_cache(maxsize=64)
def _raw_csv(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                       skipinitialspace=True).apply(lambda col: col.str.strip())


def raw_table(ds: Dataset, table: str) -> pd.DataFrame:
    """A table exactly as its CSV spells it (strings), row for row with ``ds.table(table)``."""
    path = table_file(ds, table)
    return _raw_csv(str(path), path.stat().st_mtime)


def column_decimals(ds: Dataset, table: str, column: str) -> int:
    raw = raw_table(ds, table)
    return max((text_decimals(v) for v in raw[column] if v != ""), default=0)


def fact_decimals(ds: Dataset, fact: str, scope: str, period) -> int:
    raw = raw_table(ds, "facts")
    hit = raw[(raw["fact"] == fact) & (raw["scope"] == scope)]
    if period is not None:
        hit = hit[hit["period"] == str(period)]
    return text_decimals(hit["value"].iloc[0]) if not hit.empty else 0


def printed_total_decimals(ds: Dataset, table: str, column: str, row=ALL, year=ALL) -> int:
    if not ds.has_table("printed_totals"):
        return 0
    raw = raw_table(ds, "printed_totals")
    hit = raw[(raw["table"] == table) & (raw["column"] == column) & (raw["row_id"] == str(row))
              & (raw["year"] == str(year))]
    return text_decimals(hit["value"].iloc[0]) if not hit.empty else 0


def step_of(decimals_: int) -> float:
    return 10.0 ** (-decimals_)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------
def source_of(ds: Dataset, table: str) -> str:
    entry = (ds.manifest.get("tables") or {}).get(table) or {}
    return str(entry.get("source", table)) if isinstance(entry, dict) else table


def scope_label(ds: Dataset, row: str, year=ALL) -> str:
    zh = ds.name_zh(row)
    name = "all rows" if row == ALL else (f"{row} {zh}" if zh != row else row)
    return name if str(year) == ALL else f"{name}, {year}"


def zh_name(ds: Dataset, row: str) -> str:
    return "全部行" if row == ALL else ds.name_zh(row)


def key_column(frame: pd.DataFrame) -> str:
    return "region_id" if "region_id" in frame.columns else "housing_type"


def years_label(years) -> str:
    years = list(years)
    return f"{years[0]}–{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "")


def target_name_zh(ds: Dataset, target_id: str, scope: str = "city") -> str:
    """The indicator of a target as printed (targets.csv indicator_zh)."""
    frame = ds.table("targets")
    hit = frame[(frame["target_id"] == target_id) & (frame["scope"] == scope)]
    return str(hit["indicator_zh"].iloc[0]) if not hit.empty else target_id


def fact_source(ds: Dataset, fact: str, scope: str = "city") -> str:
    """Where a fact is printed (:meth:`Dataset.fact_source`), "facts" when it is not."""
    return ds.fact_source(fact, scope) or "facts"


# ---------------------------------------------------------------------------------------------
# Roles of the manifest (year-neutral relations)
# ---------------------------------------------------------------------------------------------
def resolve_period(ds: Dataset, value):
    """A period or year, with manifest roles (BASE, PLAN, HISTORY, PLAN_FIRST, ...) resolved."""
    if value is None:
        return None
    token = str(value)
    plan, hist = ds.plan_years, ds.history_years
    roles = {
        "BASE": str(ds.base_year),
        "PLAN": f"{plan[0]}-{plan[-1]}" if plan else None,
        "HISTORY": f"{hist[0]}-{hist[-1]}" if hist else None,
        "PLAN_FIRST": str(plan[0]) if plan else None,
        "PLAN_LAST": str(plan[-1]) if plan else None,
        "HISTORY_FIRST": str(hist[0]) if hist else None,
        "HISTORY_LAST": str(hist[-1]) if hist else None,
    }
    if token in roles:
        if roles[token] is None:
            raise RelationError(f"period {token} is not defined by this manifest")
        return roles[token]
    return token


def period_years(period: str) -> tuple[int, ...]:
    """The calendar years of a period ('2021-2024' → 2021..2024; '2025' → 2025)."""
    first, _, last = str(period).partition("-")
    return tuple(range(int(first), int(last or first) + 1))


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------
def table_value(ds: Dataset, table: str, column: str, row=ALL, year=ALL) -> tuple[float, int]:
    """Sum of a column over the matching rows, and how many rows were summed."""
    frame = ds.table(table)
    if column not in frame.columns:
        raise RelationError(f"table {table} has no column {column!r}")
    key = key_column(frame)
    mask = pd.Series(True, index=frame.index)
    if str(row) != ALL:
        mask &= frame[key] == row
    if str(year) != ALL:
        if "year" not in frame.columns:
            raise RelationError(f"table {table} has no year column (asked for year {year})")
        mask &= frame["year"] == int(year)
    values = frame.loc[mask, column].dropna()
    if values.empty:
        return math.nan, 0
    return float(values.astype(float).sum()), int(len(values))


def printed_total(ds: Dataset, table: str, column: str, row=ALL, year=ALL) -> float:
    if not ds.has_table("printed_totals"):
        return math.nan
    pt = ds.table("printed_totals")
    hit = pt[(pt["table"] == table) & (pt["column"] == column)
             & (pt["row_id"] == str(row)) & (pt["year"] == str(year))]
    return float(hit["value"].iloc[0]) if not hit.empty else math.nan


@dataclass(frozen=True)
class Resolved:
    """A selector's value, where it came from, how many printed terms it sums, its precision."""

    value: float
    label: str
    n_terms: int
    step: float
    unit: str = ""
    kind: str = PRINTED   # printed, row sum (several rows summed) or derived (÷ another figure)


def resolve(ds: Dataset, sel: dict, year=None) -> Resolved:
    """Evaluate one selector (see the module docstring)."""
    if not isinstance(sel, dict):
        raise RelationError(f"selector {sel!r} is not a mapping")
    sel_year = sel.get("year", ALL)
    if sel_year == "EACH":
        sel_year = year
    elif sel_year != ALL:
        sel_year = resolve_period(ds, sel_year)
    unit = ""
    kind = PRINTED
    if "constant" in sel:
        value, label, n, step = float(sel["constant"]), "constant", 0, 0.0
    elif "fact" in sel:
        scope = sel.get("scope", "city")
        period = resolve_period(ds, sel.get("period"))
        value = ds.fact_or_none(sel["fact"], scope, period)
        if value is None:
            raise RelationError(f"facts.csv has no fact {sel['fact']!r} for scope {scope!r}"
                                + ("" if period is None else f", period {period}"))
        facts = ds.table("facts")
        hit = facts[(facts["fact"] == sel["fact"]) & (facts["scope"] == scope)]
        if period is not None:
            hit = hit[hit["period"] == str(period)]
        label = str(hit["source"].iloc[0]) if not hit.empty else "facts"
        unit = str(hit["unit"].iloc[0]) if not hit.empty else ""
        used_period = str(hit["period"].iloc[0]) if not hit.empty else period
        step = step_of(fact_decimals(ds, sel["fact"], scope, used_period))
        n = 1
    elif "target" in sel:
        target = ds.target_or_none(sel["target"], sel.get("scope", "city"))
        if target is None:
            raise RelationError(f"targets.csv has no target {sel['target']!r} "
                                f"for scope {sel.get('scope', 'city')!r}")
        value, label, n, unit = target.value, target.source, 1, target.unit
        step = step_of(decimals(value))
    elif "table" in sel:
        if "column" not in sel:
            raise RelationError(f"selector {sel!r} needs a column")
        row = sel.get("row", ALL)
        unit = column_unit(ds, sel["table"], sel["column"])
        if sel.get("printed"):
            value = printed_total(ds, sel["table"], sel["column"], row, sel_year)
            step = step_of(printed_total_decimals(ds, sel["table"], sel["column"], row, sel_year))
            if missing(value) and row != ALL and str(sel_year) != ALL:
                value, _ = table_value(ds, sel["table"], sel["column"], row, sel_year)
                step = step_of(column_decimals(ds, sel["table"], sel["column"]))
            n = 1
        else:
            value, n = table_value(ds, sel["table"], sel["column"], row, sel_year)
            step = step_of(column_decimals(ds, sel["table"], sel["column"]))
            kind = ROW_SUM if n > 1 else PRINTED
        label = source_of(ds, sel["table"]) + (" (printed)" if sel.get("printed") else "")
    else:
        raise RelationError(f"selector {sel!r} names no table, fact, target or constant")
    factor = float(sel.get("scale", 1.0)) * float(sel.get("sign", 1.0))
    value *= factor
    step *= abs(factor)
    if "per" in sel:
        per = resolve(ds, sel["per"], year)
        value = value / per.value if per.value else math.nan
        label, n = f"{label} ÷ {per.label}", n + per.n_terms
        step = math.nan
        kind = DERIVED
    return Resolved(value, label, n, step, unit, kind)


def sum_terms(ds: Dataset, terms, year=None) -> tuple[float, list[str], int, float]:
    """Σ of several selectors: value, their labels, terms summed, and the summed half-steps."""
    if terms is None:
        return 1.0, [], 0, 0.0
    if isinstance(terms, dict):
        terms = [terms]
    total, labels, n, half_steps = 0.0, [], 0, 0.0
    for term in terms:
        r = resolve(ds, term, year)
        total += r.value
        labels.append(r.label)
        n += r.n_terms
        half_steps += 0.0 if missing(r.step) else 0.5 * r.step * max(r.n_terms, 1)
    return total, labels, n, half_steps


COLUMN_UNITS = {"_10k_m2": "10k_m2", "_ha": "ha", "_months": "months", "dwellings": "dwellings",
                "_share": "share"}


def column_unit(ds: Dataset, table: str, column: str) -> str:
    """Unit of a table column, from its name (the naming rule of SCHEMA.yaml)."""
    for suffix, unit in COLUMN_UNITS.items():
        if column.endswith(suffix):
            return unit
    return ""


def rule_thresholds(ds: Dataset) -> list[tuple[str, float, float | None]]:
    """The land rules the dataset states: (source label, suspend-above months, revitalise-above).

    The rule whose thresholds the dataset prints (land_rule_*) and a stricter local one
    (strict_rule_*), each labelled with the source its fact came from. A dataset that prints no
    land-rule thresholds gets the national 2024 rule (36 / 18 months), labelled with its citation
    as the national default (model.inputs.NATIONAL_LAND_RULE), as a run does.
    """
    from model.inputs import NATIONAL_LAND_RULE, NATIONAL_LAND_RULE_SOURCE

    city = ds.city.region_id
    rules = []
    suspend = ds.fact_or_none("land_rule_suspend_above_months", city)
    if suspend is not None:
        rules.append((fact_source(ds, "land_rule_suspend_above_months", city), suspend,
                      ds.fact_or_none("land_rule_revitalise_above_months", city)))
    else:
        rules.append((NATIONAL_LAND_RULE_SOURCE,
                      NATIONAL_LAND_RULE["land_rule_suspend_above_months"],
                      ds.fact_or_none("land_rule_revitalise_above_months", city)
                      or NATIONAL_LAND_RULE["land_rule_revitalise_above_months"]))
    strict = ds.fact_or_none("strict_rule_suspend_above_months", city)
    if strict is not None:
        rules.append((fact_source(ds, "strict_rule_suspend_above_months", city), strict, None))
    return rules


# ---------------------------------------------------------------------------------------------
# Guidance printed only as city totals
# ---------------------------------------------------------------------------------------------
def split_note(ds: Dataset, *tables: str) -> str:
    """How guidance tables printed only as city totals are spread over the regions (the rule the
    Dataset applies), or "" when every table named gives its regions' rows."""
    split = [t for t in tables if t and ds.guidance_is_city_total(t)]
    if not split:
        return ""
    from model.data import GUIDANCE_SPLITS

    weights = ds.guidance_weights()
    names = " and ".join(ds.cite(t) for t in split)
    return (f"{names} give{'s' if len(split) == 1 else ''} city totals only, split over the "
            f"regions by {GUIDANCE_SPLITS[ds.guidance_split]} (guidance_split "
            f"{ds.guidance_split}: " + ", ".join(f"{r} {w:.1%}" for r, w in weights.items()) + ")")


def split_note_zh(ds: Dataset, *tables: str) -> str:
    split = [t for t in tables if t and ds.guidance_is_city_total(t)]
    if not split:
        return ""
    how = {"base_sales": "基年销售占比", "base_inventory": "基年库存占比",
           "equal": "平均"}.get(ds.guidance_split, ds.guidance_split)
    return f"{'、'.join(ds.cite(t) for t in split)}只给出全市合计，按各区{how}分配"


def region_year_table(ds: Dataset, table: str, column: str) -> pd.DataFrame:
    """A region-year table's rows (region_id, year, column); a guidance table printed only as
    city totals is split over the regions as the Dataset splits it (:func:`split_note`)."""
    frame = ds.table(table)
    if not ds.guidance_is_city_total(table):
        return frame
    weights = ds.guidance_weights()
    totals = ds.city_total_series(table, column)
    return pd.DataFrame([{"region_id": r, "year": int(y), column: v * w}
                         for y, v in totals.items() for r, w in weights.items()])
