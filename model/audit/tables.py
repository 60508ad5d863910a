"""Check families about the plan's tables: totals, shares, districts against the main city, the
same quantity printed twice, derived figures in the text, stable ratios, stated ranges, and the
supply tables' construction (supply = demand split by a fixed yearly profile).

Every function takes the dataset and the relation list of its manifest kind and returns Checks;
difference = printed − computed throughout, in the unit of the check.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.audit.core import (
    ALL, COPY, DERIVED, FINDING, INFO, METHOD, OK, PRINTED, ROUNDING, ROW_SUM, Check, Dataset,
    RelationError,
    column_decimals, column_unit, key_column, missing, period_years, printed_total,
    printed_total_decimals, resolve, resolve_period, rounding_tolerance, scope_label, source_of,
    status_of, step_of, sum_terms, table_value, uniform_ratio, years_label, zh_name,
)


def total_key(table: str, column: str, row, year) -> str:
    return f"total:{table}:{column}:{row}:{year}"


# ---------------------------------------------------------------------------------------------
# Printed totals
# ---------------------------------------------------------------------------------------------
def check_totals(ds: Dataset, tables: list[str]) -> list[Check]:
    """Printed totals against the sum of the rows they claim to total.

    Tolerance: half a unit of the rows' last digit per summed row plus half a unit of the total's
    (a table prints one precision per column: "247" in a column of "121.0"-style figures is read
    at the column's precision). Counts (dwellings) add up exactly. Where the grand total is the
    sum of the printed column (or row) totals, its gap is caused by theirs; where the printed
    column totals are the grand total split by the rows' yearly profile, theirs is caused by it.
    """
    if not ds.has_table("printed_totals"):
        return []
    pt = ds.table("printed_totals")
    pt = pt[pt["table"].isin(tables)]
    out: dict[str, Check] = {}
    for r in pt.itertuples(index=False):
        computed, n = table_value(ds, r.table, r.column, r.row_id, r.year)
        frame = ds.table(r.table)
        exact = str(frame[r.column].dtype) == "Int64"
        row_d = column_decimals(ds, r.table, r.column)
        d = max(row_d, printed_total_decimals(ds, r.table, r.column, r.row_id, r.year))
        step = 1.0 if exact else step_of(d)
        tol = 1e-9 if exact else n * 0.5 * step_of(row_d) + 0.5 * step + 1e-9
        status = status_of(r.value, computed, tol)
        what = "column total" if r.row_id == ALL else "row total"
        if r.row_id == ALL and r.year == ALL:
            what = "grand total"
        src = source_of(ds, r.table)
        blank = _blank_rows(frame, r.column, r.row_id, r.year)
        note = f"printed {what} of {r.column} vs the sum of its {n} rows" + (
            f" ({blank} rows of the table are blank)" if blank else "")
        where_zh = (f"{src}{'合计' if r.row_id == ALL else zh_name(ds, r.row_id) + '合计'}"
                    + ("" if r.year == ALL else f"（{r.year}年）"))
        note_zh = f"{where_zh}印为 {r.value:g}，各行相加为 {computed:.{d}f}"
        key = total_key(r.table, r.column, r.row_id, r.year)
        out[key] = Check("printed total", src, scope_label(ds, r.row_id, r.year), float(r.value),
                         computed, note, status, key=key, unit=column_unit(ds, r.table, r.column),
                         note_zh=note_zh, scope_id=r.row_id, year=str(r.year), step=step,
                         extra={"table": r.table, "column": r.column, "n": n})
    _link_total_structure(ds, pt, out)
    return list(out.values())


def _blank_rows(frame: pd.DataFrame, column: str, row, year) -> int:
    key = key_column(frame)
    mask = pd.Series(True, index=frame.index)
    if str(row) != ALL:
        mask &= frame[key] == row
    if str(year) != ALL and "year" in frame.columns:
        mask &= frame["year"] == int(year)
    return int(frame.loc[mask, column].isna().sum())


def _link_total_structure(ds: Dataset, pt: pd.DataFrame, out: dict[str, Check]) -> None:
    for (table, column), group in pt.groupby(["table", "column"], sort=False):
        grand_key = total_key(table, column, ALL, ALL)
        if grand_key not in out:
            continue
        grand = out[grand_key]
        cols = group[(group["row_id"] == ALL) & (group["year"] != ALL)]
        rows = group[(group["row_id"] != ALL) & (group["year"] == ALL)]
        tol = grand.step * (len(group) + 1)
        col_keys = [total_key(table, column, ALL, y) for y in cols["year"]]
        row_keys = [total_key(table, column, r, ALL) for r in rows["row_id"]]
        if len(cols) and abs(cols["value"].sum() - grand.printed) <= tol:
            all_rows = grand.computed
            scale = max(1.0, grand.printed / all_rows) if all_rows else 1.0
            split = all(
                abs(out[k].printed - grand.printed * out[k].computed / all_rows)
                <= 0.5 * out[k].step * (out[k].extra["n"] + 1) * scale + 1e-9
                for k in col_keys) if all_rows else False
            if split and grand.status == FINDING:
                for k in col_keys:
                    out[k] = out[k].with_(
                        caused_by=(grand_key,),
                        note=out[k].note + f"; the printed column totals are the grand total "
                        f"{grand.printed:g} split by the rows' yearly profile")
            else:
                out[grand_key] = grand.with_(
                    caused_by=tuple(col_keys),
                    note=grand.note + "; the grand total is the sum of the printed column totals")
        elif len(rows) and abs(rows["value"].sum() - grand.printed) <= tol:
            out[grand_key] = grand.with_(
                caused_by=tuple(row_keys),
                note=grand.note + "; the grand total is the sum of the printed row totals")
    _mark_split_column_totals(ds, pt, out)


def _mark_split_column_totals(ds: Dataset, pt: pd.DataFrame, out: dict[str, Check]) -> None:
    """Printed column totals that are one figure S (their own sum) split by the rows' fixed yearly
    profile are one inconsistency when S is not the rows' sum: each year's gap is S's gap times
    that year's share. They are marked (extra ``split_total``) to be reported as one finding."""
    for (table, column), group in pt.groupby(["table", "column"], sort=False):
        frame = ds.table(table)
        if "region_id" not in frame.columns or "year" not in frame.columns:
            continue
        cols = group[(group["row_id"] == ALL) & (group["year"] != ALL)]
        keys = [total_key(table, column, ALL, y) for y in cols["year"]]
        if len(cols) < 2 or not all(k in out for k in keys):
            continue
        profile = fixed_profile(frame, column)
        if profile is None:
            continue
        total = float(cols["value"].sum())
        split = all(abs(out[k].printed - total * profile.get(int(out[k].year), math.nan))
                    <= 0.5 * out[k].step * (out[k].extra["n"] + 1) + 1e-9 for k in keys)
        if not split:
            continue
        for k in keys:
            c = out[k]
            if c.status != FINDING:
                continue
            note = c.note
            if "split by the rows' yearly profile" not in note:
                rows_total = sum(out[j].computed for j in keys)
                note += (f"; the printed column totals are {total:g} split by the rows' yearly "
                         f"profile, and the rows sum to {rows_total:.2f}")
            out[k] = c.with_(note=note, extra={**c.extra, "split_total": total})


# ---------------------------------------------------------------------------------------------
# Printed shares
# ---------------------------------------------------------------------------------------------
def check_shares(ds: Dataset, tables: list[str]) -> list[Check]:
    """Printed shares against value ÷ the printed base (the table's printed total, else its rows).

    A share equal to value ÷ printed total is correct even where that total is itself wrong; when
    a share instead fits the sum of the rows, the gap is caused by the printed total. A printed
    100 % is checked against the sum of the printed shares. A share column identical to another
    table's share column is a copy.
    """
    if not ds.has_table("printed_shares"):
        return []
    ps = ds.table("printed_shares")
    out = []
    copies = _copied_share_columns(ps)
    for (table, column, year), group in ps[ps["table"].isin(tables)].groupby(
            ["table", "column", "year"], sort=False):
        src = source_of(ds, table)
        rows = group[group["row_id"] != ALL]
        share_step = step_of(max(_share_decimals(ds, table, column), 0))
        first_copy = None
        for r in rows.itertuples(index=False):
            c = _one_share(ds, r, src, share_step, copies)
            if c.status == FINDING and c.verdict == COPY:
                # One copied column is one error: its first finding stands for the rest.
                if first_copy is None:
                    first_copy = c.key
                    c = c.with_(caused_by=())
                else:
                    c = c.with_(caused_by=(first_copy,))
            out.append(c)
        for r in group[group["row_id"] == ALL].itertuples(index=False):
            if rows.empty:
                continue
            total = float(rows["share"].sum())
            tol = len(rows) * 0.5 * share_step + 1e-9
            status = status_of(float(r.share), total, tol)
            copy_of = copies.get((table, column))
            out.append(Check(
                "printed share", src, scope_label(ds, ALL, year), float(r.share), total,
                f"printed total share {r.share:.2%} vs the sum of the {len(rows)} printed shares "
                f"({total:.2%})", status, key=f"share:{table}:{column}:{ALL}:{year}", unit="share",
                note_zh=f"{src}占比合计印为 {r.share:.2%}，各行占比相加为 {total:.2%}",
                scope_id=ALL, year=str(year), step=share_step, decision=False,
                verdict=COPY if copy_of else "",
                caused_by=(f"share:{copy_of}:{column_of(ps, copy_of)}:{ALL}:{year}",)
                if copy_of else ()))
    return out


def column_of(ps: pd.DataFrame, table: str) -> str:
    return str(ps.loc[ps["table"] == table, "column"].iloc[0])


def _share_decimals(ds: Dataset, table: str, column: str) -> int:
    from model.audit.core import raw_table, text_decimals
    raw = raw_table(ds, "printed_shares")
    hit = raw[(raw["table"] == table) & (raw["column"] == column) & (raw["row_id"] != ALL)]
    return max((text_decimals(v) for v in hit["share"]), default=2)


def _copied_share_columns(ps: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(table, column) → the earlier table whose share column it repeats row for row."""
    out = {}
    tables = list(dict.fromkeys(ps["table"]))
    for i, later in enumerate(tables):
        b = ps[(ps["table"] == later) & (ps["row_id"] != ALL)].set_index("row_id")["share"]
        for earlier in tables[:i]:
            a = ps[(ps["table"] == earlier) & (ps["row_id"] != ALL)].set_index("row_id")["share"]
            if len(b) >= 3 and set(a.index) == set(b.index) and np.allclose(a[b.index], b):
                out[(later, column_of(ps, later))] = earlier
                break
    return out


def _one_share(ds: Dataset, r, src: str, share_step: float, copies) -> Check:
    # The value is the row as printed: its printed total where the table prints one.
    num = printed_total(ds, r.table, r.column, r.row_id, r.year)
    if missing(num):
        num, _ = table_value(ds, r.table, r.column, r.row_id, r.year)
    num_step = step_of(column_decimals(ds, r.table, r.column))
    rows_sum, _ = table_value(ds, r.table, r.column, ALL, r.year)
    if r.denominator == "rows":
        base = printed_total(ds, r.table, r.column, ALL, r.year)
        printed_base = not missing(base)
        base_table, base_row = r.table, ALL
        if not printed_base:
            base = rows_sum
        base_step = step_of(printed_total_decimals(ds, r.table, r.column, ALL, r.year)
                            if printed_base else column_decimals(ds, r.table, r.column))
        base_label = (f"the printed total {base:g} of {src}" if printed_base
                      else f"the sum of the rows of {src}")
        base_zh = f"{src}印出的合计 {base:g}" if printed_base else f"{src}各行之和"
    else:
        if ":" not in r.denominator:
            raise RelationError(f"printed_shares denominator {r.denominator!r} "
                                f"(expected rows or TABLE:ROW)")
        base_table, base_row = r.denominator.split(":", 1)
        base, _ = table_value(ds, base_table, r.column, base_row, ALL)
        base_step = step_of(column_decimals(ds, base_table, r.column))
        printed_base = True
        base_label = f"{base_row} in {source_of(ds, base_table)} ({base:g})"
        base_zh = f"{source_of(ds, base_table)}中{zh_name(ds, base_row)}（{base:g}）"
    computed = num / base if base else math.nan
    tol = 0.5 * share_step + (abs(computed) * (0.5 * num_step / num + 0.5 * base_step / base)
                              if num and base else 0.0) + 1e-9
    status = status_of(float(r.share), computed, tol)
    tables = src if base_table == r.table else f"{src}; {source_of(ds, base_table)}"
    note = f"share of {r.column} printed {r.share:.2%} vs {computed:.2%} = value ÷ {base_label}"
    note_zh = f"占比印为 {r.share:.2%}，按{base_zh}计算为 {computed:.2%}"
    caused_by, verdict = (), ""
    if status == FINDING and r.denominator == "rows" and printed_base and rows_sum:
        rows_share = num / rows_sum
        if abs(rows_share - r.share) <= tol:
            caused_by = (total_key(r.table, r.column, ALL, r.year),)
            note += (f"; value ÷ the sum of the rows gives {rows_share:.2%}, so the printed total "
                     f"is what is off")
            note_zh += f"；按各行之和计算为 {rows_share:.2%}，问题在印出的合计"
    copy_of = copies.get((r.table, r.column))
    if status == FINDING and copy_of:
        verdict = COPY
        note += f"; the whole share column repeats {source_of(ds, copy_of)}'s"
        note_zh += f"；整列占比与{source_of(ds, copy_of)}相同"
    return Check("printed share", tables, scope_label(ds, r.row_id, r.year), float(r.share),
                 computed, note, status, key=f"share:{r.table}:{r.column}:{r.row_id}:{r.year}",
                 unit="share", note_zh=note_zh, scope_id=r.row_id, year=str(r.year),
                 step=share_step, decision=False, verdict=verdict, caused_by=caused_by)


# ---------------------------------------------------------------------------------------------
# Districts against the main city
# ---------------------------------------------------------------------------------------------
def fixed_profile(frame: pd.DataFrame, column: str, key: str = "region_id") -> dict | None:
    """The common yearly profile of a region × year table, if every row follows it.

    Returns {year: share} when each row's yearly values equal its total × the same shares within
    the table's printed precision (1.5 units of the last digit: each cell and the totals are
    rounded), else None.
    """
    if "year" not in frame.columns or frame.empty:
        return None
    wide = frame.pivot_table(index=key, columns="year", values=column, aggfunc="sum")
    totals = wide.sum(axis=1)
    if (totals <= 0).any() or len(wide) < 2:
        return None
    profile = wide.sum() / totals.sum()  # pooled shares: robust to rounding in small rows
    implied = np.outer(totals, profile)
    step = 10 ** -max(1, max((len(f"{v:.10g}".split(".")[1]) if "." in f"{v:.10g}" else 0)
                             for v in frame[column].dropna()))
    if np.all(np.abs(wide.values - implied) <= 1.5 * step + 1e-6):
        return {int(y): float(s) for y, s in profile.items()}
    return None


def check_district_sums(ds: Dataset, relations: list[dict]) -> list[Check]:
    """District rows summed against the main-city row of the region table describing the same
    quantity, for each plan year and over all years. Where the region table splits every row by
    one fixed yearly profile and the district table does not, the yearly gaps follow from that
    profile (caused_by the supply-construction finding)."""
    out = []
    main = ds.main_city_id
    for rel in relations:
        dt, rt, col = rel["districts"], rel["regions"], rel["column"]
        has_year = "year" in ds.table(dt).columns
        years = list(ds.plan_years) + [ALL] if has_year else [ALL]
        tables_label = f"{source_of(ds, dt)}; {source_of(ds, rt)}"
        n_districts = ds.table(dt)["region_id"].nunique()
        d_step = step_of(max(column_decimals(ds, dt, col), column_decimals(ds, rt, col)))
        profiled = has_year and fixed_profile(ds.table(rt), col) is not None \
            and fixed_profile(ds.table(dt), col) is None
        for y in years:
            districts, n = table_value(ds, dt, col, ALL, y)
            main_row, m = table_value(ds, rt, col, main, y)
            tol = (n + m) * 0.5 * d_step + 1e-9
            status = status_of(main_row, districts, tol)
            over = "" if y != ALL or not has_year else f" over {len(ds.plan_years)} years"
            note = (f"{ds.name_zh(main)} row of {source_of(ds, rt)} vs the sum of its {n_districts} "
                    f"districts in {source_of(ds, dt)}{over}")
            note_zh = (f"{source_of(ds, rt)}中{ds.name_zh(main)}为 {main_row:.2f}，"
                       f"{source_of(ds, dt)}中{n_districts}个片区合计为 {districts:.2f}"
                       + ("" if y == ALL else f"（{y}年）"))
            caused = (f"profile:{rt}",) if profiled and y != ALL else ()
            if caused:
                note += (f"; {source_of(ds, rt)} splits every row by one yearly profile, "
                         f"{source_of(ds, dt)} does not")
            out.append(Check("districts vs main city", tables_label, scope_label(ds, main, y),
                             main_row, districts, note, status, key=f"districts:{dt}:{col}:{y}",
                             unit=column_unit(ds, rt, col), note_zh=note_zh, scope_id=main,
                             year=str(y), step=d_step, caused_by=caused,
                             printed_as=ROW_SUM if m > 1 else PRINTED))
    return out


# ---------------------------------------------------------------------------------------------
# The same quantity printed twice
# ---------------------------------------------------------------------------------------------
def check_same_quantity(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Two places in the plan that state the same quantity (selector ``a`` against ``b``).

    Optional keys: ``tolerance_share`` (a relative tolerance, for statements such as
    "basically match"), ``verdict`` and ``why`` (when the two are known to measure different
    things), ``weight: background`` (not a figure the plan's decisions rest on), ``name_zh``.
    """
    out = []
    for i, rel in enumerate(relations):
        a, b = rel["a"], rel["b"]
        each = a.get("year") == "EACH" or b.get("year") == "EACH"
        for y in (ds.plan_years if each else [None]):
            ra, rb = resolve(ds, a, y), resolve(ds, b, y)
            half = 0.5 * (_s(ra.step) * max(ra.n_terms, 1) + _s(rb.step) * max(rb.n_terms, 1))
            tol = half + 1e-9
            if "tolerance_share" in rel:
                tol = max(tol, float(rel["tolerance_share"]) * abs(rb.value))
            status = status_of(ra.value, rb.value, tol)
            scope = rel.get("scope") or (a.get("scope") or a.get("row") or b.get("row") or "city")
            scope = ds.city.region_id if scope == ALL else scope
            note = rel["name"]
            if "tolerance_share" in rel and not missing(rb.value) and rb.value:
                note += f" ({ra.value / rb.value - 1:+.1%}; tolerance ±{rel['tolerance_share']:.0%})"
            if rel.get("why"):
                note += f"; {rel['why']}"
            note_zh = (rel.get("name_zh", "") + "：" if rel.get("name_zh") else "") + \
                f"{ra.label} 为 {ra.value:g}，{rb.label} 为 {rb.value:g}"
            out.append(Check(
                "same quantity", f"{ra.label}; {rb.label}",
                scope_label(ds, scope, y if each else ALL), ra.value, rb.value, note, status,
                key=f"same:{i}:{y}", unit=ra.unit or rb.unit, note_zh=note_zh, scope_id=scope,
                year=str(y) if each else "", step=min(_s(ra.step), _s(rb.step)) or math.nan,
                decision=rel.get("weight") != "background", verdict=rel.get("verdict", ""),
                printed_as=ra.kind))
    return out


def _s(step: float) -> float:
    return 0.0 if missing(step) else step


# ---------------------------------------------------------------------------------------------
# Derived figures in the text
# ---------------------------------------------------------------------------------------------
def check_claims(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Figures the text derives (reductions, shares, cycles) recomputed from their inputs:
    printed = Σ numerator ÷ Σ denominator. Tolerance: half a unit of the printed last digit plus
    the rounding of the inputs carried through the division. Optional ``printed_base``: another
    denominator the printed figure may have used (reported in the note); ``verdict``, ``why``,
    ``weight`` and ``name_zh`` as for same_quantity."""
    out = []
    for i, rel in enumerate(relations):
        printed = resolve(ds, rel["printed"])
        num, nlabels, _, num_half = sum_terms(ds, rel["numerator"])
        den, dlabels, _, den_half = sum_terms(ds, rel.get("denominator"))
        computed = num / den if den else math.nan
        carried = (num_half / abs(den) + abs(num) * den_half / den ** 2) if den else 0.0
        tol = 0.5 * _s(printed.step) + carried + 1e-9
        status = status_of(printed.value, computed, tol)
        labels = sorted(set([printed.label, *nlabels, *dlabels]) - {"constant"})
        scope = rel["printed"].get("scope") or rel["printed"].get("row") or "city"
        note = rel["name"]
        note_zh = rel.get("name_zh", rel["name"]) + f"：印为 {printed.value:g}，复算为 {computed:.4g}"
        if rel.get("printed_base"):
            alt, alt_labels, _, _ = sum_terms(ds, rel["printed_base"])
            if alt:
                note += (f"; value ÷ {', '.join(alt_labels)} ({alt:g}) = {num / alt:.4g}, which is "
                         f"what the printed figure measures")
                note_zh += f"；若以 {alt:g} 为基数则为 {num / alt:.4g}"
        if rel.get("why"):
            note += f"; {rel['why']}"
        out.append(Check("derived figure", "; ".join(labels), scope_label(ds, scope), printed.value,
                         computed, note, status, key=f"claim:{i}", unit=printed.unit,
                         note_zh=note_zh, scope_id=scope, step=printed.step,
                         decision=rel.get("weight") != "background",
                         verdict=rel.get("verdict", ""), printed_as=printed.kind))
    return out


# ---------------------------------------------------------------------------------------------
# Ranges the text states
# ---------------------------------------------------------------------------------------------
def check_ranges(ds: Dataset, relations: list[dict]) -> list[Check]:
    """A range the text states for several years ("每年 35—44 公顷", "约 40%—50%"): each year's
    value (optionally ÷ ``per``, the printed base) against [low, high]. The years are the period of
    the ``low`` fact. Tolerance: half a unit of the bound's last digit."""
    out = []
    for i, rel in enumerate(relations):
        low, high = resolve(ds, rel["low"]), resolve(ds, rel["high"])
        facts = ds.table("facts")
        hit = facts[(facts["fact"] == rel["low"]["fact"])
                    & (facts["scope"] == rel["low"].get("scope", "city"))]
        period = resolve_period(ds, rel["low"].get("period")) or str(hit["period"].iloc[0])
        for y in period_years(period):
            value = resolve(ds, {**rel["value"], "year": y}).value
            if rel.get("per"):
                base = resolve(ds, {**rel["per"], "year": y}).value
                value = value / base if base else math.nan
            tol = 0.5 * max(_s(low.step), _s(high.step)) + 1e-9
            bound = low.value if value < low.value else high.value
            inside = low.value - tol <= value <= high.value + tol
            scope = rel["value"].get("row", "city")
            fmt = (lambda v: f"{v:.1%}") if low.unit == "share" else (lambda v: f"{v:.2f}")
            note = (f"{rel['name']}: {y} value {fmt(value)} vs the stated range "
                    f"{fmt(low.value)}–{fmt(high.value)}")
            out.append(Check("stated range", f"{low.label}; {resolve(ds, rel['value']).label}",
                             scope_label(ds, scope, y), bound, value, note,
                             OK if inside else FINDING, key=f"range:{i}:{y}", unit=low.unit,
                             note_zh=rel.get("name_zh", rel["name"]) + f"：{y}年为 {fmt(value)}，"
                             f"文中称在 {fmt(low.value)}—{fmt(high.value)} 之间",
                             scope_id=scope, year=str(y), step=low.step, decision=False))
    return out


# ---------------------------------------------------------------------------------------------
# Stable ratios
# ---------------------------------------------------------------------------------------------
def check_ratios(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Implied ratios that should be stable across rows (plot ratio 万m²/ha, m² per dwelling):
    printed = the reference (from the facts) or the typical (median) ratio, computed = each row's
    ratio; a finding outside the band or more than ``drift_share`` (default 5 %) from the typical
    ratio (``drift_share: null``: the band only). Optional ``city_totals: true`` compares the two
    tables' city totals year by year (for guidance printed only as city totals on one side);
    ``band_note`` says where the band comes from (in every check's note)."""
    out = []
    for i, rel in enumerate(relations):
        num_sel, den_sel = rel["numerator"], rel["denominator"]
        nf, df = ds.table(num_sel["table"]), ds.table(den_sel["table"])
        if rel.get("city_totals"):
            nf, df = (_city_totals_frame(ds, sel["table"], sel["column"])
                      for sel in (num_sel, den_sel))
        drift_limit = rel.get("drift_share", 0.05)
        key = key_column(nf)
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
        shares = _yearly_shares(merged, key) if "year" in join else {}
        typical = float(merged["ratio"].median())
        uniform = uniform_ratio(merged["ratio"]) is not None
        reference, ref_label = None, ""
        if rel.get("reference"):
            rnum, rden = resolve(ds, rel["reference"][0]), resolve(ds, rel["reference"][1])
            reference = rnum.value / rden.value if rden.value else None
            ref_label = f"{rnum.label}: {rnum.value:,.0f} ÷ {rden.value:,.0f}"
        band = rel.get("band") or [-math.inf, math.inf]
        tables_label = f"{source_of(ds, num_sel['table'])}; {source_of(ds, den_sel['table'])}"
        unit = rel.get("unit", "")
        for r in merged.itertuples(index=False):
            row, year = getattr(r, key), getattr(r, "year", ALL)
            ratio = float(r.ratio)
            outside = not band[0] <= ratio <= band[1]
            drift = abs(ratio / typical - 1) if typical else 0.0
            drifts = drift_limit is not None and drift > float(drift_limit)
            status = FINDING if outside or drifts else OK
            bits = [rel["name"], f"{ratio:.3f} {unit}", f"typical {typical:.3f}"]
            if reference is not None:
                bits.append(f"reference {reference:.3f} ({ref_label})")
            if outside:
                bits.append(f"outside the expected band {band[0]:g}–{band[1]:g}")
            elif drifts:
                bits.append(f"{ratio / typical - 1:+.1%} from the typical ratio")
            if rel.get("band_note"):
                bits.append(str(rel["band_note"]))
            out.append(Check("implied ratio", tables_label, scope_label(ds, row, year),
                             typical if reference is None else reference, ratio,
                             "; ".join(bits), status, key=f"ratio:{i}:{row}:{year}", unit=unit,
                             note_zh=f"{rel.get('name_zh', rel['name'])}：{ratio:.2f}（各年常见值 "
                             f"{typical:.2f}" + (f"，参考值 {reference:.2f}" if reference else "")
                             + (f"，超出合理区间 {band[0]:g}—{band[1]:g}" if outside else "") + "）",
                             scope_id=row, year=str(year), step=0.001, printed_as=DERIVED,
                             extra={"yearly_shares": shares.get(row, {}),
                                    "tables_num_den": (num_sel["table"], den_sel["table"]),
                                    "sources_num_den": (source_of(ds, num_sel["table"]),
                                                        source_of(ds, den_sel["table"])),
                                    "typical": typical, "uniform": uniform}))
    return out


def _city_totals_frame(ds: Dataset, table: str, column: str) -> pd.DataFrame:
    """A region-year table as its city total per year (one row per year, scope the city)."""
    totals = ds.city_total_series(table, column)
    return pd.DataFrame({"region_id": [ds.city.region_id] * len(totals),
                         "year": [int(y) for y in totals], column: list(totals.values())})


def _yearly_shares(merged: pd.DataFrame, key: str) -> dict:
    """Per row: each year's share of the row's numerator and of its denominator over the years
    ({row: {"num": {year: share}, "den": {year: share}}}), to tell which side of a ratio follows
    a fixed yearly profile."""
    out = {}
    for row, part in merged.groupby(key, sort=False):
        n, d = part["_num"].sum(), part["_den"].sum()
        if n and d and len(part) > 1:
            out[row] = {"num": {int(y): float(v) / n for y, v in zip(part["year"], part["_num"])},
                        "den": {int(y): float(v) / d for y, v in zip(part["year"], part["_den"])}}
    return out


# ---------------------------------------------------------------------------------------------
# How the supply tables were built
# ---------------------------------------------------------------------------------------------
def check_supply_construction(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Supply guidance against the demand it was derived from.

    For each relation {supply, demand, inventory[, land_table][, target]}:
    - per row: the supply total against the demand total (equal = no stock netted), info;
    - the table's yearly profile: if every supply row is its total × one fixed profile while
      demand is spread differently, a finding (printed = the profile's peak-year share, computed
      = demand's share that year; key ``profile:<table>``), and likewise for the land table;
    - the aggregate: supply summed over rows against the supply the plan's stated method implies
      (demand less the stock above ``target`` months of last-year demand), at the target's scope.
    """
    out = []
    years = ds.plan_years
    for rel in relations:
        sup, dem = ds.table(rel["supply"]), ds.table(rel["demand"])
        inv = ds.table(rel["inventory"])
        s_src, d_src = source_of(ds, rel["supply"]), source_of(ds, rel["demand"])
        tables = f"{s_src}; {d_src}"
        s_tot = sup.groupby("region_id")["supply_10k_m2"].sum()
        d_tot = dem.groupby("region_id")["demand_10k_m2"].sum()
        step = step_of(column_decimals(ds, rel["supply"], "supply_10k_m2"))
        equal_rows = []
        for rid in s_tot.index:
            n = int((sup["region_id"] == rid).sum())
            tol = n * step + 1e-9
            same = abs(s_tot[rid] - d_tot.get(rid, math.nan)) <= tol
            equal_rows.append(same)
            out.append(Check(
                "supply vs demand by row", tables, scope_label(ds, rid), float(s_tot[rid]),
                float(d_tot.get(rid, math.nan)),
                f"{s_src} row total vs {d_src} row total" + (" (equal: no stock netted)" if same
                                                             else ""), INFO,
                key=f"rowsupply:{rel['supply']}:{rid}", unit="10k_m2",
                note_zh=f"{s_src}供应合计 {s_tot[rid]:.2f}，{d_src}需求合计 {d_tot.get(rid, math.nan):.2f}",
                scope_id=rid, step=step))
        profile = fixed_profile(sup, "supply_10k_m2")
        d_profile = dem.groupby("year")["demand_10k_m2"].sum()
        d_profile = (d_profile / d_profile.sum()).to_dict()
        profile_key = f"profile:{rel['supply']}"
        if profile is not None:
            peak = max(profile, key=profile.get)
            spread = "/".join(f"{profile[y]:.0%}" for y in years)
            differs = max(abs(profile[y] - d_profile.get(y, 0)) for y in years) > 0.02
            out.append(Check(
                "supply profile", tables, scope_label(ds, ALL), profile[peak],
                d_profile.get(peak, math.nan),
                f"every row of {s_src} is its total split {spread} over {years_label(years)}; "
                f"{d_src} puts {d_profile.get(peak, 0):.1%} of demand in {peak}, {s_src} "
                f"{profile[peak]:.0%} of supply",
                FINDING if differs else OK, key=profile_key, unit="share",
                note_zh=f"{s_src}各行均按 {spread} 的固定比例分年，需求{peak}年只占 "
                f"{d_profile.get(peak, 0):.1%}，供应却占 {profile[peak]:.0%}（前期集中供应，库存先升）",
                scope_id=ALL, year=str(peak), step=0.01, verdict=METHOD if differs else "",
                printed_as=DERIVED, extra={"profile": profile}))
            land_table = rel.get("land_table")
            if land_table:
                lp = fixed_profile(ds.table(land_table), "land_ha")
                if lp is not None and max(abs(lp[y] - profile[y]) for y in years) < 0.005:
                    out.append(Check(
                        "supply profile", f"{source_of(ds, land_table)}; {d_src}",
                        scope_label(ds, ALL), lp[peak], d_profile.get(peak, math.nan),
                        f"every row of {source_of(ds, land_table)} follows the same profile "
                        f"{spread} as {s_src}", FINDING if differs else OK,
                        key=f"profile:{land_table}", unit="share",
                        note_zh=f"{source_of(ds, land_table)}各行同样按 {spread} 分年",
                        scope_id=ALL, year=str(peak), step=0.01, caused_by=(profile_key,),
                        verdict=METHOD if differs else "", printed_as=DERIVED,
                        extra={"profile": lp}))
        out.extend(_method_check(ds, rel, sup, dem, inv, tables, all(equal_rows), profile_key))
    return out


def _method_check(ds, rel, sup, dem, inv, tables, all_equal, profile_key) -> list[Check]:
    target_id = rel.get("target")
    scope = ds.main_city_id if rel["inventory"].startswith("district_") else ds.city.region_id
    target = ds.target_or_none(target_id, scope) if target_id else None
    supply = float(sup["supply_10k_m2"].sum())
    demand = float(dem["demand_10k_m2"].sum())
    stock = float(inv["inventory_10k_m2"].sum())
    last = ds.plan_years[-1]
    last_demand = float(dem.loc[dem["year"] == last, "demand_10k_m2"].sum())
    s_src = source_of(ds, rel["supply"])
    if target is None:
        return [Check("supply method", tables, scope_label(ds, scope), supply, demand,
                      f"{s_src} summed over rows vs demand summed over rows"
                      + (": supply equals demand in every row, no stock netted" if all_equal else ""),
                      INFO, key=f"method:{rel['supply']}", unit="10k_m2", scope_id=scope,
                      note_zh=f"{s_src}各行供应之和 {supply:.2f}，需求之和 {demand:.2f}", step=0.01,
                      printed_as=ROW_SUM)]
    target_stock = target.value * last_demand / 12
    implied = demand - (stock - target_stock)
    printed_tot = printed_total(ds, rel["supply"], "supply_10k_m2")
    # The figure compared is the sum of the supply rows (what the plan allocates); the table's
    # printed total, where it prints one, is another figure and is named as such.
    printed_says = ("" if missing(printed_tot) else
                    f"; {s_src} prints its total as {printed_tot:g}, not this sum")
    note = (f"sum of {s_src}'s rows {supply:.2f} 万m² (a row sum{printed_says}) against the demand "
            f"rows {demand:.2f}" + (": every row equals its demand, no stock netted" if all_equal
                                    else "")
            + f"; netting the {ds.base_year} stock {stock:.2f} down to {target.value:g} months of "
            f"{last} demand ({target_stock:.2f}) leaves {implied:.2f}, the supply the plan's stated "
            f"method (demand, the opening stock and the {target.value:g}-month goal) implies: a "
            f"problem of how the supply was built, not of one figure")
    same_zh = "相同，未扣减" if all_equal else "相比，未按所述方法扣减"
    note_zh = (f"{s_src}各行供应之和（非印出数字）{supply:.2f} 万㎡，与需求各行之和 {demand:.2f} "
               f"{same_zh}{ds.base_year}年末库存 {stock:.2f}；按规划所述方法（扣减库存至"
               f"{target.value:g}个月）应为 {implied:.2f}，属供应编制方法问题")
    if not missing(printed_tot):
        printed_dem = printed_total(ds, rel["demand"], "demand_10k_m2")
        note += (f"; the printed supply total {printed_tot:g} is {demand - printed_tot:.2f} below the "
                 f"demand rows" + ("" if missing(printed_dem) else
                                   f" ({printed_dem - printed_tot:.2f} below the printed demand "
                                   f"total {printed_dem:g})"))
        note_zh += (f"；{s_src}印出的供应合计为 {printed_tot:g}，比需求各行之和少 "
                    f"{demand - printed_tot:.2f}")
    return [Check("supply method", tables + f"; {source_of(ds, rel['inventory'])}",
                  scope_label(ds, scope), supply, implied, note,
                  FINDING if abs(supply - implied) > 0.5 else OK,
                  key=f"method:{rel['supply']}", unit="10k_m2", note_zh=note_zh, scope_id=scope,
                  step=0.01, verdict=METHOD, printed_as=ROW_SUM)]


__all__ = ["check_totals", "check_shares", "check_district_sums", "check_same_quantity",
           "check_claims", "check_ranges", "check_ratios", "check_supply_construction",
           "fixed_profile", "total_key", "ROUNDING", "rounding_tolerance"]
