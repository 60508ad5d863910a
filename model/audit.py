"""The plan audit: check a plan dataset against itself, driven by its manifest's relations.

    python -m model.audit                      # the bundled Chifeng dataset
    python -m model.audit tests/data/mini_city # another dataset folder
    python -m model.audit dataset=PATH --out DIR

Every relation in ``manifest.yaml`` becomes one or more checks; each check compares a printed
figure with the figure computed from the plan's own rows (or applies one of the plan's rules to
its own numbers). All checks go to ``audit_checks.csv`` with a status; the findings (mismatches,
rule breaches, targets the plan's own arithmetic misses) go to ``audit.csv`` with the columns
``check, tables, scope, printed, computed, difference, note``, where difference = printed − computed.
Exit code 0 when the audit ran (findings are results), 1 when the dataset cannot be read.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from model.data import ALL, DEFAULT_DATASET, REPO_ROOT, Dataset, DatasetError, load_dataset

log = logging.getLogger(__name__)

AUDIT_COLUMNS = ["check", "tables", "scope", "printed", "computed", "difference", "note"]
OK, ROUNDING, FINDING, INFO = "ok", "rounding", "finding", "info"
REPORTED = (FINDING, INFO)  # statuses that go into audit.csv


@dataclass(frozen=True)
class Check:
    """One comparison. ``status`` is ok, rounding (within printed precision) or finding."""

    check: str
    tables: str
    scope: str
    printed: float
    computed: float
    note: str
    status: str

    @property
    def difference(self) -> float:
        if _missing(self.printed) or _missing(self.computed):
            return math.nan
        return self.printed - self.computed


class RelationError(Exception):
    """A manifest relation that cannot be evaluated (a malformed selector)."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _decimals(value: float) -> int:
    text = f"{value:.10g}"
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def _rounding_tolerance(values, n_terms: int = 1) -> float:
    """Half a unit in the last printed digit, once per summed term."""
    digits = max((_decimals(v) for v in values if not _missing(v)), default=0)
    return max(n_terms, 1) * 0.5 * 10 ** (-digits) + 1e-9


def _status(printed: float, computed: float, tolerance: float) -> str:
    if _missing(printed) or _missing(computed):
        return FINDING
    diff = abs(printed - computed)
    if diff <= 1e-6:
        return OK
    return ROUNDING if diff <= tolerance else FINDING


def _source(ds: Dataset, table: str) -> str:
    entry = (ds.manifest.get("tables") or {}).get(table) or {}
    return str(entry.get("source", table))


def _scope(ds: Dataset, row: str, year="ALL") -> str:
    zh = ds.name_zh(row)
    name = "all rows" if row == ALL else (f"{row} {zh}" if zh != row else row)
    return name if str(year) == ALL else f"{name}, {year}"


def _key_column(frame: pd.DataFrame) -> str:
    return "region_id" if "region_id" in frame.columns else "housing_type"


def _years_label(ds: Dataset) -> str:
    return f"{ds.plan_years[0]}–{ds.plan_years[-1]}" if ds.plan_years else ""


# ---------------------------------------------------------------------------------------------
# Selectors: {table, column, row, year, printed} | {fact, scope, period} | {target, scope} | {constant}
# ---------------------------------------------------------------------------------------------
def table_value(ds: Dataset, table: str, column: str, row=ALL, year=ALL) -> tuple[float, int]:
    """Sum of a column over the matching rows, and how many rows were summed."""
    frame = ds.table(table)
    if column not in frame.columns:
        raise RelationError(f"table {table} has no column {column!r}")
    key = _key_column(frame)
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


def resolve(ds: Dataset, sel: dict, year=None) -> tuple[float, str, int]:
    """A selector's value, the source label it came from, and the number of terms behind it."""
    if not isinstance(sel, dict):
        raise RelationError(f"selector {sel!r} is not a mapping")
    sel_year = sel.get("year", ALL)
    if sel_year == "EACH":
        sel_year = year
    if "constant" in sel:
        value, label, n = float(sel["constant"]), "constant", 0
    elif "fact" in sel:
        try:
            value = ds.fact(sel["fact"], sel.get("scope", "city"), sel.get("period"))
        except KeyError as exc:
            raise RelationError(str(exc).strip('"')) from None
        facts = ds.table("facts")
        hit = facts[(facts["fact"] == sel["fact"]) & (facts["scope"] == sel.get("scope", "city"))]
        label, n = (hit["source"].iloc[0] if not hit.empty else "facts"), 1
    elif "target" in sel:
        try:
            value = ds.target(sel["target"], sel.get("scope", "city")).value
        except KeyError as exc:
            raise RelationError(str(exc).strip('"')) from None
        label, n = _source(ds, "targets"), 1
    elif "table" in sel:
        if "column" not in sel:
            raise RelationError(f"selector {sel!r} needs a column")
        if sel.get("printed"):
            value = printed_total(ds, sel["table"], sel["column"], sel.get("row", ALL), sel_year)
            if _missing(value) and sel.get("row", ALL) != ALL and str(sel_year) != ALL:
                value, _ = table_value(ds, sel["table"], sel["column"], sel["row"], sel_year)
            n = 1
        else:
            value, n = table_value(ds, sel["table"], sel["column"], sel.get("row", ALL), sel_year)
        label = _source(ds, sel["table"]) + (" (printed)" if sel.get("printed") else "")
    else:
        raise RelationError(f"selector {sel!r} names no table, fact, target or constant")
    value *= float(sel.get("scale", 1.0)) * float(sel.get("sign", 1.0))
    if "per" in sel:
        per, per_label, per_n = resolve(ds, sel["per"], year)
        value, label, n = value / per if per else math.nan, f"{label} ÷ {per_label}", n + per_n
    return value, label, n


def _sum_terms(ds: Dataset, terms, year=None) -> tuple[float, list[str], int]:
    if terms is None:
        return 1.0, [], 0
    if isinstance(terms, dict):
        terms = [terms]
    total, labels, n = 0.0, [], 0
    for term in terms:
        value, label, k = resolve(ds, term, year)
        total += value
        labels.append(label)
        n += k
    return total, labels, n


# ---------------------------------------------------------------------------------------------
# Check families, one function each
# ---------------------------------------------------------------------------------------------
def check_totals(ds: Dataset, tables: list[str]) -> list[Check]:
    """Printed totals against the sum of the rows they claim to total."""
    if not ds.has_table("printed_totals"):
        return []
    out = []
    pt = ds.table("printed_totals")
    for r in pt[pt["table"].isin(tables)].itertuples(index=False):
        computed, n = table_value(ds, r.table, r.column, r.row_id, r.year)
        frame = ds.table(r.table)
        exact = str(frame[r.column].dtype) == "Int64"  # counts (dwellings) add up exactly
        tol = 1e-9 if exact else _rounding_tolerance(list(frame[r.column].dropna()) + [r.value], n)
        status = _status(r.value, computed, tol)
        what = "column total" if r.row_id == ALL else "row total"
        note = (f"printed {what} of {r.column} vs the sum of its {n} rows"
                + ("" if status != FINDING else f"; off by {r.value - computed:+.2f}"))
        out.append(Check("printed total", _source(ds, r.table), _scope(ds, r.row_id, r.year),
                         r.value, computed, note, status))
    return out


def check_shares(ds: Dataset, tables: list[str]) -> list[Check]:
    """Printed shares against value ÷ denominator computed from the rows."""
    if not ds.has_table("printed_shares"):
        return []
    out = []
    ps = ds.table("printed_shares")
    for r in ps[ps["table"].isin(tables)].itertuples(index=False):
        num, _ = table_value(ds, r.table, r.column, r.row_id, r.year)
        if r.denominator == "rows":
            den, _ = table_value(ds, r.table, r.column, ALL, r.year)
            den_label = f"the sum of all rows of {_source(ds, r.table)}"
        else:
            if ":" not in r.denominator:
                raise RelationError(f"printed_shares denominator {r.denominator!r} "
                                    f"(expected rows or TABLE:ROW)")
            dtable, drow = r.denominator.split(":", 1)
            den, _ = table_value(ds, dtable, r.column, drow, ALL)
            den_label = f"{drow} in {_source(ds, dtable)}"
        computed = num / den if den else math.nan
        tol = 0.5 * 10 ** (-_decimals(r.share)) + 5e-4
        status = _status(r.share, computed, tol)
        tables_label = _source(ds, r.table) if r.denominator == "rows" else \
            f"{_source(ds, r.table)}; {_source(ds, r.denominator.split(':')[0])}"
        note = f"share of {r.column} printed {r.share:.2%} vs {computed:.2%} of {den_label}"
        out.append(Check("printed share", tables_label, _scope(ds, r.row_id, r.year),
                         r.share, computed, note, status))
    return out


def check_district_sums(ds: Dataset, relations: list[dict]) -> list[Check]:
    """District rows summed against the main-city row of the region table."""
    out = []
    main = ds.main_city_id
    for rel in relations:
        dt, rt, col = rel["districts"], rel["regions"], rel["column"]
        has_year = "year" in ds.table(dt).columns
        years = list(ds.plan_years) + [ALL] if has_year else [ALL]
        tables_label = f"{_source(ds, dt)}; {_source(ds, rt)}"
        for y in years:
            districts, n = table_value(ds, dt, col, ALL, y)
            main_row, _ = table_value(ds, rt, col, main, y)
            tol = _rounding_tolerance(list(ds.table(dt)[col]) + list(ds.table(rt)[col]), n)
            status = _status(main_row, districts, tol)
            n_districts = ds.table(dt)["region_id"].nunique()
            over = "" if y != ALL or not has_year else f" over {len(ds.plan_years)} years"
            note = (f"{ds.name_zh(main)} row of {_source(ds, rt)} vs the sum of its {n_districts} "
                    f"districts in {_source(ds, dt)}{over}")
            out.append(Check("districts vs main city", tables_label, _scope(ds, main, y),
                             main_row, districts, note, status))
    return out


def check_same_quantity(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Two places in the plan that state the same quantity."""
    out = []
    for rel in relations:
        a, b = rel["a"], rel["b"]
        each = a.get("year") == "EACH" or b.get("year") == "EACH"
        for y in (ds.plan_years if each else [None]):
            va, la, na = resolve(ds, a, y)
            vb, lb, nb = resolve(ds, b, y)
            tol = _rounding_tolerance([va, vb], max(na, nb))
            status = _status(va, vb, tol)
            scope = rel.get("scope") or (a.get("scope") or a.get("row") or b.get("row") or "city")
            scope = _scope(ds, scope if scope != ALL else ds.city.region_id, y if each else ALL)
            out.append(Check("same quantity", f"{la}; {lb}", scope, va, vb, rel["name"], status))
    return out


def check_claims(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Figures the text derives (reductions, shares, cycles) recomputed from their inputs."""
    out = []
    for rel in relations:
        printed, plabel, _ = resolve(ds, rel["printed"])
        num, nlabels, _ = _sum_terms(ds, rel["numerator"])
        den, dlabels, _ = _sum_terms(ds, rel.get("denominator"))
        computed = num / den if den else math.nan
        tol = 0.5 * 10 ** (-_decimals(printed)) + 1e-9
        status = _status(printed, computed, tol)
        labels = sorted(set([plabel, *nlabels, *dlabels]) - {"constant"})
        scope = rel["printed"].get("scope") or rel["printed"].get("row") or "city"
        out.append(Check("derived figure", "; ".join(labels), _scope(ds, scope), printed,
                         computed, rel["name"], status))
    return out


def check_ratios(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Implied ratios that should be stable across rows (plot ratio, dwelling size)."""
    out = []
    for rel in relations:
        num_sel, den_sel = rel["numerator"], rel["denominator"]
        nf, df = ds.table(num_sel["table"]), ds.table(den_sel["table"])
        key = _key_column(nf)
        join = [key, "year"] if "year" in nf.columns and "year" in df.columns else [key]
        merged = nf[join + [num_sel["column"]]].rename(columns={num_sel["column"]: "_num"}).merge(
            df[join + [den_sel["column"]]].rename(columns={den_sel["column"]: "_den"}), on=join)
        merged = merged.dropna(subset=["_num", "_den"])
        merged["_num"] = merged["_num"].astype(float) * float(num_sel.get("scale", 1.0))
        merged["_den"] = merged["_den"].astype(float) * float(den_sel.get("scale", 1.0))
        merged = merged[merged["_den"] > 0]
        if merged.empty:
            continue
        merged["ratio"] = merged["_num"] / merged["_den"]
        typical = float(merged["ratio"].median())
        reference = None
        if rel.get("reference"):
            rnum, _, _ = resolve(ds, rel["reference"][0])
            rden, _, _ = resolve(ds, rel["reference"][1])
            reference = rnum / rden if rden else None
        band = rel.get("band") or [-math.inf, math.inf]
        tables_label = f"{_source(ds, num_sel['table'])}; {_source(ds, den_sel['table'])}"
        unit = rel.get("unit", "")
        for r in merged.itertuples(index=False):
            row, year = getattr(r, key), getattr(r, "year", ALL)
            ratio = float(r.ratio)
            outside = not band[0] <= ratio <= band[1]
            off_typical = abs(ratio / typical - 1) > 0.05 if typical else False
            status = FINDING if outside or off_typical else OK
            bits = [f"{rel['name']}: {ratio:.3f} {unit}; typical {typical:.3f}"]
            if reference is not None:
                bits.append(f"reference {reference:.3f}")
            if outside:
                bits.append(f"outside the expected band {band[0]}–{band[1]}")
            elif off_typical:
                bits.append(f"{ratio / typical - 1:+.1%} from the typical ratio")
            out.append(Check("implied ratio", tables_label, _scope(ds, row, year),
                             typical if reference is None else reference, ratio,
                             "; ".join(bits), status))
    return out


def check_implied_sales(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Sales implied by inventory ÷ cycle × 12 against the sales the text reports."""
    out = []
    for rel in relations:
        inv = ds.table(rel["inventory"])
        period = rel.get("period", ds.base_year)
        implied = (inv["inventory_10k_m2"] / inv["cycle_months"] * 12).where(inv["cycle_months"] > 0)
        implied_by_region = dict(zip(inv["region_id"], implied))
        scopes = [(ds.city.region_id, float(implied.sum()), len(inv))]
        scopes += [(rid, float(v), 1) for rid, v in implied_by_region.items()]
        for scope, value, n in scopes:
            if not ds.has_fact(rel["sales_fact"], scope, period):
                continue
            reported = ds.fact(rel["sales_fact"], scope, period)
            # Cycles are printed in whole months: the implied sales are uncertain by ±0.5 month each.
            cycles = inv["cycle_months"] if scope == ds.city.region_id else \
                inv.loc[inv["region_id"] == scope, "cycle_months"]
            tol = float(sum(i * 12 * 0.5 / (c * c) for i, c in zip(
                inv.loc[cycles.index, "inventory_10k_m2"], cycles) if c))
            status = _status(reported, value, tol)
            what = "the sum over regions of" if n > 1 else ""
            out.append(Check("implied sales", f"{_source(ds, rel['inventory'])}; facts",
                             _scope(ds, scope, period), reported, value,
                             f"{period} sales reported vs {what} inventory ÷ cycle × 12 "
                             f"(±{tol:.1f} from whole-month cycles)".replace("  ", " "), status))
    return out


def check_land_rules(ds: Dataset, relations: list[dict]) -> list[Check]:
    """The plan's own land rules applied to its first-year land guidance."""
    out = []
    city = ds.city.region_id
    rules = []
    if ds.has_fact("land_rule_suspend_above_months", city):
        rules.append(("§2.2.3", ds.fact("land_rule_suspend_above_months", city),
                      ds.fact("land_rule_revitalise_above_months", city)
                      if ds.has_fact("land_rule_revitalise_above_months", city) else None))
    if ds.has_fact("strict_rule_suspend_above_months", city):
        rules.append(("§9.3", ds.fact("strict_rule_suspend_above_months", city), None))
    first = ds.plan_years[0]
    for rel in relations:
        cyc = ds.table(rel["cycle_table"])
        land = ds.table(rel["land_table"])
        land_first = dict(zip(land.loc[land["year"] == first, "region_id"],
                              land.loc[land["year"] == first, "land_ha"]))
        tables_label = f"{_source(ds, rel['cycle_table'])}; {_source(ds, rel['land_table'])}"
        for rid, cycle in zip(cyc["region_id"], cyc["cycle_months"]):
            planned = float(land_first.get(rid, 0.0))
            for label, suspend, revitalise in rules:
                if cycle > suspend:
                    status = FINDING if planned > 0 else OK
                    note = (f"{label}: {ds.base_year} cycle {cycle:g} months > {suspend:g} → no new "
                            f"land until it falls below {suspend:g}; the plan gives {planned:g} ha "
                            f"in {first}")
                    out.append(Check(f"land rule {label}", tables_label, _scope(ds, rid, first),
                                     planned, 0.0, note, status))
                elif revitalise is not None and cycle > revitalise:
                    note = (f"{label}: {ds.base_year} cycle {cycle:g} months in ({revitalise:g}, "
                            f"{suspend:g}] → land only up to what is revitalised in {first} "
                            f"(盘活多少、供应多少); the plan gives {planned:g} ha, which needs "
                            f"{planned:g} ha revitalised (not stated in the plan)")
                    out.append(Check(f"land rule {label}", tables_label, _scope(ds, rid, first),
                                     planned, math.nan, note, FINDING if planned > 0 else OK))
    return out


def project_cycle(inventory: float, supply: dict, demand: dict, years) -> tuple[float, float, float]:
    """Year-by-year inventory from the plan's own tables, selling all demand while stock lasts.

    Returns (end inventory, end-year cycle in months, unmet demand). The cycle uses the last
    year's sales (= demand met) as the 12-month sales base, as the plan's footnote 4 defines.
    """
    unmet = 0.0
    sales = 0.0
    for y in years:
        available = inventory + supply.get(y, 0.0)
        sales = min(demand.get(y, 0.0), available)
        unmet += demand.get(y, 0.0) - sales
        inventory = available - sales
    cycle = inventory / (sales / 12) if sales > 0 else math.inf
    return inventory, cycle, unmet


def check_cycle_projections(ds: Dataset, relations: list[dict]) -> list[Check]:
    """The end-of-plan destocking cycle the plan's own supply and demand tables produce."""
    out = []
    years = ds.plan_years
    last = years[-1]
    for rel in relations:
        try:
            target = ds.target(rel.get("target", "cycle_months"), ds.city.region_id).value
        except KeyError:
            target = math.nan
        inv = ds.table(rel["inventory"])
        sup, dem = ds.table(rel["supply"]), ds.table(rel["demand"])
        tables_label = "; ".join(_source(ds, rel[k]) for k in ("inventory", "supply", "demand"))
        totals = {"inv": 0.0, "sup": {}, "dem": {}}
        for rid, inventory in zip(inv["region_id"], inv["inventory_10k_m2"]):
            s = dict(zip(sup.loc[sup["region_id"] == rid, "year"], sup.loc[sup["region_id"] == rid, "supply_10k_m2"]))
            d = dict(zip(dem.loc[dem["region_id"] == rid, "year"], dem.loc[dem["region_id"] == rid, "demand_10k_m2"]))
            end_inv, cycle, unmet = project_cycle(float(inventory), s, d, years)
            totals["inv"] += float(inventory)
            for y in years:
                totals["sup"][y] = totals["sup"].get(y, 0.0) + s.get(y, 0.0)
                totals["dem"][y] = totals["dem"].get(y, 0.0) + d.get(y, 0.0)
            out.append(_projection_check(ds, rid, last, target, cycle, end_inv, unmet,
                                         float(inventory), sum(s.values()), sum(d.values()),
                                         tables_label, "rows"))
        scope = ds.main_city_id if rel["inventory"].startswith("district_") else ds.city.region_id
        end_inv, cycle, unmet = project_cycle(totals["inv"], totals["sup"], totals["dem"], years)
        out.append(_projection_check(ds, scope, last, target, cycle, end_inv, unmet, totals["inv"],
                                     sum(totals["sup"].values()), sum(totals["dem"].values()),
                                     tables_label, "sum of rows", aggregate=True))
        # The same projection with the printed grand totals, where the plan prints them.
        ptot_s = printed_total(ds, rel["supply"], "supply_10k_m2")
        ptot_d = printed_total(ds, rel["demand"], "demand_10k_m2")
        ptot_i = printed_total(ds, rel["inventory"], "inventory_10k_m2")
        if not any(_missing(v) for v in (ptot_s, ptot_d)):
            p_sup = {y: printed_total(ds, rel["supply"], "supply_10k_m2", ALL, y) for y in years}
            p_dem = {y: printed_total(ds, rel["demand"], "demand_10k_m2", ALL, y) for y in years}
            if any(_missing(v) for v in [*p_sup.values(), *p_dem.values()]):
                p_sup = {y: ptot_s / len(years) for y in years}
                p_dem = {y: ptot_d / len(years) for y in years}
            start = totals["inv"] if _missing(ptot_i) else ptot_i
            end_inv, cycle, unmet = project_cycle(start, p_sup, p_dem, years)
            out.append(_projection_check(ds, scope, last, target, cycle, end_inv, unmet, start,
                                         sum(p_sup.values()), sum(p_dem.values()), tables_label,
                                         "printed totals", aggregate=True))
    return out


def _projection_check(ds, rid, last, target, cycle, end_inv, unmet, start, supply, demand,
                      tables_label, basis, aggregate=False) -> Check:
    """Aggregate projections are always reported (info); regions only when they miss the target."""
    missed = not _missing(target) and cycle > target
    note = (f"plan arithmetic ({basis}): inventory {start:.2f} + supply {supply:.2f} − demand "
            f"{demand:.2f} → {end_inv:.2f} 万m² at end {last}; cycle {cycle:.1f} months vs target "
            f"{target:g}")
    if unmet > 1e-6:
        note += f"; stock runs out, {unmet:.2f} 万m² of demand unmet"
    if missed:
        note += " — target missed"
    status = FINDING if missed else (INFO if aggregate else OK)
    return Check(f"{last} cycle from the plan's tables", tables_label, _scope(ds, rid, last),
                 target, cycle, note, status)


CHECK_FAMILIES = {
    "totals": check_totals,
    "shares": check_shares,
    "district_sums": check_district_sums,
    "same_quantity": check_same_quantity,
    "claims": check_claims,
    "ratios": check_ratios,
    "implied_sales": check_implied_sales,
    "land_rules": check_land_rules,
    "cycle_projections": check_cycle_projections,
}


def run_audit(ds: Dataset) -> list[Check]:
    """Run every relation of the dataset's manifest; a malformed relation raises DatasetError."""
    relations = ds.manifest.get("relations") or {}
    checks: list[Check] = []
    problems = []
    for kind, body in relations.items():
        family = CHECK_FAMILIES.get(kind)
        if family is None:
            problems.append(f"manifest.yaml: relations.{kind} is not a known check "
                            f"(known: {', '.join(CHECK_FAMILIES)})")
            continue
        try:
            checks.extend(family(ds, list(body or [])))
        except (RelationError, KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"manifest.yaml: relations.{kind}: cannot evaluate ({exc})")
    if problems:
        raise DatasetError(problems)
    return checks


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    rows = [{"check": c.check, "tables": c.tables, "scope": c.scope, "printed": c.printed,
             "computed": c.computed, "difference": c.difference, "note": c.note, "status": c.status}
            for c in checks]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS + ["status"])


def findings_frame(checks: list[Check]) -> pd.DataFrame:
    frame = checks_frame(checks)
    return frame[frame["status"].isin(REPORTED)][AUDIT_COLUMNS].reset_index(drop=True)


def write_audit(checks: list[Check], out_dir: Path) -> Path:
    """Write audit.csv (findings) and audit_checks.csv (every check); return audit.csv's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    findings = findings_frame(checks).round({"printed": 4, "computed": 4, "difference": 4})
    everything = checks_frame(checks).round({"printed": 4, "computed": 4, "difference": 4})
    tmp = out_dir / "audit.csv.tmp"
    everything.to_csv(out_dir / "audit_checks.csv", index=False, encoding="utf-8")
    findings.to_csv(tmp, index=False, encoding="utf-8")
    tmp.replace(out_dir / "audit.csv")  # written last and atomically: its presence means complete
    return out_dir / "audit.csv"


def format_findings(ds: Dataset, checks: list[Check]) -> str:
    """A readable findings table, grouped by check."""
    findings = findings_frame(checks)
    counts = checks_frame(checks)["status"].value_counts()
    lines = [f"Plan audit of {ds.name} ({ds.manifest.get('title', '')}): {len(checks)} checks, "
             f"{counts.get(FINDING, 0)} findings, {counts.get(INFO, 0)} figures for information, "
             f"{counts.get(ROUNDING, 0)} within rounding, "
             f"{counts.get(OK, 0)} consistent. difference = printed − computed."]
    for check, group in findings.groupby("check", sort=False):
        lines.append("")
        lines.append(f"== {check} ({len(group)}) ==")
        for r in group.itertuples(index=False):
            nums = f"printed {_fmt(r.printed)} | computed {_fmt(r.computed)} | diff {_fmt(r.difference)}"
            lines.append(f"  [{r.tables}] {r.scope}: {nums}")
            lines.append(f"      {r.note}")
    return "\n".join(lines)


def _fmt(x) -> str:
    if _missing(x):
        return "—"
    return f"{x:,.4g}" if abs(x) < 1 else f"{x:,.2f}"


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model.audit", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", default=None,
                        help="dataset folder (default: scenarios/chifeng); also dataset=PATH")
    parser.add_argument("--out", default=None,
                        help="output folder (default: runs/audit/<dataset>/<timestamp>); also out=PATH")
    # Accept Hydra-style key=value overrides for symmetry with model.run.
    rest = []
    overrides = {}
    for arg in argv:
        if "=" in arg and not arg.startswith("-"):
            key, value = arg.split("=", 1)
            if key not in ("dataset", "out"):
                parser.error(f"unknown override {key!r} (valid: dataset=PATH, out=PATH)")
            overrides[key] = value
        else:
            rest.append(arg)
    args = parser.parse_args(rest)
    args.dataset = overrides.get("dataset", args.dataset)
    args.out = overrides.get("out", args.out)
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    folder = Path(args.dataset) if args.dataset else DEFAULT_DATASET
    try:
        ds = load_dataset(folder)
        checks = run_audit(ds)
    except DatasetError as err:
        for line in err.problems:
            print(f"error: {line}", file=sys.stderr)
        print(f"dataset {folder} cannot be read: {len(err.problems)} problem(s); nothing written",
              file=sys.stderr)
        return 1
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = Path(args.out) if args.out else REPO_ROOT / "runs" / "audit" / ds.name / stamp
    path = write_audit(checks, out_dir)
    print(format_findings(ds, checks))
    print(f"\nwritten: {path} (findings) and {out_dir / 'audit_checks.csv'} (every check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
