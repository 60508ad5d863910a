"""``plan.xlsx``: a run's plan in the plan's own table layout, for officials who work in Excel.

Built only from the run's tables (plan.csv, targets.csv) and its summary, in the report language
(model/labels.py; Chinese for Chifeng). A sheet is named by its role and the table of the dataset
it is laid out like (summary.json ``citations``, model/citations.py; for Chifeng the names below),
the role alone when the dataset cites no table:

- 供应（表45） / Supply (表45): region × year + plan-period total, 合计 row; 万㎡
  (plan.csv supply_10k_m2);
- 用地（表48） / Land (表48): region × year + total + share of city (%), 合计 row; 公顷
  (plan.csv land_ha);
- 库存与去化周期（表19） / Stock and cycle (表19): region × (start, each year-end): 库存 万㎡,
  去化周期 个月; 全市 row (plan.csv inventory_*, cycle_*, sales);
- 指标（表34） / Targets (表34): target (the dataset's own name), scope, period, unit, required,
  achieved, shortfall, met, mode, source (targets.csv);
- 供地规则 / Land rule: the region-years the land rule restricts: start-of-year cycle, verdict,
  land allowed, planned, breach (targets.csv land_rule rows, plan.csv);
- 说明 / About: scenario, status, dataset, run directory, how the figures are rounded
  (summary.json).

Every sheet has a title, a unit line and a source line. Figures are rounded as the plan prints
them (2 decimals for 万㎡, 公顷, 亿元 and percentages; 1 for months) and stored rounded, so a cell
holds what it shows; a 合计 row is the sum of the rounded cells above it. The CSVs keep full
precision (model/csvio.py). Cycles outside the run's reasonable band (12–18 months) and targets
missed are in red. A table the run did not write (an infeasible run writes only relaxation.csv)
leaves its sheets out; a run with neither plan nor targets gets no workbook. Extra columns are
ignored.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from model.labels import DECIMALS, TERMS, Labels

log = logging.getLogger(__name__)

WORKBOOK = "plan.xlsx"
BAND_MONTHS = (12.0, 18.0)  # when the summary does not give the run's band

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
NOTE = Font(italic=True, size=9, color="555555")
RED = Font(color="B71C1C", bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E8EEF4")
TOTAL_FILL = PatternFill("solid", fgColor="F3F3F3")
MISSED_FILL = PatternFill("solid", fgColor="FFEBEE")
MET_FILL = PatternFill("solid", fgColor="E8F5E9")
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def number_format(decimals: int) -> str:
    return "0" if decimals == 0 else "0." + "0" * decimals


def rounded(x: Any, decimals: int) -> Any:
    """A finite number rounded (no −0.0); ∞ as '∞'; missing as None (an empty cell)."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None if x is None else str(x)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return round(value, decimals) + 0.0


# ---------------------------------------------------------------------------------------------
# Writing cells
# ---------------------------------------------------------------------------------------------
def _title(ws: Worksheet, title: str, unit_line: str, width: int) -> int:
    """Title (row 1, merged across the table) and unit line (row 2); returns the next row."""
    ws.cell(row=1, column=1, value=title).font = TITLE
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 1))
    ws.cell(row=2, column=1, value=unit_line).font = NOTE
    return 3


def _header(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    for j, text in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=j, value=text)
        cell.font, cell.fill, cell.border, cell.alignment = BOLD, HEAD_FILL, BOX, CENTRE


def _row(ws: Worksheet, row: int, values: Sequence[Any], decimals: Sequence[int | None],
         total: bool = False) -> None:
    for j, (value, dec) in enumerate(zip(values, decimals), start=1):
        cell = ws.cell(row=row, column=j, value=rounded(value, dec) if dec is not None else value)
        cell.border = BOX
        if dec is not None and isinstance(cell.value, float):
            cell.number_format = number_format(dec)
        if total:
            cell.font, cell.fill = BOLD, TOTAL_FILL


def _source(ws: Worksheet, row: int, text: str) -> None:
    ws.cell(row=row + 1, column=1, value=text).font = NOTE


def _widths(ws: Worksheet, first: float, rest: float, n: int) -> None:
    ws.column_dimensions["A"].width = first
    for j in range(2, n + 1):
        ws.column_dimensions[get_column_letter(j)].width = rest


# ---------------------------------------------------------------------------------------------
# The sheets
# ---------------------------------------------------------------------------------------------
def _regions(plan: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(plan["region"]))


def _years(plan: pd.DataFrame) -> list[int]:
    return sorted(int(y) for y in plan["year"].unique())


def _observed(plan: pd.DataFrame) -> set[int]:
    """Years fixed to the actuals (mid-term review: plan.csv ``observed``)."""
    if "observed" not in plan.columns:
        return set()
    flags = plan["observed"].astype(str).str.lower() == "true"
    return {int(y) for y, all_obs in flags.groupby(plan["year"]).all().items() if all_obs}


def _year_header(y: int, observed: set[int], L: Labels) -> str:
    return L.year(y) + (L.pick(zh="（实际）", en=" (actual)") if y in observed else "")


def _period(years: Sequence[int]) -> str:
    return f"{years[0]}-{years[-1]}" if years else ""


def region_year_sheet(ws: Worksheet, plan: pd.DataFrame, column: str, unit: str, L: Labels,
                      title: str, source: str, share_column: bool = False) -> None:
    """Region × year of one plan column with a period total column and a 合计 row (as
    Chifeng's 表45, 表48); with ``share_column`` also each region's share of the city total (%),
    as Chifeng's 表48 prints."""
    regions, years = _regions(plan), _years(plan)
    dec = DECIMALS[unit]
    values = plan.pivot_table(index="region", columns="year", values=column, aggfunc="sum")
    observed = _observed(plan)
    headers = [L.term("region"), *[_year_header(y, observed, L) for y in years],
               L.pick(zh="{p}合计", en="Total {p}", p=L.period(_period(years)))]
    if share_column:
        headers.append(L.header("share_of_city", "share"))
    row = _title(ws, title, L.pick(zh="单位：{u}", en="Unit: {u}", u=L.unit(unit)), len(headers))
    _header(ws, row, headers)
    cells = {r: [rounded(values.loc[r, y], dec) for y in years] for r in regions}
    totals = {r: rounded(sum(v or 0.0 for v in cells[r]), dec) for r in regions}
    city_total = rounded(sum(totals.values()), dec)
    for r in regions:
        row += 1
        share = [100 * totals[r] / city_total if city_total else None] if share_column else []
        _row(ws, row, [L.region(r), *cells[r], totals[r], *share],
             [None, *[dec] * len(years), dec, *([2] if share_column else [])])
    row += 1
    col_totals = [rounded(sum(cells[r][i] or 0.0 for r in regions), dec) for i in range(len(years))]
    _row(ws, row, [L.term("total"), *col_totals, city_total, *([100.0] if share_column else [])],
         [None, *[dec] * len(years), dec, *([2] if share_column else [])], total=True)
    _source(ws, row + 1, source)
    ws.freeze_panes = "B4"
    _widths(ws, 16, 11, len(headers))


def stock_sheet(ws: Worksheet, plan: pd.DataFrame, L: Labels, title: str, source: str,
                band_months: tuple[float, float]) -> None:
    """Stock (万㎡) and destocking cycle (个月) by region at the start and at each year-end, as
    Chifeng's 表19 prints them for 2025, with a 全市 row (Σ stock ÷ Σ sales × 12). Cycles
    outside the band in red."""
    regions, years = _regions(plan), _years(plan)
    p = plan.set_index(["region", "year"])
    first = years[0]
    has_start = {"inventory_start_10k_m2", "cycle_start_months"} <= set(plan.columns)
    columns: list[tuple[str, int]] = ([("start", first - 1)] if has_start else []) + [
        ("end", y) for y in years]

    def stock_and_sales(r: str, kind: str, y: int) -> tuple[float, float]:
        if kind == "start":
            inv = float(p.loc[(r, first), "inventory_start_10k_m2"])
            cyc = float(p.loc[(r, first), "cycle_start_months"])
            return inv, (inv / cyc * 12 if cyc > 0 else math.nan)
        return float(p.loc[(r, y), "inventory_end_10k_m2"]), float(p.loc[(r, y), "sales_10k_m2"])

    def cycle_of(r: str, kind: str, y: int) -> float:
        if kind == "start":
            return float(p.loc[(r, first), "cycle_start_months"])
        return float(p.loc[(r, y), "cycle_end_months"])

    ncols = 1 + 2 * len(columns)
    row = _title(ws, title, L.pick(zh="单位：库存 万㎡，去化周期 个月（库存 ÷ 近12个月月均销售）",
                                   en="Unit: stock 10k m², cycle months (stock ÷ average "
                                   "monthly sales of the last 12 months)"), ncols)
    # two header rows: the year (merged over two columns), then stock | cycle
    ws.cell(row=row, column=1, value=L.term("region"))
    ws.merge_cells(start_row=row, start_column=1, end_row=row + 1, end_column=1)
    for i, (kind, y) in enumerate(columns):
        col = 2 + 2 * i
        label = (L.pick(zh="{y}年末（期初）", en="End of {y} (start)", y=y) if kind == "start"
                 else L.pick(zh="{y}年末", en="End of {y}", y=y)
                 + (L.pick(zh="（实际）", en=" (actual)") if y in _observed(plan) else ""))
        ws.cell(row=row, column=col, value=label)
        ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + 1)
        ws.cell(row=row + 1, column=col, value=L.header("inventory", "10k_m2"))
        ws.cell(row=row + 1, column=col + 1, value=L.header("cycle", "months"))
    for r_ in (row, row + 1):
        for j in range(1, ncols + 1):
            cell = ws.cell(row=r_, column=j)
            cell.font, cell.fill, cell.border, cell.alignment = BOLD, HEAD_FILL, BOX, CENTRE
    row += 1
    low, high = band_months
    for r in [*regions, None]:
        row += 1
        city = L.region("city") if ("city" in L.names_zh or not L.zh) else L.term("city_total")
        values: list[Any] = [L.region(r) if r else city]
        for kind, y in columns:
            if r is None:
                pairs = [stock_and_sales(x, kind, y) for x in regions]
                inv = sum(a for a, _ in pairs)
                sales = sum(b for _, b in pairs if b == b)
                cyc = 12 * inv / sales if sales > 0 else (math.inf if inv > 0 else 0.0)
            else:
                inv, cyc = stock_and_sales(r, kind, y)[0], cycle_of(r, kind, y)
            values += [inv, cyc]
        _row(ws, row, values, [None, *[DECIMALS["10k_m2"], DECIMALS["months"]] * len(columns)],
             total=r is None)
        for i in range(len(columns)):
            cell = ws.cell(row=row, column=3 + 2 * i)
            v = cell.value
            if v == "∞" or (isinstance(v, float) and not low <= v <= high):
                cell.font = RED
    _source(ws, row + 1, source)
    ws.freeze_panes = ws.cell(row=5, column=2)
    _widths(ws, 16, 12, ncols)


def targets_sheet(ws: Worksheet, targets: pd.DataFrame, L: Labels, title: str,
                  source: str) -> None:
    """Every target but the land-rule rows, as a plan's indicator table lists them (Chifeng's
    表34): name, scope, period, unit, required, achieved, shortfall, met, mode, source, and (when
    targets.csv has ``origin``) whether it is the plan's own target, a model setting or a rule —
    the plan's targets first. Shares as percentages."""
    rows = targets[targets["target_id"] != "land_rule"]
    has_origin = "origin" in rows.columns
    if has_origin:
        order = {"plan": 0, "model": 1, "rule": 2}
        rows = rows.iloc[rows["origin"].map(order).fillna(3).argsort(kind="stable")]
    headers = [L.term("indicator"), L.term("scope"), L.term("period"), L.term("unit"),
               L.term("required"), L.term("achieved"), L.term("shortfall"), L.term("met_column"),
               L.term("mode"), L.term("source")] + ([L.term("origin")] if has_origin else [])
    row = _title(ws, title, L.pick(zh="单位：见“单位”列；比例以百分数表示",
                                   en="Units: see the Unit column; shares in percent"),
                 len(headers))
    _header(ws, row, headers)
    for t in rows.itertuples(index=False):
        row += 1
        unit = str(t.unit)
        scale = 100.0 if unit == "share" else 1.0
        dec = DECIMALS.get(unit, 2)
        met = str(t.met).lower() == "true"
        _row(ws, row, [
            L.target_name(t.target_id, t.scope), L.region(t.scope), L.period(str(t.period)),
            L.unit(unit), _scaled(t.required, scale), _scaled(t.achieved, scale),
            _scaled(t.shortfall, scale), L.verdict(met), L.mode(str(t.mode)), str(t.source),
            *([L.term(f"origin.{t.origin}") if f"origin.{t.origin}" in TERMS else str(t.origin)]
              if has_origin else []),
        ], [None, None, None, None, dec, dec, dec, None, None, None, None])
        ws.cell(row=row, column=8).fill = MET_FILL if met else MISSED_FILL
        if not met and str(t.mode) != "off":
            ws.cell(row=row, column=8).font = RED
    _source(ws, row + 1, source)
    ws.freeze_panes = "B4"
    _widths(ws, 30, 12, len(headers))
    ws.column_dimensions["J"].width = 22


def _scaled(x: Any, scale: float) -> Any:
    try:
        return float(x) * scale
    except (TypeError, ValueError):
        return x


def land_rule_sheet(ws: Worksheet, targets: pd.DataFrame, plan: pd.DataFrame | None, L: Labels,
                    title: str, source: str) -> None:
    """The region-years in which the land rule restricts land: the start-of-year cycle and the
    rule's verdict (from plan.csv when the run has it), land allowed, planned and the breach
    (公顷)."""
    rows = targets[targets["target_id"] == "land_rule"]
    state = {}
    if plan is not None and {"land_rule_state", "cycle_start_months"} <= set(plan.columns):
        state = {(r.region, int(r.year)): (r.land_rule_state, r.cycle_start_months)
                 for r in plan.itertuples(index=False)}
    headers = [L.term("region"), L.term("year"), L.header("cycle_start", "months"),
               L.term("rule_state"), L.header("land_allowed", "ha"),
               L.header("land_planned", "ha"), L.header("land_breach", "ha"),
               L.term("complies")]
    rule_source = str(rows["source"].iloc[0]) if len(rows) else ""
    row = _title(ws, title, L.pick(zh="单位：公顷；规则：{s}", en="Unit: ha; rule: {s}",
                                   s=rule_source), len(headers))
    _header(ws, row, headers)
    for t in rows.itertuples(index=False):
        row += 1
        year = int(str(t.period)[:4])
        rule, cycle = state.get((t.scope, year), (None, None))
        met = str(t.met).lower() == "true"
        verdict = f"✓ {L.term('complies_yes')}" if met else f"✗ {L.term('complies_no')}"
        _row(ws, row, [L.region(t.scope), year, cycle, L.rule_state(rule) if rule else "–",
                       t.required, t.achieved, t.shortfall, verdict],
             [None, None, 1, None, 2, 2, 2, None])
        ws.cell(row=row, column=8).fill = MET_FILL if met else MISSED_FILL
        if not met:
            ws.cell(row=row, column=8).font = RED
    _source(ws, row + 1, source)
    ws.freeze_panes = "B4"
    _widths(ws, 16, 13, len(headers))
    ws.column_dimensions["D"].width = 24


def about_sheet(ws: Worksheet, summary: Mapping[str, Any], L: Labels, sheets: Sequence[str],
                files: Sequence[str]) -> None:
    """What run this is and how to read the workbook."""
    dataset = summary.get("dataset") or {}
    items = [
        (L.term("scenario"), summary.get("scenario")),
        (L.term("status"), L.pick(zh="已评估（各目标与规则只报告、不强制）",
                                  en="evaluated (every target and rule reported, none enforced)")
         if summary.get("evaluate_only") and summary.get("status") == "optimal"
         else L.status(str(summary.get("status")))),
        (L.pick(zh="问题类型", en="Problem"), summary.get("problem_type")),
        (L.pick(zh="仅评估（不优化）", en="Evaluated only"),
         L.pick(zh="是", en="yes") if summary.get("evaluate_only") else L.pick(zh="否", en="no")),
        (L.pick(zh="覆盖参数", en="Overrides"), " ".join(summary.get("overrides") or []) or "–"),
        (L.pick(zh="数据集", en="Dataset"),
         f"{dataset.get('name', '')} ({dataset.get('data_hash', '')})"),
        (L.pick(zh="运行目录", en="Run directory"), summary.get("run_dir", "")),
        (L.pick(zh="生成时间", en="Created"), summary.get("created", "")),
        ("git commit", summary.get("git_commit") or ""),
        (L.pick(zh="本工作簿", en="Sheets"), "、".join(sheets) if L.zh else ", ".join(sheets)),
        (L.pick(zh="取整", en="Rounding"),
         L.pick(zh="按规划的印刷精度：万㎡、公顷、亿元、百分比保留两位小数，去化周期保留一位；"
                   "合计为所列数值之和。完整精度见同目录 CSV 文件（{f}）。",
                en="as the plan prints: 2 decimals for 10k m², ha, 100m yuan and percentages, "
                   "1 for months; a total is the sum of the figures shown. Full precision: the "
                   "CSV files in the same folder ({f}).",
                f=", ".join(files))),
    ]
    ws.cell(row=1, column=1, value=L.pick(zh="说明", en="About this workbook")).font = TITLE
    for i, (key, value) in enumerate(items, start=3):
        ws.cell(row=i, column=1, value=key).font = BOLD
        ws.cell(row=i, column=2, value=str(value) if value is not None else "")
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 100


# ---------------------------------------------------------------------------------------------
# The workbook
# ---------------------------------------------------------------------------------------------
SHEETS = {  # key → (zh, en) role words of the sheet name
    "supply": ("供应", "Supply"),
    "land": ("用地", "Land"),
    "stock": ("库存与去化周期", "Stock and cycle"),
    "targets": ("指标", "Targets"),
    "land_rule": ("供地规则", "Land rule"),
    "about": ("说明", "About"),
}
SHEET_TABLE = {  # key → the citation role of the table the sheet is laid out like
    "supply": "supply_guidance",
    "land": "land_guidance",
    "stock": "base_inventory",
    "targets": "targets",
}
SHEET_NAME_MAX = 31
SHEET_NAME_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_name(key: str, L: Labels) -> str:
    """The role words and the dataset's table citation (its first place): ``供应（表45）`` /
    ``Supply (表45)``; the role alone without a citation (≤ 31 characters, no []:*?/\\)."""
    zh, en = SHEETS[key]
    word = zh if L.zh else en
    role = SHEET_TABLE.get(key)
    name = word + (L.bracket(role, first=True) if role else "")
    name = name.translate(SHEET_NAME_BAD)
    return name if len(name) <= SHEET_NAME_MAX else word


def plan_workbook(tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any],
                  labels: Labels | None = None) -> Workbook | None:
    """The workbook of a run's tables (None when the run has neither a plan nor targets)."""
    plan, targets = tables.get("plan"), tables.get("targets")
    has_plan = plan is not None and len(plan) > 0
    has_targets = targets is not None and len(targets) > 0
    if not (has_plan or has_targets):
        return None
    L = (labels or Labels(str(summary.get("report_lang") or "en"))).for_run(summary)
    names = {}
    if has_plan and "name_zh" in plan:
        names.update(zip(plan["region"], plan["name_zh"]))
    if has_targets and "scope_zh" in targets:
        names.update(zip(targets["scope"], targets["scope_zh"]))
    L = L.with_names(names)
    scenario = summary.get("scenario", "")
    head = summary.get("headline") or {}
    band = (float(head.get("cycle_band_low_months") or BAND_MONTHS[0]),
            float(head.get("cycle_band_high_months") or BAND_MONTHS[1]))

    def src(file: str, what: str, table: str | None) -> str:
        """The source line; ``table``: the dataset's citation of the table the sheet is laid
        out like (no layout clause without one)."""
        layout = (L.pick(zh="版式同规划{t}，", en="laid out as the plan's {t}, ", t=table)
                  if table else "")
        return L.pick(
            zh="资料来源：本次运行（情景 {s}）的 {f}，{w}；{l}数值按规划印刷精度取整。",
            en="Source: this run's {f} (scenario {s}), {w}; {l}rounded as the plan prints.",
            s=scenario, f=file, w=what, l=layout)

    wb = Workbook()
    wb.remove(wb.active)
    written: list[str] = []
    if has_plan:
        years = _years(plan)
        period = L.period(_period(years))
        ws = wb.create_sheet(sheet_name("supply", L))
        region_year_sheet(
            ws, plan, "supply_10k_m2", "10k_m2", L,
            L.pick(zh="商品住宅年度供应（批准预售）{p}——本方案", en="Commercial housing supply "
                   "(presale approval) {p} — this run", p=period),
            src("plan.csv", L.pick(zh="supply_10k_m2 列", en="column supply_10k_m2"),
                L.cite_first("supply_guidance")))
        written.append(ws.title)
        ws = wb.create_sheet(sheet_name("land", L))
        region_year_sheet(
            ws, plan, "land_ha", "ha", L,
            L.pick(zh="商品住宅用地年度供应 {p}——本方案", en="Residential land supply {p} — "
                   "this run", p=period),
            src("plan.csv", L.pick(zh="land_ha 列", en="column land_ha"),
                L.cite_first("land_guidance")),
            share_column=True)
        written.append(ws.title)
        if {"inventory_end_10k_m2", "cycle_end_months", "sales_10k_m2"} <= set(plan.columns):
            ws = wb.create_sheet(sheet_name("stock", L))
            stock_sheet(
                ws, plan, L,
                L.pick(zh="商品住宅库存与去化周期——本方案（红色：超出{lo:g}—{hi:g}个月合理区间）",
                       en="Unsold stock and destocking cycle — this run (red: outside the "
                       "{lo:g}–{hi:g}-month band)", lo=band[0], hi=band[1]),
                src("plan.csv", L.pick(zh="期初为规划{t}，年末为本方案",
                                       en="the start is the plan's {t}, year-ends this run",
                                       t=L.cite_all("base_inventory"))
                    if L.cite("base_inventory") else
                    L.pick(zh="期初为规划基年库存，年末为本方案",
                           en="the start is the plan's base-year stock, year-ends this run"),
                    L.cite_first("base_inventory")), band)
            written.append(ws.title)
    if has_targets:
        ws = wb.create_sheet(sheet_name("targets", L))
        targets_sheet(ws, targets, L, L.pick(zh="规划目标达成情况——本方案",
                                             en="Targets: required and achieved — this run"),
                      src("targets.csv", L.pick(zh="规划目标来自{t}", en="targets from {t}",
                                                t=L.cite_all("targets"))
                          if L.cite("targets") else L.pick(zh="规划目标", en="the plan's targets"),
                          L.cite_first("targets")))
        written.append(ws.title)
        if (targets["target_id"] == "land_rule").any():
            ws = wb.create_sheet(sheet_name("land_rule", L))
            land_rule_sheet(ws, targets, plan if has_plan else None, L, L.pick(
                zh="住宅用地供应与去化周期挂钩规则：受限制的区县·年",
                en="The land rule: region-years in which it restricts land"),
                src("targets.csv", L.pick(zh="target_id = land_rule 的行",
                                          en="rows with target_id land_rule")
                    + (L.pick(zh="，规则依据{r}", en=", the rule as in {r}", r=L.cite("land_rule"))
                       if L.cite("land_rule") else ""), None))
            written.append(ws.title)
    ws = wb.create_sheet(sheet_name("about", L))
    about_sheet(ws, summary, L, written, [f"{k}.csv" for k in tables])
    return wb


def write_plan_workbook(run_dir: str | Path, tables: Mapping[str, pd.DataFrame],
                        summary: Mapping[str, Any], labels: Labels | None = None) -> Path | None:
    """Write ``plan.xlsx`` into ``run_dir``; None (nothing written) for a run without a plan or
    targets. Never raises: a failure is logged, so the run's own files are still complete."""
    try:
        wb = plan_workbook(tables, summary, labels)
        if wb is None:
            log.debug("no plan and no targets: %s not written", WORKBOOK)
            return None
        path = Path(run_dir) / WORKBOOK
        wb.save(path)
        return path
    except Exception:  # noqa: BLE001 - the workbook is a view; it must not lose the run
        log.exception("%s not written (the CSV files are complete)", WORKBOOK)
        return None
